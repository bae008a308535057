// The nemesis workloads. Each runs on every node at once (one Step per call,
// from many worker threads), records every operation with its outcome and
// its invoke/complete times, checks what it can while running, and checks
// the rest against final reads once the cluster is healed and quiet.
//
// The checks are those an eventually consistent, highly available store can
// promise, no more: a read on node N sees every write acknowledged by N
// before the read began (the node's own writes are committed before their
// reply) and nothing that was never attempted; after the heal every node
// holds the same state, which accounts for every acknowledged operation and
// for some subset of the unknown ones.
//
// Thread-safety: Step may be called from many threads; Check from one, after
// every Step has returned.
#ifndef CONVERGE_TESTS_NEMESIS_WORKLOADS_H_
#define CONVERGE_TESTS_NEMESIS_WORKLOADS_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/nemesis/conn.h"
#include "tests/nemesis/report.h"

namespace converge::nemesis {

// Microseconds since the run began: the one timeline of every record.
class RunClock {
 public:
  int64_t NowUs() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// One client thread's view: a connection to every node, of which `home` is
// the one it writes through.
struct Worker {
  int id = 0;
  int home = 0;
  std::mt19937_64 rng;
  std::vector<std::unique_ptr<Conn>> conns;
  const RunClock* clock = nullptr;
  Report* report = nullptr;

  Conn& home_conn() { return *conns[home]; }
  uint64_t Uniform(uint64_t lo, uint64_t hi) {  // inclusive
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  }
};

// Final reads go through these, one per node, after the heal.
struct FinalView {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::string> names;
};

class Workload {
 public:
  virtual ~Workload() = default;
  virtual const char* name() const = 0;
  virtual void Step(Worker& w) = 0;
  virtual void Check(FinalView& view, Report* report) = 0;
};

// Names as on the command line: counter, record, rcounter, session, idem.
std::vector<std::string> AllWorkloadNames();
std::unique_ptr<Workload> MakeWorkload(const std::string& name, int nodes);

// Whether `target` is a sum of `base` and some subset of `maybe`.
bool SubsetSumReaches(int64_t base, const std::vector<int64_t>& maybe, int64_t target);

}  // namespace converge::nemesis

#endif  // CONVERGE_TESTS_NEMESIS_WORKLOADS_H_
