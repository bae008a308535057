// VersionVector: per origin replica, the length of the contiguous prefix of its
// deltas that has been joined into a state.
//
// VV[o] = n means deltas (o, 1) .. (o, n) are all joined. Deltas may arrive
// early or twice; Advance only moves over a contiguous prefix, so the vector
// never claims a delta that is missing.
//
// Invariants: Join is commutative, associative and idempotent (pointwise max);
// a <= Join(a, b). Entries of zero are never stored, so equal vectors have equal
// encodings.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_VERSION_VECTOR_H_
#define CONVERGE_CRDT_VERSION_VECTOR_H_

#include <cstdint>
#include <map>
#include <string>

#include "crdt/timestamp.h"

namespace converge {

class VersionVector {
 public:
  enum class Order { kEqual, kLess, kGreater, kConcurrent };

  uint64_t Get(ReplicaId origin) const;
  // Sets VV[origin] = seq outright (restoring from disk, or a snapshot's VV).
  void Set(ReplicaId origin, uint64_t seq);

  // Contiguous advance: if seq == VV[origin] + 1, records it and returns true.
  // Returns false (and changes nothing) for a seq already covered or one that
  // would leave a gap.
  bool Advance(ReplicaId origin, uint64_t seq);

  // True when delta (origin, seq) is already covered.
  bool Covers(ReplicaId origin, uint64_t seq) const { return seq <= Get(origin); }
  // True when every entry of `other` is covered by this vector (other <= this).
  bool Dominates(const VersionVector& other) const;

  void Join(const VersionVector& other);
  // The pointwise minimum: what every vector in a set has (causal stability).
  static VersionVector Meet(const VersionVector& a, const VersionVector& b);

  Order Compare(const VersionVector& other) const;
  bool operator<=(const VersionVector& other) const { return other.Dominates(*this); }
  bool operator==(const VersionVector& other) const = default;

  // Total deltas this vector covers beyond `other` (lag in deltas).
  uint64_t CountAhead(const VersionVector& other) const;

  const std::map<ReplicaId, uint64_t>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  // No zero entries (decoders reject vectors that have them).
  bool WellFormed() const;

  // "origin-hex=seq,..." in origin order, as INFO prints it.
  std::string ToString() const;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(entries_);
  }

 private:
  std::map<ReplicaId, uint64_t> entries_;  // origin -> seq; never holds 0
};

}  // namespace converge

#endif  // CONVERGE_CRDT_VERSION_VECTOR_H_
