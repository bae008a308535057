#include "storage/store.h"

#include <fcntl.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <limits>
#include <queue>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "crdt/codec.h"
#include "storage/internal/format.h"
#include "storage/internal/object_merge_operator.h"
#include "storage/internal/run.h"

namespace converge {

namespace fs = std::filesystem;
using namespace storage_internal;  // NOLINT: this file implements the format

namespace {

// Column families in handle order.
enum Cf : size_t { kDefault = 0, kObjects, kLog, kMeta, kHolds, kIdempotency, kNumCfs };
constexpr std::string_view kCfNames[kNumCfs] = {"default", kObjectsCf, kLogCf,
                                                kMetaCf,   kHoldsCf,   kIdempotencyCf};

// Storage reports through Status and never logs; RocksDB's own info LOG is
// not written either. Besides keeping the data directory to RocksDB's data
// files, this matters for refusals: RocksDB would rotate LOG before taking the
// LOCK, changing a directory another process owns.
class SilentLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char* /*format*/, va_list /*ap*/) override {}
};

// Paths of the stores open in this process. RocksDB's LOCK is an fcntl lock,
// which a process does not conflict with itself on, and which closing any
// descriptor of the file would drop; so a second open in this process is
// caught here, before anything touches the LOCK file.
std::mutex& OpenPathsMu() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& OpenPaths() {
  static std::set<std::string> paths;
  return paths;
}

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

Status WriteError(const std::string& path, const rocksdb::Status& s) {
  if (s.IsCorruption()) return CorruptionError("store " + path + ": write: " + s.ToString());
  return UnavailableError("store " + path + ": write failed: " + s.ToString());
}

Status ReadError(const std::string& path, std::string_view cf, const rocksdb::Status& s) {
  if (s.IsCorruption()) {
    return CorruptionError("store " + path + ", column family '" + std::string(cf) +
                           "': " + s.ToString());
  }
  return UnavailableError("store " + path + ", column family '" + std::string(cf) +
                          "': read failed: " + s.ToString());
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

// The exclusive end of a DeleteRange / iteration covering every log key of
// `origin` up to and including `seq`: 16-byte keys sort below this 17-byte
// key exactly when they are <= LogKey(origin, seq), and no overflow arises.
std::string LogKeyAfter(ReplicaId origin, uint64_t seq) {
  std::string key = LogKey(origin, seq);
  key.push_back('\0');
  return key;
}

ReplicaId NewReplicaId() {
  std::random_device rd;
  ReplicaId id = 0;
  while (id == 0) id = (uint64_t{rd()} << 32) | rd();
  return id;
}

}  // namespace

// The open database and its column-family handles; closing order matters
// (handles before the DB), so it lives in one place.
struct Store::Handles {
  std::shared_ptr<rocksdb::Logger> logger = std::make_shared<SilentLogger>();
  std::shared_ptr<rocksdb::Cache> cache;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  std::string registered_path;  // in OpenPaths() while non-empty

  rocksdb::ColumnFamilyHandle* cf(Cf which) const { return cfs[which]; }

  ~Handles() {
    if (db != nullptr) {
      for (rocksdb::ColumnFamilyHandle* h : cfs) {
        db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      }
      // Deliberately ignored: a close error leaves nothing to do; the WAL
      // was synced by ~Store and data written is recovered on the next open.
      db->Close().PermitUncheckedError();
      delete db;
    }
    if (!registered_path.empty()) {
      std::lock_guard<std::mutex> l(OpenPathsMu());
      OpenPaths().erase(registered_path);
    }
  }
};

namespace {

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

Status SyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return UnavailableError("cannot open " + dir.string() + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return UnavailableError("cannot sync " + dir.string() + ": " + std::strerror(err));
  return Status::Ok();
}

// Creates a complete store (all column families, the format record and the
// replica id) in a staging directory beside `path`, then renames it to `path`
// (a missing path or an empty directory). A crash during creation leaves
// either no store at `path` or a whole one, never a half-made directory that
// later opens would refuse as foreign; at worst a staging directory named
// ".<name>.creating-<hex>" is left beside it.
Status CreateStore(const std::string& path, rocksdb::DBOptions db_options,
                   const std::vector<rocksdb::ColumnFamilyDescriptor>& descs) {
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
  wb.Put(handles[kMeta], std::string(kReplicaIdKey), EncodeFixed64(NewReplicaId()));
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
    CONVERGE_RETURN_IF_ERROR(CreateStore(path, db_options, descs));
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
  CONVERGE_RETURN_IF_ERROR(store->BeginRun());
  if (options.durability == Durability::kEverySec) {
    store->sync_thread_ = std::thread([s = store.get()] { s->SyncLoop(); });
  }
  return store;
}

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
  auto push = [&](ReplicaId origin, Cursor& c) -> Status {
    if (!c.it->Valid())
      return c.it->status().ok() ? Status::Ok() : ReadError(path_, kLogCf, c.it->status());
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
  for (const auto& [origin, seq] : up_to) {
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
  std::string value;
  VersionVector vv;
  rocksdb::Status s = db_->Get(ro, handles_->cf(kMeta), std::string(kAppliedKey), &value);
  if (s.ok()) {
    StatusOr<AppliedRecord> r = DecodeValue<AppliedRecord>(kMetaCf, kAppliedKey, value);
    if (!r.ok()) {
      db_->ReleaseSnapshot(snapshot);
      return r.status();
    }
    vv = std::move(r->vv);
  } else if (!s.IsNotFound()) {
    db_->ReleaseSnapshot(snapshot);
    return ReadError(path_, kMetaCf, s);
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_->cf(kObjects)));
  it->SeekToFirst();
  return std::unique_ptr<ObjectSnapshot>(
      new ObjectSnapshot(db_, snapshot, std::move(it), std::move(vv)));
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
  return DecodeValue<Object>(kObjectsCf, key(),
                             std::string_view(it_->value().data(), it_->value().size()));
}
Status ObjectSnapshot::status() const {
  if (it_->status().ok()) return Status::Ok();
  return CorruptionError("object snapshot: " + it_->status().ToString());
}

}  // namespace converge
