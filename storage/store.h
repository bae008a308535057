// Store: a node's durable state in one RocksDB database (DESIGN.md, Storage).
//
// What it keeps: every key's Object, the per-origin delta log, the version
// vector, the HLC high-water mark, the replica and cluster ids, holds and
// idempotency records. The byte layout is in storage/internal/format.h.
//
// One apply cycle's mutations are one ApplyBatch, written as one RocksDB
// WriteBatch: after a crash either all of a batch is there or none of it.
// Whatever the durability mode, a batch is in the write-ahead log before
// Apply returns, so a process crash (SIGKILL included) loses no batch whose
// Apply returned OK; the modes differ only in what a power loss can take.
//
// Opening is conservative: a directory that is not a Converge store, a store
// of another format version, a damaged database and a store already open
// (in this or another process) are refused with a Status naming the path and
// the cause, and nothing in the directory is changed.
//
// The replica id, and why it sometimes changes. Peers drop a delta whose
// (origin, seq) they already hold. A store that comes back with fewer of its
// own deltas than its peers hold (a power loss took unsynced writes that had
// already been pushed, or the directory was restored from a backup) would
// number new writes with seqs the peers already have, and they would be lost.
// So at open, when either may have happened, the store takes a new random
// replica id and keeps the old one in retired_replica_ids(); the deltas of the
// old id stay what they are, and anti-entropy brings back those it lost. The
// cases: the last run did not close cleanly, it ran with kEverySec and the
// machine has rebooted since (another boot id; a process crash alone leaves
// the WAL in the OS and loses nothing); or the directory holds the marker
// Checkpoint() puts in every backup.
//
// A new store is built in a staging directory beside `path` and renamed into
// place, so a crash during creation never leaves a half-made store. RocksDB's
// info LOG is not written (storage reports through Status only).
//
// Thread-safety: safe from any thread. Writes (Apply, TrimLog, SweepExpired,
// SetClusterId) serialize on an internal mutex; reads go to RocksDB directly.
// The node is expected to call Apply from its one apply strand.
#ifndef CONVERGE_STORAGE_STORE_H_
#define CONVERGE_STORAGE_STORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "crdt/delta.h"
#include "crdt/object.h"
#include "crdt/status.h"
#include "crdt/timestamp.h"
#include "crdt/version_vector.h"
#include "storage/records.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Iterator;
class Snapshot;
class Statistics;
class WriteBatch;
}  // namespace rocksdb

namespace converge {

// When an acknowledged write is on stable storage (not only in the OS).
enum class Durability {
  // fsync of the WAL before every Apply returns, and the node commits each
  // client write as its own Apply: no acknowledged write is lost even on
  // power loss, at one fsync per write.
  kAlways,
  // fsync of the WAL before every Apply returns, and the node groups all the
  // writes of one apply cycle into one Apply (group commit): the same
  // guarantee as kAlways, at one fsync per cycle. For the Store the two are
  // the same WriteOptions; the difference is how the node calls Apply.
  kBatch,
  // The WAL is written (to the OS) before Apply returns and fsynced by a
  // background thread once a second: a process crash loses nothing, a power
  // loss up to about a second of acknowledged writes.
  kEverySec,
};

// Block compression of the SST files.
enum class Compression {
  kAuto,  // LZ4 if this RocksDB supports it, else Snappy, else none
  kNone,
  kSnappy,
  kLz4,
  kZstd,
};

struct StoreOptions {
  // When acknowledged writes reach stable storage. Default: kEverySec.
  Durability durability = Durability::kEverySec;

  // Size of the shared block cache (uncompressed blocks) in bytes.
  // Default: 32 MiB.
  size_t block_cache_bytes = size_t{32} << 20;

  // Size of one memtable per column family before it is flushed to an SST
  // file; also bounds how much WAL a restart replays. Default: 16 MiB.
  size_t write_buffer_bytes = size_t{16} << 20;

  // SST block compression; a kind this RocksDB lacks is InvalidArgument at
  // Open. Default: kAuto.
  Compression compression = Compression::kAuto;

  // Upper bound on the delta log, in bytes of keys plus values. When an Apply
  // takes the log above it, the oldest entries (by HLC timestamp, across
  // origins) are trimmed until the log is at 3/4 of the cap, and log_floor()
  // records what is gone. 0 means unbounded. Default: 256 MiB.
  uint64_t log_cap_bytes = uint64_t{256} << 20;

  // Collect RocksDB statistics (WAL syncs and bytes) for Stats(); costs a few
  // percent of write throughput. Default: false.
  bool collect_statistics = false;

  // This boot of the machine: a run that did not close cleanly under another
  // boot id may have lost its unsynced writes (see the class comment). Empty
  // means read /proc/sys/kernel/random/boot_id; tests set it to play a
  // reboot. Default: empty.
  std::string boot_id;

  // The replica id a store created by this Open takes; 0 draws a random one.
  // An existing store keeps its own. Simulations set it so that a seeded run
  // is the same run every time (peers are kept in id order). Default: 0.
  ReplicaId new_replica_id = 0;

  // Fault injection for tests: when set, called for every WriteBatch after it
  // is built and before it is written; a non-OK result is returned instead
  // of writing, and the store is left as it was. Default: empty.
  std::function<Status()> before_write;
};

// One apply cycle's mutations; Apply writes all of them or none.
//
// Objects are written in the order of the fields: `objects` (whole values),
// then `erased_objects`, then `merged_objects`; so a key put or erased and
// merged in one batch ends as the put (or nothing) joined with the merge.
struct ApplyBatch {
  // Keys whose stored object is replaced by this one (already joined by the
  // caller with everything stored). Needed where the new state is not a
  // join, e.g. after Object::Purge; cheaper than a merge for small objects.
  std::vector<std::pair<std::string, Object>> objects;
  // Keys whose object is dropped entirely (after Object::Purge said so).
  std::vector<std::string> erased_objects;
  // Keys whose stored object (none counts as empty) is joined with this one:
  // a RocksDB merge, written in O(size of this Object), not of the stored
  // one. What readers see is the join (storage/internal/object_merge.h).
  std::vector<std::pair<std::string, Object>> merged_objects;
  // Log entries. The log holds delta intervals keyed by (origin, last seq):
  // a node logs what it applied in the form it applied it, so it can relay a
  // joined interval it received as it got it. Each Delta here is logged as a
  // one-delta interval. REQUIRES: seq >= 1; an (origin, last) logged twice is
  // stored once but counted twice in log_bytes() until the next open.
  std::vector<Delta> deltas;
  std::vector<DeltaInterval> intervals;
  // Raises log_floor() to at least this (a full-state transfer brought in
  // ranges this log never held), in the same batch.
  std::optional<VersionVector> raise_log_floor;
  // When set, the store's version vector becomes this.
  std::optional<VersionVector> version_vector;
  // When set, how far the objects column family is behind the log: it holds
  // every logged delta at or below this vector (and the batch's own objects),
  // and may lack log entries above it, whose objects the caller keeps and
  // writes in a later batch. Unset, the mark stays where it was; a store
  // never given one, or given its version vector, holds every applied delta
  // in its objects. While the objects lag, the log above the mark is kept
  // (TrimLog and the cap stop there) and the next Open joins it into the
  // objects before it returns, so a crash loses no logged write.
  // REQUIRES: a batch that writes an object whole or erases it where that is
  // not a join (after Object::Purge) is applied with the objects caught up
  // to at least the vector the purge ran at; replaying an older delta onto
  // a purged object could bring back what the purge dropped.
  std::optional<VersionVector> objects_vv;
  // When set, the HLC high-water mark becomes this.
  std::optional<Timestamp> hlc_high_water;
  std::vector<HoldRecord> put_holds;
  std::vector<std::string> erased_holds;  // hold ids
  std::vector<IdempotencyRecord> put_idempotency;
  std::vector<std::string> erased_idempotency;  // idempotency keys
};

// What SweepExpired removed.
struct SweptRecords {
  std::vector<HoldRecord> holds;
  std::vector<IdempotencyRecord> idempotency;
};

struct StoreStats {
  uint64_t wal_syncs = 0;  // WAL fsyncs since open (0 without collect_statistics)
  uint64_t wal_bytes = 0;  // bytes written to the WAL since open (idem)
  uint64_t applies = 0;    // Apply calls that wrote since open
  uint64_t log_bytes = 0;  // as log_bytes()
  // Object values or merge operands that did not decode when a merge met
  // them and were left out of the join (storage/internal/object_merge.h);
  // counted per merge since open, so one damaged key may count many times.
  uint64_t damaged_merge_inputs = 0;
  // Log entries this open joined into the objects because they lagged it
  // (ApplyBatch::objects_vv).
  uint64_t replayed_log_entries = 0;
};

// A consistent point-in-time view of all objects and of the version vector
// they reflect: what a full-state transfer, SCAN and DEBUG DIGEST read.
// Iterates keys in bytewise order.
//
// Thread-compatible. REQUIRES: destroyed before the Store that made it.
class ObjectSnapshot {
 public:
  ObjectSnapshot(const ObjectSnapshot&) = delete;
  ObjectSnapshot& operator=(const ObjectSnapshot&) = delete;
  ~ObjectSnapshot();

  // The version vector as of the snapshot: every delta it covers is in the
  // objects this snapshot yields (while the objects lag the log, the
  // objects' vector, ApplyBatch::objects_vv, which is below the store's).
  const VersionVector& version_vector() const { return vv_; }

  void SeekToFirst();
  void Seek(std::string_view key);
  bool Valid() const;
  // REQUIRES: Valid().
  void Next();
  // REQUIRES: Valid(). Valid until the next move.
  std::string_view key() const;
  // REQUIRES: Valid(). Corruption naming the key when the value is damaged.
  StatusOr<Object> object() const;
  // The iterator's error, when !Valid() because of one.
  Status status() const;

  // Objects newer than the store's, by key, for a writer that holds some of
  // its writes back (the Replica's deferred writes): object() yields the
  // overlay's object for a key it answers (non-null), the store's otherwise;
  // version_vector() becomes `vv`. It adds no keys: the writer keeps every
  // key it overlays in the store. What the overlay points to must hold still
  // while the snapshot is read.
  using Overlay = std::function<const Object*(std::string_view key)>;
  void SetOverlay(Overlay overlay, VersionVector vv);

 private:
  friend class Store;
  ObjectSnapshot(rocksdb::DB* db, const rocksdb::Snapshot* snapshot,
                 std::unique_ptr<rocksdb::Iterator> it, VersionVector vv);

  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
  std::unique_ptr<rocksdb::Iterator> it_;
  VersionVector vv_;
  Overlay overlay_;
};

class Store {
 public:
  // Opens the store at `path`, creating it when `path` is missing or an empty
  // directory. Refuses, changing nothing:
  //   FailedPrecondition  the store is open elsewhere (RocksDB's LOCK is held);
  //                       `path` is a non-empty directory that is not a
  //                       Converge store; the store has another format version
  //   Corruption          the database is damaged (CURRENT, MANIFEST, meta)
  //   InvalidArgument     bad options (e.g. an unsupported compression)
  //   Unavailable         other I/O errors
  [[nodiscard]] static StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                             const StoreOptions& options);

  // Stops the WAL sync thread, syncs the WAL and closes the database.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Writes `batch` as one atomic WriteBatch with the durability of the
  // options. On error nothing of it is written (and, when the error came
  // from a background WAL sync, the store refuses further writes).
  // InvalidArgument for a delta with seq 0 or a hold/idempotency record that
  // is not WellFormed().
  [[nodiscard]] Status Apply(const ApplyBatch& batch);

  // The object at `key`, nullopt when there is none.
  [[nodiscard]] StatusOr<std::optional<Object>> GetObject(std::string_view key) const;
  // A consistent snapshot over all objects. REQUIRES: released before *this.
  [[nodiscard]] StatusOr<std::unique_ptr<ObjectSnapshot>> SnapshotObjects() const;
  // Compacts the objects column family fully, which folds every key's merge
  // operands into one value (tests; operators after a bulk load).
  [[nodiscard]] Status CompactObjects();

  // Log entries of `origin` that hold some seq in [from_seq, to_seq] (the
  // first may start below from_seq: entries are intervals), in seq order,
  // stopping after the entry that takes the total encoded size to
  // `max_bytes` or more (at least one entry when any is there). Entries not
  // (yet) logged are simply absent. FailedPrecondition when from_seq <= log_floor()[origin]:
  // that range was trimmed and the caller must fall back to a full-state
  // transfer. InvalidArgument when from_seq is 0 or from_seq > to_seq.
  // `bytes_read`, when given, receives the entries' total encoded size.
  [[nodiscard]] StatusOr<std::vector<DeltaInterval>> ReadLog(ReplicaId origin, uint64_t from_seq,
                                                     uint64_t to_seq, uint64_t max_bytes,
                                                     uint64_t* bytes_read = nullptr) const;

  // Deletes every log entry at or below `stable` (causally stable: every
  // member has it) and raises log_floor() to match; never past
  // objects_version_vector(), which the next open may need to replay.
  [[nodiscard]] Status TrimLog(const VersionVector& stable);

  // Holds and idempotency records outside an ApplyBatch (each is a one-record
  // batch). Get returns nullopt when there is none.
  [[nodiscard]] Status PutHold(const HoldRecord& hold);
  [[nodiscard]] Status DeleteHold(std::string_view hold_id);
  [[nodiscard]] StatusOr<std::optional<HoldRecord>> GetHold(std::string_view hold_id) const;
  [[nodiscard]] Status PutIdempotency(const IdempotencyRecord& record);
  [[nodiscard]] Status DeleteIdempotency(std::string_view idem_key);
  [[nodiscard]] StatusOr<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view idem_key) const;
  // Deletes every hold and idempotency record with expiry_ms <= now_ms, in
  // one batch, and returns them. Scans both column families: they hold
  // short-lived records, thousands at most, so no expiry index is kept.
  [[nodiscard]] StatusOr<SweptRecords> SweepExpired(uint64_t now_ms);
  // Removes expired idempotency records only. The node releases expired holds
  // itself, in the same batch as the units they give back, so a crash
  // between the two cannot lose units.
  [[nodiscard]] StatusOr<std::vector<IdempotencyRecord>> SweepExpiredIdempotency(uint64_t now_ms);
  // Every hold, in hold-id order (loaded once at start by the node).
  [[nodiscard]] StatusOr<std::vector<HoldRecord>> ListHolds() const;

  // The cluster id slot: empty until set. Written synchronously.
  [[nodiscard]] Status SetClusterId(std::string cluster_id);
  std::string cluster_id() const;

  // Random and nonzero; made when the store is created, and again by an open
  // that finds the store may have lost writes its peers hold (see the class
  // comment).
  ReplicaId replica_id() const { return replica_id_; }
  // The ids this store wrote under before replica_id(), oldest first.
  const std::vector<ReplicaId>& retired_replica_ids() const { return retired_ids_; }
  // Why this open took a new replica id; empty when it did not.
  const std::string& replica_id_change() const { return replica_id_change_; }

  // How many keys were live at the last clean close, when that is still what
  // the objects hold (nothing was applied since this open); nullopt
  // otherwise, and the caller counts by a scan.
  std::optional<uint64_t> live_keys_at_open() const;
  // Records, for the next open, that `count` keys are live as of `vv` (the
  // committed state). Called once at a clean close; the next open consumes it.
  [[nodiscard]] Status SaveLiveKeys(uint64_t count, const VersionVector& vv);

  // Writes a consistent copy of the store to `dir` (which must not exist; on
  // the same file system its files are hard links), with the marker that
  // makes the copy take a new replica id when it is opened: a backup that
  // can be restored safely while the cluster has moved on. Writers are not
  // stopped; the copy holds every Apply that returned before the call.
  // FailedPrecondition when `dir` exists, Unavailable on I/O errors.
  [[nodiscard]] Status Checkpoint(const std::string& dir) const;
  // As of the last Apply that set them (loaded at open).
  VersionVector version_vector() const;
  // Every logged delta at or below it is in the objects: version_vector(),
  // or the last ApplyBatch::objects_vv while the objects lag the log. Open
  // returns with the two equal (it replays the lag).
  VersionVector objects_version_vector() const;
  Timestamp hlc_high_water() const;
  // Per origin, the highest seq trimmed from the log; ranges at or below it
  // are gone for good.
  VersionVector log_floor() const;
  // Approximate bytes (keys plus values) in the log. At open, taken from the
  // figure the last clean close saved, or else recomputed by scanning the
  // log's keys and value sizes (no decoding); then kept by Apply and the
  // trims.
  uint64_t log_bytes() const;

  Durability durability() const { return options_.durability; }
  const std::string& path() const { return path_; }
  StoreStats Stats() const;

 private:
  struct Handles;

  Store(std::string path, StoreOptions options);

  Status Load();
  // Records this run in meta and, when the last one may have lost writes,
  // takes a new replica id (see the class comment). After Load().
  Status BeginRun();
  // Joins the log entries above objects_vv_ into the objects and deletes the
  // "objects_vv" record (synced). After Load(), before BeginRun(), so that a
  // crash during it leaves the last run's record as it found it.
  Status CatchUpObjects();
  // db_->Write with the durability's WriteOptions, after before_write.
  Status Write(rocksdb::WriteBatch* batch);
  // Trims the oldest log entries when log_bytes_ is above the cap, never past
  // objects_vv_. REQUIRES: mu_ held.
  Status EnforceLogCap();
  // SweepExpired, with or without the holds.
  StatusOr<SweptRecords> Sweep(uint64_t now_ms, bool holds);
  // Deletes log entries of each origin up to (and including) the seq given,
  // or objects_vv_'s when that is lower, raises the floor, and adjusts
  // log_bytes_ by the bytes removed (counted by scanning the ranges).
  // REQUIRES: mu_ held.
  Status TrimLogLocked(const std::map<ReplicaId, uint64_t>& up_to);
  void SyncLoop();

  const std::string path_;
  const StoreOptions options_;
  std::unique_ptr<Handles> handles_;
  rocksdb::DB* db_ = nullptr;  // owned by handles_
  std::shared_ptr<rocksdb::Statistics> statistics_;
  // Raised by the objects merge operator (on RocksDB's threads).
  std::shared_ptr<std::atomic<uint64_t>> damaged_merge_inputs_ =
      std::make_shared<std::atomic<uint64_t>>(0);
  ReplicaId replica_id_ = 0;
  std::vector<ReplicaId> retired_ids_;
  std::string replica_id_change_;
  bool run_recorded_ = false;  // "running" is in meta: a clean close deletes it
  std::optional<uint64_t> live_keys_at_open_;  // from "live_keys", when its vv matched

  mutable std::mutex mu_;  // guards everything below, and serializes writes
  VersionVector vv_;
  Timestamp hlc_;
  VersionVector log_floor_;
  // Set while the objects lag the log ("objects_vv" in meta); unset, they
  // hold everything in vv_.
  std::optional<VersionVector> objects_vv_;
  uint64_t replayed_log_entries_ = 0;  // by this open
  std::map<ReplicaId, uint64_t> log_bytes_by_origin_;
  uint64_t log_bytes_ = 0;
  std::string cluster_id_;
  uint64_t applies_ = 0;
  Status sync_error_;  // first failed background WAL sync; refuses writes

  // kEverySec only: the background WAL sync.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;  // guarded by sync_mu_
  std::thread sync_thread_;
};

}  // namespace converge

#endif  // CONVERGE_STORAGE_STORE_H_
