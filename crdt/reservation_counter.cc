#include "crdt/reservation_counter.h"

#include <algorithm>
#include <string>
#include <vector>

namespace converge {

ReservationCounter ReservationCounter::Add(ReplicaId replica, uint64_t n) {
  if (n > 0) r_[{replica, replica}] += n;
  return *this;
}

StatusOr<ReservationCounter> ReservationCounter::Take(ReplicaId replica, uint64_t n) {
  if (n == 0) return InvalidArgumentError("take of zero units");
  const int64_t have = Rights(replica);
  if (have < 0 || static_cast<uint64_t>(have) < n) {
    return FailedPreconditionError("replica holds " + std::to_string(have) +
                                   " units of rights, " + std::to_string(n) + " needed");
  }
  u_[replica] += n;
  return *this;
}

StatusOr<ReservationCounter> ReservationCounter::Transfer(ReplicaId from, ReplicaId to,
                                                          uint64_t n) {
  if (from == to) return InvalidArgumentError("rights transfer to the same replica");
  if (n == 0) return InvalidArgumentError("transfer of zero units");
  const int64_t have = Rights(from);
  if (have < 0 || static_cast<uint64_t>(have) < n) {
    return FailedPreconditionError("replica holds " + std::to_string(have) +
                                   " units of rights, " + std::to_string(n) + " to transfer");
  }
  r_[{from, to}] += n;
  return *this;
}

void ReservationCounter::Join(const ReservationCounter& other) {
  for (const auto& [k, v] : other.r_) {
    uint64_t& mine = r_[k];
    mine = std::max(mine, v);
  }
  for (const auto& [k, v] : other.u_) {
    uint64_t& mine = u_[k];
    mine = std::max(mine, v);
  }
}

int64_t ReservationCounter::Rights(ReplicaId replica) const {
  uint64_t in = 0, out = 0;
  for (const auto& [k, v] : r_) {
    if (k.second == replica) in += v;  // includes R[i][i]
    if (k.first == replica && k.second != replica) out += v;
  }
  auto it = u_.find(replica);
  out += it == u_.end() ? 0 : it->second;
  return static_cast<int64_t>(in - out);
}

int64_t ReservationCounter::Value() const {
  uint64_t added = 0, used = 0;
  for (const auto& [k, v] : r_) {
    if (k.first == k.second) added += v;
  }
  for (const auto& [k, v] : u_) used += v;
  return static_cast<int64_t>(added - used);
}

std::vector<std::pair<ReplicaId, uint64_t>> ReservationCounter::Holders() const {
  std::vector<ReplicaId> replicas;
  for (const auto& [k, v] : r_) {
    replicas.push_back(k.first);
    replicas.push_back(k.second);
  }
  std::sort(replicas.begin(), replicas.end());
  replicas.erase(std::unique(replicas.begin(), replicas.end()), replicas.end());
  std::vector<std::pair<ReplicaId, uint64_t>> out;
  for (ReplicaId r : replicas) {
    const int64_t rights = Rights(r);
    if (rights > 0) out.emplace_back(r, static_cast<uint64_t>(rights));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

bool ReservationCounter::WellFormed() const {
  for (const auto& [k, v] : r_) {
    if (v == 0) return false;
  }
  for (const auto& [k, v] : u_) {
    if (v == 0) return false;
  }
  return true;
}

}  // namespace converge
