// The on-disk layout of a Converge store: one RocksDB database, six column
// families. Everything storage/ writes goes through the functions below.
//
// Column family "default"
//   Unused; RocksDB requires it. Always empty.
//
// Column family "objects": the current state of every key.
//   key    the user key's bytes, as is (any bytes, may be empty)
//   value  Encode(Object)                                  (crdt/codec.h)
//          Written either whole (Put) or as RocksDB merge operands, each
//          also Encode(Object), typically one cycle's deltas of the key. The
//          column family's merge operator joins base and operands with
//          Object::Join and re-encodes (object_merge.h), so every read sees
//          one Encode(Object) and a compaction leaves one. A RocksDB opened
//          without that operator cannot read keys that still have operands.
//
// Column family "log": every applied delta of every origin.
//   key    16 bytes
//            bytes 0..7    origin replica id, big-endian uint64
//            bytes 8..15   last seq of the entry, big-endian uint64 (>= 1)
//          Big-endian makes RocksDB's bytewise order iterate origins in id
//          order and each origin's deltas in seq order, so a range read is
//          one seek and a trim is one DeleteRange [(o, 0), (o, s + 1)).
//   value  Encode(DeltaInterval): the deltas [first, last] of the origin,
//          joined by key; its origin and last repeat the key's, and a
//          mismatch is Corruption. Entries of one origin may overlap (a
//          relayed interval can cover entries logged before); joins are
//          idempotent, so readers need not care.
//
// Column family "meta": one record per ASCII key.
//   "format"      4 bytes: big-endian uint32 store format version
//                 (kStoreFormatVersion). Written once, with the replica id,
//                 when the store is created; a store without it is not a
//                 Converge store.
//   "replica_id"  8 bytes: big-endian uint64, never 0.
//   "cluster_id"  the cluster id's bytes; absent until set.
//   "applied"     Encode(AppliedRecord): the store's version vector and the
//                 HLC high-water mark (a packed Timestamp). One record, not
//                 two: every Apply rewrites it, and one memtable entry per
//                 Apply instead of two is measurable (bench/RESULTS.md).
//   "log_floor"   Encode(VersionVectorRecord): per origin, the highest seq
//                 trimmed from the log (by TrimLog or by the log cap).
//   "running"     Encode(RunRecord): written (synced) by every open, deleted
//                 (synced) by a clean close. Found at open, it means the last
//                 run did not stop cleanly; its boot id and durability say
//                 whether acknowledged writes may have been lost with it.
//   "live_keys"   Encode(LiveKeysRecord): how many keys were live when the
//                 last run closed cleanly, and the version vector then; read
//                 and deleted by the next open, so that a start need not
//                 decode every object to count them (Store::live_keys_at_open).
//   "log_size"    Encode(LogSizeRecord): the log's bytes per origin when the
//                 last run closed cleanly (written in the batch that ends
//                 the run); read and deleted by the next open, so that a
//                 start need not read the whole log to size it.
//   "retired_ids" Encode(RetiredIdsRecord): replica ids this store wrote
//                 under before it took its current one, oldest first;
//                 absent until the first change of id.
//   "objects_vv"  Encode(VersionVectorRecord): present only while the
//                 objects lag the log. The objects hold every logged delta at
//                 or below it; log entries above it (by last seq) may be
//                 missing from them, and are kept until it passes them. An
//                 open joins those entries into the objects (RocksDB merges
//                 of each entry's deltas), then deletes the record. Absent,
//                 the objects hold every applied delta.
//
// The file kRestoreMarkerFile in the data directory (beside RocksDB's files)
// marks a copy made by Store::Checkpoint: the next open takes a new replica
// id, then removes the file.
//
// Column family "holds"
//   key    HoldRecord::hold_id's bytes
//   value  Encode(HoldRecord)                      (storage/records.h)
//
// Column family "idempotency"
//   key    IdempotencyRecord::idem_key's bytes
//   value  Encode(IdempotencyRecord)               (storage/records.h)
//
// Every value is checked on read: a value that fails Decode (or a fixed-width
// meta value of the wrong length) is Corruption naming the column family and
// the key; nothing read from disk is trusted to be well formed.
#ifndef CONVERGE_STORAGE_INTERNAL_FORMAT_H_
#define CONVERGE_STORAGE_INTERNAL_FORMAT_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/status.h"
#include "crdt/timestamp.h"
#include "crdt/version_vector.h"

namespace converge::storage_internal {

// Bumped when the layout above changes incompatibly. A store of a version
// this build cannot read is refused at open, never rewritten; one it can
// read is marked with kStoreFormatVersion by the open, so an older build
// refuses it with a clear error.
//   1  objects are whole values only
//   2  objects may also hold merge operands (object_merge.h): a build
//      without the merge operator cannot read them
//   3  objects may lag the log ("objects_vv"): a build that does not join
//      the log above it into the objects at open would miss those writes
inline constexpr uint32_t kStoreFormatVersion = 3;
inline constexpr uint32_t kOldestReadableFormatVersion = 1;

inline constexpr std::string_view kObjectsCf = "objects";
inline constexpr std::string_view kLogCf = "log";
inline constexpr std::string_view kMetaCf = "meta";
inline constexpr std::string_view kHoldsCf = "holds";
inline constexpr std::string_view kIdempotencyCf = "idempotency";

inline constexpr std::string_view kFormatKey = "format";
inline constexpr std::string_view kReplicaIdKey = "replica_id";
inline constexpr std::string_view kClusterIdKey = "cluster_id";
inline constexpr std::string_view kAppliedKey = "applied";
inline constexpr std::string_view kLogFloorKey = "log_floor";
inline constexpr std::string_view kRunningKey = "running";
inline constexpr std::string_view kRetiredIdsKey = "retired_ids";
inline constexpr std::string_view kLiveKeysKey = "live_keys";
inline constexpr std::string_view kLogSizeKey = "log_size";
inline constexpr std::string_view kObjectsVvKey = "objects_vv";

inline constexpr std::string_view kRestoreMarkerFile = "CONVERGE-RESTORED";

inline constexpr size_t kLogKeySize = 16;

// A VersionVector as stored: Decode needs WellFormed(), and a stored vector
// must keep the no-zero-entries invariant.
struct VersionVectorRecord {
  VersionVector vv;

  bool WellFormed() const;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv);
  }
};

// What the applied deltas add up to: the version vector and the HLC
// high-water mark, as of the last Apply.
struct AppliedRecord {
  VersionVector vv;
  Timestamp hlc;

  bool WellFormed() const { return VersionVectorRecord{vv}.WellFormed(); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv, hlc);
  }
};

// A run in progress: the machine's boot id when the store was opened (empty
// when unknown) and the durability it ran with (the Durability enum's value).
struct RunRecord {
  std::string boot_id;
  uint8_t durability = 0;

  bool WellFormed() const { return durability <= 2 && boot_id.size() <= 128; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(boot_id, durability);
  }
};

// The live-key count as of a version vector.
struct LiveKeysRecord {
  VersionVector vv;
  uint64_t count = 0;

  bool WellFormed() const { return VersionVectorRecord{vv}.WellFormed(); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv, count);
  }
};

// The log's size at a clean close: key plus value bytes per origin, with the
// version vector and log floor then, which the open checks against its own.
struct LogSizeRecord {
  VersionVector vv;
  VersionVector log_floor;
  std::map<uint64_t, uint64_t> bytes_by_origin;  // no zero origin, no zero size

  bool WellFormed() const;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv, log_floor, bytes_by_origin);
  }
};

// Former replica ids of this store, oldest first: nonzero and distinct.
struct RetiredIdsRecord {
  std::vector<uint64_t> ids;

  bool WellFormed() const;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(ids);
  }
};

std::string EncodeFixed32(uint32_t v);
std::string EncodeFixed64(uint64_t v);
// REQUIRES: bytes.size() == 4 / 8 (checked by the callers below).
uint32_t DecodeFixed32(std::string_view bytes);
uint64_t DecodeFixed64(std::string_view bytes);

std::string LogKey(ReplicaId origin, uint64_t seq);
// Parses a log key; Corruption when it is not 16 bytes.
Status ParseLogKey(std::string_view key, ReplicaId* origin, uint64_t* seq);

// A log entry read back: the key parsed, the value decoded, and the value's
// (origin, last) checked against the key's. Corruption naming the key when
// any of that fails.
StatusOr<DeltaInterval> DecodeLogEntry(std::string_view key, std::string_view value);

// A replica id as 16 lower-case hex digits.
std::string HexId(uint64_t id);

// Printable form of a key for error messages: printable ASCII as is, other
// bytes as \xNN, cut at 64 bytes.
std::string PrintableKey(std::string_view key);

// The Corruption status for a bad value at (cf, key).
Status BadValue(std::string_view cf, std::string_view key, const Status& why);

// Decode<T>(value), with failures named by column family and key.
template <class T>
StatusOr<T> DecodeValue(std::string_view cf, std::string_view key, std::string_view value) {
  StatusOr<T> decoded = Decode<T>(value);
  if (!decoded.ok()) return BadValue(cf, key, decoded.status());
  return decoded;
}

// A fixed-width meta value (4 or 8 bytes), with the same naming on failure.
StatusOr<uint32_t> DecodeMeta32(std::string_view key, std::string_view value);
StatusOr<uint64_t> DecodeMeta64(std::string_view key, std::string_view value);

}  // namespace converge::storage_internal

#endif  // CONVERGE_STORAGE_INTERNAL_FORMAT_H_
