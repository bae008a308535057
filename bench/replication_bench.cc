// Replication benchmarks (issue 4): how fast a write reaches the other nodes,
// what a partition heal costs in time and bytes, and how convergence time
// grows with the cluster. Results and method: bench/RESULTS.md, "replication".
//
//   lag       3 real nodes over loopback: time from a SET's reply on A to
//             the value being readable on B, at a paced write rate.
//   heal-sim  the simulated cluster (tests/cluster/sim_cluster.h, simulated
//             time, real RocksDB stores): partition {0} | {1,2}, N writes per
//             side, heal; sim ms and wall ms to equal digests, and bytes on
//             the wire against the ideal (the encoded deltas each node lacked).
//   heal-node the same through 3 real nodes with DEBUG PARTITION / DEBUG HEAL.
//   size      convergence time after a fixed random workload stops, for 3, 5
//             and 9 simulated nodes, with and without message loss.
//
// Not a Google Benchmark program: these are end-to-end scenarios that run
// once each. Flags: --sections=lag,heal-sim,heal-node,size (default all);
// --lag-rate=N and --lag-seconds=S (default 2000/s for 4 s and 10000/s for
// 2 s), --heal-keys=N per side (default 20000 sim, 5000 node), --heal-runs=N;
// --threads=N, the io threads of each real node (default: the node's own);
// any --benchmark_* flag (bench/run.sh passes one) is accepted and ignored.
// Each section also prints "RESULT name value" lines for bench/run.sh's
// summary of issue 8's targets.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "bench/replication_bench.h"


int main(int argc, char** argv) {
  std::set<std::string> sections = {"lag", "heal-sim", "heal-node", "size"};
  int lag_rate = 0, heal_keys = 0, heal_runs = 0;
  double lag_seconds = 2.0;
  auto number = [](const std::string& arg, const char* flag, double* out) {
    const std::string prefix = std::string(flag) + "=";
    if (arg.rfind(prefix, 0) != 0) return false;
    char* end = nullptr;
    *out = std::strtod(arg.c_str() + prefix.size(), &end);
    if (end == arg.c_str() + prefix.size() || *end != '\0' || !(*out > 0) || *out > 1e8) {
      std::fprintf(stderr, "bad %s\n", arg.c_str());
      std::exit(2);
    }
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--sections=", 0) == 0) {
      sections.clear();
      std::string list = arg.substr(11);
      size_t pos = 0;
      while (pos <= list.size()) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        sections.insert(list.substr(pos, comma - pos));
        pos = comma + 1;
      }
    } else if (double v; number(arg, "--lag-rate", &v)) {
      lag_rate = static_cast<int>(v);
    } else if (number(arg, "--lag-seconds", &v)) {
      lag_seconds = v;
    } else if (number(arg, "--heal-keys", &v)) {
      heal_keys = static_cast<int>(v);
    } else if (number(arg, "--heal-runs", &v)) {
      heal_runs = static_cast<int>(v);
    } else if (number(arg, "--threads", &v)) {
      converge::bench::g_node_threads = static_cast<int>(v);
    } else if (arg.rfind("--benchmark_", 0) != 0) {
      std::fprintf(stderr,
                   "usage: %s [--sections=lag,heal-sim,heal-node,size] [--lag-rate=N] "
                   "[--lag-seconds=S] [--heal-keys=N] [--heal-runs=N] [--threads=N]\n",
                   argv[0]);
      return 2;
    }
  }
  // Nodes log every peer event at info; the tables are the output here.
  spdlog::set_level(spdlog::level::warn);
  using namespace converge::bench;  // NOLINT: main only
  const auto t0 = std::chrono::steady_clock::now();
  if (sections.count("lag")) LagSection(lag_rate, lag_seconds);
  // Replica ids are random per run (the stores make them), so peer order and
  // gossip choices differ run to run even for one seed: two runs each.
  if (sections.count("heal-sim")) {
    const int keys = heal_keys > 0 ? heal_keys : 20'000;
    const int runs = heal_runs > 0 ? heal_runs : 2;
    std::vector<double> ratios;
    for (int r = 0; r < runs; ++r) HealSim(keys, 64 << 10, 42 + r);  // SimOptions' default batch
    for (int r = 0; r < runs; ++r) ratios.push_back(HealSim(keys, 1 << 20, 42 + r));  // node's
    std::printf("RESULT heal_sim_keys %d\nRESULT heal_wire_over_ideal %.3f\n", keys,
                Percentile(ratios, 50));
  }
  if (sections.count("heal-node")) {
    const int keys = heal_keys > 0 ? heal_keys : 5'000;
    const int runs = heal_runs > 0 ? heal_runs : 3;
    std::vector<double> ms, ratios;
    bool all = true;
    for (int run = 0; run < runs; ++run) {
      const HealNodeResult r = HealNode(keys);
      if (r.ms < 0) all = false;
      ms.push_back(r.ms);
      ratios.push_back(r.bytes_ratio);
    }
    std::printf("RESULT heal_node_keys %d\nRESULT heal_node_ms %.1f\nRESULT heal_node_bytes_ratio %.3f\n",
                keys, all ? Percentile(ms, 50) : -1.0, all ? Percentile(ratios, 50) : -1.0);
  }
  if (sections.count("size")) {
    SizeSweep(2'000, 0);
    SizeSweep(2'000, 0.05);
  }
  std::printf("\ntotal %.1f s\n", MsSince(t0) / 1000.0);
  return 0;
}
