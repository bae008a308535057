// Appending RESP2 replies to a connection's output buffer.
//
// Byte formats (every line ends in CR LF; <n> is decimal, '-' for negatives):
//   simple string  '+' <text> CR LF           text never holds CR or LF
//   error          '-' <CODE> ' ' <text> CR LF  e.g. "-ERR unknown command 'x'"
//   integer        ':' <n> CR LF
//   bulk string    '$' <len> CR LF <len bytes> CR LF   binary safe
//   nil bulk       "$-1" CR LF
//   array          '*' <count> CR LF, then <count> replies
//   nil array      "*-1" CR LF
//
// Free functions over a std::string so a connection can append every reply
// of a pipelined batch to one buffer and write it with one call. Each
// function only appends to *out. Thread-compatible (as std::string).
#ifndef CONVERGE_NODE_RESP_REPLY_H_
#define CONVERGE_NODE_RESP_REPLY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace converge::resp {

// "+text\r\n". CR and LF in `text` become spaces: a simple string is one line.
void AppendSimpleString(std::string* out, std::string_view text);

// "-message\r\n". `message` starts with the error code, as Redis's replies do
// ("ERR ...", "WRONGTYPE ...", "TRYAGAIN ..."); a leading '-' is tolerated
// and not doubled. CR and LF become spaces, as Redis's addReplyErrorFormat
// does, so a message built from user input cannot end the reply early.
void AppendError(std::string* out, std::string_view message);

// "-ERR Protocol error: reason\r\n": the reply to RequestParser's kBad.
void AppendProtocolError(std::string* out, std::string_view reason);

// ":n\r\n".
void AppendInteger(std::string* out, int64_t n);

// "$len\r\nbytes\r\n"; any bytes, NUL, CR and LF included.
void AppendBulk(std::string* out, std::string_view bytes);

// "$-1\r\n": the nil reply (GET of a missing key).
void AppendNullBulk(std::string* out);

// "*count\r\n"; the caller appends `count` replies after it.
void AppendArrayHeader(std::string* out, size_t count);

// "*-1\r\n".
void AppendNullArray(std::string* out);

}  // namespace converge::resp

#endif  // CONVERGE_NODE_RESP_REPLY_H_
