#include "tests/nemesis/report.h"

#include <cstdio>

namespace converge::nemesis {

// The first anomalies of each kind are printed when found, so a long run
// shows them as they happen; the report lists the first 50 of each kind.
void Report::Anomaly(const std::string& kind, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  anomalies_.emplace_back(kind, what);
  if (++printed_[kind] <= 5) std::fprintf(stderr, "ANOMALY [%s] %s\n", kind.c_str(), what.c_str());
}

void Report::Operation(const std::string& workload, Outcome outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  ++operations_[workload][static_cast<int>(outcome)];
}

void Report::Fault(const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  ++faults_[kind];
}

void Report::Note(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  notes_.push_back(line);
}

size_t Report::anomaly_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return anomalies_.size();
}

size_t Report::anomaly_count(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [k, _] : anomalies_) n += k == kind;
  return n;
}

std::string Report::Render(const std::string& header) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out = header;
  char line[160];
  std::snprintf(line, sizeof(line), "operations %-14s %9s %9s %9s\n", "", "ok", "failed", "unknown");
  out += line;
  std::array<uint64_t, 3> total{};
  for (const auto& [w, c] : operations_) {
    std::snprintf(line, sizeof(line), "  %-24s %9llu %9llu %9llu\n", w.c_str(),
                  static_cast<unsigned long long>(c[0]), static_cast<unsigned long long>(c[1]),
                  static_cast<unsigned long long>(c[2]));
    out += line;
    for (int i = 0; i < 3; ++i) total[i] += c[i];
  }
  std::snprintf(line, sizeof(line), "  %-24s %9llu %9llu %9llu\n", "total",
                static_cast<unsigned long long>(total[0]), static_cast<unsigned long long>(total[1]),
                static_cast<unsigned long long>(total[2]));
  out += line;
  out += "faults injected:";
  uint64_t faults = 0;
  for (const auto& [k, n] : faults_) {
    out += " " + k + "=" + std::to_string(n);
    faults += n;
  }
  out += " (total " + std::to_string(faults) + ")\n";
  for (const auto& n : notes_) out += n + "\n";
  out += "anomalies: " + std::to_string(anomalies_.size()) + "\n";
  std::map<std::string, int> shown;
  for (const auto& [k, what] : anomalies_) {
    if (++shown[k] > 50) continue;
    out += "  [" + k + "] " + what + "\n";
  }
  for (const auto& [k, n] : shown) {
    if (n > 50) out += "  [" + k + "] ... " + std::to_string(n - 50) + " more\n";
  }
  return out;
}

}  // namespace converge::nemesis
