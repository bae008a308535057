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
#include <hiredis/hiredis.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "cluster/messages.h"
#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/object.h"
#include "tests/cluster/sim_cluster.h"
#include "tests/node/test_node.h"

namespace converge::bench {
namespace {

using Clock = std::chrono::steady_clock;
using testing::Client;
using testing::SimCluster;
using testing::SimOptions;
using testing::TestNode;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Nearest-rank percentile of an unsorted sample (copied, then sorted).
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, v.size());
  return v[rank - 1];
}

std::string TypeName(uint8_t type) {
  switch (static_cast<ClusterMessage>(type)) {
    case ClusterMessage::kPush: return "Push";
    case ClusterMessage::kDigest: return "Digest";
    case ClusterMessage::kDeltas: return "Deltas";
    case ClusterMessage::kSnapshot: return "Snapshot";
    case ClusterMessage::kRights: return "Rights";
    case ClusterMessage::kAck: return "Ack";
  }
  return "type " + std::to_string(type);
}

// ---------------------------------------------------------------------------
// Simulated cluster helpers.

// Every running node has the same committed version vector. Cheap (no scan),
// so it is checked every simulated millisecond; equal digests are then
// confirmed with SimCluster::Converged(), which scans every store.
bool VectorsEqual(SimCluster& sim) {
  for (int i = 1; i < sim.size(); ++i) {
    if (!(sim.replica(i).committed_version_vector() == sim.replica(0).committed_version_vector())) {
      return false;
    }
  }
  return true;
}

struct Convergence {
  bool converged = false;
  uint64_t sim_ms = 0;  // simulated time from the start of the wait
  double wall_ms = 0;   // wall time spent in SimCluster::Run only
};

// Runs the simulation 1 ms at a time until the digests are equal. The wall
// clock covers only the simulation steps (message handling, commits, RocksDB),
// not the digest scans the harness does to detect the end.
Convergence RunToConvergence(SimCluster& sim, uint64_t max_ms) {
  Convergence c;
  const uint64_t start = sim.now_ms();
  while (sim.now_ms() - start < max_ms) {
    const auto t0 = Clock::now();
    sim.Run(1);
    c.wall_ms += MsSince(t0);
    if (VectorsEqual(sim) && sim.Converged()) {
      c.converged = true;
      break;
    }
  }
  c.sim_ms = sim.now_ms() - start;
  return c;
}

Status SetString(SimCluster& sim, int node, const std::string& key, const std::string& value) {
  return sim.Write(node, key, [&](Object& o, Stamp now) { return o.Set(now, value); });
}

// The ideal repair traffic: for every node and every origin it lacks deltas
// of, the missing range read from the log of a node that has all of it,
// joined by key into one DeltaInterval, encoded with crdt/codec.h Encode.
// That is the least any delta-based repair must move (one interval per
// receiving node and origin, every key once, no message framing counted).
uint64_t IdealRepairBytes(SimCluster& sim) {
  VersionVector top;
  for (int i = 0; i < sim.size(); ++i) {
    top.Join(sim.replica(i).committed_version_vector());
  }
  uint64_t total = 0;
  for (int r = 0; r < sim.size(); ++r) {
    const VersionVector& have = sim.replica(r).committed_version_vector();
    for (const auto& [origin, seq] : top.entries()) {
      if (have.Get(origin) >= seq) continue;
      int source = -1;
      for (int i = 0; i < sim.size(); ++i) {
        if (sim.replica(i).committed_version_vector().Get(origin) >= seq) source = i;
      }
      StatusOr<std::vector<DeltaInterval>> entries = sim.store(source).ReadLog(
          origin, have.Get(origin) + 1, seq, std::numeric_limits<uint64_t>::max());
      if (!entries.ok() || entries->empty()) {
        std::fprintf(stderr, "ideal: cannot read log: %s\n", entries.status().ToString().c_str());
        std::exit(1);
      }
      DeltaInterval joined = std::move(entries->front());
      for (size_t k = 1; k < entries->size(); ++k) {
        if (!joined.Append((*entries)[k]).ok()) {
          std::fprintf(stderr, "ideal: hole in the log of origin %016" PRIx64 "\n", origin);
          std::exit(1);
        }
      }
      // The benchmark's receivers lack whole origins (have = 0), so the
      // first entry never starts below what they have.
      total += Encode(joined).size();
    }
  }
  return total;
}

std::map<uint8_t, uint64_t> Minus(const std::map<uint8_t, uint64_t>& a,
                                  const std::map<uint8_t, uint64_t>& b) {
  std::map<uint8_t, uint64_t> out = a;
  for (const auto& [t, n] : b) out[t] -= n;
  return out;
}

// Classifies the delta bytes sent after a heal: the first copy of a seq
// range to a receiver is useful; a range the receiver was already sent is
// redundant, either by the same peer again or by another peer. Intervals
// partly covered count in proportion to their seqs covered.
class RepairAudit {
 public:
  void Observe(int from, int to, uint8_t type, const std::string& body) {
    if (static_cast<ClusterMessage>(type) != ClusterMessage::kDeltas &&
        static_cast<ClusterMessage>(type) != ClusterMessage::kPush) {
      if (static_cast<ClusterMessage>(type) == ClusterMessage::kDigest) ++digests_[{from, to}];
      return;
    }
    StatusOr<DeltasMessage> msg = static_cast<ClusterMessage>(type) == ClusterMessage::kDeltas
                                      ? Decode<DeltasMessage>(body)
                                      : StatusOr<DeltasMessage>(ToDeltas(body));
    if (!msg.ok()) return;
    ++answers_[{from, to}];
    pair_bytes_[{from, to}] += body.size();
    for (const DeltaInterval& i : msg->intervals) {
      const double bytes = static_cast<double>(Encode(i).size());
      const double seqs = static_cast<double>(i.last() - i.first() + 1);
      Ranges& any = sent_to_[{to, i.origin()}];
      Ranges& same = sent_by_[{from, to, i.origin()}];
      const double covered_any = static_cast<double>(any.Covered(i.first(), i.last()));
      const double covered_same = static_cast<double>(same.Covered(i.first(), i.last()));
      useful_ += bytes * (seqs - covered_any) / seqs;
      again_same_ += bytes * covered_same / seqs;
      again_other_ += bytes * (covered_any - covered_same) / seqs;
      any.Add(i.first(), i.last());
      same.Add(i.first(), i.last());
    }
  }

  void Print() const {
    const double total = useful_ + again_same_ + again_other_;
    std::printf("  interval bytes: first copy %.0f (%.0f %%), resent by the same peer %.0f "
                "(%.0f %%), resent by another peer %.0f (%.0f %%)\n",
                useful_, 100 * useful_ / total, again_same_, 100 * again_same_ / total,
                again_other_, 100 * again_other_ / total);
    std::printf("  per link (from->to): Deltas messages / bytes / Digests sent the other way\n");
    for (const auto& [link, n] : answers_) {
      const auto back = digests_.find({link.second, link.first});
      std::printf("    %d->%d  %5" PRIu64 " / %10" PRIu64 " / %5" PRIu64 "\n", link.first,
                  link.second, n, pair_bytes_.at(link), back == digests_.end() ? 0 : back->second);
    }
  }

 private:
  // Disjoint closed ranges [first, last], merged on insert.
  class Ranges {
   public:
    uint64_t Covered(uint64_t first, uint64_t last) const {
      uint64_t n = 0;
      for (const auto& [f, l] : r_) {
        const uint64_t lo = std::max(f, first), hi = std::min(l, last);
        if (lo <= hi) n += hi - lo + 1;
      }
      return n;
    }
    void Add(uint64_t first, uint64_t last) {
      auto it = r_.lower_bound(first);
      if (it != r_.begin() && std::prev(it)->second + 1 >= first) --it;
      while (it != r_.end() && it->first <= last + 1) {
        first = std::min(first, it->first);
        last = std::max(last, it->second);
        it = r_.erase(it);
      }
      r_[first] = last;
    }

   private:
    std::map<uint64_t, uint64_t> r_;
  };

  static StatusOr<DeltasMessage> ToDeltas(const std::string& body) {
    StatusOr<PushMessage> push = Decode<PushMessage>(body);
    if (!push.ok()) return push.status();
    DeltasMessage d;
    d.intervals = std::move(push->intervals);
    return d;
  }

  std::map<std::pair<int, ReplicaId>, Ranges> sent_to_;
  std::map<std::tuple<int, int, ReplicaId>, Ranges> sent_by_;
  std::map<std::pair<int, int>, uint64_t> answers_, digests_, pair_bytes_;
  double useful_ = 0, again_same_ = 0, again_other_ = 0;
};

// ---------------------------------------------------------------------------
// heal-sim

double HealSim(int per_side, size_t max_batch_bytes, uint64_t seed) {
  SimOptions o;
  o.nodes = 3;
  o.seed = seed;
  o.max_batch_bytes = max_batch_bytes;
  SimCluster sim(o);
  sim.Run(200);  // connect and exchange first digests
  sim.Partition({0}, {1, 2});
  sim.Run(100);

  // Side {0}: node 0 writes per_side new keys; side {1,2}: the same count
  // split over nodes 1 and 2 (so node 0 lacks two origins and the others one,
  // and nodes 1 and 2 relay each other's deltas). Simulated time moves 1 ms
  // per 100 writes of each side, as a steady client load would.
  const std::string value(32, 'v');
  for (int i = 0; i < per_side; ++i) {
    const std::string n = std::to_string(i);
    SetString(sim, 0, "a:" + n, value + n).IgnoreError();  // acknowledged or not, measured below
    SetString(sim, 1 + i % 2, "b:" + n, value + n).IgnoreError();
    if (i % 100 == 99) sim.Run(1);
  }
  sim.Run(500);  // each side settles: nodes 1 and 2 agree
  const uint64_t ideal = IdealRepairBytes(sim);

  const uint64_t bytes0 = sim.bytes_on_wire();
  const auto by_type0 = sim.bytes_by_type();
  const auto msgs0 = sim.messages_by_type();
  RepairAudit audit;
  sim.set_observer([&](int from, int to, uint8_t type, const std::string& body) {
    audit.Observe(from, to, type, body);
  });
  sim.HealAll();
  const Convergence c = RunToConvergence(sim, 60'000);
  const uint64_t bytes_converged = sim.bytes_on_wire() - bytes0;
  const auto by_type = Minus(sim.bytes_by_type(), by_type0);
  const auto msgs = Minus(sim.messages_by_type(), msgs0);
  // Answers still in flight at convergence are traffic the heal caused too.
  while (sim.in_flight() > 0) sim.Run(1);
  const uint64_t bytes_settled = sim.bytes_on_wire() - bytes0;
  const auto by_type_settled = Minus(sim.bytes_by_type(), by_type0);
  const auto msgs_settled = Minus(sim.messages_by_type(), msgs0);

  std::printf("\nheal-sim: 3 nodes, {0} | {1,2}, %d SETs per side, batch %zu KiB, gossip %" PRIu64
              " ms, delay %" PRIu64 "-%" PRIu64 " ms, seed %" PRIu64 "\n",
              per_side, max_batch_bytes >> 10, o.gossip_interval_ms, o.min_delay_ms,
              o.max_delay_ms, seed);
  std::printf("  converged %-3s  sim %6" PRIu64 " ms   wall %8.1f ms\n", c.converged ? "yes" : "NO",
              c.sim_ms, c.wall_ms);
  std::printf("  ideal (joined missing deltas)   %10" PRIu64 " B\n", ideal);
  std::printf("  on the wire, heal -> converged  %10" PRIu64 " B   ratio %.2f\n", bytes_converged,
              static_cast<double>(bytes_converged) / static_cast<double>(ideal));
  std::printf("  on the wire, heal -> quiet      %10" PRIu64 " B   ratio %.2f\n", bytes_settled,
              static_cast<double>(bytes_settled) / static_cast<double>(ideal));
  std::printf("  %-10s %12s %8s %14s %8s\n", "type", "B to conv.", "msgs", "B to quiet", "msgs");
  for (const auto& [t, n] : by_type_settled) {
    const uint64_t conv = by_type.count(t) ? by_type.at(t) : 0;
    const uint64_t conv_msgs = msgs.count(t) ? msgs.at(t) : 0;
    std::printf("  %-10s %12" PRIu64 " %8" PRIu64 " %14" PRIu64 " %8" PRIu64 "\n",
                TypeName(t).c_str(), conv, conv_msgs, n, msgs_settled.at(t));
  }
  audit.Print();
  return static_cast<double>(bytes_converged) / static_cast<double>(ideal);
}

// ---------------------------------------------------------------------------
// size

void SizeSweep(int writes, double drop) {
  std::printf("\nsize: %d random writes (SET / INCRBY / HSET over 3 x 300 keys) on random nodes,"
              " 2 per sim ms, drop %.0f %%, gossip 50 ms, delay 1-5 ms\n",
              writes, drop * 100);
  std::printf("  %-6s %10s %12s %14s %12s\n", "nodes", "converged", "sim ms", "wall ms",
              "bytes");
  for (int nodes : {3, 5, 9}) {
    SimOptions o;
    o.nodes = nodes;
    o.seed = 7;
    o.drop = drop;
    SimCluster sim(o);
    sim.Run(300);  // everyone connected
    std::mt19937_64 rng(11);
    const uint64_t bytes0 = sim.bytes_on_wire();
    for (int i = 0; i < writes; ++i) {
      const int node = static_cast<int>(rng() % nodes);
      const std::string k = std::to_string(rng() % 300);
      switch (rng() % 3) {
        case 0:
          SetString(sim, node, "s" + k, "x" + std::to_string(rng())).IgnoreError();  // measured below
          break;
        case 1:
          sim.Write(node, "c" + k, [](Object& ob, Stamp now) { return ob.IncrBy(now, 1); })
              .IgnoreError();  // measured below
          break;
        default: {
          const std::string field = "f" + std::to_string(rng() % 8);
          sim.Write(node, "h" + k, [&](Object& ob, Stamp now) {
               return ob.HashSet(now, {{field, std::to_string(i)}});
             }).IgnoreError();  // measured below
        }
      }
      if (i % 2 == 1) sim.Run(1);
    }
    const Convergence c = RunToConvergence(sim, 60'000);
    std::printf("  %-6d %10s %12" PRIu64 " %14.1f %12" PRIu64 "\n", nodes,
                c.converged ? "yes" : "NO", c.sim_ms, c.wall_ms, sim.bytes_on_wire() - bytes0);
  }
}

// ---------------------------------------------------------------------------
// Real nodes.

// --threads=N: the nodes' io threads (0: NodeOptions' default).
int g_node_threads = 0;

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

struct HealNodeResult {
  double ms = -1;           // heal to equal version vectors (then digests); -1: did not converge
  double bytes_ratio = -1;  // replication bytes received over the logs' bytes that had to cross
};

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

}  // namespace
}  // namespace converge::bench

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
