// Store: the delta log's reads, its trim to what every member has, and its
// cap (the rest of Store is in store.cc and store_open.cc).
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <limits>
#include <queue>
#include <tuple>

#include "crdt/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/format.h"
#include "storage/store.h"

namespace converge {

using namespace storage_internal;  // NOLINT: this file implements the format

Status Store::EnforceLogCap() {
  const Handles& h = *handles_;
  const uint64_t target = options_.log_cap_bytes / 4 * 3;
  if (log_bytes_ <= target) return Status::Ok();
  const uint64_t need = log_bytes_ - target;

  // A merge of the origins' log fronts by HLC timestamp: the oldest entries
  // go first, whichever origin they came from.
  struct Cursor {
    std::unique_ptr<rocksdb::Iterator> it;
    std::string upper;
    rocksdb::Slice upper_slice;
  };
  std::map<ReplicaId, Cursor> cursors;
  using Front = std::tuple<Timestamp, ReplicaId>;
  std::priority_queue<Front, std::vector<Front>, std::greater<Front>> fronts;
  // Pushes the cursor's current entry; an entry whose value does not decode
  // sorts first (timestamp 0): trimming damaged entries loses nothing readable.
  // An entry the objects may lack (above objects_vv_) ends its origin's
  // cursor: the next open needs it.
  auto push = [&](ReplicaId origin, Cursor& c) -> Status {
    if (!c.it->Valid())
      return c.it->status().ok() ? Status::Ok() : ReadError(path_, kLogCf, c.it->status());
    if (objects_vv_) {
      ReplicaId key_origin;
      uint64_t seq;
      CONVERGE_RETURN_IF_ERROR(ParseLogKey(
          std::string_view(c.it->key().data(), c.it->key().size()), &key_origin, &seq));
      if (seq > objects_vv_->Get(origin)) return Status::Ok();
    }
    StatusOr<DeltaInterval> d =
        Decode<DeltaInterval>(std::string_view(c.it->value().data(), c.it->value().size()));
    fronts.emplace(d.ok() ? d->max_ts() : Timestamp(), origin);
    return Status::Ok();
  };
  for (const auto& [origin, bytes] : log_bytes_by_origin_) {
    Cursor& c = cursors[origin];
    c.upper = LogKeyAfter(origin, std::numeric_limits<uint64_t>::max());
    c.upper_slice = rocksdb::Slice(c.upper);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &c.upper_slice;
    c.it.reset(db_->NewIterator(ro, h.cf(kLog)));
    c.it->Seek(LogKey(origin, 0));
    CONVERGE_RETURN_IF_ERROR(push(origin, c));
  }
  std::map<ReplicaId, uint64_t> up_to;
  uint64_t removed = 0;
  while (removed < need && !fronts.empty()) {
    const ReplicaId origin = std::get<1>(fronts.top());
    fronts.pop();
    Cursor& c = cursors[origin];
    ReplicaId key_origin;
    uint64_t seq;
    CONVERGE_RETURN_IF_ERROR(
        ParseLogKey(std::string_view(c.it->key().data(), c.it->key().size()), &key_origin, &seq));
    removed += c.it->key().size() + c.it->value().size();
    up_to[origin] = seq;
    c.it->Next();
    CONVERGE_RETURN_IF_ERROR(push(origin, c));
  }
  cursors.clear();
  return TrimLogLocked(up_to);
}

Status Store::TrimLogLocked(const std::map<ReplicaId, uint64_t>& up_to) {
  const Handles& h = *handles_;
  rocksdb::WriteBatch wb;
  VersionVector floor = log_floor_;
  std::map<ReplicaId, uint64_t> removed;
  for (auto [origin, seq] : up_to) {
    if (objects_vv_) seq = std::min(seq, objects_vv_->Get(origin));
    if (seq <= floor.Get(origin)) continue;
    const std::string begin = LogKey(origin, 0);
    const std::string end = LogKeyAfter(origin, seq);
    // Count what goes, so log_bytes stays exact between opens.
    const rocksdb::Slice end_slice(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &end_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, h.cf(kLog)));
    uint64_t bytes = 0;
    for (it->Seek(begin); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size();
    }
    if (!it->status().ok()) return ReadError(path_, kLogCf, it->status());
    removed[origin] = bytes;
    wb.DeleteRange(h.cf(kLog), begin, end);
    floor.Set(origin, seq);
  }
  if (removed.empty()) return Status::Ok();
  wb.Put(h.cf(kMeta), std::string(kLogFloorKey), Encode(VersionVectorRecord{floor}));
  CONVERGE_RETURN_IF_ERROR(Write(&wb));
  log_floor_ = std::move(floor);
  for (const auto& [origin, bytes] : removed) {
    auto it = log_bytes_by_origin_.find(origin);
    if (it == log_bytes_by_origin_.end()) continue;
    const uint64_t drop = std::min(bytes, it->second);
    it->second -= drop;
    log_bytes_ -= std::min(drop, log_bytes_);
    if (it->second == 0) log_bytes_by_origin_.erase(it);
  }
  return Status::Ok();
}

Status Store::TrimLog(const VersionVector& stable) {
  std::lock_guard<std::mutex> l(mu_);
  return TrimLogLocked(stable.entries());
}

StatusOr<std::vector<DeltaInterval>> Store::ReadLog(ReplicaId origin, uint64_t from_seq, uint64_t to_seq,
                                            uint64_t max_bytes, uint64_t* bytes_read) const {
  if (from_seq == 0 || from_seq > to_seq) {
    return InvalidArgumentError("log range [" + std::to_string(from_seq) + ", " +
                                std::to_string(to_seq) + "] is empty or starts at 0");
  }
  // Keyed by last seq: an entry holding to_seq may end anywhere above it, so
  // the bound is the origin's end, and the loop stops at an entry that starts
  // past to_seq.
  const std::string end = LogKeyAfter(origin, std::numeric_limits<uint64_t>::max());
  const rocksdb::Slice end_slice(end);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &end_slice;
  std::unique_ptr<rocksdb::Iterator> it;
  {
    // The floor and the iterator's implicit snapshot are taken together, so a
    // concurrent trim cannot remove part of the range unnoticed.
    std::lock_guard<std::mutex> l(mu_);
    const uint64_t floor = log_floor_.Get(origin);
    if (from_seq <= floor) {
      return FailedPreconditionError("log of origin " + HexId(origin) + " is trimmed through seq " +
                                     std::to_string(floor) + "; seq " + std::to_string(from_seq) +
                                     " is gone: fall back to a full-state transfer");
    }
    it.reset(db_->NewIterator(ro, handles_->cf(kLog)));
  }
  std::vector<DeltaInterval> out;
  uint64_t bytes = 0;
  for (it->Seek(LogKey(origin, from_seq)); it->Valid() && bytes < max_bytes; it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    CONVERGE_ASSIGN_OR_RETURN(
        DeltaInterval d,
        DecodeLogEntry(key, std::string_view(it->value().data(), it->value().size())));
    if (d.first() > to_seq) break;
    bytes += it->value().size();
    out.push_back(std::move(d));
  }
  if (!it->status().ok()) return ReadError(path_, kLogCf, it->status());
  if (bytes_read != nullptr) *bytes_read = bytes;
  return out;
}

}  // namespace converge
