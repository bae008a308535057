// Node: one Converge replica, embeddable in a service's own process.
//
// Open() loads (or creates) the data directory; Start() binds the client,
// peer and (with http_port) HTTP ports and starts the worker threads; Stop() stops accepting, commits
// in-flight writes, closes peers and returns. Nothing from Asio, RocksDB or
// spdlog appears in this header.
//
// Typed handles (node/handles.h) and change subscriptions
// (node/subscription.h) are the embedding API; Execute runs any command of
// PROTOCOL.md and returns its raw reply. docs/embedding.md is the guide.
//
// Thread-safety: every member function is safe from any thread.
#ifndef CONVERGE_NODE_NODE_H_
#define CONVERGE_NODE_NODE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "node/handles.h"
#include "node/options.h"
#include "node/subscription.h"

namespace converge {

// A client session inside the embedding process: commands run through it
// (Execute, or its handles) keep read-your-writes and monotonic reads as a
// client connection does, and its token moves the session to another node
// (SESSION TOKEN / RESUME).
// Thread-compatible: one thread at a time per session; create many sessions
// for many threads. REQUIRES: the node outlives the session and its handles.
class NodeSession {
 public:
  ~NodeSession();
  NodeSession(const NodeSession&) = delete;
  NodeSession& operator=(const NodeSession&) = delete;

  // Runs one command in this session; returns its RESP2 reply bytes.
  std::string Execute(const std::vector<std::string>& args);
  // The opaque token covering everything this session wrote and read.
  std::string Token();
  // Waits up to timeout_ms until this node has applied all that `token`
  // covers, then makes it part of this session: Unavailable when it could
  // not catch up in time (retry, or try another node), InvalidArgument for
  // a malformed token.
  Status Resume(const std::string& token, uint64_t timeout_ms);
  // WAIT: how many peers hold every write of this session, waiting up to
  // `timeout_ms` for `peers` of them.
  StatusOr<int64_t> WaitForPeers(int64_t peers, uint64_t timeout_ms);

  // Handles whose commands run in this session (node/handles.h).
  Counter counter(std::string key) const;
  String string(std::string key) const;
  Record record(std::string key) const;
  RCounter reservation_counter(std::string key) const;

 private:
  friend class Node;
  explicit NodeSession(std::shared_ptr<const CommandPath> path);
  std::shared_ptr<const CommandPath> path_;
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
  // Reads the TLS certificate, key and CA files named in the options again
  // (after a certificate rotation) and uses them for every connection made
  // from then on, on both ports; open connections keep theirs. A file that
  // cannot be loaded leaves everything as it was and is named in the error;
  // FailedPrecondition when the node runs without TLS. `converge serve` calls
  // it on SIGHUP.
  Status ReloadTls();
  // A new session on this node. REQUIRES: the node outlives the session.
  std::unique_ptr<NodeSession> NewSession();

  // Typed handles on `key` (node/handles.h), outside any session.
  Counter counter(std::string key) const;
  String string(std::string key) const;
  Record record(std::string key) const;
  RCounter reservation_counter(std::string key) const;

  // Calls `callback` for every key a delta from a peer changes here, on a
  // thread of the node's, until the Subscription is cancelled or destroyed
  // (node/subscription.h states the guarantees). May be called before Start.
  Subscription Subscribe(ChangeCallback callback);

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
