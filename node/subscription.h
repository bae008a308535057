// Change notifications: a callback told about every key that a delta from a
// peer changed on this node (Node::Subscribe, node/node.h).
//
// What is delivered: for each remote delta interval the node applies, one
// Change per key it touched, with the type the peer wrote and the origin (the
// replica that made the write, which may not be the peer that relayed it).
// A Change says "this key moved"; read the key through a handle for its value
// now. Local writes (this node's own, through handles, Execute or clients)
// are not notified: the writer already knows. A rights transfer between
// nodes is a change of the reservation counter's key, like any write.
//
// Guarantees, stated narrowly:
//   * at most once per key per applied interval, after the interval is
//     committed to disk; in commit order (one origin's changes in seq order);
//   * not durable: changes applied while no subscriber exists, or before a
//     restart, are not replayed;
//   * lossy under overload: the queue between the apply strand and the
//     callbacks is bounded (NodeOptions-independent, 100,000 changes); past it
//     changes are dropped and counted in Subscription::dropped(): a
//     subscriber that sees it grow should re-read what it cares about;
//   * keys that arrive by full-state transfer (a peer away past the log cap,
//     or a new node) are not notified.
//
// Threads: callbacks run on one thread owned by the node, one at a time, never
// on the apply strand: a slow callback delays the other callbacks, never
// replication or clients. A callback may call handles and Execute on the
// node. It must not throw (an exception is caught and logged).
#ifndef CONVERGE_NODE_SUBSCRIPTION_H_
#define CONVERGE_NODE_SUBSCRIPTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace converge {

class ChangeFeed;  // node/internal/change_feed.h

// The type of a key's value, as the handles see it.
enum class ValueType { kCounter, kString, kRecord, kReservationCounter };

// "counter", "string", "record", "rcounter".
const char* ValueTypeName(ValueType type);

struct Change {
  std::string key;
  ValueType type = ValueType::kCounter;  // of the peer's write
  uint64_t origin_id = 0;                // replica that made the write
  std::string origin_name;               // its name; empty when not known yet
};

using ChangeCallback = std::function<void(const Change&)>;

// Keeps a callback subscribed until Cancel() or destruction. Movable.
// Thread-safety: Cancel() and dropped() are safe from any thread. After
// Cancel() returns the callback is not running and will not run again,
// unless Cancel() is called from inside the callback itself (then the current
// call finishes and no other follows).
class Subscription {
 public:
  Subscription() = default;
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&& other) noexcept;
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  void Cancel();
  bool active() const;
  // Changes dropped node-wide because the queue was full, since the node
  // opened (see above).
  uint64_t dropped() const;

 private:
  friend class Node;
  Subscription(std::weak_ptr<ChangeFeed> feed, uint64_t id) : feed_(std::move(feed)), id_(id) {}
  std::weak_ptr<ChangeFeed> feed_;
  uint64_t id_ = 0;
};

}  // namespace converge

#endif  // CONVERGE_NODE_SUBSCRIPTION_H_
