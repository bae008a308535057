#include "node/internal/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace converge {
namespace {

// Prometheus accepts Go's float syntax; integers print without an exponent
// so counters stay exact up to 2^53.
std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.9g", v);
  }
  return buf;
}

void AppendEscaped(std::string* out, std::string_view v, bool label) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else if (c == '"' && label) {
      *out += "\\\"";
    } else {
      *out += c;
    }
  }
}

void AppendLabels(std::string* out, const PrometheusText::Labels& labels) {
  if (labels.empty()) return;
  *out += '{';
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) *out += ',';
    *out += labels[i].first;
    *out += "=\"";
    AppendEscaped(out, labels[i].second, true);
    *out += '"';
  }
  *out += '}';
}

}  // namespace

void LatencyHistogram::Observe(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  // Fourteen bounds: a linear scan is as fast as a binary search here.
  size_t i = 0;
  while (i < kBoundsSeconds.size() && s > kBoundsSeconds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::max<int64_t>(0, d.count())),
                    std::memory_order_relaxed);
}

LatencyHistogram::Counts LatencyHistogram::Read() const {
  Counts c;
  for (size_t i = 0; i < kBuckets; ++i) {
    c.per_bucket[i] = buckets_[i].load(std::memory_order_relaxed);
    c.count += c.per_bucket[i];
  }
  c.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return c;
}

std::string_view OpResultName(OpResult r) {
  switch (r) {
    case OpResult::kOk: return "ok";
    case OpResult::kErr: return "err";
    case OpResult::kWrongType: return "wrongtype";
    case OpResult::kTryAgain: return "tryagain";
    case OpResult::kInsufficient: return "insufficient";
    case OpResult::kNoAuth: return "noauth";
    case OpResult::kOther: return "other_error";
  }
  return "other_error";
}

OpResult ClassifyReply(std::string_view reply) {
  if (reply.empty() || reply[0] != '-') return OpResult::kOk;
  const std::string_view word = reply.substr(1, reply.find_first_of(" \r", 1) - 1);
  if (word == "ERR") return OpResult::kErr;
  if (word == "WRONGTYPE") return OpResult::kWrongType;
  if (word == "TRYAGAIN") return OpResult::kTryAgain;
  if (word == "INSUFFICIENT") return OpResult::kInsufficient;
  if (word == "NOAUTH" || word == "WRONGPASS") return OpResult::kNoAuth;
  return OpResult::kOther;
}

OperationCounters::OperationCounters(std::vector<std::string> commands)
    : commands_(std::move(commands)) {
  std::sort(commands_.begin(), commands_.end());
  commands_.push_back("unknown");
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(commands_.size() * kOpResults);
}

size_t OperationCounters::IndexOf(std::string_view command) const {
  auto it = std::lower_bound(commands_.begin(), commands_.end() - 1, command);
  if (it != commands_.end() - 1 && *it == command) return static_cast<size_t>(it - commands_.begin());
  return commands_.size() - 1;
}

void PrometheusText::Family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  AppendEscaped(&text_, help, false);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::Sample(std::string_view name, const Labels& labels, double value) {
  text_ += name;
  AppendLabels(&text_, labels);
  text_ += ' ';
  text_ += FormatValue(value);
  text_ += '\n';
}

void PrometheusText::Histogram(std::string_view name, const Labels& labels,
                               const LatencyHistogram::Counts& c) {
  const std::string bucket = std::string(name) + "_bucket";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    cumulative += c.per_bucket[i];
    Labels with_le = labels;
    with_le.emplace_back("le", i < LatencyHistogram::kBoundsSeconds.size()
                                   ? FormatValue(LatencyHistogram::kBoundsSeconds[i])
                                   : std::string("+Inf"));
    Sample(bucket, with_le, static_cast<double>(cumulative));
  }
  Sample(std::string(name) + "_sum", labels, c.sum_seconds);
  Sample(std::string(name) + "_count", labels, static_cast<double>(c.count));
}

}  // namespace converge
