// Test helpers for Transport over loopback: a node (a Transport on its own
// io_context and thread, recording its callbacks) and a raw TCP client.
// Shared by bus_test.cc and tls_test.cc.
#ifndef CONVERGE_TESTS_TRANSPORT_TEST_BUS_H_
#define CONVERGE_TESTS_TRANSPORT_TEST_BUS_H_

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "transport/transport.h"

namespace converge::transport::bus_testing {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr uint8_t kData = kFirstApplicationType;
constexpr auto kWait = std::chrono::seconds(10);

inline int64_t NowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Short timeouts so failure paths finish quickly.
inline TransportOptions FastOptions(std::string name, uint64_t id) {
  TransportOptions o;
  o.identity.cluster_id = "test-cluster";
  o.identity.replica_id = id;
  o.identity.node_name = std::move(name);
  o.identity.client_address = "127.0.0.1:0";
  o.connect_timeout = milliseconds(1000);
  o.handshake_timeout = milliseconds(2000);
  o.idle_timeout = milliseconds(5000);
  o.heartbeat_interval = milliseconds(100);
  o.reconnect_initial_backoff = milliseconds(20);
  o.reconnect_max_backoff = milliseconds(200);
  o.rng_seed = id;
  return o;
}

// "<prefix><i>". Out of line because GCC 12 raises a false -Wrestrict on
// `Numbered("x", i)` when inlined.
[[gnu::noinline]] inline std::string Numbered(std::string_view prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

struct Received {
  uint64_t peer;
  uint8_t type;
  std::string body;
  Clock::time_point at;
};

// One node: a Transport on its own io_context and thread, recording what its
// callbacks see.
class TestNode {
 public:
  explicit TestNode(TransportOptions options) : options_(std::move(options)) {}
  ~TestNode() { Stop(); }

  uint64_t id() const { return options_.identity.replica_id; }
  Transport& bus() { return *bus_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(bus_->port()); }

  Status Start(std::function<void(uint64_t, uint8_t, const std::string&)> extra = nullptr) {
    bus_ = std::make_unique<Transport>(
        io_, options_,
        [this, extra](uint64_t peer, uint8_t type, std::string body) {
          if (extra) extra(peer, type, body);
          std::lock_guard<std::mutex> lock(mu_);
          frames_.push_back(Received{peer, type, std::move(body), Clock::now()});
          cv_.notify_all();
        },
        [this](const PeerEvent& e) {
          std::lock_guard<std::mutex> lock(mu_);
          events_.push_back(e);
          cv_.notify_all();
        });
    CONVERGE_RETURN_IF_ERROR(bus_->Start());
    options_.port = bus_->port();  // a restart binds the same port
    thread_ = std::thread([this] {
      io_.run();  // no work guard: returns once Stop() has closed everything
      std::lock_guard<std::mutex> lock(mu_);
      ran_out_ = true;
      cv_.notify_all();
    });
    return Status::Ok();
  }

  // Stops and checks that io_context.run() returns by itself.
  void Stop() {
    if (!thread_.joinable()) return;
    bus_->Stop();
    const bool returned = WaitFor([&] { return ran_out_; }, kWait);
    EXPECT_TRUE(returned) << options_.identity.node_name << ": io_context.run() did not return";
    if (!returned) io_.stop();
    thread_.join();
    bus_.reset();
    io_.restart();
    ran_out_ = false;
  }

  // Waits until pred() (called under the node's lock) holds.
  template <class Pred>
  bool WaitFor(Pred pred, Clock::duration timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, pred);
  }
  // Polls state outside the callbacks (e.g. Transport stats) until it holds.
  template <class Pred>
  static bool Eventually(Pred pred, Clock::duration timeout = kWait) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(milliseconds(2));  // polling interval, not synchronization
    }
    return pred();
  }

  bool WaitConnected(uint64_t peer) {
    return Eventually([&] { return bus_->IsConnected(peer); });
  }

  std::vector<Received> FramesFrom(uint64_t peer) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Received> out;
    for (const auto& f : frames_) {
      if (f.peer == peer) out.push_back(f);
    }
    return out;
  }
  std::size_t CountFrom(uint64_t peer, const std::string& prefix = "") {
    std::lock_guard<std::mutex> lock(mu_);
    return CountLocked(peer, prefix);
  }
  std::size_t CountLocked(uint64_t peer, const std::string& prefix) const {
    std::size_t n = 0;
    for (const auto& f : frames_) n += f.peer == peer && f.body.rfind(prefix, 0) == 0;
    return n;
  }
  std::vector<PeerEvent> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  bool WaitEvent(PeerEvent::Kind kind, const std::string& text = "") {
    return WaitFor([&] {
      for (const auto& e : events_) {
        if (e.kind == kind && e.reason.message().find(text) != std::string::npos) return true;
      }
      return false;
    });
  }
  std::size_t CountEvents(PeerEvent::Kind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t n = 0;
    for (const auto& e : events_) n += e.kind == kind;
    return n;
  }

  TransportOptions& options() { return options_; }

 private:
  TransportOptions options_;
  asio::io_context io_;
  std::unique_ptr<Transport> bus_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> frames_;
  std::vector<PeerEvent> events_;
  bool ran_out_ = false;
};

// A raw TCP client for feeding the peer port bytes no Transport would send.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : socket_(io_) {
    asio::error_code ec;
    socket_.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    EXPECT_FALSE(ec) << ec.message();
  }
  void Write(std::string_view bytes) {
    asio::error_code ec;
    asio::write(socket_, asio::buffer(bytes), ec);
  }
  // Reads until the server closes the connection (true) or `timeout` passes.
  bool ReadUntilClosed(std::string* got, Clock::duration timeout = kWait) {
    socket_.non_blocking(true);
    const auto deadline = Clock::now() + timeout;
    char buf[4096];
    while (Clock::now() < deadline) {
      asio::error_code ec;
      const std::size_t n = socket_.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        socket_.wait(asio::socket_base::wait_read, ec);  // blocks until readable
        continue;
      }
      if (ec) return true;  // eof or reset: the server closed us
      got->append(buf, n);
    }
    return false;
  }

 private:
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
};

}  // namespace converge::transport::bus_testing

#endif  // CONVERGE_TESTS_TRANSPORT_TEST_BUS_H_
