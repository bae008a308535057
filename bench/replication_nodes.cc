// replication_bench: the sections on real nodes over loopback (lag,
// heal-node), each node a TestNode in this process, driven through hiredis.
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/replication_bench.h"
#include "tests/node/test_node.h"

namespace converge::bench {

// --threads=N: the nodes' io threads (0: NodeOptions' default).
int g_node_threads = 0;

namespace {

using testing::Client;
using testing::TestNode;


std::vector<std::unique_ptr<TestNode>> StartThree(const std::string& tag) {
  auto tweak = [](NodeOptions& o) {
    o.gossip_interval_ms = 200;  // the production default (TestNode uses 50)
    o.fsync = FsyncMode::kEverySec;
    if (g_node_threads > 0) o.threads = g_node_threads;
  };
  std::vector<std::unique_ptr<TestNode>> nodes;
  nodes.push_back(TestNode::Start(tag + "A", {}, tweak));
  if (!nodes[0]) return {};
  nodes.push_back(TestNode::Start(tag + "B", {nodes[0]->peer_address()}, tweak));
  if (!nodes[1]) return {};
  nodes.push_back(
      TestNode::Start(tag + "C", {nodes[0]->peer_address(), nodes[1]->peer_address()}, tweak));
  if (!nodes[2]) return {};
  const bool meshed = testing::WaitFor([&] {
    for (auto& n : nodes) {
      Client c(n->node->client_port());
      if (c.Run({"INFO", "replication"}).find("peers_connected:2") == std::string::npos) {
        return false;
      }
    }
    return true;
  });
  if (!meshed) return {};
  return nodes;
}

// Returns {p50, p99} of acknowledgement to visibility, ms.
std::pair<double, double> Lag(TestNode& a, TestNode& b, int rate, double seconds) {
  const int n = static_cast<int>(rate * seconds);
  const std::string key = "lag:" + std::to_string(rate);
  std::vector<double> sent_ms(n), ack_ms(n), seen_ms(n, -1);
  std::atomic<bool> writing_done{false};
  std::atomic<long> polls{0};
  const auto t0 = Clock::now();

  // The reader polls B with GET as fast as one connection can; each new
  // value v marks every write <= v it had not seen as visible now (per-origin
  // order: B applies A's deltas in seq order, so v implies all before it).
  std::thread reader([&] {
    Client c(b.node->client_port());
    int last = -1;
    const auto deadline_after_writes = std::chrono::seconds(10);
    Clock::time_point writes_ended{};
    while (last < n - 1) {
      if (writing_done.load() && writes_ended == Clock::time_point{}) writes_ended = Clock::now();
      if (writes_ended != Clock::time_point{} && Clock::now() - writes_ended > deadline_after_writes) {
        break;
      }
      auto* r = static_cast<redisReply*>(redisCommand(c.raw(), "GET %s", key.c_str()));
      const double now = MsSince(t0);
      polls.fetch_add(1, std::memory_order_relaxed);
      if (r == nullptr) break;
      if (r->type == REDIS_REPLY_STRING) {
        const int v = std::atoi(r->str);
        for (int i = last + 1; i <= v && i < n; ++i) seen_ms[i] = now;
        last = std::max(last, v);
      }
      freeReplyObject(r);
    }
  });

  Client w(a.node->client_port());
  const double interval_ms = 1000.0 / rate;
  int failed = 0;
  for (int i = 0; i < n; ++i) {
    // Paced by the clock: write i goes at t0 + i / rate, or at once when late.
    const double due = i * interval_ms;
    while (MsSince(t0) < due) {
      if (due - MsSince(t0) > 0.2) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    sent_ms[i] = MsSince(t0);
    auto* r = static_cast<redisReply*>(
        redisCommand(w.raw(), "SET %s %d", key.c_str(), i));
    ack_ms[i] = MsSince(t0);
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) ++failed;
    if (r != nullptr) freeReplyObject(r);
  }
  const double write_span_ms = ack_ms[n - 1] - sent_ms[0];
  writing_done = true;
  reader.join();
  const double read_span_ms = MsSince(t0);

  std::vector<double> from_ack, from_send, rtt;
  int unseen = 0;
  for (int i = 0; i < n; ++i) {
    rtt.push_back(ack_ms[i] - sent_ms[i]);
    if (seen_ms[i] < 0) {
      ++unseen;
      continue;
    }
    from_ack.push_back(seen_ms[i] - ack_ms[i]);
    from_send.push_back(seen_ms[i] - sent_ms[i]);
  }
  const double poll_us = read_span_ms * 1000.0 / static_cast<double>(std::max(1L, polls.load()));
  std::printf("  %7d %9.0f %8.3f %8.3f %8.3f %10.3f %10.3f %8.3f %8.3f %7.0f %6d %6d\n", rate,
              (n - 1) * 1000.0 / write_span_ms, Percentile(from_ack, 50), Percentile(from_ack, 99),
              Percentile(from_ack, 100), Percentile(from_send, 50), Percentile(from_send, 99),
              Percentile(rtt, 50), Percentile(rtt, 99), poll_us, unseen, failed);
  if (unseen > 0) return {-1, -1};  // never visible: no honest percentile
  return {Percentile(from_ack, 50), Percentile(from_ack, 99)};
}


std::string Digest(TestNode& n) {
  Client c(n.node->client_port());
  return c.Run({"DEBUG", "DIGEST"});
}

// The value of INFO's `name:` line in `info`, or "?" when there is none.
std::string InfoField(const std::string& info, const std::string& name) {
  const std::string key = "\n" + name + ":";
  const size_t at = info.find(key);
  if (at == std::string::npos) return "?";
  const size_t from = at + key.size();
  return info.substr(from, info.find_first_of("\r\n", from) - from);
}

// The committed version vector, from INFO replication's vv: line.
std::string Vector(Client& c) { return InfoField(c.Run({"INFO", "replication"}), "vv"); }

// Replication body bytes this node has received from all its peers (the sum
// of bytes_received= over INFO replication's peer_ lines).
uint64_t BytesReceived(Client& c) {
  const std::string info = c.Run({"INFO", "replication"});
  uint64_t total = 0;
  for (size_t at = info.find("bytes_received="); at != std::string::npos;
       at = info.find("bytes_received=", at + 1)) {
    total += std::strtoull(info.c_str() + at + 15, nullptr, 10);
  }
  return total;
}

// INFO persistence's log_bytes: the encoded size of the node's delta log.
uint64_t LogBytes(Client& c) {
  return std::strtoull(InfoField(c.Run({"INFO", "persistence"}), "log_bytes").c_str(), nullptr, 10);
}

// Writes keys prefix0..prefix(count-1) on node `n`, pipelined 500 at a time.
int PipelinedSets(TestNode& n, const std::string& prefix, int from, int count, int step) {
  Client c(n.node->client_port());
  const std::string value(32, 'v');
  int errors = 0;
  for (int base = from; base < count; base += 500 * step) {
    int sent = 0;
    for (int i = base; i < count && i < base + 500 * step; i += step) {
      const std::string k = prefix + std::to_string(i);
      const std::string v = value + std::to_string(i);
      redisAppendCommand(c.raw(), "SET %s %s", k.c_str(), v.c_str());
      ++sent;
    }
    for (int s = 0; s < sent; ++s) {
      void* reply = nullptr;
      if (redisGetReply(c.raw(), &reply) != REDIS_OK) return -1;
      auto* r = static_cast<redisReply*>(reply);
      if (r->type == REDIS_REPLY_ERROR) ++errors;
      freeReplyObject(r);
    }
  }
  return errors;
}

// CPU seconds (user + system) this process has used: the three nodes of
// heal-node run in it, so a heal's share shows whether it waits or works.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

void LagSection(int rate, double seconds) {
  auto nodes = StartThree("lag");
  if (nodes.empty()) {
    std::printf("\nlag: could not start 3 meshed nodes\n");
    return;
  }
  std::printf("\nlag: 3 nodes on loopback (fsync everysec, gossip 200 ms), SET on A paced by "
              "the clock, GET-polled on B; ms\n");
  std::printf("  %7s %9s %8s %8s %8s %10s %10s %8s %8s %7s %6s %6s\n", "target", "achieved",
              "ack p50", "ack p99", "ack max", "send p50", "send p99", "rtt p50", "rtt p99",
              "poll us", "unseen", "errors");
  if (rate > 0) {
    const auto [p50, p99] = Lag(*nodes[0], *nodes[1], rate, seconds);
    std::printf("RESULT lag_rate %d\nRESULT lag_p50_ms %.3f\nRESULT lag_p99_ms %.3f\n", rate, p50,
                p99);
    return;
  }
  Lag(*nodes[0], *nodes[1], 2'000, 4.0);
  const auto [p50, p99] = Lag(*nodes[0], *nodes[1], 10'000, 2.0);
  std::printf("RESULT lag_rate 10000\nRESULT lag_p50_ms %.3f\nRESULT lag_p99_ms %.3f\n", p50, p99);
}


HealNodeResult HealNode(int per_side) {
  auto nodes = StartThree("heal");
  if (nodes.empty()) {
    std::printf("\nheal-node: could not start 3 meshed nodes\n");
    return {};
  }
  // The transport warns on every DEBUG PARTITION; its logger exists now.
  spdlog::set_level(spdlog::level::err);
  TestNode& a = *nodes[0];
  TestNode& b = *nodes[1];
  TestNode& c = *nodes[2];
  Client ca(a.node->client_port()), cb(b.node->client_port()), cc(c.node->client_port());
  // Cut on both ends of every link so neither side's transport carries
  // anything across (one side would do; both make the cut unambiguous).
  ca.Run({"DEBUG", "PARTITION", b.options.name, c.options.name});
  cb.Run({"DEBUG", "PARTITION", a.options.name});
  cc.Run({"DEBUG", "PARTITION", a.options.name});

  const auto tw = Clock::now();
  int errors = PipelinedSets(a, "a:", 0, per_side, 1);
  errors += PipelinedSets(b, "b:", 0, per_side, 2);
  errors += PipelinedSets(c, "b:", 1, per_side, 2);
  const double write_ms = MsSince(tw);
  const bool side_settled = testing::WaitFor([&] { return Digest(b) == Digest(c); });
  const bool still_apart = Digest(a) != Digest(b);

  // Whether A's connections outlived the cut (then the heal is not a peer-up
  // event and nothing pulls before the next gossip tick).
  const std::string connected_before = InfoField(ca.Run({"INFO", "replication"}), "peers_connected");
  const auto t0 = Clock::now();
  const double cpu0 = ProcessCpuSeconds();
  const uint64_t received0 = BytesReceived(ca) + BytesReceived(cb) + BytesReceived(cc);
  // The ideal: A's log goes to B and to C, B's (both of B and C's writes) to A.
  const uint64_t ideal = 2 * LogBytes(ca) + LogBytes(cb);
  double heal_cpu = 0;
  ca.Run({"DEBUG", "HEAL"});
  cb.Run({"DEBUG", "HEAL"});
  cc.Run({"DEBUG", "HEAL"});
  // Polled cheaply: the committed version vectors from INFO replication.
  // DEBUG DIGEST runs on the node's apply strand and scans every key (tens
  // of ms here), so polling it would stall the very repair being timed; it
  // confirms the end instead, outside the timing.
  int rounds = 0;
  double round_ms_total = 0;
  bool converged = false;
  double heal_ms = 0;
  while (MsSince(t0) < 60'000) {
    const auto r0 = Clock::now();
    const std::string va = Vector(ca), vb = Vector(cb), vc = Vector(cc);
    round_ms_total += MsSince(r0);
    ++rounds;
    if (va == vb && vb == vc) {
      heal_ms = MsSince(t0);
      heal_cpu = ProcessCpuSeconds() - cpu0;
      const std::string da = Digest(a);
      if (da == Digest(b) && da == Digest(c)) {
        converged = true;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const uint64_t received = BytesReceived(ca) + BytesReceived(cb) + BytesReceived(cc) - received0;
  std::printf("\nheal-node: 3 nodes on loopback, DEBUG PARTITION A | B,C, %d SETs per side "
              "(pipelined, %.0f ms, %d errors), DEBUG HEAL\n",
              per_side, write_ms, errors);
  std::printf("  sides settled %s, apart before heal %s, A's peers connected at heal %s, "
              "converged %s\n",
              side_settled ? "yes" : "NO", still_apart ? "yes" : "NO", connected_before.c_str(),
              converged ? "yes" : "NO");
  std::printf("  heal -> equal version vectors on A, B, C (then equal DEBUG DIGEST): %.1f ms "
              "wall, %.2f CPU s in the three nodes (%.2f cores busy; %d poll rounds, %.2f ms "
              "per round of 3 INFO)\n",
              heal_ms, heal_cpu, heal_ms > 0 ? heal_cpu * 1000 / heal_ms : 0.0, rounds,
              round_ms_total / rounds);
  std::printf("  replication bytes received by A, B, C from heal to the digest check: %.1f MB, "
              "%.2fx the logs' bytes that had to cross (A's to B and C, B's to A: %.1f MB)\n",
              static_cast<double>(received) / 1e6,
              ideal > 0 ? static_cast<double>(received) / static_cast<double>(ideal) : 0.0,
              static_cast<double>(ideal) / 1e6);
  if (!converged) return {};
  return {heal_ms, ideal > 0 ? static_cast<double>(received) / static_cast<double>(ideal) : -1};
}

}  // namespace converge::bench
