#include "node/internal/change_feed.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace converge {

uint64_t ChangeFeed::Add(ChangeCallback callback) {
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t id = next_id_++;
  auto s = std::make_shared<Subscriber>();
  s->callback = std::move(callback);
  by_id_.emplace(id, std::move(s));
  subscribers_.store(by_id_.size(), std::memory_order_relaxed);
  if (!thread_.joinable() && !stopped_) {
    thread_ = std::thread([this] { Run(); });
    thread_id_ = thread_.get_id();
  }
  return id;
}

void ChangeFeed::Remove(uint64_t id) {
  bool on_delivery_thread;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    it->second->live.store(false);
    by_id_.erase(it);
    subscribers_.store(by_id_.size(), std::memory_order_relaxed);
    on_delivery_thread = std::this_thread::get_id() == thread_id_;
  }
  // Wait out a call in progress; from the callback itself that would be a
  // self-deadlock, and the flag above already stops later calls.
  if (!on_delivery_thread) std::lock_guard<std::mutex> wait(calling_);
}

bool ChangeFeed::Has(uint64_t id) const {
  std::lock_guard<std::mutex> l(mu_);
  return by_id_.count(id) > 0;
}

void ChangeFeed::Publish(std::vector<Change> changes) {
  if (changes.empty()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    const size_t room = max_queued_ > queue_.size() ? max_queued_ - queue_.size() : 0;
    const size_t take = std::min(room, changes.size());
    for (size_t i = 0; i < take; ++i) queue_.push_back(std::move(changes[i]));
    if (take < changes.size()) {
      dropped_.fetch_add(changes.size() - take, std::memory_order_relaxed);
    }
  }
  wake_.notify_one();
}

void ChangeFeed::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable() && std::this_thread::get_id() != thread_id_) thread_.join();
}

void ChangeFeed::Run() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    wake_.wait(l, [this] { return stopped_ || !queue_.empty(); });
    if (stopped_) return;
    std::deque<Change> batch;
    batch.swap(queue_);
    std::vector<std::shared_ptr<Subscriber>> subscribers;
    for (const auto& [id, s] : by_id_) subscribers.push_back(s);
    l.unlock();
    {
      std::lock_guard<std::mutex> calling(calling_);
      for (const Change& c : batch) {
        for (const auto& s : subscribers) {
          if (!s->live.load()) continue;
          try {
            s->callback(c);
          } catch (const std::exception& e) {
            spdlog::warn("a change subscriber threw on key '{}': {}", c.key, e.what());
          } catch (...) {
            spdlog::warn("a change subscriber threw on key '{}'", c.key);
          }
        }
        delivered_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    l.lock();
  }
}

}  // namespace converge
