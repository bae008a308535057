// A tiny blocking RESP2 client: what `cluster up` needs to ask its own nodes
// PING, INFO and DBSIZE once a second. Not a general Redis client: one
// command in flight, no pipelining, no pub/sub, no RESP3.
//
// Every connect and read has a deadline, so a hung node costs the status
// table a fraction of a second, never the launcher.
//
// A RespClient is used from one thread at a time (thread-compatible).
#ifndef CONVERGE_NODE_CLI_RESP_CLIENT_H_
#define CONVERGE_NODE_CLI_RESP_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/status.h"

namespace converge {

// One RESP2 reply.
struct RespValue {
  enum class Type { kSimpleString, kError, kInteger, kBulkString, kNull, kArray };

  Type type = Type::kNull;
  std::string text;               // simple string, error or bulk string
  int64_t integer = 0;            // integer
  std::vector<RespValue> elements;  // array

  bool IsSimple(std::string_view s) const { return type == Type::kSimpleString && text == s; }
};

class RespClient {
 public:
  // Bounds on what a reply may claim before anything is allocated for it.
  static constexpr int64_t kMaxBulkBytes = 16 << 20;
  static constexpr int64_t kMaxArrayElements = 1 << 20;
  static constexpr int kMaxDepth = 8;

  // Connects to host:port (a numeric IPv4 or IPv6 address, or "localhost"),
  // giving up after `timeout`. `timeout` is also the deadline of each
  // Command() from when it is sent to when its reply is read.
  // Unavailable when nothing listens or the deadline passes.
  static StatusOr<RespClient> Connect(const std::string& host, uint16_t port,
                                      std::chrono::milliseconds timeout);

  RespClient(RespClient&& other) noexcept;
  RespClient& operator=(RespClient&& other) noexcept;
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;
  ~RespClient();

  // Sends `args` as a RESP array of bulk strings and reads one reply.
  // A server error (-ERR ...) is a reply of type kError, not a failed Status.
  // Unavailable on a closed connection or timeout, Corruption on a malformed
  // or oversized reply; after either the client is closed.
  StatusOr<RespValue> Command(const std::vector<std::string>& args);

 private:
  RespClient(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}

  // Reads until buffer_ holds "\r\n" after read_pos_; returns the line.
  StatusOr<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);
  // Reads until buffer_ holds n more bytes after read_pos_.
  Status Fill(size_t n, std::chrono::steady_clock::time_point deadline);
  StatusOr<RespValue> ReadValue(std::chrono::steady_clock::time_point deadline, int depth);
  void Close();

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
  size_t read_pos_ = 0;
};

// The value of `field` in an INFO reply ("field:value" lines), if present.
std::optional<std::string> InfoField(std::string_view info, std::string_view field);

}  // namespace converge

#endif  // CONVERGE_NODE_CLI_RESP_CLIENT_H_
