#include "crdt/object.h"

#include <algorithm>

#include "crdt/codec.h"

namespace converge {
namespace {

Status WrongType() { return FailedPreconditionError(std::string(Object::kWrongType)); }

template <class T>
void JoinSlot(Boxed<Slot<T>>& mine, const Boxed<Slot<T>>& theirs) {
  if (!theirs) return;
  if (!mine) {
    mine = theirs;
    return;
  }
  mine->birth = std::max(mine->birth, theirs->birth);
  mine->payload.Join(theirs->payload);
}

// What a re-created slot does to its old contents, as an observed reset.
void ResetForRebirth(PNCounter& state, PNCounter& delta, Stamp) { delta.Join(state.Reset()); }
void ResetForRebirth(LwwRegister&, LwwRegister&, Stamp) {}  // the new write's stamp wins
void ResetForRebirth(LwwMap& state, LwwMap& delta, Stamp now) { delta.Join(state.Clear(now)); }
// Units cannot be destroyed without coordination: a re-created reservation
// counter keeps what it held (see Delete).
void ResetForRebirth(ReservationCounter&, ReservationCounter&, Stamp) {}

}  // namespace

std::string_view ObjectTypeName(ObjectType type) {
  switch (type) {
    case ObjectType::kCounter: return "counter";
    case ObjectType::kString: return "string";
    case ObjectType::kHash: return "hash";
    case ObjectType::kReservation: return "rcounter";
  }
  return "unknown";
}

bool Object::IsWrongType(const Status& s) {
  return s.code() == StatusCode::kFailedPrecondition && s.message() == kWrongType;
}

std::optional<ObjectType> Object::Type() const {
  std::optional<ObjectType> best;
  Stamp best_birth;
  auto consider = [&](const auto& slot, ObjectType t) {
    // Ties cannot happen between writes of different replicas; for hostile
    // input the later type in enum order wins, deterministically.
    if (slot && (!best || slot->birth >= best_birth)) {
      best = t;
      best_birth = slot->birth;
    }
  };
  consider(counter_, ObjectType::kCounter);
  consider(string_, ObjectType::kString);
  consider(hash_, ObjectType::kHash);
  consider(rcounter_, ObjectType::kReservation);
  return best;
}

bool Object::Live() const {
  auto t = Type();
  if (!t) return false;
  switch (*t) {
    case ObjectType::kCounter: return counter_->payload.Live();
    case ObjectType::kString: return string_->payload.Live();
    case ObjectType::kHash: return hash_->payload.Live();
    case ObjectType::kReservation: return rcounter_->payload.Live();
  }
  return false;
}

template <class T, class Op>
StatusOr<Object> Object::Mutate(Stamp now, Op op) {
  const std::optional<ObjectType> visible = Type();
  if (visible && *visible != TypeOf<T>() && Live()) return WrongType();
  auto& slot = SlotOf<T>();
  const bool created = !slot;
  const bool rebirth = visible != TypeOf<T>();
  if (created) slot.emplace();

  Object delta;
  auto& dslot = delta.SlotOf<T>();
  dslot.emplace();
  if (rebirth && !created) ResetForRebirth(slot->payload, dslot->payload, now);
  if (Status st = op(slot->payload, dslot->payload); !st.ok()) {
    // Only reservation-counter ops fail, and they change nothing on failure;
    // their rebirth reset is empty, so undoing the slot creation is enough.
    if (created) slot.reset();
    return st;
  }
  if (rebirth) slot->birth = now;
  dslot->birth = slot->birth;
  return delta;
}

StatusOr<Object> Object::IncrBy(Stamp now, int64_t by) {
  return Mutate<PNCounter>(now, [&](PNCounter& s, PNCounter& d) {
    d.Join(s.Add(now.replica, by));
    return Status::Ok();
  });
}

StatusOr<Object> Object::Set(Stamp now, std::string value) {
  return Mutate<LwwRegister>(now, [&](LwwRegister& s, LwwRegister& d) {
    d.Join(s.Set(std::move(value), now));
    return Status::Ok();
  });
}

StatusOr<Object> Object::HashSet(Stamp now,
                                 const std::vector<std::pair<std::string, std::string>>& kv) {
  return Mutate<LwwMap>(now, [&](LwwMap& s, LwwMap& d) {
    for (const auto& [field, value] : kv) d.Join(s.Set(field, value, now));
    return Status::Ok();
  });
}

StatusOr<Object> Object::HashDelete(Stamp now, const std::vector<std::string>& fields) {
  const LwwMap* map = As<LwwMap>();
  if (map == nullptr) {
    if (Live()) return WrongType();
    return NotFoundError("no such key");
  }
  if (std::none_of(fields.begin(), fields.end(),
                   [&](const std::string& f) { return map->Get(f) != nullptr; })) {
    return NotFoundError("no such field");
  }
  return Mutate<LwwMap>(now, [&](LwwMap& s, LwwMap& d) {
    for (const auto& f : fields) {
      if (s.Get(f) != nullptr) d.Join(s.Delete(f, now));
    }
    return Status::Ok();
  });
}

StatusOr<Object> Object::Delete(Stamp now) {
  if (!Live()) return NotFoundError("no such key");
  switch (*Type()) {
    case ObjectType::kCounter:
      return Mutate<PNCounter>(now, [](PNCounter& s, PNCounter& d) {
        d.Join(s.Reset());
        return Status::Ok();
      });
    case ObjectType::kString:
      return Mutate<LwwRegister>(now, [&](LwwRegister& s, LwwRegister& d) {
        d.Join(s.Delete(now));
        return Status::Ok();
      });
    case ObjectType::kHash:
      return Mutate<LwwMap>(now, [&](LwwMap& s, LwwMap& d) {
        d.Join(s.Clear(now));
        return Status::Ok();
      });
    case ObjectType::kReservation:
      return FailedPreconditionError(
          "a reservation counter cannot be deleted: its units can only be taken");
  }
  return InternalError("unknown object type");
}

StatusOr<Object> Object::RcAdd(Stamp now, uint64_t n) {
  if (n == 0) return InvalidArgumentError("add of zero units");
  return Mutate<ReservationCounter>(now, [&](ReservationCounter& s, ReservationCounter& d) {
    d.Join(s.Add(now.replica, n));
    return Status::Ok();
  });
}

StatusOr<Object> Object::RcTake(Stamp now, uint64_t n) {
  if (As<ReservationCounter>() == nullptr) {
    if (Live()) return WrongType();
    return FailedPreconditionError("no units: the reservation counter does not exist");
  }
  return Mutate<ReservationCounter>(now, [&](ReservationCounter& s, ReservationCounter& d) {
    StatusOr<ReservationCounter> r = s.Take(now.replica, n);
    if (!r.ok()) return r.status();
    d.Join(*r);
    return Status::Ok();
  });
}

StatusOr<Object> Object::RcTransfer(Stamp now, ReplicaId to, uint64_t n) {
  if (As<ReservationCounter>() == nullptr) {
    if (Live()) return WrongType();
    return FailedPreconditionError("no rights: the reservation counter does not exist");
  }
  return Mutate<ReservationCounter>(now, [&](ReservationCounter& s, ReservationCounter& d) {
    StatusOr<ReservationCounter> r = s.Transfer(now.replica, to, n);
    if (!r.ok()) return r.status();
    d.Join(*r);
    return Status::Ok();
  });
}

void Object::Join(const Object& other) {
  JoinSlot(counter_, other.counter_);
  JoinSlot(string_, other.string_);
  JoinSlot(hash_, other.hash_);
  JoinSlot(rcounter_, other.rcounter_);
}

bool Object::Purge(Stamp bound) {
  if (hash_) hash_->payload.Purge(bound);
  if (Live()) return false;
  // Counters and reservation counters are never dropped: their floors and
  // rows are what keeps old increments from counting again.
  if (counter_ || rcounter_) return false;
  if (string_) {
    const LwwRegister& r = string_->payload;
    if (r.Live() || r.stamp() >= bound) return false;
  }
  if (hash_) {
    const LwwMap& m = hash_->payload;
    if (!m.fields().empty() || !m.cleared().IsZero()) return false;
  }
  return true;
}

size_t Object::Tombstones() const {
  size_t n = hash_ ? hash_->payload.Tombstones() : 0;
  if (string_ && string_->payload.tombstone()) ++n;
  return n;
}

namespace {

// The live view of each type, for digests: no tombstones.
struct LiveHash {
  std::vector<std::pair<std::string, Stamp>> stamps;
  std::vector<std::pair<std::string, std::string>> items;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(stamps, items);
  }
};

}  // namespace

std::string Object::DigestBytes() const {
  if (!Live()) return std::string();
  const ObjectType t = *Type();
  switch (t) {
    case ObjectType::kCounter:
      return EncodeBody(static_cast<uint8_t>(t), counter_->birth, counter_->payload);
    case ObjectType::kString:
      return EncodeBody(static_cast<uint8_t>(t), string_->birth, string_->payload.stamp(),
                        string_->payload.value());
    case ObjectType::kHash: {
      LiveHash live;
      for (const auto& [name, reg] : hash_->payload.fields()) {
        if (!reg.Live()) continue;
        live.stamps.emplace_back(name, reg.stamp());
        live.items.emplace_back(name, reg.value());
      }
      return EncodeBody(static_cast<uint8_t>(t), hash_->birth, live);
    }
    case ObjectType::kReservation:
      return EncodeBody(static_cast<uint8_t>(t), rcounter_->birth, rcounter_->payload);
  }
  return std::string();
}

bool Object::WellFormed() const {
  auto ok = [](const auto& slot) {
    return !slot || (!slot->birth.IsZero() && slot->payload.WellFormed());
  };
  return ok(counter_) && ok(string_) && ok(hash_) && ok(rcounter_);
}

}  // namespace converge
