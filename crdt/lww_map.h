// LwwMap: a record of fields, each an LWW register (a Redis hash).
//
// Fields written on different replicas never overwrite each other; writes of
// one field resolve by Stamp. HDEL writes a field tombstone. DEL writes a
// key-level tombstone `cleared`: every field stamped below it is hidden, and
// since the tombstone only grows, such fields are dropped at once.
//
// Tombstones are kept until causally stable: Purge(bound) drops those stamped
// below `bound`, where the caller guarantees no write stamped at or below
// `bound` can still arrive (DESIGN.md, Causal stability).
//
// Invariants:
//   Join is commutative, associative, idempotent.
//   Join(s, s.m(...)) == s after each mutator m.
//   No stored field has a stamp below `cleared`, so the state is a function of
//   the set of writes joined: equal histories give byte-equal encodings.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_LWW_MAP_H_
#define CONVERGE_CRDT_LWW_MAP_H_

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "crdt/lww_register.h"
#include "crdt/timestamp.h"

namespace converge {

class LwwMap {
 public:
  using Fields = std::map<std::string, LwwRegister, std::less<>>;

  // Writes `value` to `field` at `stamp`; returns the delta.
  LwwMap Set(const std::string& field, std::string value, Stamp stamp);
  // Writes a tombstone to `field` at `stamp`; returns the delta.
  LwwMap Delete(const std::string& field, Stamp stamp);
  // Key-level tombstone at `stamp`: hides every field written before it.
  LwwMap Clear(Stamp stamp);

  void Join(const LwwMap& other);

  // Drops field tombstones and the key tombstone stamped below `bound`.
  // Returns how many tombstones went.
  size_t Purge(Stamp bound);

  // The visible value of `field`, or nullptr.
  const std::string* Get(std::string_view field) const;
  // Visible fields in field order.
  std::vector<std::pair<std::string, std::string>> Items() const;
  size_t Size() const;  // visible fields
  bool Live() const;  // Size() > 0, stopping at the first visible field
  size_t Tombstones() const;  // field tombstones plus the key tombstone if set

  const Fields& fields() const { return fields_; }
  const Stamp& cleared() const { return cleared_; }

  bool WellFormed() const;
  bool operator==(const LwwMap&) const = default;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(cleared_, fields_);
  }

 private:
  void DropCleared();

  Stamp cleared_;  // key-level tombstone; zero when none
  Fields fields_;
};

}  // namespace converge

#endif  // CONVERGE_CRDT_LWW_MAP_H_
