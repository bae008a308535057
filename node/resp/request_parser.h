// RequestParser: turns the bytes a RESP2 client sends into commands.
//
// Wire format (what redis-cli, redis-benchmark and hiredis send):
//
//   multibulk:  '*' <N> CR LF  then N times:  '$' <len> CR LF <len bytes> CR LF
//               <N> and <len> are decimal, no sign except a leading '-', no
//               leading zeros (Redis's string2ll). "*0" and "*-1" are empty
//               requests and are skipped, as Redis does.
//   inline:     any request whose first byte is not '*': one line ending in LF
//               (a CR before it is dropped), split into words as Redis's
//               sdssplitargs does: blanks separate words; "..." understands
//               \n \r \t \b \a \xHH and \<any>; '...' understands \'; a closing
//               quote must be followed by a blank or the end of the line. The
//               line ends at its first NUL byte, as in Redis (it is a C string
//               there). An empty or all-blank line is skipped.
//
// Every request is flat: a '*' where a '$' is expected is an error, so there
// is no recursion and no nesting depth to bound.
//
// Errors: Parse() returns kBad and error() holds the reason; the server
// answers "-ERR Protocol error: <reason>" and closes the connection. Reasons
// use Redis's words where Redis has them:
//   invalid multibulk length      bad or out-of-range N, or CR not followed by LF
//   invalid bulk length           bad, negative or over max_bulk_length <len>
//   expected '$', got 'X'         an argument header that is not a bulk
//   too big mbulk count string    no CR within max_inline_length bytes of '*'
//   too big bulk count string     no CR within max_inline_length bytes of '$'
//   too big inline request        no LF within max_inline_length bytes
//   unbalanced quotes in request  an inline line sdssplitargs would refuse
// and, where Redis has none:
//   too big request               the headers already show the request
//                                 cannot fit in max_request_size
//   expected CRLF after bulk data the two bytes after a bulk are not CR LF
//                                 (Redis skips them unchecked; we refuse)
//   too many arguments in inline request
//
// Bounds: every length is checked against the options as soon as its header
// line is complete, before any byte of the body is awaited, so a client
// announcing "$999999999999" is refused at once. The buffer only ever holds
// bytes actually received (plus the read space the caller asks for and a
// bounded growth reserve, see PrepareBuffer); nothing is allocated from an
// announced length.
//
// Determinism: the outcome depends only on the byte stream, never on how it
// was split into reads; feeding one byte at a time gives exactly the commands
// and the error that feeding everything at once gives (tests and the fuzzer
// check this).
#ifndef CONVERGE_NODE_RESP_REQUEST_PARSER_H_
#define CONVERGE_NODE_RESP_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace converge::resp {

struct RequestParserOptions {
  // Most arguments one command may have (command name included); a larger
  // multibulk count is refused as "invalid multibulk length". Default: 1024 * 1024.
  size_t max_arguments = 1024 * 1024;

  // Longest single argument in bytes, Redis's proto-max-bulk-len; a larger
  // bulk length is refused as "invalid bulk length". Default: 512 MiB.
  size_t max_bulk_length = size_t{512} * 1024 * 1024;

  // Longest inline request line, and longest "*N" / "$len" header line, in
  // bytes before the line terminator; Redis's PROTO_INLINE_MAX_SIZE.
  // Default: 64 KiB.
  size_t max_inline_length = 64 * 1024;

  // Largest whole request in bytes, headers and terminators included. A
  // multibulk request is refused as soon as the headers read so far prove it
  // cannot fit (each argument still to come takes at least 6 bytes,
  // "$0\r\n\r\n"); bounds the memory one client can pin. Like Redis's
  // client-query-buffer-limit. Default: 1 GiB.
  size_t max_request_size = size_t{1024} * 1024 * 1024;
};

// One parser per client connection; it owns the connection's input buffer so
// that commands can be handed out as string_views into it (no copy per
// argument) and so that many pipelined commands from one read are parsed
// without moving any bytes.
//
// Use (one read, then drain):
//
//   std::span<char> space = parser.PrepareBuffer(16 * 1024);
//   size_t n = read(fd, space.data(), space.size());
//   parser.CommitBuffer(n);
//   for (;;) {
//     auto r = parser.Parse();
//     if (r == RequestParser::Result::kGood) { Execute(parser.args()); continue; }
//     if (r == RequestParser::Result::kBad) { reply error(), close; }
//     break;  // kNeedMore: read again
//   }
//
// Thread-compatible: one connection's strand uses it; no internal locking.
class RequestParser {
 public:
  enum class Result {
    kGood,      // a complete command is in args()
    kNeedMore,  // every received byte is consumed or part of an incomplete request
    kBad,       // protocol error, see error(); final: every later Parse() says kBad
  };

  explicit RequestParser(const RequestParserOptions& options = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Returns writable space of exactly `size` bytes at the end of the buffered
  // input, for the next read. Invalidates args() of the previous command.
  // Memory: the buffer holds only unconsumed bytes (consumed ones are dropped
  // here, before growing), and when it grows it reserves at most
  // min(buffered bytes, 16 MiB) beyond what is needed, so it never exceeds
  // roughly twice what was received plus `size`. An idle buffer over 1 MiB
  // is released.
  // REQUIRES: size > 0.
  std::span<char> PrepareBuffer(size_t size);

  // Marks the first `n` bytes of the space returned by PrepareBuffer as received.
  // REQUIRES: n <= the size passed to the last PrepareBuffer, with no
  // CommitBuffer or Append in between.
  void CommitBuffer(size_t n);

  // PrepareBuffer + copy + CommitBuffer, for callers that already hold the bytes.
  void Append(std::string_view bytes);

  // Parses the next command from the buffered bytes. After kGood the command
  // is in args(); the next Parse() call consumes it.
  Result Parse();

  // The arguments of the command of the last kGood, the command name first.
  // Views into the buffer: valid until the next Parse, PrepareBuffer or Append.
  std::span<const std::string_view> args() const { return args_; }

  // Why the last Parse returned kBad, without the "Protocol error: " prefix.
  const std::string& error() const { return error_; }

  // Bytes received and not yet handed out as part of a command.
  size_t buffered() const { return end_ - begin_; }

  // Bytes the input buffer holds allocated (for client memory accounting).
  size_t capacity() const { return capacity_; }

  const RequestParserOptions& options() const { return options_; }

 private:
  enum class State {
    kIdle,        // between requests
    kInline,      // looking for the LF that ends an inline line at begin_
    kCount,       // looking for the CR that ends "*N" at begin_
    kBulkHeader,  // looking for the CR that ends "$len" at pos_
    kBulkBody,    // waiting for bulk_length_ + 2 bytes at pos_
    kBad,
  };

  // An argument as offsets from begin_, so it survives the buffer moving
  // while a request is still incomplete.
  struct Span {
    size_t offset;
    size_t size;
  };

  // Each returns kGood when the step finished, kNeedMore or kBad otherwise.
  Result ParseInline(bool* skipped);
  Result ParseCount(bool* skipped);
  Result ParseBulkHeader();
  Result ParseBulkBody();
  Result Fail(std::string reason);
  // Hands the finished request out through args_ and consumes it.
  Result Complete();

  // Finds `c` in the header/inline line starting at line_start, resuming
  // the scan at scan_; sets *at to its index. kBad (with `too_big`) when the
  // line is already longer than `limit`.
  Result FindLineEnd(size_t line_start, char c, size_t limit, const char* too_big, size_t* at);

  RequestParserOptions options_;
  char* data_ = nullptr;  // malloc'ed so that growth can use realloc (mremap for big buffers)
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first byte of the current (incomplete) request
  size_t end_ = 0;    // one past the last received byte
  size_t prepared_ = 0;  // space handed out by the last PrepareBuffer

  State state_ = State::kIdle;
  size_t pos_ = 0;   // start of the element being parsed
  size_t scan_ = 0;  // where the search for a line end resumes (avoids rescans)
  int64_t args_left_ = 0;     // bulks still expected in the current multibulk
  size_t bulk_length_ = 0;    // announced length of the bulk at pos_

  std::vector<Span> spans_;
  std::vector<std::string_view> args_;
  std::string error_;
};

}  // namespace converge::resp

#endif  // CONVERGE_NODE_RESP_REQUEST_PARSER_H_
