// A tiny blocking RESP2 client: what `cluster up` needs to ask its own nodes
// PING, INFO and DBSIZE once a second, in plain TCP or TLS. Not a general
// Redis client: one command in flight, no pipelining, no pub/sub, no RESP3.
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

struct ssl_st;
struct ssl_ctx_st;

namespace converge {

// TLS for RespClient::Connect (OpenSSL): the server's certificate must be
// signed by `ca_file`; host names are not checked (as between Converge
// peers, whose certificates name no particular host). `cert_file` and
// `key_file`, when set, are presented if the server asks for a client
// certificate (--tls-auth-clients).
struct RespTls {
  std::string ca_file;
  std::string cert_file;  // default "": none
  std::string key_file;   // default ""
};

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
  // Unavailable when nothing listens or the deadline passes. With `tls`
  // (not null) the TLS handshake is part of the connect and its deadline;
  // InvalidArgument names a TLS file that cannot be loaded, Unavailable
  // carries OpenSSL's reason for a failed handshake.
  static StatusOr<RespClient> Connect(const std::string& host, uint16_t port,
                                      std::chrono::milliseconds timeout,
                                      const RespTls* tls = nullptr);

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

  Status StartTls(const RespTls& tls, std::chrono::steady_clock::time_point deadline,
                  const std::string& where);
  // Moves up to `len` bytes to or from the connection (send or recv, or
  // SSL_write or SSL_read), waiting until the deadline. Returns the count.
  StatusOr<size_t> Send(const char* data, size_t len, std::chrono::steady_clock::time_point deadline);
  StatusOr<size_t> Receive(char* data, size_t len, std::chrono::steady_clock::time_point deadline);

  // Reads until buffer_ holds "\r\n" after read_pos_; returns the line.
  StatusOr<std::string> ReadLine(std::chrono::steady_clock::time_point deadline);
  // Reads until buffer_ holds n more bytes after read_pos_.
  Status Fill(size_t n, std::chrono::steady_clock::time_point deadline);
  StatusOr<RespValue> ReadValue(std::chrono::steady_clock::time_point deadline, int depth);
  void Close();

  int fd_ = -1;
  ssl_ctx_st* tls_ctx_ = nullptr;  // both null in plain TCP
  ssl_st* tls_ = nullptr;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
  size_t read_pos_ = 0;
};

// The value of `field` in an INFO reply ("field:value" lines), if present.
std::optional<std::string> InfoField(std::string_view info, std::string_view field);

}  // namespace converge

#endif  // CONVERGE_NODE_CLI_RESP_CLIENT_H_
