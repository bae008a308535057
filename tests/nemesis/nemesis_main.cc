// nemesis: runs Converge nodes as real processes on loopback, drives every
// workload on every node at once while injecting faults, heals, waits for
// quiescence and checks. Prints a report; exits 0 when no anomaly was found
// (or, with --expect-anomaly KIND, when one of that kind was).
//
//   nemesis --converge build/converge --seed 7 --duration 40
//
// A seed fixes the fault schedule and every worker's choices; timing still
// varies between runs, so a replay retraces the same plan, not the same
// interleaving.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "tests/nemesis/faults.h"
#include "tests/nemesis/process.h"
#include "tests/nemesis/report.h"
#include "tests/nemesis/workloads.h"

namespace converge::nemesis {
namespace {

struct Options {
  std::string binary;
  uint64_t seed = 0;
  int duration_s = 60;
  int nodes = 3;
  int workers_per_node = 2;
  std::string fsync = "everysec";
  std::vector<std::string> workloads = AllWorkloadNames();
  std::vector<std::string> faults = AllFaultKinds();
  std::string report_path;
  std::string expect_anomaly;
  bool keep_data = false;
  int converge_deadline_s = 60;
};

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string Field(const std::string& info, const std::string& name) {
  const size_t at = info.find(name + ":");
  if (at == std::string::npos) return "";
  const size_t end = info.find_first_of("\r\n", at);
  return info.substr(at + name.size() + 1, end - at - name.size() - 1);
}

// Waits until every node answers DEBUG DIGEST with the same value twice in a
// row, half a second apart. Returns the seconds it took, or -1.
double WaitForQuiescence(std::vector<std::unique_ptr<ServerProcess>>& nodes, int deadline_s,
                         std::string* last_seen) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::seconds(deadline_s);
  std::string previous;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string digests;
    bool equal = true;
    std::string first;
    for (auto& p : nodes) {
      Conn c(p->spec().port, 2000);
      Reply r = c.Run({"DEBUG", "DIGEST"});
      const std::string d = r.ok() ? r.text : "<" + r.text + ">";
      Reply info = c.Run({"INFO", "replication"});
      digests += "    " + p->spec().name + " digest " + d + " " + Field(info.text, "vv") + "\n";
      if (first.empty()) first = d;
      equal = equal && r.ok() && d == first;
    }
    *last_seen = digests;
    if (equal && digests == previous) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - 0.5;
    }
    previous = equal ? digests : "";
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return -1;
}

int Run(const Options& o) {
  const uint64_t seed = o.seed != 0 ? o.seed : std::random_device{}() | 1ull << 32;
  const std::string replay = "nemesis --converge " + o.binary + " --seed " + std::to_string(seed) +
                             " --duration " + std::to_string(o.duration_s) + " --nodes " +
                             std::to_string(o.nodes) + " --fsync " + o.fsync + " --workloads " + Join(o.workloads) +
                             " --faults " + Join(o.faults);
  std::printf("[ seed     ] nemesis seed=%llu (replay: %s)\n", static_cast<unsigned long long>(seed),
              replay.c_str());
  std::fflush(stdout);

  std::string tmpl = "/tmp/converge-nemesis-XXXXXX";
  const std::string root = mkdtemp(tmpl.data());
  std::vector<std::unique_ptr<ServerProcess>> nodes;
  std::vector<uint16_t> peer_ports;
  for (int i = 0; i < o.nodes; ++i) peer_ports.push_back(PickFreePort());
  for (int i = 0; i < o.nodes; ++i) {
    ServerSpec s;
    s.binary = o.binary;
    s.name = "n" + std::to_string(i + 1);
    s.data_dir = root + "/" + s.name;
    s.log_path = root + "/" + s.name + ".log";
    s.port = PickFreePort();
    s.peer_port = peer_ports[i];
    for (int j = 0; j < o.nodes; ++j) {
      if (j != i) s.seeds.push_back("127.0.0.1:" + std::to_string(peer_ports[j]));
    }
    s.extra_args = {"--fsync", o.fsync, "--gossip-interval-ms", "100", "--max-clock-offset-ms", "500"};
    nodes.push_back(std::make_unique<ServerProcess>(s));
  }

  Report report;
  for (auto& p : nodes) {
    if (!p->Start()) {
      std::fprintf(stderr, "%s did not start; log tail:\n%s", p->spec().name.c_str(), p->LogTail().c_str());
      return 2;
    }
  }

  RunClock clock;
  std::vector<std::unique_ptr<Workload>> workloads;
  for (const auto& w : o.workloads) workloads.push_back(MakeWorkload(w, o.nodes));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const int workers = o.nodes * o.workers_per_node;
  for (int id = 0; id < workers; ++id) {
    threads.emplace_back([&, id] {
      Worker w;
      w.id = id;
      w.home = id % o.nodes;
      w.rng.seed(seed * 1000003 + static_cast<uint64_t>(id));
      for (auto& p : nodes) w.conns.push_back(std::make_unique<Conn>(p->spec().port, 1000));
      w.clock = &clock;
      w.report = &report;
      while (!stop.load()) {
        workloads[w.Uniform(0, workloads.size() - 1)]->Step(w);
        std::this_thread::sleep_for(std::chrono::microseconds(w.Uniform(0, 2000)));
      }
    });
  }
  FaultOptions fo;
  fo.kinds = o.faults;
  Nemesis nemesis(&nodes, fo, seed, &report);
  std::thread fault_thread([&] {
    if (!o.faults.empty()) nemesis.Run(stop);
  });
  std::this_thread::sleep_for(std::chrono::seconds(o.duration_s));
  stop = true;
  for (auto& t : threads) t.join();
  fault_thread.join();

  // Heal, let every hold run out, and wait for the nodes to agree.
  nemesis.EndAll();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  std::string digests;
  const double settle = WaitForQuiescence(nodes, o.converge_deadline_s, &digests);
  if (settle < 0) {
    report.Anomaly("convergence", "digests still differ " + std::to_string(o.converge_deadline_s) +
                                      " s after the heal:\n" + digests);
  } else {
    char line[120];
    std::snprintf(line, sizeof(line), "convergence: equal digests %.1f s after the heal (plus 2.5 s for holds)",
                  settle);
    report.Note(line);
  }
  FinalView view;
  for (auto& p : nodes) {
    view.conns.push_back(std::make_unique<Conn>(p->spec().port, 5000));
    view.names.push_back(p->spec().name);
  }
  for (auto& w : workloads) w->Check(view, &report);
  view.conns.clear();
  for (auto& p : nodes) {
    const std::string how = p->Stop();
    if (how != "exited with code 0") report.Anomaly("process", p->spec().name + " stop: " + how);
  }

  char header[512];
  std::snprintf(header, sizeof(header),
                "== nemesis report ==\nseed %llu, %d nodes, %d s, %d workers, fsync %s, binary %s\n"
                "replay: %s\n",
                static_cast<unsigned long long>(seed), o.nodes, o.duration_s, workers, o.fsync.c_str(),
                o.binary.c_str(), replay.c_str());
  const std::string text = report.Render(header);
  std::cout << text << std::flush;
  if (!o.report_path.empty()) std::ofstream(o.report_path, std::ios::app) << text << "\n";

  const bool failed = report.anomaly_count() > 0;
  if ((failed && o.expect_anomaly.empty()) || o.keep_data) {
    std::cout << "data and logs kept in " << root << "\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  if (!o.expect_anomaly.empty()) {
    const size_t found = report.anomaly_count(o.expect_anomaly);
    std::cout << "expected anomalies of kind '" << o.expect_anomaly << "': found " << found << "\n";
    return found > 0 ? 0 : 1;
  }
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace converge::nemesis

int main(int argc, char** argv) {
  converge::nemesis::Options o;
  CLI::App app{"Converge nemesis: faults over real processes, then checks"};
  app.add_option("--converge", o.binary, "the converge executable")->required();
  app.add_option("--seed", o.seed, "0 draws one");
  app.add_option("--duration", o.duration_s, "seconds of faults and load");
  app.add_option("--nodes", o.nodes)->check(CLI::Range(2, 9));
  app.add_option("--workers-per-node", o.workers_per_node)->check(CLI::Range(1, 7));
  app.add_option("--fsync", o.fsync);
  app.add_option("--workloads", o.workloads)->delimiter(',');
  app.add_option("--faults", o.faults, "kinds, or 'none'")->delimiter(',');
  app.add_option("--report", o.report_path, "append the report to this file");
  app.add_option("--expect-anomaly", o.expect_anomaly,
                 "succeed only if an anomaly of this kind is found (tests of the suite)");
  app.add_flag("--keep-data", o.keep_data);
  app.add_option("--converge-deadline", o.converge_deadline_s, "seconds allowed after the heal");
  CLI11_PARSE(app, argc, argv);
  if (o.faults.size() == 1 && o.faults[0] == "none") o.faults.clear();
  for (const auto& w : o.workloads) {
    if (converge::nemesis::MakeWorkload(w, o.nodes) == nullptr) {
      std::fprintf(stderr, "unknown workload '%s'\n", w.c_str());
      return 2;
    }
  }
  return converge::nemesis::Run(o);
}
