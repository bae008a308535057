// HybridClock: a hybrid logical clock (Kulkarni, Demirbas et al., "Logical
// Physical Clocks", 2014).
//
// Timestamps it issues are strictly increasing, stay within `max_offset` of
// physical time as long as peers' clocks do, and order a receive after the send.
// The physical clock is injected so tests drive time; crdt/ never reads the
// system clock itself.
//
// Thread-compatible: the node touches it only on the apply strand.
#ifndef CONVERGE_CRDT_HYBRID_CLOCK_H_
#define CONVERGE_CRDT_HYBRID_CLOCK_H_

#include <cstdint>

#include "crdt/status.h"
#include "crdt/timestamp.h"

namespace converge {

// Source of physical time in milliseconds since the Unix epoch.
class PhysicalClock {
 public:
  virtual ~PhysicalClock() = default;
  virtual uint64_t NowMillis() = 0;
};

// A clock tests set by hand. Thread-compatible.
class ManualClock : public PhysicalClock {
 public:
  explicit ManualClock(uint64_t now_ms = 0) : now_ms_(now_ms) {}
  uint64_t NowMillis() override { return now_ms_; }
  void Set(uint64_t now_ms) { now_ms_ = now_ms; }
  void Advance(uint64_t ms) { now_ms_ += ms; }

 private:
  uint64_t now_ms_;
};

class HybridClock {
 public:
  // REQUIRES: `physical` outlives the clock.
  HybridClock(PhysicalClock* physical, uint64_t max_offset_ms)
      : physical_(physical), max_offset_ms_(max_offset_ms) {}

  // A local or send event: l = max(l, pt); c = (l unchanged) ? c + 1 : 0.
  // When the logical counter is exhausted the physical part moves on by one
  // millisecond (the clock runs slightly ahead rather than wrapping).
  Timestamp Now();

  // A receive event for remote timestamp `remote`:
  //   l' = max(l, remote.l, pt); c' from whichever terms were maximal, plus one.
  // A remote timestamp more than max_offset ahead of local physical time is not
  // adopted: returns FailedPrecondition and leaves the clock unchanged, so one
  // fast peer cannot drag every clock forward.
  StatusOr<Timestamp> Update(Timestamp remote);

  // True when `remote` is at most max_offset ahead of local physical time.
  bool WithinOffset(Timestamp remote);

  // After a restart: never issue a timestamp at or below `high_water` again.
  void Restore(Timestamp high_water);

  // The last timestamp issued or adopted (the value to persist as high-water).
  Timestamp Last() const { return last_; }
  uint64_t max_offset_ms() const { return max_offset_ms_; }

 private:
  // Stores (l, c), carrying a logical overflow into the physical part.
  Timestamp Advance(uint64_t l, uint64_t c);

  PhysicalClock* physical_;
  uint64_t max_offset_ms_;
  Timestamp last_;
};

}  // namespace converge

#endif  // CONVERGE_CRDT_HYBRID_CLOCK_H_
