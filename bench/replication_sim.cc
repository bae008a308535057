// replication_bench: the sections on the simulated cluster (heal-sim, size).
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "bench/replication_bench.h"
#include "cluster/messages.h"
#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/object.h"
#include "tests/cluster/sim_cluster.h"

namespace converge::bench {
namespace {

using testing::SimCluster;
using testing::SimOptions;

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

}  // namespace

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

}  // namespace converge::bench
