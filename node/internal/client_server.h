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
// Thread-safety: Start/Stop from any thread; connections run on their own
// strands and touch ClientState only inside work run on the apply strand.
#ifndef CONVERGE_NODE_INTERNAL_CLIENT_SERVER_H_
#define CONVERGE_NODE_INTERNAL_CLIENT_SERVER_H_

#include <asio.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "crdt/status.h"
#include "node/internal/apply_loop.h"
#include "node/internal/commands.h"
#include "node/resp/request_parser.h"

namespace converge {

class ClientConnection;

struct ClientServerOptions {
  std::string bind = "127.0.0.1";  // default 127.0.0.1
  uint16_t port = 6380;            // default 6380; 0 picks a free port
  // Largest request accepted, and largest single argument. Defaults 512 MiB
  // and 512 MiB (Redis's proto-max-bulk-len).
  size_t max_request_bytes = size_t{512} << 20;
  size_t max_bulk_bytes = size_t{512} << 20;
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
  std::mutex mu_;
  std::set<std::shared_ptr<ClientConnection>> live_;
  bool stopped_ = false;
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_CLIENT_SERVER_H_
