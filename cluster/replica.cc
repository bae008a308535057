// Replica: reads, local and remote writes, holds, snapshots and the purge
// (the commit and the deferred object writes are in replica_commit.cc).
#include "cluster/replica.h"

#include <algorithm>
#include <utility>

#include "crdt/digest.h"

namespace converge {

Replica::Replica(Store* store, PhysicalClock* clock, ReplicaOptions options)
    : store_(store),
      physical_(clock),
      options_(options),
      clock_(clock, options.max_clock_offset_ms),
      id_(store->replica_id()),
      vv_(store->version_vector()),
      committed_vv_(vv_),
      cache_(std::max<size_t>(options.max_cached_objects, 1)),
      mark_(vv_) {  // the store's open replayed whatever its objects lacked
  // A restart never issues a timestamp at or below one it issued before.
  clock_.Restore(store->hlc_high_water());
  // The count a clean close left saves decoding every object; after a crash
  // (or anything applied since the open) it is counted again.
  if (std::optional<uint64_t> saved = store_->live_keys_at_open()) {
    live_keys_ = *saved;
  } else {
    StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store_->SnapshotObjects();
    if (snap.ok()) {
      for ((*snap)->SeekToFirst(); (*snap)->Valid(); (*snap)->Next()) {
        StatusOr<Object> o = (*snap)->object();
        if (o.ok() && o->Live()) ++live_keys_;
      }
    }
  }
  committed_live_keys_ = live_keys_;
  LoadHolds();
}

Replica::~Replica() {
  // Staged writes were never committed: they are dropped (the committed
  // objects of the generations' entries come back; the others are never
  // written), and the committed objects written, so the next open replays
  // nothing. A failure only costs that open a replay.
  RestoreCommittedObjects();
  for (const StagedKey& staged : staged_) staged.entry->pin &= ~kStagedMask;
  ClearStaged();
  if (options_.flush_at_close) FlushObjects().IgnoreError();
  AdoptSorted(/*wait=*/true);  // no sort outlives the entries it reads
  // The committed count is what the store holds. A failure only costs the
  // next start a scan.
  store_->SaveLiveKeys(committed_live_keys_, committed_vv_).IgnoreError();
}

void Replica::LoadHolds() {
  holds_.clear();
  StatusOr<std::vector<HoldRecord>> holds = store_->ListHolds();
  // A damaged hold record is left on disk (ListHolds names it); the others
  // still load.
  if (!holds.ok()) return;
  for (auto& h : *holds) holds_.emplace(h.hold_id, std::move(h));
}

void Replica::StageHold(const HoldRecord& hold) {
  holds_[hold.hold_id] = hold;
  staged_holds_.push_back(hold);
}

void Replica::StageHoldRelease(const std::string& hold_id) {
  holds_.erase(hold_id);
  staged_hold_releases_.push_back(hold_id);
}

const HoldRecord* Replica::FindHold(std::string_view hold_id) const {
  auto it = holds_.find(hold_id);
  return it == holds_.end() ? nullptr : &it->second;
}

std::vector<HoldRecord> Replica::ExpiredHolds(uint64_t now_ms) const {
  std::vector<HoldRecord> out;
  for (const auto& [id, h] : holds_) {
    if (h.expiry_ms <= now_ms) out.push_back(h);
  }
  return out;
}

void Replica::StageIdempotency(const IdempotencyRecord& record) {
  staged_idem_[record.idem_key] = record;
}

StatusOr<std::optional<IdempotencyRecord>> Replica::FindIdempotency(const std::string& key) const {
  auto it = staged_idem_.find(key);
  if (it != staged_idem_.end()) return std::optional<IdempotencyRecord>(it->second);
  return store_->GetIdempotency(key);
}

ObjectCache::Entry& Replica::Cached(std::string_view key, Object loaded, bool stored) {
  // Staged entries are pinned: Commit() writes them from the cache.
  Entry& e = cache_.Insert(key, std::move(loaded));
  e.stored = stored;
  return e;
}

StatusOr<ObjectCache::Entry*> Replica::Writable(std::string_view key) {
  if (Entry* cached = cache_.Find(key)) return cached;
  StatusOr<std::optional<Object>> loaded = store_->GetObject(key);
  if (!loaded.ok()) return loaded.status();
  const bool stored = loaded->has_value();
  return &Cached(key, std::move(*loaded).value_or(Object()), stored);
}

StatusOr<Object> Replica::Get(std::string_view key) {
  StatusOr<const Object*> o = Read(key);
  if (!o.ok()) return o.status();
  return **o;
}

StatusOr<const Object*> Replica::Read(std::string_view key) {
  if (const Entry* cached = cache_.Find(key)) return &cached->object;
  StatusOr<std::optional<Object>> loaded = store_->GetObject(key);
  if (!loaded.ok()) return loaded.status();
  // An absent key is not cached: GETs of random missing keys would fill the
  // cache with empty objects and evict live ones, and the store answers a
  // miss from its bloom filters without reading a block. The empty object
  // is immutable, so the pointer stays valid for as long as promised.
  if (!loaded->has_value()) {
    static const Object* const kAbsent = new Object();
    return kAbsent;
  }
  return &Cached(key, std::move(**loaded), /*stored=*/true).object;
}

void Replica::Stage(Entry* entry, std::optional<Object> delta, bool write_now) {
  const uint32_t position = entry->pin & kStagedMask;
  if (position == 0) {
    staged_.push_back(StagedKey{entry, std::move(delta), write_now});
    entry->pin |= static_cast<uint32_t>(staged_.size());
    return;
  }
  StagedKey& staged = staged_[position - 1];
  staged.write_now |= write_now;
  if (!delta) {
    staged.delta.reset();  // put whole from now on
  } else if (staged.delta) {
    staged.delta->Join(*delta);
  }
  // else: put whole already (purged this cycle), which includes the delta
}

bool Replica::CommitsAsMerge(const Object& object) const {
  const LwwMap* hash = object.As<LwwMap>();
  const size_t elements = hash != nullptr ? std::max<size_t>(hash->fields().size(), 1) : 1;
  return elements > options_.merge_above_fields;
}

Status Replica::Mutate(std::string_view key, const Mutation& mutation) {
  StatusOr<Entry*> writable = Writable(key);
  if (!writable.ok()) return writable.status();
  Entry* entry = *writable;
  Object* object = &entry->object;
  const Stamp now{clock_.Now(), id_};
  const bool was_live = object->Live();
  Changing(entry);
  StatusOr<Object> delta = mutation(*object, now);
  if (!delta.ok()) return delta.status();
  live_keys_ += object->Live() - was_live;
  const uint64_t seq = vv_.Get(id_) + 1;
  vv_.Set(id_, seq);
  Stage(entry, *delta);
  Delta d{id_, seq, now.ts, std::string(key), std::move(*delta)};
  if (staged_local_) {
    Status st = staged_local_->Append(std::move(d));
    if (!st.ok()) return InternalError("local delta out of sequence: " + st.message());
  } else {
    staged_local_.emplace(d);
  }
  return Status::Ok();
}

void Replica::JoinInterval(const DeltaInterval& interval) {
  for (const auto& [key, delta] : interval.objects()) {
    Entry* entry = cache_.Find(key);
    if (entry == nullptr) {
      StatusOr<std::optional<Object>> loaded = store_->GetObject(key);
      // A key whose stored bytes are damaged is rebuilt from the join rather
      // than blocking replication of everything else; the damage itself is
      // reported by the store's reads elsewhere.
      const bool stored = loaded.ok() && loaded->has_value();
      entry = &Cached(key, stored ? std::move(**loaded) : Object(), stored);
    }
    const bool was_live = entry->object.Live();
    Changing(entry);
    entry->object.Join(delta);
    live_keys_ += entry->object.Live() - was_live;
    Stage(entry, delta);
  }
}

void Replica::Hold(DeltaInterval interval, bool for_clock) {
  if (held_count_ >= options_.max_held_intervals) {
    // Drop the oldest gap-held interval first: anti-entropy fetches it again.
    for (auto& [origin, by_first] : held_gap_) {
      if (!by_first.empty()) {
        by_first.erase(by_first.begin());
        --held_count_;
        break;
      }
    }
    if (held_count_ >= options_.max_held_intervals && !held_clock_.empty()) {
      held_clock_.erase(held_clock_.begin());
      --held_count_;
    }
  }
  ++held_count_;
  if (for_clock) {
    held_clock_.push_back(std::move(interval));
  } else {
    const uint64_t first = interval.first();
    held_gap_[interval.origin()].emplace(first, std::move(interval));
  }
}

Replica::RemoteResult Replica::ApplyRemote(DeltaInterval interval) {
  const ReplicaId origin = interval.origin();
  const uint64_t have = vv_.Get(origin);
  if (interval.last() <= have) return RemoteResult::kDuplicate;
  if (interval.first() > have + 1) {
    Hold(std::move(interval), /*for_clock=*/false);
    return RemoteResult::kHeldForGap;
  }
  if (!clock_.Update(interval.max_ts()).ok()) {
    Hold(std::move(interval), /*for_clock=*/true);
    return RemoteResult::kHeldForClock;
  }
  JoinInterval(interval);
  vv_.Set(origin, interval.last());
  staged_remote_.push_back(std::move(interval));

  // Intervals of this origin that were waiting on this one.
  auto held = held_gap_.find(origin);
  while (held != held_gap_.end() && !held->second.empty() &&
         held->second.begin()->first <= vv_.Get(origin) + 1) {
    DeltaInterval next = std::move(held->second.begin()->second);
    held->second.erase(held->second.begin());
    --held_count_;
    ApplyRemote(std::move(next));
    held = held_gap_.find(origin);
  }
  return RemoteResult::kApplied;
}

void Replica::RetryHeld() {
  std::vector<DeltaInterval> retry = std::move(held_clock_);
  held_clock_.clear();
  for (auto& [origin, by_first] : held_gap_) {
    for (auto it = by_first.begin(); it != by_first.end();) {
      if (it->first <= vv_.Get(origin) + 1) {
        retry.push_back(std::move(it->second));
        it = by_first.erase(it);
      } else {
        ++it;
      }
    }
  }
  held_count_ -= retry.size();
  for (auto& interval : retry) ApplyRemote(std::move(interval));
}

std::map<ReplicaId, uint64_t> Replica::HeldForClock() const {
  std::map<ReplicaId, uint64_t> out;
  const uint64_t now = physical_->NowMillis();
  for (const auto& interval : held_clock_) {
    const uint64_t ahead = interval.max_ts().physical() > now ? interval.max_ts().physical() - now : 0;
    uint64_t& worst = out[interval.origin()];
    worst = std::max(worst, ahead);
  }
  return out;
}

size_t Replica::held_intervals() const { return held_count_; }

StatusOr<std::string> Replica::Digest() {
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = SnapshotObjects();
  if (!snap.ok()) return snap.status();
  StateDigest digest;
  ObjectSnapshot& it = **snap;
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    StatusOr<Object> o = it.object();
    if (!o.ok()) return o.status();
    digest.Add(it.key(), *o);
  }
  CONVERGE_RETURN_IF_ERROR(it.status());
  return digest.HexDigest();
}

Status Replica::JoinSnapshotChunk(const std::vector<std::pair<std::string, Object>>& objects) {
  for (const auto& [key, object] : objects) {
    StatusOr<Entry*> writable = Writable(key);
    if (!writable.ok()) return writable.status();
    Object& cached = (*writable)->object;
    const bool was_live = cached.Live();
    Changing(*writable);
    cached.Join(object);
    live_keys_ += cached.Live() - was_live;
    // Written with the commit: the log has no entry to replay it from.
    Stage(*writable, object, /*write_now=*/true);
  }
  return Status::Ok();
}

void Replica::FinishSnapshot(const VersionVector& snapshot_vv) {
  for (const auto& [origin, seq] : snapshot_vv.entries()) {
    if (seq > vv_.Get(origin)) {
      snapshot_floor_.Set(origin, seq);  // this log never held that range
      vv_.Set(origin, seq);
    }
  }
  RetryHeld();
}

StatusOr<size_t> Replica::PurgeStep(Stamp bound, size_t max_keys) {
  if (HasStaged()) {
    StatusOr<CommitResult> c = Commit();
    if (!c.ok()) return c.status();
  }
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store_->SnapshotObjects();
  if (!snap.ok()) return snap.status();
  ObjectSnapshot& it = **snap;
  it.Seek(purge_cursor_);
  size_t dropped = 0, seen = 0;
  for (; it.Valid() && seen < max_keys; it.Next(), ++seen) {
    const std::string key(it.key());
    StatusOr<Object> current = Get(key);
    if (!current.ok()) continue;  // damaged bytes: leave them for the operator
    const size_t before = current->Tombstones();
    Object purged = *current;
    const bool drop = purged.Purge(bound);
    if (!drop && purged.Tombstones() == before) continue;
    // A key of a generation has log entries above the store's mark, which a
    // replay would join onto the purged object. Either everything is written
    // first (which empties the generations), or the key waits for a later pass.
    if (const Entry* e = cache_.Find(key); e != nullptr && (e->pin & kListed) != 0) {
      const uint64_t now_ms = physical_->NowMillis();
      if (now_ms - std::min(now_ms, last_purge_flush_ms_) < options_.purge_flush_interval_ms) {
        continue;
      }
      last_purge_flush_ms_ = now_ms;
      if (HasStaged()) {
        StatusOr<CommitResult> c = Commit();
        if (!c.ok()) return c.status();
      }
      CONVERGE_RETURN_IF_ERROR(FlushObjects());
    }
    if (drop) {
      cache_.Erase(key);
      staged_erase_.push_back(key);
      dropped += std::max<size_t>(before, 1);
    } else if (purged.Tombstones() < before) {
      // Staged without a delta, so Commit() puts it whole: the purge is not
      // a join of what is stored, and a merge would keep the tombstones.
      // (Nothing else is staged: Commit() ran above.)
      StatusOr<Entry*> writable = Writable(key);
      if (!writable.ok()) return writable.status();
      Changing(*writable);
      dropped += before - purged.Tombstones();
      (*writable)->object = std::move(purged);
      Stage(*writable, std::nullopt);
    }
  }
  purge_cursor_ = it.Valid() ? std::string(it.key()) : std::string();
  if (!staged_.empty() || !staged_erase_.empty()) {
    StatusOr<CommitResult> c = Commit();
    if (!c.ok()) return c.status();
  }
  return dropped;
}

}  // namespace converge
