// The nemesis proper: starts faults at random on a schedule and ends each
// after a while, several at once. Network faults go through the nodes' own
// DEBUG commands (PARTITION, LINK, CLOCK-OFFSET); process faults are signals
// (SIGKILL then a restart on the same data, SIGSTOP then SIGCONT).
//
// Thread-compatible: one thread runs it; EndAll() after Run() returned.
#ifndef CONVERGE_TESTS_NEMESIS_FAULTS_H_
#define CONVERGE_TESTS_NEMESIS_FAULTS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/nemesis/conn.h"
#include "tests/nemesis/process.h"
#include "tests/nemesis/report.h"

namespace converge::nemesis {

struct FaultOptions {
  std::vector<std::string> kinds;  // subset of AllFaultKinds()
  int max_clock_offset_ms = 500;   // the nodes' bound; bumps go to 4x it
  int min_gap_ms = 300, max_gap_ms = 1500;
  int min_length_ms = 800, max_length_ms = 4000;
};

std::vector<std::string> AllFaultKinds();  // partition, kill, pause, clock, link

class Nemesis {
 public:
  Nemesis(std::vector<std::unique_ptr<ServerProcess>>* nodes, FaultOptions options, uint64_t seed,
          Report* report);

  // Injects faults until `stop`; checks each tick that no node died by
  // itself (an anomaly; the node is restarted).
  void Run(const std::atomic<bool>& stop);
  // Ends every fault: restarts killed nodes, resumes paused ones, heals the
  // network and zeroes the clock offsets.
  void EndAll();

 private:
  struct Active {
    std::string slot;  // "net", or "proc:<i>", "clock:<i>"
    std::chrono::steady_clock::time_point end;
    std::function<void()> undo;
  };

  void StartOne();
  void StartPartition();
  void StartLinks();
  void StartKill();
  void StartPause();
  void StartClock();
  // Applies `fault` to a random node with no process fault, unless a
  // minority is already down or paused; `undo(i)` ends it.
  void StartProcessFault(const std::string& kind, const std::function<void(ServerProcess&)>& fault,
                         const std::function<void(int)>& undo);
  bool SlotBusy(const std::string& slot) const;
  int ProcessFaults() const;
  void Schedule(std::string slot, std::function<void()> undo);
  void Restart(int i);
  // A DEBUG command to node i through a short-lived control connection.
  void Debug(int i, std::vector<std::string> args);
  void CheckAlive();

  std::vector<std::unique_ptr<ServerProcess>>* nodes_;
  FaultOptions options_;
  std::mt19937_64 rng_;
  Report* report_;
  std::vector<Active> active_;
};

}  // namespace converge::nemesis

#endif  // CONVERGE_TESTS_NEMESIS_FAULTS_H_
