// Transport::Core: the faults tests inject on links (partitions, loss,
// duplication, delay) and the decisions connections ask of them.
#include <mutex>
#include <random>

#include "transport/internal/transport_core.h"

namespace converge::transport {

FaultDecision Transport::Core::DecideFault(uint64_t peer, bool /*outgoing*/) {
  FaultDecision d;
  if (!faults_active_.load()) return d;
  std::lock_guard<std::mutex> lock(mu_);
  if (partitioned_.count(peer)) {
    d.drop = true;
    return d;
  }
  auto it = link_faults_.find(peer);
  if (it == link_faults_.end()) return d;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (u(rng_) < it->second.drop_probability) {
    d.drop = true;
    return d;
  }
  if (u(rng_) < it->second.duplicate_probability) d.copies = 2;
  d.delay = it->second.delay;
  return d;
}

bool Transport::Core::IsPartitioned(uint64_t peer) {
  if (!faults_active_.load()) return false;
  std::lock_guard<std::mutex> lock(mu_);
  return partitioned_.count(peer) != 0;
}

void Transport::Core::Partition(uint64_t peer) {
  std::lock_guard<std::mutex> lock(mu_);
  partitioned_.insert(peer);
  faults_active_ = true;
  log_->warn("[{}] peer {}: partitioned (fault injection)", options_.identity.node_name,
             Hex(peer));
}

void Transport::Core::SetLinkFaults(uint64_t peer, LinkFaults faults) {
  std::lock_guard<std::mutex> lock(mu_);
  link_faults_[peer] = faults;
  faults_active_ = true;
  log_->warn("[{}] peer {}: link faults drop={} dup={} delay={}ms (fault injection)",
             options_.identity.node_name, Hex(peer), faults.drop_probability,
             faults.duplicate_probability, faults.delay.count());
}

void Transport::Core::Heal() {
  std::lock_guard<std::mutex> lock(mu_);
  partitioned_.clear();
  link_faults_.clear();
  faults_active_ = false;
  log_->info("[{}] all link faults healed", options_.identity.node_name);
  for (const auto& t : targets_) {
    t->backoff = options_.reconnect_initial_backoff;
    // Dial now rather than after a backoff grown during the fault; a pending
    // backoff wait finds the target busy (or connected) and does nothing.
    MaybeDialLocked(t);
  }
}

}  // namespace converge::transport
