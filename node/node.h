// Node: one Converge replica, embeddable in a service's own process.
//
// Open() loads (or creates) the data directory; Start() binds the client,
// peer and (with http_port) HTTP ports and starts the worker threads; Stop() stops accepting, commits
// in-flight writes, closes peers and returns. Nothing from Asio, RocksDB or
// spdlog appears in this header.
//
// Thread-safety: every member function is safe from any thread.
#ifndef CONVERGE_NODE_NODE_H_
#define CONVERGE_NODE_NODE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "node/options.h"

namespace converge {

// A client session inside the embedding process: commands run through it
// keep read-your-writes and monotonic reads as a client connection does, and
// its token moves the session to another node (SESSION TOKEN / RESUME).
// Thread-compatible: one thread at a time per session; create many sessions
// for many threads.
class NodeSession {
 public:
  virtual ~NodeSession() = default;
  // Runs one command in this session; returns its RESP2 reply bytes.
  virtual std::string Execute(const std::vector<std::string>& args) = 0;
  // The opaque token covering everything this session wrote and read.
  virtual std::string Token() = 0;
  // Waits up to timeout_ms until this node has applied all that `token`
  // covers, then makes it part of this session: Unavailable when it could
  // not catch up in time (retry, or try another node), InvalidArgument for
  // a malformed token.
  virtual Status Resume(const std::string& token, uint64_t timeout_ms) = 0;
};

class Node {
 public:
  static StatusOr<std::unique_ptr<Node>> Open(const NodeOptions& options);
  ~Node();  // Stop()s.
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  Status Start();
  void Stop();

  // Runs one command as a client connection would and returns its RESP2
  // reply bytes (e.g. {"INCRBY", "stock", "5"} -> ":5\r\n"). Blocks until the
  // write is committed.
  std::string Execute(const std::vector<std::string>& args);
  // A new session on this node. REQUIRES: the node outlives the session.
  std::unique_ptr<NodeSession> NewSession();

  uint16_t client_port() const;
  uint16_t peer_port() const;
  // The port /metrics, /healthz and the status page are served on; 0 when
  // NodeOptions::http_port is 0 (off).
  uint16_t http_port() const;
  uint64_t id() const;
  const std::string& name() const;

  class Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace converge

#endif  // CONVERGE_NODE_NODE_H_
