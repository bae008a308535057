// ObjectCache: the Replica's objects in memory, by key, with a bounded
// eviction cost per insert.
//
// Lookups take a string_view and allocate nothing (heterogeneous lookup).
// Eviction is CLOCK (second chance): every entry has a slot on a ring and a
// referenced bit, set when it is inserted or found; when the cache is at
// capacity, Insert advances the ring's hand over at most kMaxScan slots,
// clearing referenced bits and evicting an entry whose bit was already clear.
// If the scan meets only referenced entries, it evicts the first it passed
// (whose bit it just cleared) rather than sweep on. So one insert costs
// O(kMaxScan) however large the cache, where evicting half the cache at once
// stalled the apply strand and freed 100k objects in one burst.
//
// Pinned entries (the Replica's staged keys, which must stay until Commit)
// are never evicted; the owner pins an entry by setting Entry::pin. When kMaxScan slots in
// a row are pinned the cache goes over capacity for a while, and later
// inserts evict up to kMaxEvictPerInsert entries each to come back under it.
//
// The index is an open-addressing table (linear probing, deletion by
// backward shift, at most 3/4 full) of (hash, entry) pairs; an entry is one
// allocation holding the object and the key's bytes. A lookup so touches the
// table's slot and the entry, where a node-based std::unordered_map touched
// a bucket, the node before, the node and, for keys past 15 bytes, the
// string's heap block: the cache lookup was 12% of a write's CPU.
//
// Invariants: every entry is in table_ exactly once, on the probe path from
// its hash's home slot with no empty slot between; every entry has exactly
// one ring slot, and ring_[e.slot] points at e; a null ring slot is on
// free_slots_.
//
// References to objects stay valid until that entry is erased or evicted
// (by Erase, or by an Insert of another key). Thread-compatible.
#ifndef CONVERGE_CLUSTER_OBJECT_CACHE_H_
#define CONVERGE_CLUSTER_OBJECT_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/object.h"

namespace converge {

class ObjectCache {
 public:
  // Ring slots one insert may look at; bounds the eviction work per insert.
  static constexpr size_t kMaxScan = 32;
  // Entries one insert may evict, so an overshoot is absorbed gradually.
  static constexpr size_t kMaxEvictPerInsert = 2;

  // One cached key. Allocated with the key's bytes right after it, so it
  // never moves (the ring and callers hold its address) and comparing a key
  // reads the cache line the lookup already touched.
  class Entry {
   public:
    Object object;
    // Nonzero: pinned, never evicted. The value is the owner's: the Replica
    // keeps a staged key's 1-based position in its list of staged keys.
    uint32_t pin = 0;
    // The owner's too: the Replica sets it once the store holds the key
    // (loaded from it, or committed), so that a deferred write never leaves
    // a key only in the cache (Replica::SnapshotObjects' overlay).
    bool stored = false;

    std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size_}; }

   private:
    friend class ObjectCache;
    Entry(Object o, size_t hash, uint32_t key_size)
        : object(std::move(o)), hash_(hash), key_size_(key_size) {}

    size_t hash_;
    uint32_t key_size_;
    uint32_t slot_ = 0;  // in ring_
    bool referenced_ = false;
  };

  // REQUIRES: capacity > 0.
  explicit ObjectCache(size_t capacity);
  ~ObjectCache();
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;

  // The cached entry, or nullptr; marks it recently used.
  Entry* Find(std::string_view key);
  // The same without marking it (a reader's look that must not keep it).
  const Entry* Peek(std::string_view key) const;
  // Caches `object` at `key` (which must be absent), evicting first if the
  // cache is at capacity; pinned entries stay.
  Entry& Insert(std::string_view key, Object object);
  // Forgets `key` if cached.
  void Erase(std::string_view key);
  // Forgets a cached entry (pinned or not); `e` is invalid afterwards.
  void Erase(Entry* e);

  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

 private:
  struct Bucket {
    size_t hash = 0;
    Entry* entry = nullptr;  // null: empty
  };

  static size_t Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }
  static Entry* NewEntry(std::string_view key, size_t hash, Object object);
  static void DeleteEntry(Entry* e);

  // The bucket holding `key`, or the empty bucket where its probe ended.
  size_t Probe(std::string_view key, size_t hash) const;
  // Doubles the table.
  void Grow();
  // Empties bucket i, moving later entries of its probe run back (no
  // tombstones, so probes stay short however many erases).
  void EraseBucket(size_t i);
  // Advances the hand over at most kMaxScan slots; evicts up to `want`
  // unpinned, unreferenced entries.
  void EvictSome(size_t want);

  size_t capacity_;
  size_t size_ = 0;
  std::vector<Bucket> table_;  // size a power of two
  size_t mask_ = 0;
  std::vector<Entry*> ring_;
  std::vector<uint32_t> free_slots_;
  size_t hand_ = 0;
};

}  // namespace converge

#endif  // CONVERGE_CLUSTER_OBJECT_CACHE_H_
