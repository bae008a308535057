#include "crdt/hybrid_clock.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace converge {

std::string Timestamp::ToString() const {
  return std::to_string(physical()) + "." + std::to_string(logical());
}

std::string Stamp::ToString() const {
  char id[17];
  std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(replica));
  return ts.ToString() + "@" + id;
}

Timestamp HybridClock::Advance(uint64_t l, uint64_t c) {
  if (c > Timestamp::kMaxLogical) {
    // Never wrap: a wrapped counter would issue a timestamp below the last one.
    l += 1;
    c = 0;
  }
  last_ = Timestamp(std::min(l, Timestamp::kMaxPhysical), c);
  return last_;
}

Timestamp HybridClock::Now() {
  const uint64_t pt = std::min(physical_->NowMillis(), Timestamp::kMaxPhysical);
  const uint64_t l = last_.physical();
  if (pt > l) return Advance(pt, 0);
  return Advance(l, last_.logical() + 1);
}

bool HybridClock::WithinOffset(Timestamp remote) {
  const uint64_t pt = physical_->NowMillis();
  return remote.physical() <= pt + max_offset_ms_;
}

StatusOr<Timestamp> HybridClock::Update(Timestamp remote) {
  const uint64_t pt = std::min(physical_->NowMillis(), Timestamp::kMaxPhysical);
  if (remote.physical() > pt + max_offset_ms_) {
    return FailedPreconditionError("remote timestamp " + remote.ToString() + " is " +
                                   std::to_string(remote.physical() - pt) +
                                   " ms ahead of local physical time, beyond the bound of " +
                                   std::to_string(max_offset_ms_) + " ms");
  }
  const uint64_t l = last_.physical();
  const uint64_t ml = remote.physical();
  const uint64_t nl = std::max({l, ml, pt});
  uint64_t c;
  if (nl == l && nl == ml) {
    c = std::max(last_.logical(), remote.logical()) + 1;
  } else if (nl == l) {
    c = last_.logical() + 1;
  } else if (nl == ml) {
    c = remote.logical() + 1;
  } else {
    c = 0;
  }
  return Advance(nl, c);
}

void HybridClock::Restore(Timestamp high_water) {
  if (high_water > last_) last_ = high_water;
}

}  // namespace converge
