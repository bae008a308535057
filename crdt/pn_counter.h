// PNCounter: a counter of increments and decrements from many replicas, with an
// observed reset for DEL.
//
// State: two G-counters P[replica] and N[replica] (units added and removed at
// each replica), and the reset floors RP[replica], RN[replica]: the largest P
// and N that some DEL had observed. Each replica's live contribution is
//   (P[r] - RP[r]) - (N[r] - RN[r])
// so a DEL removes exactly what the deleting replica had seen, and increments
// concurrent with it survive (observed-remove semantics, as in Redis
// Active-Active counters).
//
// Invariants:
//   Join is commutative, associative, idempotent (pointwise max of four maps).
//   For every mutator m: Join(s, s.m(...)) == s after m.
//   RP[r] <= P[r] and RN[r] <= N[r] in every state built by the mutators.
//   Zero entries are never stored, so equal states have equal encodings.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_PN_COUNTER_H_
#define CONVERGE_CRDT_PN_COUNTER_H_

#include <cstdint>

#include "crdt/internal/flat_map.h"
#include "crdt/timestamp.h"

namespace converge {

class PNCounter {
 public:
  // Replica -> units, in replica order: a sorted vector (a counter has an
  // entry per replica that wrote it), encoded as a std::map.
  using Entries = internal::FlatMap<ReplicaId, uint64_t>;

  // Adds `by` (may be negative) at `replica`; returns the delta.
  // REQUIRES: by != INT64_MIN.
  PNCounter Add(ReplicaId replica, int64_t by);

  // Observed reset (DEL): raises the floors to everything seen here. Returns
  // the delta: the observed counters with their floors.
  PNCounter Reset();

  void Join(const PNCounter& other);

  // ΣP - ΣN - (ΣRP - ΣRN), in two's complement (the node refuses writes that
  // would overflow int64 before issuing them).
  int64_t Value() const;
  // True when some increment or decrement is not covered by a reset, i.e.
  // the key exists for GET / EXISTS. A counter at 0 after INCR, DECR is live.
  bool Live() const;

  // Entries are well formed: no zero entries and every floor at or below its
  // counter. Decoders reject states that are not.
  bool WellFormed() const;

  bool operator==(const PNCounter&) const = default;

  const Entries& p() const { return p_; }
  const Entries& n() const { return n_; }
  const Entries& rp() const { return rp_; }
  const Entries& rn() const { return rn_; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(p_, n_, rp_, rn_);
  }

 private:
  Entries p_, n_;    // G-counters of increments and decrements
  Entries rp_, rn_;  // reset floors
};

}  // namespace converge

#endif  // CONVERGE_CRDT_PN_COUNTER_H_
