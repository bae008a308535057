// ChangeFeed: carries Changes (node/subscription.h) from the apply strand to
// the subscribers' callbacks, on a thread of its own, so that a slow callback
// can never stall replication.
//
// The strand Publish()es without waiting for anything but a short mutex; the
// queue is bounded and what does not fit is dropped and counted. The thread
// starts with the first subscriber and stops in Stop() (or the destructor).
//
// Thread-safety: every member function is safe from any thread; Remove from
// inside a callback is allowed (see Subscription::Cancel).
#ifndef CONVERGE_NODE_INTERNAL_CHANGE_FEED_H_
#define CONVERGE_NODE_INTERNAL_CHANGE_FEED_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "node/subscription.h"

namespace converge {

class ChangeFeed {
 public:
  static constexpr size_t kDefaultMaxQueued = 100'000;

  explicit ChangeFeed(size_t max_queued = kDefaultMaxQueued) : max_queued_(max_queued) {}
  ~ChangeFeed() { Stop(); }
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  // Returns the subscriber's id (never 0).
  uint64_t Add(ChangeCallback callback);
  // After it returns, the callback is not running and will not run again
  // (from inside the callback: no further call follows the current one).
  void Remove(uint64_t id);
  bool Has(uint64_t id) const;

  // True when someone listens: the strand builds no Change otherwise.
  bool active() const { return subscribers_.load(std::memory_order_relaxed) > 0; }
  // Queues changes for delivery; drops (and counts) what exceeds the bound.
  void Publish(std::vector<Change> changes);
  // Delivers nothing more; joins the thread. Idempotent.
  void Stop();

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }

 private:
  struct Subscriber {
    ChangeCallback callback;
    std::atomic<bool> live{true};
  };
  void Run();

  const size_t max_queued_;
  mutable std::mutex mu_;  // guards everything below but the atomics
  std::condition_variable wake_;
  std::deque<Change> queue_;
  std::map<uint64_t, std::shared_ptr<Subscriber>> by_id_;
  uint64_t next_id_ = 1;
  bool stopped_ = false;
  std::thread thread_;
  std::thread::id thread_id_;
  // Held by the delivery thread while a callback runs: Remove takes it to
  // wait out a call in progress.
  std::mutex calling_;
  std::atomic<size_t> subscribers_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> delivered_{0};
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_CHANGE_FEED_H_
