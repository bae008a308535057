// Store: creating a store, probing an existing one, and opening it (the
// rest of Store is in store.cc and store_log.cc).
#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "crdt/codec.h"
#include "storage/internal/db.h"
#include "storage/internal/format.h"
#include "storage/internal/object_merge_operator.h"
#include "storage/internal/run.h"
#include "storage/store.h"

namespace converge {

namespace fs = std::filesystem;
using namespace storage_internal;  // NOLINT: this file implements the format

namespace {

std::string CanonicalPath(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  return ec ? path : p.string();
}

// Asks, without taking it, whether another process holds RocksDB's LOCK on
// `path`. OFD locks conflict with the POSIX lock RocksDB takes.
Status CheckNotLockedElsewhere(const std::string& path) {
  const std::string lock_path = path + "/LOCK";
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Ok();  // no LOCK file: no RocksDB has it open
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  const int rc = ::fcntl(fd, F_OFD_GETLK, &fl);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    return UnavailableError("store " + path + ": cannot check " + lock_path + ": " +
                            std::strerror(err));
  }
  if (fl.l_type != F_UNLCK) {
    return FailedPreconditionError("store " + path + " is in use: process " +
                                   std::to_string(fl.l_pid) + " holds its lock file " + lock_path);
  }
  return Status::Ok();
}

bool IsLockError(const rocksdb::Status& s) {
  return s.IsIOError() && (s.ToString().find("lock") != std::string::npos ||
                           s.ToString().find("LOCK") != std::string::npos);
}

// Maps a RocksDB error met while opening `path`.
Status OpenError(const std::string& path, const rocksdb::Status& s) {
  if (IsLockError(s)) {
    return FailedPreconditionError("store " + path + " is in use: another process or Store holds " +
                                   path + "/LOCK (" + s.ToString() + ")");
  }
  if (s.IsCorruption() || s.IsNotFound() || s.IsInvalidArgument() ||
      (s.IsIOError() && s.ToString().find("No such file") != std::string::npos)) {
    return CorruptionError("store " + path + " is damaged and was left as it is: " + s.ToString());
  }
  if (s.IsIOError() && s.ToString().find("ermission") != std::string::npos) {
    return PermissionDeniedError("store " + path + ": " + s.ToString());
  }
  return UnavailableError("store " + path + ": cannot open: " + s.ToString());
}


StatusOr<rocksdb::CompressionType> ResolveCompression(Compression c) {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  auto has = [&](rocksdb::CompressionType t) {
    return std::find(supported.begin(), supported.end(), t) != supported.end();
  };
  auto require = [&](rocksdb::CompressionType t,
                     const char* name) -> StatusOr<rocksdb::CompressionType> {
    if (!has(t)) return InvalidArgumentError(std::string("this RocksDB lacks ") + name);
    return t;
  };
  switch (c) {
    case Compression::kAuto:
      if (has(rocksdb::kLZ4Compression)) return rocksdb::kLZ4Compression;
      if (has(rocksdb::kSnappyCompression)) return rocksdb::kSnappyCompression;
      return rocksdb::kNoCompression;
    case Compression::kNone:
      return rocksdb::kNoCompression;
    case Compression::kSnappy:
      return require(rocksdb::kSnappyCompression, "Snappy");
    case Compression::kLz4:
      return require(rocksdb::kLZ4Compression, "LZ4");
    case Compression::kZstd:
      return require(rocksdb::kZSTD, "ZSTD");
  }
  return InvalidArgumentError("unknown compression");
}


rocksdb::DBOptions MakeDbOptions(const StoreOptions& o, std::shared_ptr<rocksdb::Logger> logger,
                                 std::shared_ptr<rocksdb::Statistics> statistics) {
  rocksdb::DBOptions d;
  d.info_log = std::move(logger);
  d.statistics = std::move(statistics);
  d.max_background_jobs = 2;
  d.paranoid_checks = true;
  // Bounds the WAL kept alive by a rarely written column family (holds).
  d.max_total_wal_size = 4 * static_cast<uint64_t>(o.write_buffer_bytes);
  d.db_write_buffer_size = 2 * o.write_buffer_bytes;
  d.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // Table files are opened at open by this many threads, started and joined
  // there: one per CPU (RocksDB's 16 cost a 2-core machine more to start and
  // join than their parallel reads gained: 1M keys opened in 24 ms, not 22).
  d.max_file_opening_threads =
      static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 2u, 16u));
  return d;
}

rocksdb::ColumnFamilyOptions MakeCfOptions(const StoreOptions& o,
                                           rocksdb::CompressionType compression,
                                           const std::shared_ptr<rocksdb::Cache>& cache,
                                           bool point_lookups) {
  rocksdb::ColumnFamilyOptions c;
  c.write_buffer_size = o.write_buffer_bytes;
  c.compression = compression;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  if (point_lookups) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Most point reads of a key that is not there (the first write of a key,
    // one arriving from a peer) end in the memtable: a bloom filter over its
    // whole keys answers them without a skiplist search.
    c.memtable_whole_key_filtering = true;
    c.memtable_prefix_bloom_size_ratio = 0.02;
  }
  c.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return c;
}

// Opens the existing database at `path` read-only (which changes no file)
// and checks that it is a Converge store of this format version.
Status ProbeExisting(const std::string& path, const std::shared_ptr<rocksdb::Logger>& logger) {
  rocksdb::DBOptions opts;
  opts.info_log = logger;
  opts.paranoid_checks = true;
  // Only the meta column family is read: table files are opened as needed
  // (not all of them at open, as -1 does), and their statistics not loaded.
  opts.max_open_files = 64;
  opts.max_file_opening_threads = 1;
  opts.skip_stats_update_on_db_open = true;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(opts, path, &names);
  if (!s.ok()) return OpenError(path, s);
  // Open first, check the column families after: a damaged MANIFEST can
  // list fewer column families than were made, and must read as damaged,
  // not as foreign.
  const bool has_meta = std::find(names.begin(), names.end(), kMetaCf) != names.end();
  std::vector<rocksdb::ColumnFamilyDescriptor> descs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()}};
  if (has_meta) descs.emplace_back(std::string(kMetaCf), rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::OpenForReadOnly(opts, path, descs, &handles, &raw);
  if (!s.ok()) return OpenError(path, s);
  auto close = [&] {
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    raw->Close().PermitUncheckedError();  // read-only: nothing to lose
    delete raw;
  };
  for (size_t i = 1; i < kNumCfs; ++i) {
    if (std::find(names.begin(), names.end(), kCfNames[i]) == names.end()) {
      close();
      return FailedPreconditionError("not a Converge store: " + path +
                                     " is a RocksDB database without column family '" +
                                     std::string(kCfNames[i]) + "'; left as it is");
    }
  }
  std::string value;
  s = raw->Get(rocksdb::ReadOptions(), handles[1], std::string(kFormatKey), &value);
  close();
  if (s.IsNotFound()) {
    return FailedPreconditionError(
        "not a Converge store: " + path +
        " has no format record (not created by Converge, or its creation was "
        "interrupted); left as it is");
  }
  if (!s.ok()) return OpenError(path, s);
  StatusOr<uint32_t> version = DecodeMeta32(kFormatKey, value);
  if (!version.ok()) {
    return CorruptionError("store " + path + " is damaged: " + version.status().message());
  }
  if (*version < kOldestReadableFormatVersion || *version > kStoreFormatVersion) {
    return FailedPreconditionError("store " + path + " has format version " +
                                   std::to_string(*version) + "; this build reads version " +
                                   std::to_string(kOldestReadableFormatVersion) + " to " +
                                   std::to_string(kStoreFormatVersion) + "; left as it is");
  }
  return Status::Ok();
}


// Creates a complete store (all column families, the format record and the
// replica id) in a staging directory beside `path`, then renames it to `path`
// (a missing path or an empty directory). A crash during creation leaves
// either no store at `path` or a whole one, never a half-made directory that
// later opens would refuse as foreign; at worst a staging directory named
// ".<name>.creating-<hex>" is left beside it. `id` 0 draws a random id.
Status CreateStore(const std::string& path, rocksdb::DBOptions db_options,
                   const std::vector<rocksdb::ColumnFamilyDescriptor>& descs, ReplicaId id) {
  std::error_code ec;
  fs::path target = fs::absolute(path, ec).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();
  const fs::path parent = target.parent_path();
  fs::create_directories(parent, ec);
  if (ec)
    return UnavailableError("store " + path + ": cannot create " + parent.string() + ": " +
                            ec.message());
  const fs::path staging =
      parent / ("." + target.filename().string() + ".creating-" + HexId(NewReplicaId()));

  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.error_if_exists = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, staging.string(), descs, &handles, &db);
  if (!s.ok()) {
    fs::remove_all(staging, ec);  // ours, half made: best effort
    return UnavailableError("store " + path + ": cannot create: " + s.ToString());
  }
  rocksdb::WriteBatch wb;
  wb.Put(handles[kMeta], std::string(kFormatKey), EncodeFixed32(kStoreFormatVersion));
  wb.Put(handles[kMeta], std::string(kReplicaIdKey), EncodeFixed64(id != 0 ? id : NewReplicaId()));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db->Write(wo, &wb);
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  rocksdb::Status closed = db->Close();
  delete db;
  if (s.ok()) s = closed;
  Status synced = s.ok() ? SyncDir(staging) : Status::Ok();
  if (!s.ok() || !synced.ok()) {
    fs::remove_all(staging, ec);
    return UnavailableError("store " + path +
                            ": cannot create: " + (s.ok() ? synced.message() : s.ToString()));
  }
  // rename(2) replaces an empty directory atomically, and fails on a
  // non-empty one (someone put files there meanwhile): nothing is overwritten.
  if (::rename(staging.c_str(), target.c_str()) != 0) {
    const int err = errno;
    fs::remove_all(staging, ec);
    return FailedPreconditionError("store " + path +
                                   ": cannot move the new store into place: " + std::strerror(err));
  }
  return SyncDir(parent);
}

}  // namespace

Store::Store(std::string path, StoreOptions options)
    : path_(std::move(path)), options_(std::move(options)) {}

StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path, const StoreOptions& options) {
  if (path.empty()) return InvalidArgumentError("store path is empty");
  if (options.write_buffer_bytes < (size_t{64} << 10)) {
    return InvalidArgumentError("write_buffer_bytes below 64 KiB");
  }
  StatusOr<rocksdb::CompressionType> compression = ResolveCompression(options.compression);
  if (!compression.ok()) return compression.status();

  auto handles = std::make_unique<Handles>();
  const std::string canonical = CanonicalPath(path);
  {
    std::lock_guard<std::mutex> l(OpenPathsMu());
    if (!OpenPaths().insert(canonical).second) {
      return FailedPreconditionError("store " + path + " is in use: already open in this process");
    }
  }
  handles->registered_path = canonical;  // unregistered by ~Handles on any return

  // What is at `path` decides between creating and opening.
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  bool create = false;
  if (!fs::exists(st)) {
    create = true;
  } else if (!fs::is_directory(st)) {
    return FailedPreconditionError("not a Converge store: " + path + " is not a directory");
  } else if (fs::is_empty(path, ec) && !ec) {
    create = true;  // an empty directory, e.g. one made for the store
  } else if (!fs::exists(fs::path(path) / "CURRENT", ec)) {
    return FailedPreconditionError(
        "not a Converge store: " + path +
        " is a non-empty directory without a RocksDB CURRENT file; refusing to create a "
        "store over it");
  }
  std::unique_ptr<Store> store(new Store(path, options));
  if (options.collect_statistics) store->statistics_ = rocksdb::CreateDBStatistics();
  handles->cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  const rocksdb::DBOptions db_options = MakeDbOptions(options, handles->logger, store->statistics_);
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (size_t i = 0; i < kNumCfs; ++i) {
    const bool point_lookups = i == kObjects || i == kHolds || i == kIdempotency;
    descs.emplace_back(std::string(kCfNames[i]),
                       MakeCfOptions(options, *compression, handles->cache, point_lookups));
  }
  descs[kObjects].options.merge_operator = NewObjectMergeOperator(store->damaged_merge_inputs_);
  if (create) {
    CONVERGE_RETURN_IF_ERROR(CreateStore(path, db_options, descs, options.new_replica_id));
  } else {
    CONVERGE_RETURN_IF_ERROR(CheckNotLockedElsewhere(path));
    CONVERGE_RETURN_IF_ERROR(ProbeExisting(path, handles->logger));
  }

  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descs, &handles->cfs, &handles->db);
  if (!s.ok()) {
    handles->db = nullptr;
    return OpenError(path, s);
  }
  store->handles_ = std::move(handles);
  store->db_ = store->handles_->db;
  CONVERGE_RETURN_IF_ERROR(store->Load());
  CONVERGE_RETURN_IF_ERROR(store->CatchUpObjects());
  CONVERGE_RETURN_IF_ERROR(store->BeginRun());
  if (options.durability == Durability::kEverySec) {
    store->sync_thread_ = std::thread([s = store.get()] { s->SyncLoop(); });
  }
  return store;
}


Status Store::Load() {
  const Handles& h = *handles_;
  rocksdb::ReadOptions ro;
  auto get = [&](std::string_view key, std::string* value) -> StatusOr<bool> {
    rocksdb::Status s = db_->Get(ro, h.cf(kMeta), std::string(key), value);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return ReadError(path_, kMetaCf, s);
    return true;
  };
  std::string value;
  CONVERGE_ASSIGN_OR_RETURN(bool found, get(kReplicaIdKey, &value));
  if (!found) return CorruptionError("store " + path_ + " is damaged: meta has no replica id");
  CONVERGE_ASSIGN_OR_RETURN(replica_id_, DecodeMeta64(kReplicaIdKey, value));
  if (replica_id_ == 0) {
    return CorruptionError(
        "store " + path_ + " is damaged: " +
        BadValue(kMetaCf, kReplicaIdKey, CorruptionError("replica id 0")).message());
  }
  CONVERGE_ASSIGN_OR_RETURN(found, get(kClusterIdKey, &value));
  if (found) cluster_id_ = value;
  CONVERGE_ASSIGN_OR_RETURN(found, get(kAppliedKey, &value));
  if (found) {
    CONVERGE_ASSIGN_OR_RETURN(AppliedRecord r,
                              DecodeValue<AppliedRecord>(kMetaCf, kAppliedKey, value));
    vv_ = std::move(r.vv);
    hlc_ = r.hlc;
  }
  CONVERGE_ASSIGN_OR_RETURN(found, get(kRetiredIdsKey, &value));
  if (found) {
    CONVERGE_ASSIGN_OR_RETURN(RetiredIdsRecord r,
                              DecodeValue<RetiredIdsRecord>(kMetaCf, kRetiredIdsKey, value));
    retired_ids_ = std::move(r.ids);
  }
  CONVERGE_ASSIGN_OR_RETURN(found, get(kLiveKeysKey, &value));
  if (found) {
    // Only a hint: a damaged record is no reason to refuse the store.
    StatusOr<LiveKeysRecord> r = Decode<LiveKeysRecord>(value);
    if (r.ok() && r->vv == vv_) live_keys_at_open_ = r->count;
  }
  CONVERGE_ASSIGN_OR_RETURN(found, get(kLogFloorKey, &value));
  if (found) {
    CONVERGE_ASSIGN_OR_RETURN(VersionVectorRecord r,
                              DecodeValue<VersionVectorRecord>(kMetaCf, kLogFloorKey, value));
    log_floor_ = std::move(r.vv);
  }
  CONVERGE_ASSIGN_OR_RETURN(found, get(kObjectsVvKey, &value));
  if (found) {
    CONVERGE_ASSIGN_OR_RETURN(VersionVectorRecord r,
                              DecodeValue<VersionVectorRecord>(kMetaCf, kObjectsVvKey, value));
    objects_vv_ = std::move(r.vv);
  }

  // The log's size: as the last clean close left it, when that record is
  // whole and matches (it is only a hint), else from the log's keys and
  // value sizes, which reads the whole log.
  CONVERGE_ASSIGN_OR_RETURN(found, get(kLogSizeKey, &value));
  if (found) {
    StatusOr<LogSizeRecord> r = Decode<LogSizeRecord>(value);
    if (r.ok() && r->vv == vv_ && r->log_floor == log_floor_) {
      for (const auto& [origin, bytes] : r->bytes_by_origin) {
        log_bytes_by_origin_[origin] = bytes;
        log_bytes_ += bytes;
      }
      return Status::Ok();
    }
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, h.cf(kLog)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ReplicaId origin;
    uint64_t seq;
    CONVERGE_RETURN_IF_ERROR(
        ParseLogKey(std::string_view(it->key().data(), it->key().size()), &origin, &seq));
    const uint64_t bytes = it->key().size() + it->value().size();
    log_bytes_by_origin_[origin] += bytes;
    log_bytes_ += bytes;
  }
  if (!it->status().ok()) return ReadError(path_, kLogCf, it->status());
  return Status::Ok();
}

Status Store::CatchUpObjects() {
  if (!objects_vv_) return Status::Ok();
  const Handles& h = *handles_;
  rocksdb::WriteBatch wb;
  // Written in pieces of about this many bytes: a lag is one flush interval
  // of writes, but nothing bounds it but the log.
  constexpr size_t kPieceBytes = size_t{4} << 20;
  auto write = [&](bool sync) -> Status {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    const rocksdb::Status s = db_->Write(wo, &wb);
    if (!s.ok()) return WriteError(path_, s);
    wb.Clear();
    return Status::Ok();
  };
  // Every entry of every origin whose last seq is above the mark, joined into
  // the objects as merges of its deltas. An entry the objects already hold in
  // part or whole changes nothing: the join is idempotent.
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, h.cf(kLog)));
  uint64_t replayed = 0;
  it->SeekToFirst();
  while (it->Valid()) {
    const std::string_view key(it->key().data(), it->key().size());
    ReplicaId origin;
    uint64_t seq;
    CONVERGE_RETURN_IF_ERROR(ParseLogKey(key, &origin, &seq));
    const uint64_t held = objects_vv_->Get(origin);
    if (seq <= held) {
      it->Seek(LogKeyAfter(origin, held));
      continue;
    }
    StatusOr<DeltaInterval> entry =
        DecodeLogEntry(key, std::string_view(it->value().data(), it->value().size()));
    if (!entry.ok()) {
      return CorruptionError("store " + path_ + " is damaged: its objects lag the log from " +
                             objects_vv_->ToString() + " and a log entry they need does not read (" +
                             entry.status().message() + "); not opened");
    }
    for (const auto& [object_key, object] : entry->objects()) {
      wb.Merge(h.cf(kObjects), object_key, Encode(object));
    }
    ++replayed;
    if (wb.GetDataSize() >= kPieceBytes) CONVERGE_RETURN_IF_ERROR(write(false));
    it->Next();
  }
  if (!it->status().ok()) return ReadError(path_, kLogCf, it->status());
  // The mark goes last, synced: a crash before it replays again, which is
  // harmless; after it, every merge above is durable.
  wb.Delete(h.cf(kMeta), std::string(kObjectsVvKey));
  CONVERGE_RETURN_IF_ERROR(write(true));
  objects_vv_.reset();
  replayed_log_entries_ = replayed;
  // The count was taken from the objects before the replay changed them.
  live_keys_at_open_.reset();
  return Status::Ok();
}

Status Store::BeginRun() {
  rocksdb::ColumnFamilyHandle* meta = handles_->cf(kMeta);
  LastRun last;
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), meta, std::string(kRunningKey), &value);
  if (!s.ok() && !s.IsNotFound()) return ReadError(path_, kMetaCf, s);
  if (s.ok()) {
    StatusOr<RunRecord> run = Decode<RunRecord>(value);
    // A damaged record is no reason to refuse the store: it only makes the
    // answer below the cautious one.
    if (run.ok()) {
      last.unclean = std::move(*run);
    } else {
      last.damaged = true;
    }
  }
  std::error_code ec;
  const fs::path marker = fs::path(path_) / std::string(kRestoreMarkerFile);
  last.restored = fs::exists(marker, ec);

  const std::string boot_id = options_.boot_id.empty() ? ReadBootId() : options_.boot_id;
  const std::string why =
      LostWritesReason(last, boot_id, static_cast<uint8_t>(Durability::kEverySec));
  rocksdb::WriteBatch wb;
  ReplicaId fresh = 0;
  if (!why.empty()) {
    // New deltas must not reuse an origin any state here already knows.
    auto known = [&](ReplicaId id) {
      return id == replica_id_ || vv_.Get(id) != 0 || log_floor_.Get(id) != 0 ||
             std::find(retired_ids_.begin(), retired_ids_.end(), id) != retired_ids_.end();
    };
    do fresh = NewReplicaId();
    while (known(fresh));
    std::vector<ReplicaId> retired = retired_ids_;
    retired.push_back(replica_id_);
    wb.Put(meta, std::string(kReplicaIdKey), EncodeFixed64(fresh));
    wb.Put(meta, std::string(kRetiredIdsKey), Encode(RetiredIdsRecord{retired}));
  }
  // From here on the store may hold what older formats lack.
  wb.Put(meta, std::string(kFormatKey), EncodeFixed32(kStoreFormatVersion));
  wb.Put(meta, std::string(kRunningKey),
         Encode(RunRecord{boot_id, static_cast<uint8_t>(options_.durability)}));
  // Consumed: objects may change from here on without the vector changing
  // (chunks of a full-state transfer), and a crash must then mean a scan.
  wb.Delete(meta, std::string(kLiveKeysKey));
  wb.Delete(meta, std::string(kLogSizeKey));  // likewise: valid until the next write
  rocksdb::WriteOptions wo;
  wo.sync = true;
  s = db_->Write(wo, &wb);
  if (!s.ok()) return WriteError(path_, s);
  run_recorded_ = true;
  if (!why.empty()) {
    retired_ids_.push_back(replica_id_);
    replica_id_ = fresh;
    replica_id_change_ = why;
  }
  if (last.restored) {
    // The new id is durable: the marker has done its work. Should removing
    // it fail, the next open takes yet another id, which is safe.
    fs::remove(marker, ec);
    if (!ec) SyncDir(path_).IgnoreError();
  }
  return Status::Ok();
}


}  // namespace converge
