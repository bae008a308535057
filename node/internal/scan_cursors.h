// ScanCursors: where each recent SCAN stopped, so the next call resumes there.
//
// A cursor is an opaque number this node handed out, naming the last key a
// SCAN call examined; the next call seeks just past it. So a full scan costs
// O(keys) in all, where a cursor that counted keys had each call walk (and
// decode) every key before its position: O(keys^2 / COUNT).
//
// The node remembers the last kCapacity cursors it handed out, oldest
// forgotten first, and none across a restart: an unknown cursor (forgotten,
// from another node, or made up) is refused rather than taken for a position.
// Ids start at a random point below 2^61 so that a cursor from another node
// or an earlier run is almost never taken for one of this run's.
//
// Thread-compatible: the node uses it on its apply strand.
#ifndef CONVERGE_NODE_INTERNAL_SCAN_CURSORS_H_
#define CONVERGE_NODE_INTERNAL_SCAN_CURSORS_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

namespace converge {

class ScanCursors {
 public:
  static constexpr size_t kCapacity = 4096;

  ScanCursors() {
    std::random_device rd;
    const uint64_t r = (uint64_t{rd()} << 32) | rd();
    next_ = r % (uint64_t{1} << 61) + 1;
  }

  // A new cursor (never 0) naming `last_key`.
  uint64_t Remember(std::string_view last_key) {
    const uint64_t id = next_++;
    keys_.emplace(id, std::string(last_key));
    order_.push_back(id);
    if (order_.size() > kCapacity) {
      keys_.erase(order_.front());
      order_.pop_front();
    }
    return id;
  }

  // The key `id` names, or nullptr when this node does not know it. Stays
  // valid until the next Remember.
  const std::string* Find(uint64_t id) const {
    auto it = keys_.find(id);
    return it == keys_.end() ? nullptr : &it->second;
  }

 private:
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, std::string> keys_;
  std::deque<uint64_t> order_;  // ids, oldest first
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_SCAN_CURSORS_H_
