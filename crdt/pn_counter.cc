#include "crdt/pn_counter.h"

#include <algorithm>

namespace converge {
namespace {

void JoinMax(PNCounter::Entries& into, const PNCounter::Entries& from) {
  for (const auto& [r, v] : from) {
    uint64_t& mine = into[r];
    mine = std::max(mine, v);
  }
}

uint64_t Sum(const PNCounter::Entries& e) {
  uint64_t s = 0;
  for (const auto& [r, v] : e) s += v;  // wraps mod 2^64 by design
  return s;
}

uint64_t At(const PNCounter::Entries& e, ReplicaId r) {
  auto it = e.find(r);
  return it == e.end() ? 0 : it->second;
}

bool NoZeros(const PNCounter::Entries& e) {
  return std::none_of(e.begin(), e.end(), [](const auto& kv) { return kv.second == 0; });
}

}  // namespace

PNCounter PNCounter::Add(ReplicaId replica, int64_t by) {
  PNCounter delta;
  if (by > 0) {
    uint64_t& p = p_[replica];
    p += static_cast<uint64_t>(by);
    delta.p_[replica] = p;
  } else if (by < 0) {
    uint64_t& n = n_[replica];
    n += static_cast<uint64_t>(-by);
    delta.n_[replica] = n;
  }
  return delta;
}

PNCounter PNCounter::Reset() {
  rp_ = p_;
  rn_ = n_;
  // The delta carries the counters it observed as well as the floors, so any
  // state that joins it keeps RP <= P even if it has not yet seen those
  // increments from their origins (deltas of different origins are unordered).
  return *this;
}

void PNCounter::Join(const PNCounter& other) {
  JoinMax(p_, other.p_);
  JoinMax(n_, other.n_);
  JoinMax(rp_, other.rp_);
  JoinMax(rn_, other.rn_);
}

int64_t PNCounter::Value() const {
  const uint64_t v = Sum(p_) - Sum(n_) - (Sum(rp_) - Sum(rn_));
  return static_cast<int64_t>(v);
}

bool PNCounter::Live() const {
  for (const auto& [r, v] : p_) {
    if (v > At(rp_, r)) return true;
  }
  for (const auto& [r, v] : n_) {
    if (v > At(rn_, r)) return true;
  }
  return false;
}

bool PNCounter::WellFormed() const {
  if (!NoZeros(p_) || !NoZeros(n_) || !NoZeros(rp_) || !NoZeros(rn_)) return false;
  for (const auto& [r, v] : rp_) {
    if (v > At(p_, r)) return false;
  }
  for (const auto& [r, v] : rn_) {
    if (v > At(n_, r)) return false;
  }
  return true;
}

}  // namespace converge
