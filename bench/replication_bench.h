// The sections of replication_bench (see replication_bench.cc), and what
// they share. The simulated-cluster sections are in replication_sim.cc, the
// real-node ones in replication_nodes.cc.
#ifndef CONVERGE_BENCH_REPLICATION_BENCH_H_
#define CONVERGE_BENCH_REPLICATION_BENCH_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace converge::bench {

using Clock = std::chrono::steady_clock;

inline double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Nearest-rank percentile of an unsorted sample (copied, then sorted).
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

// heal-sim: partition {0} | {1,2} of a simulated 3-node cluster, `per_side`
// writes on each side, heal; prints the table and returns wire bytes over
// the ideal repair bytes.
double HealSim(int per_side, size_t max_batch_bytes, uint64_t seed);
// size: convergence after a fixed random workload on 3, 5 and 9 simulated
// nodes, with message loss `drop`.
void SizeSweep(int writes, double drop);

// --threads=N: the real nodes' io threads (0: NodeOptions' default).
extern int g_node_threads;
// lag: acknowledgement on one node to visibility on another, 3 real nodes,
// at `rate` writes/s (0: the two default rates) for `seconds`.
void LagSection(int rate, double seconds);

struct HealNodeResult {
  double ms = -1;           // heal to equal version vectors (then digests); -1: did not converge
  double bytes_ratio = -1;  // replication bytes received over the logs' bytes that had to cross
};
// heal-node: heal-sim through 3 real nodes with DEBUG PARTITION / DEBUG HEAL.
HealNodeResult HealNode(int per_side);

}  // namespace converge::bench

#endif  // CONVERGE_BENCH_REPLICATION_BENCH_H_
