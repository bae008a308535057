// Replica: this node's replicated state, and the one place that changes it.
//
// It owns the HybridClock, the VersionVector and a cache of objects over the
// Store. Local writes become deltas numbered (self, seq) with seq contiguous;
// remote delta intervals join in; both are staged and then committed together
// by Commit() as one Store batch (group commit): the objects, one log entry
// per interval, the version vector and the HLC high-water.
//
// Objects reach the store in one of two forms. A large object is written as
// a merge of the join of its deltas of this cycle (local, remote and snapshot
// chunks), so a write costs the size of the change, not of the object (a
// hash of 100k fields was rewritten whole on every HSET before). A small one
// is put whole, as is any object whose new state is not a join of the old
// (a purge): see ReplicaOptions::merge_above_fields.
//
// Deferred object writes (ReplicaOptions::defer_object_writes). A commit
// makes its writes durable by their log entries; a small object written by
// a delta stays in the cache, pinned and "unwritten", and is put later.
// Committed keys gather in the open generation; it closes at
// generation_keys keys or generation_ms, is sorted by key off the strand,
// and each later commit writes the next slice of it (a little more than the
// commit's own writes), in key order, until it is written and the next can
// close. Each key is so put once per generation however often it was
// written, and the memtable sees inserts in order. The store's mark
// (ApplyBatch::objects_vv) is the vector of the last generation written
// whole: a crash loses nothing, since the store's open replays the log above
// it. Readers that go around the cache see the unwritten objects laid over
// the store's (SnapshotObjects); for that, a key new to the store is put at
// once, and deferred from its next write on. Two rules keep the replay a
// join of what was already joined: snapshot chunks, which have no log
// entries, are written at once; and PurgeStep leaves alone every key a log
// entry above the mark touches (the keys of the two generations), since
// replaying an older delta onto a purged object could bring back what the
// purge dropped.
//
// Remote intervals that cannot be applied yet are held, not dropped:
//   * a gap: interval.first() > VV[origin] + 1 (an earlier one is missing);
//   * the clock bound: stamped more than max_clock_offset ahead of local
//     physical time (DESIGN.md, Skew). They are retried by RetryHeld().
// Held intervals are bounded in number; past the bound the oldest go, and
// anti-entropy fetches them again.
//
// Thread-compatible: the node touches it only on its apply strand.
#ifndef CONVERGE_CLUSTER_REPLICA_H_
#define CONVERGE_CLUSTER_REPLICA_H_

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/object_cache.h"
#include "crdt/delta.h"
#include "crdt/hybrid_clock.h"
#include "crdt/object.h"
#include "crdt/status.h"
#include "crdt/version_vector.h"
#include "storage/store.h"

namespace converge {

struct ReplicaOptions {
  // Deltas stamped further ahead of local physical time are held. Default 500.
  uint64_t max_clock_offset_ms = 500;
  // Objects kept in memory beyond those staged and those of the two
  // generations of deferred writes (pinned until written). Default 200,000.
  size_t max_cached_objects = 200'000;
  // Remote intervals held for a gap or the clock bound. Default 4096.
  size_t max_held_intervals = 4096;
  // Objects with more elements than this (fields of a visible hash, counted
  // with tombstones; any other object counts as 1) are committed as merges
  // of their deltas; others are put whole. Small objects are cheaper whole:
  // the value written is about as small as the delta, and reads, snapshot
  // scans and compactions then never run the merge operator for them.
  // 0 merges every object; SIZE_MAX puts every object whole. Default 64.
  size_t merge_above_fields = 64;
  // Defer the writes of small objects to the store (see the class comment).
  // Default true.
  bool defer_object_writes = true;
  // A generation of committed keys closes at this many keys, or when its
  // first key is this old. Defaults 131,072 and 1,000 ms: against 16,384
  // and 100 ms (which SCAN's flush needed), 1.69x INCR and 1.62x SET at
  // -P 16 (bench/RESULTS.md, 2026-12-07 22:25).
  size_t generation_keys = 131'072;
  uint64_t generation_ms = 1'000;
  // Sort a closed generation on another thread. When it is done depends on
  // that thread, so a simulation that must replay a seed exactly sorts on
  // the strand. Default true.
  bool sort_off_strand = true;
  // PurgeStep writes every unwritten object, at most this often, when a key
  // it would purge is in a generation (which it must otherwise skip: a key
  // written all the time always is). Default 1,000 ms.
  uint64_t purge_flush_interval_ms = 1'000;
  // Write every unwritten object when the replica is destroyed, so the next
  // open replays nothing. Tests set false to play a crash. Default true.
  bool flush_at_close = true;
};

// What a commit produced, for replication.
struct CommitResult {
  // This cycle's local deltas joined by key, to push to peers; empty when
  // the cycle had no local write.
  std::optional<DeltaInterval> local;
  // Remote intervals applied in this cycle (for observers, e.g. subscriptions).
  std::vector<DeltaInterval> remote;
};

class Replica {
 public:
  enum class RemoteResult { kApplied, kDuplicate, kHeldForGap, kHeldForClock };
  using Mutation = std::function<StatusOr<Object>(Object& object, Stamp now)>;

  // REQUIRES: store and clock outlive the replica.
  Replica(Store* store, PhysicalClock* clock, ReplicaOptions options);
  // Writes the unwritten objects (flush_at_close) and saves the live-key
  // count for the next open (Store::SaveLiveKeys).
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  ReplicaId id() const { return id_; }
  // Everything joined so far, staged writes included.
  const VersionVector& version_vector() const { return vv_; }
  // What is durable: the vector as of the last successful Commit().
  const VersionVector& committed_version_vector() const { return committed_vv_; }
  HybridClock& clock() { return clock_; }
  PhysicalClock& physical_clock() { return *physical_; }

  // The object at `key` (an empty Object when absent), staged writes included.
  StatusOr<Object> Get(std::string_view key);
  // The same without a copy: the pointer stays valid until the next call that
  // changes this replica (Mutate, ApplyRemote, Commit, ...). A key absent
  // from the store is not cached (see Read in replica.cc).
  StatusOr<const Object*> Read(std::string_view key);

  // Objects in the cache, staged included (for tests and INFO).
  size_t cached_objects() const { return cache_.size(); }

  // Keys whose object is live, staged writes included (DBSIZE). Counted by a
  // scan at construction, then kept up to date by every change.
  uint64_t live_keys() const { return live_keys_; }

  // A local write: runs `mutation` on the key's object with a fresh HLC stamp.
  // On success the new object and its delta are staged; the mutation's error
  // otherwise, with nothing changed.
  Status Mutate(std::string_view key, const Mutation& mutation);

  // Joins a remote interval, or holds it (see the class comment).
  RemoteResult ApplyRemote(DeltaInterval interval);
  // Applies held intervals whose gap closed or whose time came.
  void RetryHeld();

  // Full-state transfer: joins a chunk of a peer's snapshot; after the last
  // chunk, FinishSnapshot(snapshot_vv) takes the snapshot's version vector.
  // The log cannot serve ranges it got this way: its floor rises to match.
  Status JoinSnapshotChunk(const std::vector<std::pair<std::string, Object>>& objects);
  void FinishSnapshot(const VersionVector& snapshot_vv);

  // Holds (RC.RESERVE) and idempotency records (IDEM), committed in the same
  // batch as the writes they go with. Holds are also indexed in memory:
  // there are few, and expiry is checked every tick.
  void StageHold(const HoldRecord& hold);
  void StageHoldRelease(const std::string& hold_id);
  const HoldRecord* FindHold(std::string_view hold_id) const;
  std::vector<HoldRecord> ExpiredHolds(uint64_t now_ms) const;
  size_t holds() const { return holds_.size(); }
  void StageIdempotency(const IdempotencyRecord& record);
  StatusOr<std::optional<IdempotencyRecord>> FindIdempotency(const std::string& key) const;

  bool HasStaged() const {
    return !staged_.empty() || !staged_erase_.empty() || staged_local_ ||
           !staged_remote_.empty() || !staged_holds_.empty() || !staged_hold_releases_.empty() ||
           !staged_idem_.empty();
  }
  // Writes everything staged as one batch. On failure nothing staged is kept
  // (the cache forgets the staged keys, the vector and seq go back) and the
  // error is returned: the node fails the writes of this cycle.
  StatusOr<CommitResult> Commit();

  // Writes every committed object still unwritten (deferred writes), so that
  // the store's objects are the committed state; with its mark caught up.
  // REQUIRES: nothing staged (commit first), else FailedPrecondition.
  Status FlushObjects();
  // A snapshot of the committed state: the store's, with the unwritten
  // objects laid over it (nothing is written). For readers that go around
  // the cache (SCAN, DEBUG DIGEST); same REQUIRES. Valid until the replica
  // next changes (a Mutate, ApplyRemote, Commit, ...): read it at once.
  StatusOr<std::unique_ptr<ObjectSnapshot>> SnapshotObjects();
  // Committed objects the store does not have yet (INFO).
  size_t unwritten_objects() const { return unwritten_; }

  // DEBUG DIGEST: the 40-hex digest of the committed live state (crdt/digest.h),
  // read from one SnapshotObjects (same REQUIRES).
  StatusOr<std::string> Digest();

  // Origins with intervals held for the clock bound, and how far ahead (ms).
  std::map<ReplicaId, uint64_t> HeldForClock() const;
  size_t held_intervals() const;

  // Drops tombstones stamped below `bound` from up to `max_keys` objects,
  // resuming where the previous call stopped; objects that become empty are
  // erased. Returns the tombstones dropped. Staged work is committed first.
  StatusOr<size_t> PurgeStep(Stamp bound, size_t max_keys);

 private:
  using Entry = ObjectCache::Entry;
  // Caches `loaded` at `key`, `stored` if the store holds the key;
  // staged keys are never evicted to make room.
  Entry& Cached(std::string_view key, Object loaded, bool stored);
  // FailedPrecondition when writes are staged: FlushObjects and
  // SnapshotObjects read or write the committed state only.
  Status RequireNothingStaged(std::string_view what) const;
  // The cache entry of `key`, loaded (or created empty) if not cached: for a
  // change, which stages the key.
  StatusOr<Entry*> Writable(std::string_view key);
  void LoadHolds();
  // Before the first change of an entry in a cycle: an unwritten entry holds
  // committed state the store lacks, so a failed commit must not drop it;
  // its committed object is kept to go back to.
  void Changing(Entry* entry);
  // Takes an entry out of the generations (a failed commit that cannot
  // reload it). Linear in their size; only on that path.
  void Unlist(Entry* entry);
  // Marks the entry's key written this cycle and joins `delta` into its
  // staged delta; `delta` nullopt: put whole (a purge, not a join).
  // `write_now`: never deferred (a snapshot chunk, which the log lacks).
  void Stage(Entry* entry, std::optional<Object> delta, bool write_now = false);
  // Takes the sorted generation when its sort is done (`wait`: waits).
  void AdoptSorted(bool wait);
  // Closes the open generation when it is due and the last one is written.
  void MaybeCloseGeneration();
  // A failed commit: undoes what it changed in the cache and the vector.
  void UndoCommit(size_t open_before);
  // Puts back the objects Changing kept (a failed or abandoned cycle).
  void RestoreCommittedObjects();
  // Forgets everything staged (after a commit, failed or not).
  void ClearStaged();
  // Whether Commit() writes this (cached, staged) object as a merge.
  bool CommitsAsMerge(const Object& object) const;
  void Hold(DeltaInterval interval, bool for_clock);
  void JoinInterval(const DeltaInterval& interval);

  Store* store_;
  PhysicalClock* physical_;
  ReplicaOptions options_;
  HybridClock clock_;
  ReplicaId id_;
  VersionVector vv_;
  VersionVector committed_vv_;
  VersionVector snapshot_floor_;  // staged log-floor raise from a snapshot

  ObjectCache cache_;
  // The keys written this cycle, in the order first written: each one's
  // cache entry, pinned with its 1-based position here (so staged entries
  // are never evicted and the pointer holds until Commit), and the join of
  // its deltas this cycle (cached == stored joined with it). A key without
  // one (purged, which is not a join) is put whole.
  struct StagedKey {
    Entry* entry = nullptr;
    std::optional<Object> delta;
    bool write_now = false;
  };
  std::vector<StagedKey> staged_;

  // Deferred writes. Entry::pin: the low bits are the staged position, and
  // the flags below. An entry with any of them stays pinned.
  static constexpr uint32_t kStagedMask = (1u << 28) - 1;
  static constexpr uint32_t kOpenBit = 1u << 28;       // in open_
  static constexpr uint32_t kFlushingBit = 1u << 29;   // in the flushing generation
  static constexpr uint32_t kUnwrittenBit = 1u << 30;  // cached object ahead of the store
  static constexpr uint32_t kSliceBit = 1u << 31;      // in this commit's slice
  static constexpr uint32_t kListed = kOpenBit | kFlushingBit;
  std::vector<Entry*> open_;       // keys committed since the last close
  uint64_t open_since_ms_ = 0;     // when its first key came
  std::vector<Entry*> flushing_;   // the closed generation, by key
  size_t flushed_ = 0;             // flushing_[0, flushed_) written
  VersionVector flushing_vv_;      // the committed vector when it closed
  std::future<std::vector<Entry*>> sorting_;  // the closed generation, being sorted
  size_t unwritten_ = 0;           // entries with kUnwrittenBit
  // Every committed delta at or below it is in the store's objects; and what
  // the store was last told (nullopt: caught up, no mark recorded).
  VersionVector mark_;
  std::optional<VersionVector> recorded_mark_;
  // Committed objects of the unwritten entries changed this cycle
  // (Changing), to go back to if the commit fails.
  std::vector<std::pair<Entry*, Object>> rollback_;
  // The pins a commit changed, as they were (undone if it fails); a member
  // so that a commit allocates nothing for it.
  std::vector<std::pair<Entry*, uint32_t>> pin_undo_;
  std::optional<DeltaInterval> staged_local_;
  std::vector<DeltaInterval> staged_remote_;
  std::vector<std::string> staged_erase_;

  // Held intervals, per origin by first seq; and those waiting on the clock.
  std::map<ReplicaId, std::multimap<uint64_t, DeltaInterval>> held_gap_;
  std::vector<DeltaInterval> held_clock_;
  size_t held_count_ = 0;

  std::map<std::string, HoldRecord, std::less<>> holds_;  // staged included
  std::vector<HoldRecord> staged_holds_;
  std::vector<std::string> staged_hold_releases_;
  std::map<std::string, IdempotencyRecord> staged_idem_;

  std::string purge_cursor_;
  uint64_t last_purge_flush_ms_ = 0;
  uint64_t live_keys_ = 0;
  uint64_t committed_live_keys_ = 0;
};

}  // namespace converge

#endif  // CONVERGE_CLUSTER_REPLICA_H_
