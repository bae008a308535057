// Delta and DeltaInterval: mutations as they replicate.
//
// Every local mutation becomes a Delta numbered (origin, seq), seq contiguous
// per origin, carrying the key's delta Object and the HLC timestamp it was
// stamped with. A DeltaInterval is the deltas seq in [first, last] of one
// origin joined by key: 10,000 increments of one hot counter travel as one
// entry, and joining the interval into a state equals joining each delta in
// turn (the join is associative and idempotent).
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_DELTA_H_
#define CONVERGE_CRDT_DELTA_H_

#include <cstdint>
#include <map>
#include <string>

#include "crdt/object.h"
#include "crdt/status.h"
#include "crdt/timestamp.h"

namespace converge {

struct Delta {
  ReplicaId origin = 0;
  uint64_t seq = 0;  // >= 1
  Timestamp ts;      // the HLC reading that stamped the write
  std::string key;
  Object object;

  bool WellFormed() const { return seq >= 1 && object.WellFormed(); }
  bool operator==(const Delta&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(origin, seq, ts, key, object);
  }
};

class DeltaInterval {
 public:
  DeltaInterval() = default;
  explicit DeltaInterval(const Delta& d)
      : origin_(d.origin), first_(d.seq), last_(d.seq), max_ts_(d.ts) {
    objects_[d.key] = d.object;
  }

  // Extends the interval by the next delta of the same origin.
  // REQUIRES: d.origin == origin() and d.seq == last() + 1, else InvalidArgument.
  Status Append(const Delta& d);
  // The same, moving d's key and object in when the interval lacks the key.
  // `d` is left valid, unspecified.
  Status Append(Delta&& d);
  // Extends the interval by one that follows or overlaps it (same origin,
  // next.first() <= last() + 1), else InvalidArgument. Overlap is harmless:
  // the join is idempotent.
  Status Append(const DeltaInterval& next);
  // The same, taking `next`'s objects rather than copying them (keys this
  // interval lacks move over as they are). `next` is left valid, unspecified.
  Status Append(DeltaInterval&& next);

  ReplicaId origin() const { return origin_; }
  uint64_t first() const { return first_; }
  uint64_t last() const { return last_; }
  // The largest HLC timestamp among the joined deltas (for the clock bound).
  Timestamp max_ts() const { return max_ts_; }
  const std::map<std::string, Object>& objects() const { return objects_; }

  bool WellFormed() const;
  bool operator==(const DeltaInterval&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(origin_, first_, last_, max_ts_, objects_);
  }

 private:
  ReplicaId origin_ = 0;
  uint64_t first_ = 0;
  uint64_t last_ = 0;
  Timestamp max_ts_;
  std::map<std::string, Object> objects_;
};

}  // namespace converge

#endif  // CONVERGE_CRDT_DELTA_H_
