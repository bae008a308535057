// Store: applying batches, reading objects and records, the durability
// loop (creating and opening are in store_open.cc, the delta log's reads,
// trim and cap in store_log.cc).
#include "storage/store.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "crdt/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/format.h"
#include "storage/internal/run.h"

namespace converge {

namespace fs = std::filesystem;
using namespace storage_internal;  // NOLINT: this file implements the format

Store::~Store() {
  if (sync_thread_.joinable()) {
    {
      std::lock_guard<std::mutex> l(sync_mu_);
      stopping_ = true;
    }
    sync_cv_.notify_all();
    sync_thread_.join();
  }
  if (db_ == nullptr) return;
  // A destructor cannot report: what was written is in the WAL (in the OS)
  // whether or not this sync succeeds. Only a run whose every write is
  // synced counts as closed cleanly; otherwise the "running" record stays and
  // the next open decides (BeginRun).
  const bool synced = db_->SyncWAL().ok();
  std::lock_guard<std::mutex> l(mu_);
  if (synced && sync_error_.ok() && run_recorded_) {
    // The run ends with the log's size, for the next open: exact, since
    // nothing is written after this batch.
    rocksdb::WriteBatch wb;
    rocksdb::ColumnFamilyHandle* meta = handles_->cf(kMeta);
    wb.Delete(meta, std::string(kRunningKey));
    wb.Put(meta, std::string(kLogSizeKey),
           Encode(LogSizeRecord{vv_, log_floor_, {log_bytes_by_origin_.begin(),
                                                   log_bytes_by_origin_.end()}}));
    rocksdb::WriteOptions wo;
    wo.sync = true;
    if (db_->Write(wo, &wb).ok()) {
      // Memtables flushed now leave nothing in the WAL for the next open to
      // replay, which it would read twice (the read-only probe, then the
      // open): with a million keys written since the last flush that was
      // most of a restart. Not flushed, they stay in the WAL, as after a crash.
      db_->Flush(rocksdb::FlushOptions(), handles_->cfs).PermitUncheckedError();
    }
  }
}


std::optional<uint64_t> Store::live_keys_at_open() const {
  std::lock_guard<std::mutex> l(mu_);
  if (applies_ != 0) return std::nullopt;
  return live_keys_at_open_;
}

Status Store::SaveLiveKeys(uint64_t count, const VersionVector& vv) {
  rocksdb::WriteBatch wb;
  wb.Put(handles_->cf(kMeta), std::string(kLiveKeysKey), Encode(LiveKeysRecord{vv, count}));
  std::lock_guard<std::mutex> l(mu_);
  if (!sync_error_.ok()) return sync_error_;
  return Write(&wb);
}

Status Store::Checkpoint(const std::string& dir) const {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return FailedPreconditionError("checkpoint " + dir + " exists; give a new directory");
  }
  const fs::path parent = fs::absolute(dir, ec).parent_path();
  fs::create_directories(parent, ec);
  if (ec) return UnavailableError("checkpoint " + dir + ": cannot create " + parent.string() + ": " + ec.message());
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_, &raw);
  if (!s.ok()) return UnavailableError("checkpoint " + dir + ": " + s.ToString());
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // Flushes the memtables first, so the copy needs no WAL replay beyond
  // what arrived during the call.
  s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) return UnavailableError("checkpoint " + dir + ": " + s.ToString());
  CONVERGE_RETURN_IF_ERROR(WriteFileSynced(
      (fs::path(dir) / std::string(kRestoreMarkerFile)).string(),
      "This directory is a Converge backup. The node that opens it takes a new replica id,\n"
      "so that its new writes cannot collide with writes the cluster made after the backup.\n"
      "Opening it removes this file.\n"));
  return SyncDir(dir);
}

Status Store::Write(rocksdb::WriteBatch* batch) {
  if (options_.before_write) CONVERGE_RETURN_IF_ERROR(options_.before_write());
  rocksdb::WriteOptions wo;
  // kEverySec: the WAL is still written (never disableWAL) and flushed to the
  // OS before Write returns; only the fsync is left to SyncLoop.
  wo.sync = options_.durability != Durability::kEverySec;
  rocksdb::Status s = db_->Write(wo, batch);
  if (!s.ok()) return WriteError(path_, s);
  return Status::Ok();
}

Status Store::Apply(const ApplyBatch& batch) {
  const Handles& h = *handles_;
  rocksdb::WriteBatch wb;
  std::map<ReplicaId, uint64_t> added;
  // Objects go into the batch in key order: the memtable's skiplist starts
  // each insert from the path of the one before, so keys in order share the
  // upper levels of their search instead of each walking down from the top.
  using Entry = std::pair<std::string, Object>;
  std::vector<const Entry*> in_order;
  auto sorted = [&in_order](const std::vector<Entry>& objects) -> const std::vector<const Entry*>& {
    in_order.clear();
    for (const auto& entry : objects) in_order.push_back(&entry);
    std::sort(in_order.begin(), in_order.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    return in_order;
  };
  for (const auto* entry : sorted(batch.objects)) {
    wb.Put(h.cf(kObjects), entry->first, Encode(entry->second));
  }
  for (const std::string& key : batch.erased_objects) wb.Delete(h.cf(kObjects), key);
  for (const auto* entry : sorted(batch.merged_objects)) {
    wb.Merge(h.cf(kObjects), entry->first, Encode(entry->second));
  }
  auto log = [&](const DeltaInterval& interval) {
    const std::string key = LogKey(interval.origin(), interval.last());
    const std::string value = Encode(interval);
    added[interval.origin()] += key.size() + value.size();
    wb.Put(h.cf(kLog), key, value);
  };
  for (const Delta& d : batch.deltas) {
    if (d.seq == 0) {
      return InvalidArgumentError("delta of origin " + HexId(d.origin) + " has seq 0");
    }
    log(DeltaInterval(d));
  }
  for (const DeltaInterval& interval : batch.intervals) {
    if (!interval.WellFormed()) return InvalidArgumentError("delta interval is not well formed");
    log(interval);
  }
  for (const HoldRecord& r : batch.put_holds) {
    if (!r.WellFormed()) return InvalidArgumentError("hold record is not well formed");
    wb.Put(h.cf(kHolds), r.hold_id, Encode(r));
  }
  for (const std::string& id : batch.erased_holds) wb.Delete(h.cf(kHolds), id);
  for (const IdempotencyRecord& r : batch.put_idempotency) {
    if (!r.WellFormed()) return InvalidArgumentError("idempotency record is not well formed");
    wb.Put(h.cf(kIdempotency), r.idem_key, Encode(r));
  }
  for (const std::string& key : batch.erased_idempotency) wb.Delete(h.cf(kIdempotency), key);

  std::lock_guard<std::mutex> l(mu_);
  if (!sync_error_.ok()) return sync_error_;
  if (batch.version_vector || batch.hlc_high_water) {
    // The other half of the record is the current one, read under mu_.
    wb.Put(h.cf(kMeta), std::string(kAppliedKey),
           Encode(AppliedRecord{batch.version_vector ? *batch.version_vector : vv_,
                                batch.hlc_high_water ? *batch.hlc_high_water : hlc_}));
  }
  // What the objects' mark becomes: unset means they hold all of the vector.
  std::optional<VersionVector> objects_vv = objects_vv_;
  if (batch.objects_vv) {
    const VersionVector& applied = batch.version_vector ? *batch.version_vector : vv_;
    VersionVector mark = VersionVector::Meet(*batch.objects_vv, applied);
    if (mark == applied) {
      if (objects_vv_) wb.Delete(h.cf(kMeta), std::string(kObjectsVvKey));
      objects_vv.reset();
    } else {
      wb.Put(h.cf(kMeta), std::string(kObjectsVvKey), Encode(VersionVectorRecord{mark}));
      objects_vv = std::move(mark);
    }
  }
  VersionVector raised_floor = log_floor_;
  if (batch.raise_log_floor) {
    raised_floor.Join(*batch.raise_log_floor);
    wb.Put(h.cf(kMeta), std::string(kLogFloorKey), Encode(VersionVectorRecord{raised_floor}));
  }
  CONVERGE_RETURN_IF_ERROR(Write(&wb));
  ++applies_;
  if (batch.raise_log_floor) log_floor_ = std::move(raised_floor);
  if (batch.version_vector) vv_ = *batch.version_vector;
  if (batch.hlc_high_water) hlc_ = *batch.hlc_high_water;
  objects_vv_ = std::move(objects_vv);
  for (const auto& [origin, bytes] : added) {
    log_bytes_by_origin_[origin] += bytes;
    log_bytes_ += bytes;
  }
  if (options_.log_cap_bytes != 0 && log_bytes_ > options_.log_cap_bytes) {
    if (Status st = EnforceLogCap(); !st.ok()) {
      return Status(st.code(),
                    "batch written, but trimming the log to its cap failed: " + st.message());
    }
  }
  return Status::Ok();
}

StatusOr<std::optional<Object>> Store::GetObject(std::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), handles_->cf(kObjects),
                               rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<Object>();
  if (!s.ok()) return ReadError(path_, kObjectsCf, s);
  CONVERGE_ASSIGN_OR_RETURN(Object o, DecodeValue<Object>(kObjectsCf, key, value));
  return std::optional<Object>(std::move(o));
}

StatusOr<std::unique_ptr<ObjectSnapshot>> Store::SnapshotObjects() const {
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  // The vector the objects reflect, read in the snapshot: the objects' mark
  // while they lag the log, else the applied vector.
  auto objects_vv = [&]() -> StatusOr<VersionVector> {
    std::string value;
    rocksdb::Status s = db_->Get(ro, handles_->cf(kMeta), std::string(kObjectsVvKey), &value);
    if (s.ok()) {
      CONVERGE_ASSIGN_OR_RETURN(VersionVectorRecord r,
                                DecodeValue<VersionVectorRecord>(kMetaCf, kObjectsVvKey, value));
      return std::move(r.vv);
    }
    if (!s.IsNotFound()) return ReadError(path_, kMetaCf, s);
    s = db_->Get(ro, handles_->cf(kMeta), std::string(kAppliedKey), &value);
    if (s.IsNotFound()) return VersionVector();
    if (!s.ok()) return ReadError(path_, kMetaCf, s);
    CONVERGE_ASSIGN_OR_RETURN(AppliedRecord r,
                              DecodeValue<AppliedRecord>(kMetaCf, kAppliedKey, value));
    return std::move(r.vv);
  };
  StatusOr<VersionVector> vv = objects_vv();
  if (!vv.ok()) {
    db_->ReleaseSnapshot(snapshot);
    return vv.status();
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_->cf(kObjects)));
  it->SeekToFirst();
  return std::unique_ptr<ObjectSnapshot>(
      new ObjectSnapshot(db_, snapshot, std::move(it), std::move(vv).value()));
}

Status Store::CompactObjects() {
  rocksdb::CompactRangeOptions o;
  // Rewrites the bottommost level too, so operands sitting there are merged.
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  const rocksdb::Status s = db_->CompactRange(o, handles_->cf(kObjects), nullptr, nullptr);
  if (!s.ok()) return WriteError(path_, s);
  return Status::Ok();
}

template <class Record>
static StatusOr<std::optional<Record>> GetRecord(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                                                 std::string_view cf_name, const std::string& path,
                                                 std::string_view key) {
  std::string value;
  rocksdb::Status s =
      db->Get(rocksdb::ReadOptions(), cf, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::optional<Record>();
  if (!s.ok()) return ReadError(path, cf_name, s);
  CONVERGE_ASSIGN_OR_RETURN(Record r, DecodeValue<Record>(cf_name, key, value));
  return std::optional<Record>(std::move(r));
}

Status Store::PutHold(const HoldRecord& hold) {
  ApplyBatch b;
  b.put_holds.push_back(hold);
  return Apply(b);
}

Status Store::DeleteHold(std::string_view hold_id) {
  ApplyBatch b;
  b.erased_holds.emplace_back(hold_id);
  return Apply(b);
}

StatusOr<std::optional<HoldRecord>> Store::GetHold(std::string_view hold_id) const {
  return GetRecord<HoldRecord>(db_, handles_->cf(kHolds), kHoldsCf, path_, hold_id);
}

Status Store::PutIdempotency(const IdempotencyRecord& record) {
  ApplyBatch b;
  b.put_idempotency.push_back(record);
  return Apply(b);
}

Status Store::DeleteIdempotency(std::string_view idem_key) {
  ApplyBatch b;
  b.erased_idempotency.emplace_back(idem_key);
  return Apply(b);
}

StatusOr<std::optional<IdempotencyRecord>> Store::GetIdempotency(std::string_view idem_key) const {
  return GetRecord<IdempotencyRecord>(db_, handles_->cf(kIdempotency), kIdempotencyCf, path_,
                                      idem_key);
}

StatusOr<SweptRecords> Store::SweepExpired(uint64_t now_ms) {
  return Sweep(now_ms, /*holds=*/true);
}

StatusOr<std::vector<IdempotencyRecord>> Store::SweepExpiredIdempotency(uint64_t now_ms) {
  StatusOr<SweptRecords> swept = Sweep(now_ms, /*holds=*/false);
  if (!swept.ok()) return swept.status();
  return std::move(swept->idempotency);
}

StatusOr<std::vector<HoldRecord>> Store::ListHolds() const {
  std::vector<HoldRecord> out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), handles_->cf(kHolds)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    CONVERGE_ASSIGN_OR_RETURN(
        HoldRecord r, DecodeValue<HoldRecord>(kHoldsCf, key, std::string_view(it->value().data(),
                                                                              it->value().size())));
    out.push_back(std::move(r));
  }
  if (!it->status().ok()) return ReadError(path_, kHoldsCf, it->status());
  return out;
}

StatusOr<SweptRecords> Store::Sweep(uint64_t now_ms, bool holds) {
  const Handles& h = *handles_;
  std::lock_guard<std::mutex> l(mu_);
  if (!sync_error_.ok()) return sync_error_;
  rocksdb::WriteBatch wb;
  SweptRecords swept;
  auto sweep = [&](Cf cf, std::string_view cf_name, auto* out) -> Status {
    using Record = typename std::remove_pointer_t<decltype(out)>::value_type;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), h.cf(cf)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      CONVERGE_ASSIGN_OR_RETURN(
          Record r, DecodeValue<Record>(cf_name, key,
                                        std::string_view(it->value().data(), it->value().size())));
      if (r.expiry_ms <= now_ms) {
        wb.Delete(h.cf(cf), it->key());
        out->push_back(std::move(r));
      }
    }
    if (!it->status().ok()) return ReadError(path_, cf_name, it->status());
    return Status::Ok();
  };
  if (holds) CONVERGE_RETURN_IF_ERROR(sweep(kHolds, kHoldsCf, &swept.holds));
  CONVERGE_RETURN_IF_ERROR(sweep(kIdempotency, kIdempotencyCf, &swept.idempotency));
  if (wb.Count() > 0) CONVERGE_RETURN_IF_ERROR(Write(&wb));
  return swept;
}

Status Store::SetClusterId(std::string cluster_id) {
  rocksdb::WriteBatch wb;
  wb.Put(handles_->cf(kMeta), std::string(kClusterIdKey), cluster_id);
  std::lock_guard<std::mutex> l(mu_);
  if (!sync_error_.ok()) return sync_error_;
  CONVERGE_RETURN_IF_ERROR(Write(&wb));
  cluster_id_ = std::move(cluster_id);
  return Status::Ok();
}

std::string Store::cluster_id() const {
  std::lock_guard<std::mutex> l(mu_);
  return cluster_id_;
}

VersionVector Store::version_vector() const {
  std::lock_guard<std::mutex> l(mu_);
  return vv_;
}

VersionVector Store::objects_version_vector() const {
  std::lock_guard<std::mutex> l(mu_);
  return objects_vv_ ? *objects_vv_ : vv_;
}

Timestamp Store::hlc_high_water() const {
  std::lock_guard<std::mutex> l(mu_);
  return hlc_;
}

VersionVector Store::log_floor() const {
  std::lock_guard<std::mutex> l(mu_);
  return log_floor_;
}

uint64_t Store::log_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return log_bytes_;
}

StoreStats Store::Stats() const {
  StoreStats stats;
  if (statistics_) {
    stats.wal_syncs = statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED);
    stats.wal_bytes = statistics_->getTickerCount(rocksdb::WAL_FILE_BYTES);
  }
  std::lock_guard<std::mutex> l(mu_);
  stats.applies = applies_;
  stats.log_bytes = log_bytes_;
  stats.damaged_merge_inputs = damaged_merge_inputs_->load(std::memory_order_relaxed);
  stats.replayed_log_entries = replayed_log_entries_;
  return stats;
}

void Store::SyncLoop() {
  std::unique_lock<std::mutex> l(sync_mu_);
  while (!stopping_) {
    if (sync_cv_.wait_for(l, std::chrono::seconds(1), [this] { return stopping_; })) break;
    l.unlock();
    // Not under mu_: Apply keeps writing (unsynced) while the fsync runs.
    const rocksdb::Status s = db_->SyncWAL();
    if (!s.ok()) {
      std::lock_guard<std::mutex> ml(mu_);
      if (sync_error_.ok()) {
        sync_error_ = UnavailableError("store " + path_ +
                                       ": background WAL sync failed; writes refused until "
                                       "reopened: " +
                                       s.ToString());
      }
    }
    l.lock();
  }
}

ObjectSnapshot::ObjectSnapshot(rocksdb::DB* db, const rocksdb::Snapshot* snapshot,
                               std::unique_ptr<rocksdb::Iterator> it, VersionVector vv)
    : db_(db), snapshot_(snapshot), it_(std::move(it)), vv_(std::move(vv)) {}

ObjectSnapshot::~ObjectSnapshot() {
  it_.reset();
  db_->ReleaseSnapshot(snapshot_);
}

void ObjectSnapshot::SeekToFirst() { it_->SeekToFirst(); }
void ObjectSnapshot::Seek(std::string_view key) {
  it_->Seek(rocksdb::Slice(key.data(), key.size()));
}
bool ObjectSnapshot::Valid() const { return it_->Valid(); }
void ObjectSnapshot::Next() { it_->Next(); }
std::string_view ObjectSnapshot::key() const {
  return std::string_view(it_->key().data(), it_->key().size());
}
StatusOr<Object> ObjectSnapshot::object() const {
  if (overlay_) {
    if (const Object* newer = overlay_(key())) return *newer;
  }
  return DecodeValue<Object>(kObjectsCf, key(),
                             std::string_view(it_->value().data(), it_->value().size()));
}
void ObjectSnapshot::SetOverlay(Overlay overlay, VersionVector vv) {
  overlay_ = std::move(overlay);
  vv_ = std::move(vv);
}
Status ObjectSnapshot::status() const {
  if (it_->status().ok()) return Status::Ok();
  return CorruptionError("object snapshot: " + it_->status().ToString());
}

}  // namespace converge
