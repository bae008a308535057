// Reservation counters under skewed demand on 3 real nodes over loopback:
// the share of RC.TAKE served from local rights (no round trip) and take
// latency p50/p99, with and without the rights policy (cluster/rights_policy.h).
// Stock is spread evenly (each node RC.ADDs the same); demand is not: 80% of
// takes go to n3, 15% to n2, 5% to n1, one client per node.
// Run: build/bench/rc_bench   (make bench runs it)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include "tests/node/test_node.h"

namespace converge::testing {
namespace {

struct Result {
  uint64_t takes = 0, local = 0, waited = 0, failed = 0;
  std::vector<double> latency_ms;
};

int64_t InfoField(Client& c, const std::string& field) {
  const std::string info = c.Run({"INFO", "crdt"});
  const size_t at = info.find(field + ":");
  return at == std::string::npos ? 0 : std::stoll(info.substr(at + field.size() + 1));
}

Result Run(bool policy, int seconds) {
  LoopbackCluster cluster(3, [policy](NodeOptions& o) {
    o.rights_policy = policy;
    o.gossip_interval_ms = 200;
  });
  WaitFor([&] { return cluster.AllConnected(); });
  for (auto& c : cluster.clients) c->Run({"RC.ADD", "stock", "6000"});
  WaitFor([&] { return cluster.clients[2]->Run({"RC.GET", "stock"}) == ":18000"; });

  const double share[3] = {0.05, 0.15, 0.80};
  const int total_rate = 1500;  // takes per second over the cluster
  std::vector<Result> per(3);
  std::vector<std::thread> threads;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] {
      Client c(cluster.nodes[i]->options.port);
      const auto period = std::chrono::microseconds(static_cast<int64_t>(1e6 / (total_rate * share[i])));
      auto next = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_until(next);  // pacing the offered load, not synchronization
        next += period;
        const auto t0 = std::chrono::steady_clock::now();
        const std::string r = c.Run({"RC.TAKE", "stock", "3", "TIMEOUT", "1000"});
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        ++per[i].takes;
        if (r.empty() || r[0] != ':') {
          ++per[i].failed;
        } else {
          per[i].latency_ms.push_back(ms);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  Result all;
  for (int i = 0; i < 3; ++i) {
    all.takes += per[i].takes;
    all.failed += per[i].failed;
    all.latency_ms.insert(all.latency_ms.end(), per[i].latency_ms.begin(), per[i].latency_ms.end());
    all.local += static_cast<uint64_t>(InfoField(*cluster.clients[i], "rc_takes_local"));
    all.waited += static_cast<uint64_t>(InfoField(*cluster.clients[i], "rc_takes_waited"));
  }
  return all;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

}  // namespace
}  // namespace converge::testing

int main(int argc, char** argv) {
  using namespace converge::testing;
  int seconds = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]).rfind("--seconds=", 0) == 0) seconds = std::atoi(argv[i] + 10);
  }
  std::printf("rc_bench: 3 nodes, 6000 units added on each, 1500 takes/s offered "
              "(5%% n1, 15%% n2, 80%% n3), 3 units each, %d s per run\n", seconds);
  std::printf("%-8s %8s %8s %9s %12s %10s %10s\n", "policy", "takes", "failed", "local %",
              "round trips", "p50 ms", "p99 ms");
  for (bool policy : {false, true}) {
    const Result r = Run(policy, seconds);
    const double served = static_cast<double>(r.local + r.waited);
    std::printf("%-8s %8llu %8llu %8.1f%% %12llu %10.3f %10.3f\n", policy ? "on" : "off",
                static_cast<unsigned long long>(r.takes), static_cast<unsigned long long>(r.failed),
                served > 0 ? 100.0 * static_cast<double>(r.local) / served : 0.0,
                static_cast<unsigned long long>(r.waited), Percentile(r.latency_ms, 50),
                Percentile(r.latency_ms, 99));
  }
  return 0;
}
