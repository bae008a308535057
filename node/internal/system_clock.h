// SystemClock: wall-clock milliseconds, plus an offset DEBUG CLOCK-OFFSET sets
// to simulate skew. Safe from any thread.
#ifndef CONVERGE_NODE_INTERNAL_SYSTEM_CLOCK_H_
#define CONVERGE_NODE_INTERNAL_SYSTEM_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

#include "crdt/hybrid_clock.h"

namespace converge {

class SystemClock : public PhysicalClock {
 public:
  uint64_t NowMillis() override {
    const int64_t real = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    const int64_t t = real + offset_ms_.load(std::memory_order_relaxed);
    return t < 0 ? 0 : static_cast<uint64_t>(t);
  }
  void set_offset_ms(int64_t ms) { offset_ms_.store(ms, std::memory_order_relaxed); }
  int64_t offset_ms() const { return offset_ms_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> offset_ms_{0};
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_SYSTEM_CLOCK_H_
