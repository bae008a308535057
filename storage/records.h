// HoldRecord and IdempotencyRecord: the short-lived records a node keeps next
// to its objects, each with an expiry in unix milliseconds.
//
// A hold is units of a reservation counter taken by RC.RESERVE and not yet
// committed or released; when it expires the units come back. An idempotency
// record remembers the reply to a request key so that a retried request gets
// the same reply instead of being applied twice.
//
// Both are encoded with crdt/codec.h (Encode / Decode) and stored as the values
// of the `holds` and `idempotency` column families (storage/internal/format.h).
//
// Thread-compatible value types.
#ifndef CONVERGE_STORAGE_RECORDS_H_
#define CONVERGE_STORAGE_RECORDS_H_

#include <cstdint>
#include <string>

namespace converge {

struct HoldRecord {
  std::string hold_id;     // the column-family key; never empty
  std::string key;         // the reservation counter's key
  uint64_t units = 0;      // units held, >= 1
  uint64_t expiry_ms = 0;  // unix ms; expired once now_ms >= expiry_ms

  bool WellFormed() const { return !hold_id.empty() && units >= 1; }
  bool operator==(const HoldRecord&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(hold_id, key, units, expiry_ms);
  }
};

struct IdempotencyRecord {
  std::string idem_key;    // the column-family key; never empty
  std::string reply;       // the reply bytes to send again on a retry
  uint64_t expiry_ms = 0;  // unix ms; expired once now_ms >= expiry_ms

  bool WellFormed() const { return !idem_key.empty(); }
  bool operator==(const IdempotencyRecord&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(idem_key, reply, expiry_ms);
  }
};

}  // namespace converge

#endif  // CONVERGE_STORAGE_RECORDS_H_
