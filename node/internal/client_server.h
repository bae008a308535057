// ClientServer: the RESP2 listener and its connections.
//
// A connection reads into its RequestParser, takes every complete command
// of what arrived (pipelining), and submits them as one request to the
// ApplyLoop; the replies come back after the commit and are written in one
// go. One request is in flight per connection, so replies keep their order
// and a client that does not read its replies stops being read from
// (backpressure). A malformed request gets `-ERR Protocol error: ...` and the
// connection closes after the reply is written; nobody else is affected. A
// request over the size limit is refused by the parser from its header,
// before its body is buffered.
//
// With a TLS context every connection starts with a TLS handshake, bounded by
// a deadline; one that fails (a plain client, garbage, a refused client
// certificate) is logged with OpenSSL's reason and closed, and nobody else
// waits for it.
//
// Thread-safety: Start/Stop from any thread; connections run on their own
// strands and touch ClientState only inside work run on the apply strand.
#ifndef CONVERGE_NODE_INTERNAL_CLIENT_SERVER_H_
#define CONVERGE_NODE_INTERNAL_CLIENT_SERVER_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "crdt/status.h"
#include "node/internal/apply_loop.h"
#include "node/internal/commands.h"
#include "node/resp/request_parser.h"
#include "transport/tls.h"

namespace converge {

class ClientConnection;

struct ClientServerOptions {
  std::string bind = "127.0.0.1";  // default 127.0.0.1
  uint16_t port = 6380;            // default 6380; 0 picks a free port
  // Largest request accepted, and largest single argument. Defaults 512 MiB
  // and 512 MiB (Redis's proto-max-bulk-len).
  size_t max_request_bytes = size_t{512} << 20;
  size_t max_bulk_bytes = size_t{512} << 20;
  // TLS on the client port when set (transport/tls.h: TlsVerify::kNone, or
  // kRequire for --tls-auth-clients); a connection takes the slot's context
  // of the moment it is accepted. Default null: plain TCP.
  std::shared_ptr<transport::TlsContextSlot> tls;
  // A TLS handshake not done by then closes the connection. Default 10 s.
  std::chrono::milliseconds tls_handshake_timeout{10000};
};

class ClientServer {
 public:
  ClientServer(asio::io_context& io, ApplyLoop* loop, CommandTable* commands,
               ClientServerOptions options);
  ~ClientServer();

  Status Start();
  // Stops accepting and closes every connection.
  void Stop();
  uint16_t port() const { return port_; }
  size_t connections() const { return connections_.load(); }
  // Connections closed because their TLS handshake failed or timed out.
  uint64_t tls_handshake_failures() const { return tls_failures_.load(); }

 private:
  friend class ClientConnection;
  void Accept();
  void Forget(ClientConnection* c);

  asio::io_context& io_;
  ApplyLoop* loop_;
  CommandTable* commands_;
  ClientServerOptions options_;
  asio::ip::tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<size_t> connections_{0};
  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint64_t> tls_failures_{0};
  std::mutex mu_;
  std::set<std::shared_ptr<ClientConnection>> live_;
  bool stopped_ = false;
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_CLIENT_SERVER_H_
