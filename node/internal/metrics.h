// Hot-path instruments for /metrics: latency histograms with fixed buckets
// and per-command operation counters, plus the writer of the Prometheus text
// exposition format (version 0.0.4) that /metrics renders them with.
//
// Recording is a relaxed atomic add, cheap enough for every command: the
// apply strand records, the HTTP threads read. A reader may see one bucket
// bumped and the sum not yet; each scrape is a consistent-enough sample, and
// the histogram's count is derived from the buckets it read, so a scrape's
// +Inf bucket always equals its _count.
//
// Thread-safety: Observe/Record from one or more threads, Read from any.
#ifndef CONVERGE_NODE_INTERNAL_METRICS_H_
#define CONVERGE_NODE_INTERNAL_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace converge {

class LatencyHistogram {
 public:
  // Upper bounds in seconds: 5 µs (a cached read) up to 1 s (a stalled disk).
  static constexpr std::array<double, 14> kBoundsSeconds = {
      5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 1e-1, 1.0};
  static constexpr size_t kBuckets = kBoundsSeconds.size() + 1;  // the last is +Inf

  struct Counts {
    std::array<uint64_t, kBuckets> per_bucket{};  // not cumulative
    uint64_t count = 0;                           // sum of per_bucket
    double sum_seconds = 0;
  };

  void Observe(std::chrono::nanoseconds d);
  Counts Read() const;

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// How a command ended, by the reply it gave: OK, or the class of its error
// reply (Redis's first word of the error). A fixed set keeps the label's
// cardinality bounded whatever clients send.
enum class OpResult : uint8_t {
  kOk,
  kErr,           // -ERR ...: bad arguments, unsupported, commit failed
  kWrongType,     // -WRONGTYPE
  kTryAgain,      // -TRYAGAIN: rights or session not reachable in time
  kInsufficient,  // -INSUFFICIENT: reservation counter value too small
  kNoAuth,        // -NOAUTH / -WRONGPASS
  kOther,         // any other error class (EXPIRED, NOHOLD, WRONGNODE, ...)
};
inline constexpr size_t kOpResults = 7;
std::string_view OpResultName(OpResult r);
// The result a RESP2 reply stands for (its first byte and error word).
OpResult ClassifyReply(std::string_view reply);

// Commands executed, per command name (a fixed list given at construction,
// plus "unknown") and result.
class OperationCounters {
 public:
  explicit OperationCounters(std::vector<std::string> commands);

  // The index of `command` (lowercase), or of "unknown".
  size_t IndexOf(std::string_view command) const;
  void Record(size_t index, OpResult result) {
    counts_[index * kOpResults + static_cast<size_t>(result)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t Read(size_t index, OpResult result) const {
    return counts_[index * kOpResults + static_cast<size_t>(result)].load(std::memory_order_relaxed);
  }
  const std::vector<std::string>& commands() const { return commands_; }  // "unknown" last

 private:
  std::vector<std::string> commands_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
};

// Appends metric families in the Prometheus text format. Each family is
// declared once (HELP and TYPE) before its samples; label values are escaped.
class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string_view, std::string>>;

  // Declares a family: type is "counter", "gauge" or "histogram".
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const Labels& labels, double value);
  void Sample(std::string_view name, double value) { Sample(name, {}, value); }
  // A family with one unlabelled sample.
  void Single(std::string_view name, std::string_view type, std::string_view help, double value) {
    Family(name, type, help);
    Sample(name, value);
  }
  // _bucket (cumulative, le="..." up to +Inf), _sum and _count of one histogram.
  void Histogram(std::string_view name, const Labels& labels, const LatencyHistogram::Counts& c);

  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_METRICS_H_
