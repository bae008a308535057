#include "cluster/object_cache.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <new>

namespace converge {

namespace {

constexpr size_t kInitialBuckets = 16;

}  // namespace

ObjectCache::ObjectCache(size_t capacity)
    : capacity_(capacity), table_(kInitialBuckets), mask_(kInitialBuckets - 1) {}

ObjectCache::~ObjectCache() {
  for (const Bucket& b : table_) {
    if (b.entry != nullptr) DeleteEntry(b.entry);
  }
}

ObjectCache::Entry* ObjectCache::NewEntry(std::string_view key, size_t hash, Object object) {
  void* mem = ::operator new(sizeof(Entry) + key.size());
  Entry* e = new (mem) Entry(std::move(object), hash, static_cast<uint32_t>(key.size()));
  if (!key.empty()) std::memcpy(reinterpret_cast<char*>(e + 1), key.data(), key.size());
  return e;
}

void ObjectCache::DeleteEntry(Entry* e) {
  e->~Entry();
  ::operator delete(e);
}

size_t ObjectCache::Probe(std::string_view key, size_t hash) const {
  size_t i = hash & mask_;
  for (;;) {
    const Bucket& b = table_[i];
    if (b.entry == nullptr || (b.hash == hash && b.entry->key() == key)) return i;
    i = (i + 1) & mask_;  // terminates: the table is never full
  }
}

void ObjectCache::Grow() {
  std::vector<Bucket> old = std::move(table_);
  table_.assign(old.size() * 2, Bucket{});
  mask_ = table_.size() - 1;
  for (const Bucket& b : old) {
    if (b.entry == nullptr) continue;
    size_t i = b.hash & mask_;
    while (table_[i].entry != nullptr) i = (i + 1) & mask_;
    table_[i] = b;
  }
}

void ObjectCache::EraseBucket(size_t i) {
  // Backward shift: walk the run after i; an entry whose home slot does not
  // lie cyclically in (i, j] would be unreachable past the hole, so it moves
  // into the hole and the hole moves to j.
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask_;
    if (table_[j].entry == nullptr) break;
    const size_t home = table_[j].hash & mask_;
    const bool home_in_run = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (!home_in_run) {
      table_[i] = table_[j];
      i = j;
    }
  }
  table_[i] = Bucket{};
}

ObjectCache::Entry* ObjectCache::Find(std::string_view key) {
  Entry* e = table_[Probe(key, Hash(key))].entry;
  if (e != nullptr) e->referenced_ = true;
  return e;
}

const ObjectCache::Entry* ObjectCache::Peek(std::string_view key) const {
  return table_[Probe(key, Hash(key))].entry;
}

ObjectCache::Entry& ObjectCache::Insert(std::string_view key, Object object) {
  const size_t hash = Hash(key);
  if (Entry* present = table_[Probe(key, hash)].entry) {
    present->object = std::move(object);  // REQUIRES broken: keep the invariants
    return *present;
  }
  if (size_ >= capacity_) {
    // One eviction makes room for this entry; more absorb an earlier
    // overshoot (a scan that met only pinned or referenced entries).
    const size_t over = size_ - capacity_ + 1;
    EvictSome(std::min(over, kMaxEvictPerInsert));
  }
  if ((size_ + 1) * 4 > table_.size() * 3) Grow();
  Entry* e = NewEntry(key, hash, std::move(object));
  table_[Probe(key, hash)] = Bucket{hash, e};
  ++size_;
  // A new entry starts referenced, as a found one is: the object a caller
  // was just given survives the next inserts unless the hand laps the whole
  // ring (a cache of fewer than kMaxScan entries).
  e->referenced_ = true;
  if (!free_slots_.empty()) {
    e->slot_ = free_slots_.back();
    free_slots_.pop_back();
    ring_[e->slot_] = e;
  } else {
    e->slot_ = static_cast<uint32_t>(ring_.size());
    ring_.push_back(e);
  }
  return *e;
}

void ObjectCache::EvictSome(size_t want) {
  // Unpinned entries whose bit this scan cleared, in hand order: taken when
  // the scan met no unreferenced entry, so hits cannot push the cache over
  // capacity (a full CLOCK sweep would, but costs O(n) on one insert).
  std::array<Entry*, kMaxEvictPerInsert> fallback{};
  size_t fallbacks = 0;
  size_t evicted = 0;
  // Each slot at most once: an entry seen twice could be on `fallback` and
  // evicted already.
  const size_t budget = std::min(kMaxScan, ring_.size());
  for (size_t scanned = 0; scanned < budget && evicted < want; ++scanned) {
    if (hand_ >= ring_.size()) hand_ = 0;
    Entry* e = ring_[hand_++];
    if (e == nullptr || e->pin != 0) continue;
    if (e->referenced_) {
      e->referenced_ = false;  // its second chance
      if (fallbacks < fallback.size()) fallback[fallbacks++] = e;
      continue;
    }
    Erase(e);
    ++evicted;
  }
  for (size_t i = 0; i < fallbacks && evicted < want; ++i, ++evicted) Erase(fallback[i]);
}

void ObjectCache::Erase(std::string_view key) {
  Entry* e = table_[Probe(key, Hash(key))].entry;
  if (e != nullptr) Erase(e);
}

void ObjectCache::Erase(Entry* e) {
  size_t i = e->hash_ & mask_;
  while (table_[i].entry != e) i = (i + 1) & mask_;  // e is on its probe run
  EraseBucket(i);
  ring_[e->slot_] = nullptr;
  free_slots_.push_back(e->slot_);
  --size_;
  DeleteEntry(e);
}

}  // namespace converge
