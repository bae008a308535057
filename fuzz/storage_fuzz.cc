// Fuzz body for what storage/ decodes from disk: every value type of the
// column families (storage/internal/format.h) through DecodeValue, log
// entries through DecodeLogEntry (key parsed, value decoded, the two
// checked against each other), the fixed-width meta values, and the CRDT
// types of crdt/codec.h one by one (a store's values embed them).
//
// Input layout: byte 0 % 20 picks the decoder; the rest is its input (for
// log entries: byte 1 % 32 is the key length, then the key, then the value;
// for the objects merge (15): byte 1's low bit says whether the first piece is
// a stored base, then pieces as a 2-byte little-endian length and the bytes).
// Checked (FUZZ_CHECK): refusals are Corruption naming the column family and
// the key; what is accepted is well formed, canonical (encodes back to the
// same bytes) and joins with itself to itself (decoded_value.h); a log entry
// accepted under a key is the one LogKey(origin, last) names; fixed-width
// values round-trip; PrintableKey stays bounded; the objects merge
// (storage/internal/object_merge.h) joins what decodes, counts the rest, and
// passes the damaged bytes through only when nothing decodes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/lww_map.h"
#include "crdt/lww_register.h"
#include "crdt/object.h"
#include "crdt/pn_counter.h"
#include "crdt/reservation_counter.h"
#include "crdt/version_vector.h"
#include "fuzz/decoded_value.h"
#include "fuzz/fuzz_check.h"
#include "storage/internal/format.h"
#include "storage/internal/object_merge.h"
#include "storage/records.h"

namespace converge::fuzz {
namespace {

namespace si = storage_internal;

// Decodes a column family's value as storage does, then as the codec does.
template <class T>
void CheckValue(std::string_view cf, std::string_view key, std::string_view value) {
  StatusOr<T> decoded = si::DecodeValue<T>(cf, key, value);
  const bool ok = DecodesCanonically<T>(value);
  FUZZ_CHECK(decoded.ok() == ok);
  if (!ok) {
    const Status st = decoded.status();
    FUZZ_CHECK(st.code() == StatusCode::kCorruption);
    FUZZ_CHECK(st.message().rfind("column family '" + std::string(cf) + "', key " + si::PrintableKey(key), 0) ==
               0);
  }
}

void CheckLogEntry(std::string_view input) {
  if (input.empty()) return;
  const size_t key_size = std::min<size_t>(static_cast<uint8_t>(input[0]) % 32, input.size() - 1);
  const std::string_view key = input.substr(1, key_size);
  const std::string_view value = input.substr(1 + key_size);
  ReplicaId origin = 0;
  uint64_t seq = 0;
  const bool key_ok = si::ParseLogKey(key, &origin, &seq).ok();
  FUZZ_CHECK(key_ok == (key.size() == si::kLogKeySize));
  if (key_ok) FUZZ_CHECK(si::LogKey(origin, seq) == key);
  StatusOr<DeltaInterval> entry = si::DecodeLogEntry(key, value);
  if (!entry.ok()) {
    FUZZ_CHECK(entry.status().code() == StatusCode::kCorruption);
    FUZZ_CHECK(entry.status().message().rfind("column family 'log', key ", 0) == 0);
    return;
  }
  FUZZ_CHECK(key_ok);
  FUZZ_CHECK(entry->origin() == origin && entry->last() == seq);
  FUZZ_CHECK(DecodesCanonically<DeltaInterval>(value));
  CheckIntervalObjects(*entry);
}

void CheckMeta(std::string_view value) {
  StatusOr<uint32_t> v32 = si::DecodeMeta32(si::kFormatKey, value);
  FUZZ_CHECK(v32.ok() == (value.size() == 4));
  if (v32.ok()) FUZZ_CHECK(si::EncodeFixed32(*v32) == value);
  StatusOr<uint64_t> v64 = si::DecodeMeta64(si::kReplicaIdKey, value);
  FUZZ_CHECK(v64.ok() == (value.size() == 8));
  if (v64.ok()) FUZZ_CHECK(si::EncodeFixed64(*v64) == value);
  if (!v64.ok()) FUZZ_CHECK(v64.status().code() == StatusCode::kCorruption);
}

void CheckPrintableKey(std::string_view key) {
  const std::string p = si::PrintableKey(key);
  FUZZ_CHECK(p.size() <= 2 + 64 * 4 + 3);
  for (char c : p) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
}

void CheckObjectMerge(std::string_view input) {
  if (input.empty()) return;
  const bool has_base = (static_cast<uint8_t>(input[0]) & 1) != 0;
  std::vector<std::string_view> pieces;
  for (size_t at = 1; at + 2 <= input.size() && pieces.size() < 8;) {
    const size_t len = std::min<size_t>(
        static_cast<uint8_t>(input[at]) | (static_cast<size_t>(static_cast<uint8_t>(input[at + 1])) << 8),
        input.size() - at - 2);
    pieces.push_back(input.substr(at + 2, len));
    at += 2 + len;
  }
  if (pieces.empty() || (has_base && pieces.size() == 1)) return;
  std::optional<std::string_view> base;
  std::vector<std::string_view> operands = pieces;
  if (has_base) {
    base = pieces.front();
    operands.erase(operands.begin());
  }
  Object want;
  size_t damaged = 0, damaged_operands = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    StatusOr<Object> o = Decode<Object>(pieces[i]);
    if (o.ok()) {
      want.Join(*o);
    } else {
      ++damaged;
      if (!has_base || i > 0) ++damaged_operands;
    }
  }
  const si::MergedObject merged = si::MergeObjectValues(base, operands);
  FUZZ_CHECK(merged.damaged == damaged);
  if (damaged < pieces.size()) {
    FUZZ_CHECK(merged.value == Encode(want));
  } else {
    FUZZ_CHECK(merged.value == pieces.front());
  }
  const std::optional<std::string> partial = si::JoinObjectOperands(operands);
  FUZZ_CHECK(partial.has_value() == (damaged_operands == 0));
  if (partial) {
    // Joining the partial result with the base gives the full merge.
    const si::MergedObject again = si::MergeObjectValues(base, {*partial});
    FUZZ_CHECK(again.value == merged.value);
  }
}

}  // namespace

int FuzzStorage(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string_view key = "k";
  switch (data[0] % 20) {
    case 0: CheckValue<Object>(si::kObjectsCf, key, in); break;
    case 1: DecodesCanonically<Delta>(in); break;
    case 2: {
      DeltaInterval d;
      if (DecodesCanonically(in, &d)) CheckIntervalObjects(d);
      break;
    }
    case 3: DecodesCanonically<VersionVector>(in); break;
    case 4: DecodesCanonically<PNCounter>(in); break;
    case 5: DecodesCanonically<LwwRegister>(in); break;
    case 6: DecodesCanonically<LwwMap>(in); break;
    case 7: DecodesCanonically<ReservationCounter>(in); break;
    case 8: CheckValue<si::AppliedRecord>(si::kMetaCf, si::kAppliedKey, in); break;
    case 9: CheckValue<si::VersionVectorRecord>(si::kMetaCf, si::kLogFloorKey, in); break;
    case 10: CheckValue<HoldRecord>(si::kHoldsCf, key, in); break;
    case 11: CheckValue<IdempotencyRecord>(si::kIdempotencyCf, key, in); break;
    case 12: CheckLogEntry(in); break;
    case 13: CheckMeta(in); break;
    case 14: CheckPrintableKey(in); break;
    case 15: CheckObjectMerge(in); break;
    case 16: CheckValue<si::RunRecord>(si::kMetaCf, si::kRunningKey, in); break;
    case 17: CheckValue<si::RetiredIdsRecord>(si::kMetaCf, si::kRetiredIdsKey, in); break;
    case 18: CheckValue<si::LiveKeysRecord>(si::kMetaCf, si::kLiveKeysKey, in); break;
    case 19: CheckValue<si::LogSizeRecord>(si::kMetaCf, si::kLogSizeKey, in); break;
  }
  return 0;
}

}  // namespace converge::fuzz
