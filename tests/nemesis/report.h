// What a nemesis run found: operations by outcome, faults by kind, and
// anomalies. Anomalies come from worker threads (checks during the run),
// the fault thread and the final checks, so Report is thread-safe.
#ifndef CONVERGE_TESTS_NEMESIS_REPORT_H_
#define CONVERGE_TESTS_NEMESIS_REPORT_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "tests/nemesis/conn.h"

namespace converge::nemesis {

class Report {
 public:
  // `kind` names the check ("counter", "session", "convergence", ...).
  void Anomaly(const std::string& kind, const std::string& what);
  void Operation(const std::string& workload, Outcome outcome);
  void Fault(const std::string& kind);
  void Note(const std::string& line);

  size_t anomaly_count() const;
  size_t anomaly_count(const std::string& kind) const;
  std::string Render(const std::string& header) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> anomalies_;
  std::map<std::string, std::array<uint64_t, 3>> operations_;
  std::map<std::string, uint64_t> faults_;
  std::map<std::string, int> printed_;
  std::vector<std::string> notes_;
};

}  // namespace converge::nemesis

#endif  // CONVERGE_TESTS_NEMESIS_REPORT_H_
