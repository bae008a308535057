// Object: the typed CRDT a key holds, and the rule for keys created with
// different types on different replicas.
//
// An Object has one slot per type, each a (birth, payload) pair. The birth is
// the Stamp of the write that (re)created the key as that type; births join by
// max and payloads by their own join, so an Object is a product of lattices.
// The visible type is the present slot with the largest birth: when two
// replicas create a key as different types, the later creation wins everywhere.
// Two replicas that create a key as the same type merge their writes (their
// births differ, but the payloads join), so concurrent INCRs of a new key
// all count. A slot that lost stays in the state, unseen, so that the join
// remains associative; it is dropped only with the whole object (Purge).
//
// A write to a key that is not live (absent or deleted) as a type that is not
// the visible one re-creates the key: the slot's birth moves to the write's
// stamp (above every other slot's) and what it held before is reset as
// observed (counter floors, hash key tombstone), so old contents do not return.
//
// Invariants:
//   Join is commutative, associative, idempotent.
//   For every mutator m returning delta d: Join(s_before, d) == s_after.
//   DigestBytes() depends only on the live view, so states that differ only
//   in tombstones digest equal.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_OBJECT_H_
#define CONVERGE_CRDT_OBJECT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/internal/boxed.h"
#include "crdt/lww_map.h"
#include "crdt/lww_register.h"
#include "crdt/pn_counter.h"
#include "crdt/reservation_counter.h"
#include "crdt/status.h"
#include "crdt/timestamp.h"

namespace converge {

enum class ObjectType : uint8_t { kCounter = 0, kString = 1, kHash = 2, kReservation = 3 };

// "counter", "string", "hash", "rcounter".
std::string_view ObjectTypeName(ObjectType type);

template <class T>
struct Slot {
  Stamp birth;
  T payload;

  bool operator==(const Slot&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(birth, payload);
  }
};

class Object {
 public:
  // The Redis error text for a write or read of the wrong type.
  static constexpr std::string_view kWrongType =
      "WRONGTYPE Operation against a key holding the wrong kind of value";
  static bool IsWrongType(const Status& s);

  // The visible type, or nullopt when no slot is present.
  std::optional<ObjectType> Type() const;
  // True when the visible slot holds something (GET / EXISTS see the key).
  bool Live() const;
  // The visible payload when it has type T, else nullptr.
  template <class T>
  const T* As() const;

  // Mutators. `now` is the write's stamp: the HLC reading and the acting
  // replica. Each returns the delta to replicate, or:
  //   FailedPrecondition with kWrongType when the key is live as another type;
  //   FailedPrecondition when a reservation counter lacks rights;
  //   NotFound from Delete / HashDelete when there is nothing to delete.
  // On error the object is unchanged.
  StatusOr<Object> IncrBy(Stamp now, int64_t by);
  StatusOr<Object> Set(Stamp now, std::string value);
  StatusOr<Object> HashSet(Stamp now, const std::vector<std::pair<std::string, std::string>>& kv);
  StatusOr<Object> HashDelete(Stamp now, const std::vector<std::string>& fields);
  // DEL: observed reset of a counter, tombstone of a string, key tombstone of
  // a hash. A reservation counter cannot be deleted (its units could only be
  // destroyed by coordination): FailedPrecondition.
  StatusOr<Object> Delete(Stamp now);
  StatusOr<Object> RcAdd(Stamp now, uint64_t n);
  StatusOr<Object> RcTake(Stamp now, uint64_t n);
  StatusOr<Object> RcTransfer(Stamp now, ReplicaId to, uint64_t n);

  void Join(const Object& other);

  // Drops tombstones stamped below `bound` (no write at or below it can still
  // arrive). Returns true when the whole object may be dropped: it is not live
  // and nothing in it can matter to a future write.
  bool Purge(Stamp bound);
  size_t Tombstones() const;

  // Canonical bytes of the live view: type, birth and visible contents.
  std::string DigestBytes() const;

  bool WellFormed() const;
  bool operator==(const Object&) const = default;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(counter_, string_, hash_, rcounter_);
  }

 private:
  template <class T>
  Boxed<Slot<T>>& SlotOf();
  template <class T>
  const Boxed<Slot<T>>& SlotOf() const;
  // Applies `op(payload, delta_payload)` to the slot of type T, creating or
  // re-creating it as the class comment says.
  template <class T, class Op>
  StatusOr<Object> Mutate(Stamp now, Op op);

  Boxed<Slot<PNCounter>> counter_;
  Boxed<Slot<LwwRegister>> string_;
  Boxed<Slot<LwwMap>> hash_;
  Boxed<Slot<ReservationCounter>> rcounter_;
};

template <class T>
constexpr ObjectType TypeOf();
template <>
constexpr ObjectType TypeOf<PNCounter>() { return ObjectType::kCounter; }
template <>
constexpr ObjectType TypeOf<LwwRegister>() { return ObjectType::kString; }
template <>
constexpr ObjectType TypeOf<LwwMap>() { return ObjectType::kHash; }
template <>
constexpr ObjectType TypeOf<ReservationCounter>() { return ObjectType::kReservation; }

template <>
inline Boxed<Slot<PNCounter>>& Object::SlotOf<PNCounter>() { return counter_; }
template <>
inline Boxed<Slot<LwwRegister>>& Object::SlotOf<LwwRegister>() { return string_; }
template <>
inline Boxed<Slot<LwwMap>>& Object::SlotOf<LwwMap>() { return hash_; }
template <>
inline Boxed<Slot<ReservationCounter>>& Object::SlotOf<ReservationCounter>() {
  return rcounter_;
}
template <class T>
const Boxed<Slot<T>>& Object::SlotOf() const {
  return const_cast<Object*>(this)->SlotOf<T>();
}

template <class T>
const T* Object::As() const {
  const auto& slot = SlotOf<T>();
  if (!slot || Type() != TypeOf<T>()) return nullptr;
  return &slot->payload;
}

}  // namespace converge

#endif  // CONVERGE_CRDT_OBJECT_H_
