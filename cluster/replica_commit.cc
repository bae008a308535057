// Replica: the commit, and the deferred object writes it carries out (the
// generations, their slices, the store's mark, FlushObjects, and going back
// to the committed objects when a commit fails); see the class comment. The
// rest of Replica is in replica.cc.
#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "cluster/replica.h"

namespace converge {

void Replica::Changing(Entry* entry) {
  // Only an unwritten object needs a copy: the store has the committed state
  // of any other, and a failed commit reloads it from there. (A large hash
  // written as merges is copied so at most until a slice writes it.)
  if ((entry->pin & kStagedMask) == 0 && (entry->pin & kUnwrittenBit) != 0) {
    rollback_.emplace_back(entry, entry->object);
  }
}

void Replica::Unlist(Entry* entry) {
  AdoptSorted(/*wait=*/true);
  for (std::vector<Entry*>* list : {&open_, &flushing_}) {
    auto it = std::find(list->begin(), list->end(), entry);
    if (it == list->end()) continue;
    if (list == &flushing_ && static_cast<size_t>(it - list->begin()) < flushed_) --flushed_;
    list->erase(it);
  }
  if ((entry->pin & kUnwrittenBit) != 0) --unwritten_;
  entry->pin &= ~(kListed | kUnwrittenBit);
}

StatusOr<CommitResult> Replica::Commit() {
  CommitResult result;
  AdoptSorted(/*wait=*/false);
  const bool staged_any = HasStaged() || !snapshot_floor_.empty();
  pin_undo_.clear();
  auto set_pin = [this](Entry* e, uint32_t pin) {
    pin_undo_.emplace_back(e, e->pin);
    e->pin = pin;
  };
  size_t unwritten = unwritten_;

  // The slice: the next unwritten keys of the flushing generation, a little
  // more than this commit's own writes; 256 when nothing else is written
  // (the commits of read-only cycles and of the gossip tick: 2,048 cost GET
  // at -P 16 a p99 of 7.7 ms right after a write test).
  ApplyBatch batch;
  const size_t want = staged_any ? std::max<size_t>(staged_.size() * 5 / 4, 16) : 256;
  size_t next = flushed_;
  size_t sliced = 0;
  for (; next < flushing_.size() && sliced < want; ++next) {
    Entry* e = flushing_[next];
    if ((e->pin & kUnwrittenBit) == 0) continue;
    batch.objects.emplace_back(e->key(), e->object);
    set_pin(e, (e->pin & ~kUnwrittenBit) | kSliceBit);
    --unwritten;
    ++sliced;
  }
  if (!staged_any && sliced == 0 && next == flushed_) {
    MaybeCloseGeneration();
    return result;
  }

  const size_t open_before = open_.size();
  const uint64_t now_ms = physical_->NowMillis();
  for (StagedKey& staged : staged_) {
    Entry* e = staged.entry;
    const std::string_view key = e->key();
    uint32_t pin = e->pin;
    if ((pin & kSliceBit) != 0) {
      // Put whole by the slice, this cycle's change included.
    } else if (staged.delta && CommitsAsMerge(e->object) && (pin & kUnwrittenBit) == 0) {
      // Moved: staged_ is cleared below whatever Apply returns. (An object
      // that grew large while unwritten is put whole once, below: kept
      // unwritten, every change would copy it for the rollback.)
      batch.merged_objects.emplace_back(key, std::move(*staged.delta));
    } else if (staged.delta && CommitsAsMerge(e->object)) {
      batch.objects.emplace_back(key, e->object);
      --unwritten;
      pin &= ~kUnwrittenBit;
    } else if (staged.delta && !staged.write_now && options_.defer_object_writes && e->stored) {
      if ((pin & kUnwrittenBit) == 0) ++unwritten;
      pin |= kUnwrittenBit;
    } else {
      // Also a key new to the store: put at once, deferred from its next
      // write on, so that the store has every key (SnapshotObjects overlays
      // the unwritten objects on the store's keys).
      batch.objects.emplace_back(key, e->object);
      if ((pin & kUnwrittenBit) != 0) --unwritten;
      pin &= ~kUnwrittenBit;
    }
    // Every committed key is in the open generation: its log entry is above
    // the mark until the generation is written (PurgeStep's rule).
    if ((pin & kOpenBit) == 0) {
      if (open_.empty()) open_since_ms_ = now_ms;
      open_.push_back(e);
      pin |= kOpenBit;
    }
    if (pin != e->pin) set_pin(e, pin);
  }
  // A key written after its purge dropped it is put, not erased: the write
  // is newer. (PurgeStep commits its drops at once, so this is a guard.)
  for (const std::string& key : staged_erase_) {
    const Entry* e = cache_.Find(key);
    if (e == nullptr || (e->pin & kStagedMask) == 0) batch.erased_objects.push_back(key);
  }
  // The intervals are moved into the batch and back out after it: the log
  // and the CommitResult want the same values, and a 1 MiB anti-entropy
  // answer is not worth a copy.
  batch.intervals = std::move(staged_remote_);
  const bool has_local = staged_local_.has_value();
  if (has_local) batch.intervals.push_back(std::move(*staged_local_));
  batch.version_vector = vv_;
  batch.hlc_high_water = clock_.Last();
  batch.put_holds = staged_holds_;
  batch.erased_holds = staged_hold_releases_;
  for (const auto& [key, record] : staged_idem_) batch.put_idempotency.push_back(record);
  if (!snapshot_floor_.empty()) batch.raise_log_floor = snapshot_floor_;

  // The mark after this batch: everything, when nothing is left unwritten;
  // at least the flushing generation's vector, when this slice ends it.
  const bool generation_written = !flushing_.empty() && next == flushing_.size();
  VersionVector mark = mark_;
  if (unwritten == 0) {
    mark = vv_;
  } else if (generation_written) {
    mark.Join(flushing_vv_);
  }
  std::optional<VersionVector> record;
  if (unwritten != 0) record = mark;
  if (record != recorded_mark_) batch.objects_vv = record ? *record : vv_;

  Status st = store_->Apply(batch);
  if (!st.ok()) {
    UndoCommit(open_before);
  } else {
    committed_vv_ = vv_;
    committed_live_keys_ = live_keys_;
    if (has_local) {
      result.local = std::move(batch.intervals.back());
      batch.intervals.pop_back();
    }
    result.remote = std::move(batch.intervals);
    for (const StagedKey& staged : staged_) {
      staged.entry->pin &= ~kStagedMask;
      staged.entry->stored = true;
    }
    for (const auto& [e, old] : pin_undo_) e->pin &= ~kSliceBit;
    unwritten_ = unwritten;
    flushed_ = next;
    mark_ = std::move(mark);
    recorded_mark_ = std::move(record);
    if (generation_written) {
      for (Entry* e : flushing_) e->pin &= ~kFlushingBit;
      flushing_.clear();
      flushed_ = 0;
    }
    MaybeCloseGeneration();
  }
  ClearStaged();
  if (!st.ok()) return st;
  return result;
}

// A commit failed: its flags, the generation it added to and the objects
// its cycle changed go back to what is committed.
void Replica::UndoCommit(size_t open_before) {
  for (auto it = pin_undo_.rbegin(); it != pin_undo_.rend(); ++it) it->first->pin = it->second;
  open_.resize(open_before);
  RestoreCommittedObjects();
  for (const StagedKey& staged : staged_) {
    Entry* e = staged.entry;
    e->pin &= ~kStagedMask;
    // Unwritten, its committed object is back (rollback_). Written, the
    // store has it: an entry in a generation reloads it (the generation
    // holds its address), any other is forgotten and loaded when read.
    if ((e->pin & kUnwrittenBit) != 0) continue;
    if ((e->pin & kListed) != 0) {
      StatusOr<std::optional<Object>> stored = store_->GetObject(e->key());
      if (stored.ok()) {
        e->stored = stored->has_value();
        e->object = std::move(*stored).value_or(Object());
        continue;
      }
      Unlist(e);
    }
    cache_.Erase(e);
  }
  for (const std::string& key : staged_erase_) cache_.Erase(key);
  vv_ = committed_vv_;
  live_keys_ = committed_live_keys_;
  LoadHolds();
}

void Replica::RestoreCommittedObjects() {
  // Latest change first, so an entry copied twice ends at its first copy.
  for (auto it = rollback_.rbegin(); it != rollback_.rend(); ++it) {
    it->first->object = std::move(it->second);
  }
  rollback_.clear();
}

void Replica::ClearStaged() {
  rollback_.clear();
  staged_.clear();
  staged_erase_.clear();
  staged_local_.reset();
  staged_remote_.clear();
  staged_holds_.clear();
  staged_hold_releases_.clear();
  staged_idem_.clear();
  snapshot_floor_ = VersionVector();
}

void Replica::AdoptSorted(bool wait) {
  if (!sorting_.valid()) return;
  if (!wait && sorting_.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return;
  flushing_ = sorting_.get();
  flushed_ = 0;
}

void Replica::MaybeCloseGeneration() {
  if (open_.empty() || !flushing_.empty() || sorting_.valid()) return;
  const uint64_t now_ms = physical_->NowMillis();
  if (open_.size() < options_.generation_keys &&
      now_ms - std::min(now_ms, open_since_ms_) < options_.generation_ms) {
    return;
  }
  for (Entry* e : open_) e->pin = (e->pin & ~kOpenBit) | kFlushingBit;
  flushing_vv_ = committed_vv_;
  auto by_key = [](const Entry* a, const Entry* b) { return a->key() < b->key(); };
  if (!options_.sort_off_strand) {
    flushing_ = std::move(open_);
    open_.clear();
    std::sort(flushing_.begin(), flushing_.end(), by_key);
    flushed_ = 0;
    return;
  }
  // Off the strand: 16k keys took ~2.5 ms to sort (bench/RESULTS.md), and a
  // generation holds up to eight times as many. The sort reads only the
  // keys' bytes, which never change, of entries pinned until the generation
  // is written.
  sorting_ = std::async(std::launch::async, [gen = std::move(open_), by_key]() mutable {
    std::sort(gen.begin(), gen.end(), by_key);
    return std::move(gen);
  });
  open_.clear();
}

Status Replica::RequireNothingStaged(std::string_view what) const {
  if (!HasStaged() && snapshot_floor_.empty()) return Status::Ok();
  return FailedPreconditionError("objects " + std::string(what) +
                                 " with writes staged: commit first");
}

Status Replica::FlushObjects() {
  CONVERGE_RETURN_IF_ERROR(RequireNothingStaged("flushed"));
  AdoptSorted(/*wait=*/true);
  std::vector<Entry*> unwritten;
  for (const std::vector<Entry*>* list : {&flushing_, &open_}) {
    for (Entry* e : *list) {
      if ((e->pin & kUnwrittenBit) != 0) unwritten.push_back(e);
    }
  }
  std::sort(unwritten.begin(), unwritten.end(),
            [](const Entry* a, const Entry* b) { return a->key() < b->key(); });
  unwritten.erase(std::unique(unwritten.begin(), unwritten.end()), unwritten.end());
  if (!unwritten.empty() || recorded_mark_) {
    ApplyBatch batch;
    for (Entry* e : unwritten) batch.objects.emplace_back(e->key(), e->object);
    batch.objects_vv = committed_vv_;
    CONVERGE_RETURN_IF_ERROR(store_->Apply(batch));
  }
  for (const std::vector<Entry*>* list : {&flushing_, &open_}) {
    for (Entry* e : *list) e->pin &= ~(kListed | kUnwrittenBit);
  }
  flushing_.clear();
  flushed_ = 0;
  open_.clear();
  unwritten_ = 0;
  mark_ = committed_vv_;
  recorded_mark_.reset();
  return Status::Ok();
}

StatusOr<std::unique_ptr<ObjectSnapshot>> Replica::SnapshotObjects() {
  CONVERGE_RETURN_IF_ERROR(RequireNothingStaged("snapshotted"));
  // No flush: writing a generation's backlog stalled the strand for as
  // long as its size (bench/RESULTS.md). The store has every key (Commit
  // puts a new one at once), so the unwritten objects overlay its values;
  // they are pinned, and change only when this replica does.
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store_->SnapshotObjects();
  if (!snap.ok() || unwritten_ == 0) return snap;
  (*snap)->SetOverlay(
      [this](std::string_view key) -> const Object* {
        const Entry* e = cache_.Peek(key);
        return e != nullptr && (e->pin & kUnwrittenBit) != 0 ? &e->object : nullptr;
      },
      committed_vv_);
  return snap;
}

}  // namespace converge
