// Node: one Converge replica, embeddable in a service's own process.
//
// Open() loads (or creates) the data directory; Start() binds the client and
// peer ports and starts the worker threads; Stop() stops accepting, commits
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

  uint16_t client_port() const;
  uint16_t peer_port() const;
  uint64_t id() const;
  const std::string& name() const;

  class Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace converge

#endif  // CONVERGE_NODE_NODE_H_
