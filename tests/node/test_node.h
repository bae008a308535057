// Helpers for tests that run real nodes in-process and talk to them through
// hiredis, the C client most Redis libraries wrap.
#ifndef CONVERGE_TESTS_NODE_TEST_NODE_H_
#define CONVERGE_TESTS_NODE_TEST_NODE_H_

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>

#include "node/node.h"
#include "tests/testing/free_port.h"

namespace converge::testing {

inline std::string TempDir(const std::string& tag) {
  std::string tmpl = "/tmp/converge-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return mkdtemp(buf.data());
}

// Polls `cond` until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

// One hiredis connection.
class Client {
 public:
  explicit Client(uint16_t port) {
    timeval tv{5, 0};
    ctx_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (ctx_ != nullptr && ctx_->err == 0) redisSetTimeout(ctx_, tv);
  }
  ~Client() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }
  redisContext* raw() { return ctx_; }

  // Runs a command; renders the reply as text: strings and status as they
  // are, integers as ":n", errors as "-ERR ...", nil as "(nil)", arrays as
  // "[a,b]".
  std::string Run(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
    if (r == nullptr) return "<io error: " + std::string(ctx_->errstr) + ">";
    std::string s = Render(r);
    freeReplyObject(r);
    return s;
  }

  static std::string Render(const redisReply* r) {
    switch (r->type) {
      case REDIS_REPLY_STRING:
      case REDIS_REPLY_STATUS: return std::string(r->str, r->len);
      case REDIS_REPLY_ERROR: return "-" + std::string(r->str, r->len);
      case REDIS_REPLY_INTEGER: return ":" + std::to_string(r->integer);
      case REDIS_REPLY_NIL: return "(nil)";
      case REDIS_REPLY_ARRAY: {
        std::string s = "[";
        for (size_t i = 0; i < r->elements; ++i) s += (i ? "," : "") + Render(r->element[i]);
        return s + "]";
      }
    }
    return "<?>";
  }

 private:
  redisContext* ctx_ = nullptr;
};

// A node in this process with its own data directory and ports.
struct TestNode {
  NodeOptions options;
  std::unique_ptr<Node> node;

  static std::unique_ptr<TestNode> Start(const std::string& name,
                                         std::vector<std::string> seeds = {},
                                         std::function<void(NodeOptions&)> tweak = nullptr) {
    auto t = std::make_unique<TestNode>();
    t->options.data_dir = TempDir(name);
    t->options.name = name;
    t->options.port = PickFreePort();
    t->options.peer_port = PickFreePort();
    t->options.seeds = std::move(seeds);
    t->options.fault_injection = true;
    t->options.gossip_interval_ms = 50;
    if (tweak) tweak(t->options);
    // A port picked free can be taken by a parallel test before the node
    // binds it: try again on fresh ports (those the tweak fixed stay).
    for (int attempt = 0; !t->Open(); ++attempt) {
      if (attempt == 2) return nullptr;
      t->node.reset();
      t->options.port = PickFreePort();
      t->options.peer_port = PickFreePort();
      if (tweak) tweak(t->options);
    }
    return t;
  }
  bool Open() {
    StatusOr<std::unique_ptr<Node>> n = Node::Open(options);
    if (!n.ok()) return false;
    node = std::move(*n);
    return node->Start().ok();
  }
  std::string peer_address() const { return "127.0.0.1:" + std::to_string(options.peer_port); }
  ~TestNode() {
    node.reset();
    std::error_code ec;
    std::filesystem::remove_all(options.data_dir, ec);
  }
};

// N nodes on loopback, each seeded with all the others, with a client each.
class LoopbackCluster {
 public:
  explicit LoopbackCluster(int n, std::function<void(NodeOptions&)> tweak = nullptr) {
    std::vector<uint16_t> peer_ports;
    for (int i = 0; i < n; ++i) peer_ports.push_back(PickFreePort());
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> seeds;
      for (int j = 0; j < n; ++j) {
        if (j != i) seeds.push_back("127.0.0.1:" + std::to_string(peer_ports[j]));
      }
      nodes.push_back(TestNode::Start("n" + std::to_string(i + 1), seeds, [&](NodeOptions& o) {
        o.peer_port = peer_ports[i];
        if (tweak) tweak(o);
      }));
      // A node that failed to start stays null (callers assert on it).
      clients.push_back(nodes.back() ? std::make_unique<Client>(nodes.back()->options.port)
                                     : nullptr);
    }
  }
  bool AllConnected() {
    const std::string want = "peers_connected:" + std::to_string(nodes.size() - 1);
    for (auto& c : clients) {
      if (c->Run({"INFO", "replication"}).find(want) == std::string::npos) return false;
    }
    return true;
  }
  bool DigestsEqual() {
    const std::string d = clients[0]->Run({"DEBUG", "DIGEST"});
    for (auto& c : clients) {
      if (c->Run({"DEBUG", "DIGEST"}) != d) return false;
    }
    return true;
  }
  std::vector<std::unique_ptr<TestNode>> nodes;
  std::vector<std::unique_ptr<Client>> clients;
};

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_NODE_TEST_NODE_H_
