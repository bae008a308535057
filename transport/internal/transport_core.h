// Transport::Core, the whole of Transport behind its handle; shared by
// transport.cc (listening, dialing, the registry of connections and peers,
// sending), transport_stats.cc (what the node asks about its peers) and
// transport_faults.cc (the faults tests inject). Not part of the module's
// interface.
#ifndef CONVERGE_TRANSPORT_INTERNAL_TRANSPORT_CORE_H_
#define CONVERGE_TRANSPORT_INTERNAL_TRANSPORT_CORE_H_

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "transport/peer_connection.h"
#include "transport/transport.h"

namespace converge::transport {

inline std::string Hex(uint64_t v) {
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(v));
  return hex;
}

// Everything Transport does. Owned through shared_ptr so that handlers still
// queued in the io_context after ~Transport find it alive (and stopped).
//
// Locking: mu_ guards the registry (connections, peers, dial targets, faults,
// rng). It is never held while calling a user callback or waiting on I/O.
// The acceptor and the dial timers live on strand_.
class Transport::Core : public ConnectionOwner, public std::enable_shared_from_this<Core> {
 public:
  Core(asio::io_context& io, TransportOptions options, FrameHandler on_frame,
       PeerEventHandler on_event);

  Status Start();
  uint16_t port() const { return port_.load(); }
  void AddSeed(std::string address);
  Status Send(uint64_t peer, uint8_t type, std::string_view body);
  std::size_t Broadcast(uint8_t type, std::string_view body);
  std::vector<uint64_t> ConnectedPeers() const;
  bool IsConnected(uint64_t peer) const;
  std::optional<PeerStats> Stats(uint64_t peer) const;
  std::vector<PeerStats> AllStats() const;
  std::optional<uint64_t> FindPeerByName(std::string_view name) const;
  uint64_t rejected_connections() const { return rejected_connections_.load(); }
  std::string last_refusal() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_refusal_;
  }
  std::size_t connection_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_.size();
  }
  void Partition(uint64_t peer);
  void SetLinkFaults(uint64_t peer, LinkFaults faults);
  void Heal();
  void Stop();

  // ConnectionOwner.
  Status OnPeerIdentified(const std::shared_ptr<PeerConnection>& conn) override;
  Status Register(const std::shared_ptr<PeerConnection>& conn,
                  std::shared_ptr<PeerCounters>* counters) override;
  void OnEstablished(const std::shared_ptr<PeerConnection>& conn) override;
  FaultDecision DecideFault(uint64_t peer, bool outgoing) override;
  bool IsPartitioned(uint64_t peer) override;
  void Deliver(uint64_t peer, uint8_t type, std::string body) override;
  void OnClosed(const std::shared_ptr<PeerConnection>& conn, const Status& why) override;

 private:
  // One address this node keeps a connection to. Touched under mu_; its timer
  // only on strand_.
  struct DialTarget {
    explicit DialTarget(asio::strand<asio::io_context::executor_type>& strand, std::string a)
        : address(std::move(a)), timer(strand) {}
    std::string address;
    asio::steady_timer timer;
    uint64_t peer_id = 0;  // learned from the first handshake; 0 until then
    bool is_self = false;  // the address is our own listener: never dial again
    std::shared_ptr<PeerConnection> conn;  // the dial in progress or established
    std::chrono::milliseconds backoff{0};
    bool timer_armed = false;
  };
  struct Peer {
    std::shared_ptr<PeerCounters> counters = std::make_shared<PeerCounters>();
    std::string node_name, client_address, peer_address;
    std::shared_ptr<PeerConnection> conn;  // the established connection, if any
  };

  void DoAccept();
  // REQUIRES: mu_ held. Starts a dial now if the target needs one.
  void MaybeDialLocked(const std::shared_ptr<DialTarget>& target);
  // REQUIRES: mu_ held. Dials after `delay` plus jitter.
  void ScheduleDialLocked(const std::shared_ptr<DialTarget>& target,
                          std::chrono::milliseconds delay);
  std::chrono::milliseconds JitteredLocked(std::chrono::milliseconds d);
  PeerStats StatsLocked(uint64_t id, const Peer& p) const;
  void Emit(const PeerEvent& event) {
    if (on_event_ && !stopped_.load()) on_event_(event);
  }

  asio::io_context& io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::ip::tcp::acceptor acceptor_;
  TransportOptions options_;
  std::shared_ptr<const ConnectionOptions> conn_options_;
  const FrameHandler on_frame_;
  const PeerEventHandler on_event_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopped_{false};
  std::atomic<bool> faults_active_{false};
  std::atomic<uint64_t> rejected_connections_{0};

  mutable std::mutex mu_;
  std::set<std::shared_ptr<PeerConnection>> connections_;  // every live connection
  std::map<uint64_t, Peer> peers_;                          // every peer ever seen
  std::vector<std::shared_ptr<DialTarget>> targets_;
  std::set<uint64_t> partitioned_;
  std::map<uint64_t, LinkFaults> link_faults_;
  std::mt19937_64 rng_;
  std::string last_refusal_;
};

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_INTERNAL_TRANSPORT_CORE_H_
