// FlatMap: a map kept as one sorted vector of (key, value) pairs, for the
// small per-replica maps of a CRDT (a counter has an entry per replica that
// wrote it: one to a few). A lookup or a walk reads one contiguous block
// where a std::map chases a heap node per entry; INCR reads a counter's maps
// several times per write (PNCounter::Live was 3% of its CPU on std::map).
//
// Only what the CRDTs use: ordered iteration, find, operator[], equality.
// Inserting a new key is O(n), fine at these sizes.
//
// Its canonical encoding (crdt/internal/archive.h) is a std::map's: the count,
// then each key and value in key order; decoding refuses keys out of order or
// repeated, as for std::map.
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_INTERNAL_FLAT_MAP_H_
#define CONVERGE_CRDT_INTERNAL_FLAT_MAP_H_

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <utility>
#include <vector>

namespace converge::internal {

template <class K, class V>
class FlatMap {
 public:
  using value_type = std::pair<K, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  FlatMap() = default;
  // REQUIRES: keys distinct (any order).
  FlatMap(std::initializer_list<value_type> entries) : entries_(entries) {
    std::sort(entries_.begin(), entries_.end(), ByKey);
  }

  iterator begin() { return entries_.begin(); }
  iterator end() { return entries_.end(); }
  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  void clear() { entries_.clear(); }

  iterator find(const K& key) {
    auto it = LowerBound(key);
    return it != entries_.end() && it->first == key ? it : entries_.end();
  }
  const_iterator find(const K& key) const {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), key, KeyBelow);
    return it != entries_.end() && it->first == key ? it : entries_.end();
  }

  // The value at `key`, inserted value-initialized if absent.
  V& operator[](const K& key) {
    auto it = LowerBound(key);
    if (it == entries_.end() || it->first != key) it = entries_.emplace(it, key, V{});
    return it->second;
  }

  // For decoders: appends an entry whose key is above every key present.
  // Returns false (and changes nothing) when it is not.
  bool AppendInOrder(K key, V value) {
    if (!entries_.empty() && !(entries_.back().first < key)) return false;
    entries_.emplace_back(std::move(key), std::move(value));
    return true;
  }

  bool operator==(const FlatMap&) const = default;

 private:
  static bool ByKey(const value_type& a, const value_type& b) { return a.first < b.first; }
  static bool KeyBelow(const value_type& e, const K& key) { return e.first < key; }
  iterator LowerBound(const K& key) {
    return std::lower_bound(entries_.begin(), entries_.end(), key, KeyBelow);
  }

  std::vector<value_type> entries_;  // sorted by key, keys distinct
};

}  // namespace converge::internal

#endif  // CONVERGE_CRDT_INTERNAL_FLAT_MAP_H_
