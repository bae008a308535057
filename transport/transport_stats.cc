// Transport::Core: what the node asks about its peers (INFO, /metrics, the
// status page, CLUSTER commands).
#include <mutex>

#include "transport/internal/transport_core.h"

namespace converge::transport {

std::vector<uint64_t> Transport::Core::ConnectedPeers() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> out;
  for (const auto& [id, p] : peers_) {
    if (p.conn) out.push_back(id);
  }
  return out;
}

bool Transport::Core::IsConnected(uint64_t peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(peer);
  return it != peers_.end() && it->second.conn != nullptr;
}

PeerStats Transport::Core::StatsLocked(uint64_t id, const Peer& p) const {
  PeerStats s;
  s.replica_id = id;
  s.node_name = p.node_name;
  s.client_address = p.client_address;
  s.peer_address = p.peer_address;
  s.connected = p.conn != nullptr;
  const PeerCounters& c = *p.counters;
  s.bytes_sent = c.bytes_sent;
  s.bytes_received = c.bytes_received;
  s.frames_sent = c.frames_sent;
  s.frames_received = c.frames_received;
  s.frames_dropped = c.frames_dropped;
  s.frames_rejected = c.frames_rejected;
  s.connected_since_ms = c.connected_since_ms;
  s.last_contact_ms = c.last_contact_ms;
  s.clock_offset_ms = c.clock_offset_ms;
  s.send_queue_bytes = p.conn ? p.conn->queued_bytes() : 0;
  if (p.conn) s.link = p.conn->link();
  s.partitioned = partitioned_.count(id) != 0;
  s.link_faults = link_faults_.count(id) != 0;
  return s;
}

std::optional<PeerStats> Transport::Core::Stats(uint64_t peer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = peers_.find(peer);
  if (it == peers_.end()) return std::nullopt;
  return StatsLocked(it->first, it->second);
}

std::vector<PeerStats> Transport::Core::AllStats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PeerStats> out;
  for (const auto& [id, p] : peers_) out.push_back(StatsLocked(id, p));
  return out;
}

std::optional<uint64_t> Transport::Core::FindPeerByName(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, p] : peers_) {
    if (p.node_name == name) return id;
  }
  return std::nullopt;
}

}  // namespace converge::transport
