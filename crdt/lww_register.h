// LwwRegister: a last-writer-wins register ordered by Stamp (HLC timestamp,
// origin replica). A delete is a write of a tombstone, so it wins or loses
// against concurrent sets by the same rule.
//
// Invariants:
//   Join is commutative, associative, idempotent: the larger stamp wins.
//   Join(s, s.Set(v, st)) == s after Set.
//   Equal stamps mean the same write, hence equal contents; for hostile input
//   with equal stamps and different contents, the larger (tombstone, value)
//   wins so that joins still commute.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_LWW_REGISTER_H_
#define CONVERGE_CRDT_LWW_REGISTER_H_

#include <string>

#include "crdt/timestamp.h"

namespace converge {

class LwwRegister {
 public:
  LwwRegister() = default;

  // Writes `value` at `stamp`; returns the delta (the new register).
  // A stamp not above the current one loses: the state is unchanged, and the
  // delta still joins to the same state.
  LwwRegister Set(std::string value, Stamp stamp);
  // Writes a tombstone at `stamp`; returns the delta.
  LwwRegister Delete(Stamp stamp);

  void Join(const LwwRegister& other);

  bool Live() const { return !stamp_.IsZero() && !tombstone_; }
  const std::string& value() const { return value_; }
  const Stamp& stamp() const { return stamp_; }
  bool tombstone() const { return tombstone_; }

  // A tombstone holds no value; a zero stamp holds nothing at all.
  bool WellFormed() const;

  bool operator==(const LwwRegister&) const = default;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(stamp_, tombstone_, value_);
  }

 private:
  LwwRegister(std::string value, Stamp stamp, bool tombstone)
      : value_(std::move(value)), stamp_(stamp), tombstone_(tombstone) {}
  // True when `other` should replace this register.
  bool LosesTo(const LwwRegister& other) const;

  std::string value_;
  Stamp stamp_;
  bool tombstone_ = false;
};

}  // namespace converge

#endif  // CONVERGE_CRDT_LWW_REGISTER_H_
