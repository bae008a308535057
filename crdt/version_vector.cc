#include "crdt/version_vector.h"

#include <algorithm>
#include <cstdio>

namespace converge {

uint64_t VersionVector::Get(ReplicaId origin) const {
  auto it = entries_.find(origin);
  return it == entries_.end() ? 0 : it->second;
}

void VersionVector::Set(ReplicaId origin, uint64_t seq) {
  if (seq == 0) {
    entries_.erase(origin);
  } else {
    entries_[origin] = seq;
  }
}

bool VersionVector::Advance(ReplicaId origin, uint64_t seq) {
  if (seq != Get(origin) + 1) return false;
  entries_[origin] = seq;
  return true;
}

bool VersionVector::Dominates(const VersionVector& other) const {
  for (const auto& [origin, seq] : other.entries_) {
    if (Get(origin) < seq) return false;
  }
  return true;
}

void VersionVector::Join(const VersionVector& other) {
  for (const auto& [origin, seq] : other.entries_) {
    uint64_t& mine = entries_[origin];
    mine = std::max(mine, seq);
  }
}

VersionVector VersionVector::Meet(const VersionVector& a, const VersionVector& b) {
  VersionVector out;
  for (const auto& [origin, seq] : a.entries_) out.Set(origin, std::min(seq, b.Get(origin)));
  return out;
}

VersionVector::Order VersionVector::Compare(const VersionVector& other) const {
  const bool le = other.Dominates(*this);
  const bool ge = Dominates(other);
  if (le && ge) return Order::kEqual;
  if (le) return Order::kLess;
  if (ge) return Order::kGreater;
  return Order::kConcurrent;
}

uint64_t VersionVector::CountAhead(const VersionVector& other) const {
  uint64_t n = 0;
  for (const auto& [origin, seq] : entries_) {
    const uint64_t theirs = other.Get(origin);
    if (seq > theirs) n += seq - theirs;
  }
  return n;
}

bool VersionVector::WellFormed() const {
  return std::none_of(entries_.begin(), entries_.end(), [](const auto& e) { return e.second == 0; });
}

std::string VersionVector::ToString() const {
  std::string out;
  for (const auto& [origin, seq] : entries_) {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%s%016llx=%llu", out.empty() ? "" : ",",
                  static_cast<unsigned long long>(origin), static_cast<unsigned long long>(seq));
    out += buf;
  }
  return out;
}

}  // namespace converge
