// Timestamp: a hybrid logical clock reading, and Stamp: the total order of writes.
//
// Layout of a Timestamp in its 64 bits (Kulkarni et al. 2014, as in CockroachDB):
//
//   63                                   16 15              0
//   +--------------------------------------+----------------+
//   | physical: milliseconds since epoch   | logical counter |
//   +--------------------------------------+----------------+
//
// Comparing the packed integers compares (physical, logical) lexicographically.
// 48 bits of milliseconds last until the year 10889.
#ifndef CONVERGE_CRDT_TIMESTAMP_H_
#define CONVERGE_CRDT_TIMESTAMP_H_

#include <compare>
#include <cstdint>
#include <string>

namespace converge {

// A replica's identity: random 64 bits, created on first start and kept.
using ReplicaId = uint64_t;

class Timestamp {
 public:
  static constexpr int kLogicalBits = 16;
  static constexpr uint64_t kMaxLogical = (uint64_t{1} << kLogicalBits) - 1;
  static constexpr uint64_t kMaxPhysical = (uint64_t{1} << (64 - kLogicalBits)) - 1;

  constexpr Timestamp() = default;
  constexpr Timestamp(uint64_t physical_ms, uint64_t logical)
      : packed_((physical_ms << kLogicalBits) | (logical & kMaxLogical)) {}
  static constexpr Timestamp FromPacked(uint64_t packed) {
    Timestamp t;
    t.packed_ = packed;
    return t;
  }

  constexpr uint64_t physical() const { return packed_ >> kLogicalBits; }
  constexpr uint64_t logical() const { return packed_ & kMaxLogical; }
  constexpr uint64_t packed() const { return packed_; }
  constexpr bool IsZero() const { return packed_ == 0; }

  constexpr auto operator<=>(const Timestamp&) const = default;

  std::string ToString() const;  // "physical.logical"

  template <class Archive>
  void serialize(Archive& ar) {
    ar(packed_);
  }

 private:
  uint64_t packed_ = 0;
};

// The LWW order of writes: (timestamp, origin replica). Two writes from different
// replicas never compare equal, so every replica picks the same winner.
struct Stamp {
  Timestamp ts;
  ReplicaId replica = 0;

  constexpr auto operator<=>(const Stamp&) const = default;
  constexpr bool IsZero() const { return ts.IsZero() && replica == 0; }

  std::string ToString() const;  // "physical.logical@replica-hex"

  template <class Archive>
  void serialize(Archive& ar) {
    ar(ts, replica);
  }
};

}  // namespace converge

#endif  // CONVERGE_CRDT_TIMESTAMP_H_
