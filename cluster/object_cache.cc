#include "cluster/object_cache.h"

#include <algorithm>
#include <array>

namespace converge {

Object* ObjectCache::Find(std::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) return nullptr;
  it->second.referenced = true;
  return &it->second.object;
}

Object& ObjectCache::Insert(std::string_view key, Object object, const IsPinned& pinned) {
  if (map_.size() >= capacity_) {
    // One eviction makes room for this entry; more absorb an earlier
    // overshoot (a scan that met only pinned or referenced entries).
    const size_t over = map_.size() - capacity_ + 1;
    EvictSome(std::min(over, kMaxEvictPerInsert), pinned);
  }
  auto [it, inserted] = map_.try_emplace(std::string(key));
  Entry& entry = it->second;
  entry.object = std::move(object);
  if (!inserted) return entry.object;  // REQUIRES broken: keep the invariant
  // A new entry starts referenced, as a found one is: the object a caller
  // was just given survives the next inserts unless the hand laps the whole
  // ring (a cache of fewer than kMaxScan entries).
  entry.referenced = true;
  if (!free_slots_.empty()) {
    entry.slot = free_slots_.back();
    free_slots_.pop_back();
    ring_[entry.slot] = &*it;
  } else {
    entry.slot = ring_.size();
    ring_.push_back(&*it);
  }
  return entry.object;
}

void ObjectCache::EvictSome(size_t want, const IsPinned& pinned) {
  // Unpinned entries whose bit this scan cleared, in hand order: taken when
  // the scan met no unreferenced entry, so hits cannot push the cache over
  // capacity (a full CLOCK sweep would, but costs O(n) on one insert).
  std::array<Node*, kMaxEvictPerInsert> fallback{};
  size_t fallbacks = 0;
  size_t evicted = 0;
  // Each slot at most once: a node seen twice could be on `fallback` and
  // evicted already.
  const size_t budget = std::min(kMaxScan, ring_.size());
  for (size_t scanned = 0; scanned < budget && evicted < want; ++scanned) {
    if (hand_ >= ring_.size()) hand_ = 0;
    Node* node = ring_[hand_++];
    if (node == nullptr || pinned(node->first)) continue;
    if (node->second.referenced) {
      node->second.referenced = false;  // its second chance
      if (fallbacks < fallback.size()) fallback[fallbacks++] = node;
      continue;
    }
    EraseNode(map_.find(node->first));
    ++evicted;
  }
  for (size_t i = 0; i < fallbacks && evicted < want; ++i, ++evicted) {
    EraseNode(map_.find(fallback[i]->first));
  }
}

void ObjectCache::Erase(std::string_view key) {
  auto it = map_.find(key);
  if (it != map_.end()) EraseNode(it);
}

void ObjectCache::EraseNode(Map::iterator it) {
  ring_[it->second.slot] = nullptr;
  free_slots_.push_back(it->second.slot);
  map_.erase(it);
}

}  // namespace converge
