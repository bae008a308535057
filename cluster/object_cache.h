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
// are never evicted; the caller says which they are. When kMaxScan slots in
// a row are pinned the cache goes over capacity for a while, and later
// inserts evict up to kMaxEvictPerInsert entries each to come back under it.
//
// Invariants: every entry has exactly one ring slot, and ring_[e.slot] points
// at e; a null slot is on free_slots_.
//
// References to objects stay valid until that entry is erased or evicted
// (by Erase, or by an Insert of another key). Thread-compatible.
#ifndef CONVERGE_CLUSTER_OBJECT_CACHE_H_
#define CONVERGE_CLUSTER_OBJECT_CACHE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
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

  using IsPinned = std::function<bool(std::string_view key)>;

  // Heterogeneous lookup: find(string_view) without building a std::string
  // (also for the Replica's staged keys).
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };

  // REQUIRES: capacity > 0.
  explicit ObjectCache(size_t capacity) : capacity_(capacity) {}
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;

  // The cached object, or nullptr; marks it recently used.
  Object* Find(std::string_view key);
  // Caches `object` at `key` (which must be absent), evicting first if the
  // cache is at capacity; entries for which `pinned` is true stay.
  Object& Insert(std::string_view key, Object object, const IsPinned& pinned);
  // Forgets `key` if cached.
  void Erase(std::string_view key);

  size_t size() const { return map_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    Object object;
    size_t slot = 0;
    bool referenced = false;
  };
  using Map = std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>>;
  // Elements of a node-based map keep their address across rehashes, so the
  // ring may point at them.
  using Node = Map::value_type;

  // Advances the hand over at most kMaxScan slots; evicts up to `want`
  // unpinned, unreferenced entries.
  void EvictSome(size_t want, const IsPinned& pinned);
  void EraseNode(Map::iterator it);

  size_t capacity_;
  Map map_;
  std::vector<Node*> ring_;
  std::vector<size_t> free_slots_;
  size_t hand_ = 0;
};

}  // namespace converge

#endif  // CONVERGE_CLUSTER_OBJECT_CACHE_H_
