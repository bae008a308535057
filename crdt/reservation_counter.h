// ReservationCounter: a bounded counter that never goes below zero anywhere,
// without coordination on the fast path (escrow; Balegas et al., "Extending
// Eventually Consistent Cloud Databases for Enforcing Numeric Invariants",
// SRDS 2015).
//
// State: R[i][j], units whose rights moved from replica i to j, with R[i][i]
// the units added at i; U[i], units consumed at i.
//   rights(i) = R[i][i] + Σ_{j≠i} R[j][i] − Σ_{j≠i} R[i][j] − U[i]
//   value     = Σ_i R[i][i] − Σ_i U[i]  =  Σ_i rights(i)
// A replica changes only its own row (R[i][*] and U[i]) and only spends rights
// it holds, so rights(i) >= 0 for every i, hence value >= 0.
//
// Deltas carry the acting replica's whole state, not only the changed entry:
// a take at i is then never seen without the transfers into i that paid for
// it, even though deltas of different origins arrive in any order. So every
// join of states that replicas actually had keeps rights(i) >= 0 for every i
// (the row of i in the join comes from one state of i, in which it was
// covered, and every other entry only grows). The state is O(replicas²)
// entries, which is small.
//
// Invariants:
//   Join is commutative, associative, idempotent (pointwise max).
//   Join(s, s.m(...)) == s after each mutator m.
//   Value() >= 0 and Rights(i) >= 0 in every join of mutator-built states.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_RESERVATION_COUNTER_H_
#define CONVERGE_CRDT_RESERVATION_COUNTER_H_

#include <cstdint>
#include <map>
#include <vector>
#include <utility>

#include "crdt/status.h"
#include "crdt/timestamp.h"

namespace converge {

class ReservationCounter {
 public:
  // Adds n units at `replica` (RC.ADD; also a hold's units coming back).
  // REQUIRES: n > 0.
  ReservationCounter Add(ReplicaId replica, uint64_t n);
  // Consumes n units of `replica`'s rights. FailedPrecondition, and no change,
  // when the replica holds fewer than n.
  StatusOr<ReservationCounter> Take(ReplicaId replica, uint64_t n);
  // Moves n units of rights from `from` to `to`. FailedPrecondition, and no
  // change, when `from` holds fewer than n; InvalidArgument when from == to.
  StatusOr<ReservationCounter> Transfer(ReplicaId from, ReplicaId to, uint64_t n);

  void Join(const ReservationCounter& other);

  // Signed so that a hostile or torn state shows as negative, never as a huge
  // positive number; mutator-built states are never negative.
  int64_t Rights(ReplicaId replica) const;
  int64_t Value() const;
  // Replicas with rights > 0, with their rights, largest first.
  std::vector<std::pair<ReplicaId, uint64_t>> Holders() const;

  bool Live() const { return true; }  // a reservation counter is never deleted
  bool WellFormed() const;
  bool operator==(const ReservationCounter&) const = default;

  const std::map<std::pair<ReplicaId, ReplicaId>, uint64_t>& r() const { return r_; }
  const std::map<ReplicaId, uint64_t>& u() const { return u_; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(r_, u_);
  }

 private:
  std::map<std::pair<ReplicaId, ReplicaId>, uint64_t> r_;  // (from, to) -> units
  std::map<ReplicaId, uint64_t> u_;                         // replica -> consumed
};

}  // namespace converge

#endif  // CONVERGE_CRDT_RESERVATION_COUNTER_H_
