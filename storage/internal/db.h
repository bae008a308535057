// The RocksDB database under a Store: its column families, the handles that
// close it, and the error mapping and small helpers that the Store's three
// files share (store.cc: writes and reads; store_open.cc: creating, probing
// and opening; store_log.cc: the delta log's reads, trim and cap).
// Internal to converge::storage.
#ifndef CONVERGE_STORAGE_INTERNAL_DB_H_
#define CONVERGE_STORAGE_INTERNAL_DB_H_

#include <rocksdb/db.h>
#include <rocksdb/env.h>

#include <cstdarg>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/status.h"
#include "storage/internal/format.h"
#include "storage/store.h"

namespace converge {
namespace storage_internal {

// Column families in handle order.
enum Cf : size_t { kDefault = 0, kObjects, kLog, kMeta, kHolds, kIdempotency, kNumCfs };
inline constexpr std::string_view kCfNames[kNumCfs] = {"default", kObjectsCf, kLogCf,
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
std::mutex& OpenPathsMu();
std::set<std::string>& OpenPaths();

// Map a RocksDB error met writing, or reading column family `cf`, of the
// store at `path`.
Status WriteError(const std::string& path, const rocksdb::Status& s);
Status ReadError(const std::string& path, std::string_view cf, const rocksdb::Status& s);

// Fsyncs a directory, so that a file created or renamed in it stays.
Status SyncDir(const std::filesystem::path& dir);

// The exclusive end of a DeleteRange / iteration covering every log key of
// `origin` up to and including `seq`: 16-byte keys sort below this 17-byte
// key exactly when they are <= LogKey(origin, seq), and no overflow arises.
std::string LogKeyAfter(ReplicaId origin, uint64_t seq);

// A random nonzero replica id.
ReplicaId NewReplicaId();

}  // namespace storage_internal

// The open database and its column-family handles; closing order matters
// (handles before the DB), so it lives in one place.
struct Store::Handles {
  std::shared_ptr<rocksdb::Logger> logger = std::make_shared<storage_internal::SilentLogger>();
  std::shared_ptr<rocksdb::Cache> cache;
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  std::string registered_path;  // in OpenPaths() while non-empty

  rocksdb::ColumnFamilyHandle* cf(storage_internal::Cf which) const { return cfs[which]; }

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
      std::lock_guard<std::mutex> l(storage_internal::OpenPathsMu());
      storage_internal::OpenPaths().erase(registered_path);
    }
  }
};

}  // namespace converge

#endif  // CONVERGE_STORAGE_INTERNAL_DB_H_
