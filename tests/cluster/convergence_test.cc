// Multi-replica runs over the simulated network: random writes of every type
// on every node, through partitions, loss, duplication, delay, restarts, new
// members, a node away past the log cap, and a fast clock. At the end: equal
// digests, every acknowledged write present, counters equal to the
// acknowledged increments, reservation counters never negative.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crdt/object.h"
#include "tests/cluster/sim_cluster.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge::testing {
namespace {

// Random client operations with the expectations they create.
class Workload {
 public:
  explicit Workload(uint64_t seed) : rng_(seed) {}

  void Step(SimCluster& sim) {
    const int node = static_cast<int>(rng_() % sim.size());
    if (!sim.running(node)) return;
    switch (rng_() % 5) {
      case 0: {  // counter
        const std::string key = "c" + std::to_string(rng_() % 4);
        const int64_t by = static_cast<int64_t>(rng_() % 9) - 3;
        if (sim.Write(node, key, [&](Object& o, Stamp now) { return o.IncrBy(now, by); }).ok()) {
          counters_[key] += by;
        }
        break;
      }
      case 1: {  // record field with a unique value: it must survive
        const std::string key = "h" + std::to_string(rng_() % 3);
        const std::string field = "f" + std::to_string(node) + "-" + std::to_string(++unique_);
        if (sim.Write(node, key, [&](Object& o, Stamp now) {
              return o.HashSet(now, {{field, "v" + field}});
            }).ok()) {
          fields_[key].insert(field);
        }
        break;
      }
      case 2: {  // string
        const std::string key = "s" + std::to_string(rng_() % 3);
        sim.Write(node, key, [&](Object& o, Stamp now) {
             return o.Set(now, "x" + std::to_string(rng_()));
           }).IgnoreError();
        break;
      }
      case 3: {  // reservation counter: add
        const uint64_t n = 1 + rng_() % 5;
        if (sim.Write(node, "rc", [&](Object& o, Stamp now) { return o.RcAdd(now, n); }).ok()) {
          rc_value_ += static_cast<int64_t>(n);
        }
        break;
      }
      case 4: {  // reservation counter: take what local rights allow
        const uint64_t n = 1 + rng_() % 3;
        if (sim.Write(node, "rc", [&](Object& o, Stamp now) { return o.RcTake(now, n); }).ok()) {
          rc_value_ -= static_cast<int64_t>(n);
        }
        StatusOr<Object> rc = sim.Read(node, "rc");
        if (rc.ok() && rc->As<ReservationCounter>() != nullptr) {
          EXPECT_GE(rc->As<ReservationCounter>()->Value(), 0) << "negative on node " << node;
        }
        break;
      }
    }
  }

  // Every acknowledged write is visible on `node`.
  void Check(SimCluster& sim, int node) {
    for (const auto& [key, sum] : counters_) {
      StatusOr<Object> o = sim.Read(node, key);
      ASSERT_OK(o);
      const PNCounter* c = o->As<PNCounter>();
      ASSERT_NE(c, nullptr) << key;
      EXPECT_EQ(c->Value(), sum) << key << " on node " << node;
    }
    for (const auto& [key, fields] : fields_) {
      StatusOr<Object> o = sim.Read(node, key);
      ASSERT_OK(o);
      const LwwMap* m = o->As<LwwMap>();
      ASSERT_NE(m, nullptr) << key;
      for (const std::string& f : fields) {
        const std::string* v = m->Get(f);
        ASSERT_NE(v, nullptr) << key << "." << f << " lost on node " << node;
        EXPECT_EQ(*v, "v" + f);
      }
    }
    StatusOr<Object> rc = sim.Read(node, "rc");
    ASSERT_OK(rc);
    if (const ReservationCounter* r = rc->As<ReservationCounter>()) {
      EXPECT_EQ(r->Value(), rc_value_);
      EXPECT_GE(r->Value(), 0);
    }
  }

 private:
  std::mt19937_64 rng_;
  uint64_t unique_ = 0;
  std::map<std::string, int64_t> counters_;
  std::map<std::string, std::set<std::string>> fields_;
  int64_t rc_value_ = 0;
};

void WriteFor(SimCluster& sim, Workload& w, uint64_t ms, int writes_per_ms = 1) {
  for (uint64_t t = 0; t < ms; ++t) {
    for (int k = 0; k < writes_per_ms; ++k) w.Step(sim);
    sim.Run(1);
  }
}

void ExpectConvergedWithEveryWrite(SimCluster& sim, Workload& w, uint64_t max_ms = 20'000) {
  ASSERT_TRUE(sim.RunUntilConverged(max_ms)) << "no convergence within " << max_ms << " ms";
  for (int i = 0; i < sim.size(); ++i) {
    if (sim.running(i)) w.Check(sim, i);
  }
}

class ClusterSizeTest : public ::testing::TestWithParam<int> {};

TEST_P(ClusterSizeTest, RandomWritesOnEveryNodeConverge) {
  const uint64_t seed = AnnounceSeed("ClusterSizeTest/" + std::to_string(GetParam()));
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SimOptions o;
  o.nodes = GetParam();
  o.seed = seed;
  SimCluster sim(o);
  Workload w(seed);
  WriteFor(sim, w, 400);
  ExpectConvergedWithEveryWrite(sim, w);
}

INSTANTIATE_TEST_SUITE_P(Sizes, ClusterSizeTest, ::testing::Values(3, 5, 9));

struct PartitionCase {
  const char* name;
  std::vector<std::pair<int, int>> cuts;  // among 5 nodes
  friend void PrintTo(const PartitionCase& c, std::ostream* os) { *os << c.name; }
};

class PartitionTest : public ::testing::TestWithParam<PartitionCase> {};

TEST_P(PartitionTest, WritesOnEverySideSurviveTheHeal) {
  const uint64_t seed = AnnounceSeed(std::string("PartitionTest/") + GetParam().name);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SimOptions o;
  o.nodes = 5;
  o.seed = seed;
  SimCluster sim(o);
  Workload w(seed);
  WriteFor(sim, w, 100);
  for (auto [a, b] : GetParam().cuts) sim.Cut(a, b);
  WriteFor(sim, w, 600);
  sim.HealAll();
  WriteFor(sim, w, 50);
  ExpectConvergedWithEveryWrite(sim, w);
}

std::vector<std::pair<int, int>> AllPairsBetween(std::vector<int> a, std::vector<int> b) {
  std::vector<std::pair<int, int>> out;
  for (int x : a) {
    for (int y : b) out.emplace_back(x, y);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PartitionTest,
    ::testing::Values(PartitionCase{"halves", AllPairsBetween({0, 1}, {2, 3, 4})},
                      PartitionCase{"isolated", AllPairsBetween({0}, {1, 2, 3, 4})},
                      // 2 is the only bridge between {0,1} and {3,4}.
                      PartitionCase{"bridge", AllPairsBetween({0, 1}, {3, 4})},
                      // Each node sees only its two ring neighbours.
                      PartitionCase{"majorities-ring", {{0, 2}, {0, 3}, {1, 3}, {1, 4}, {2, 4}}}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (char& c : n) {
        if (c == '-') c = '_';
      }
      return n;
    });

TEST(ClusterFaultTest, LossDuplicationAndDelayOnEveryLink) {
  const uint64_t seed = AnnounceSeed("ClusterFaultTest.LossDuplicationAndDelay");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SimOptions o;
  o.nodes = 4;
  o.seed = seed;
  o.drop = 0.2;
  o.duplicate = 0.2;
  o.max_delay_ms = 40;
  SimCluster sim(o);
  Workload w(seed);
  WriteFor(sim, w, 600);
  ExpectConvergedWithEveryWrite(sim, w, 60'000);
  EXPECT_GT(sim.messages_dropped(), 0u);
}

TEST(ClusterFaultTest, NodeRestartedMidStream) {
  const uint64_t seed = AnnounceSeed("ClusterFaultTest.NodeRestartedMidStream");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SimOptions o;
  o.nodes = 3;
  o.seed = seed;
  SimCluster sim(o);
  Workload w(seed);
  WriteFor(sim, w, 200);
  sim.Stop(1);
  WriteFor(sim, w, 300);
  sim.Start(1);
  WriteFor(sim, w, 200);
  ExpectConvergedWithEveryWrite(sim, w);
}

TEST(ClusterFaultTest, NewNodeJoinsThroughOneSeed) {
  const uint64_t seed = AnnounceSeed("ClusterFaultTest.NewNodeJoins");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SimOptions o;
  o.nodes = 3;
  o.seed = seed;
  SimCluster sim(o);
  Workload w(seed);
  WriteFor(sim, w, 300);
  const int fresh = sim.AddNode(/*seed=*/0);
  WriteFor(sim, w, 300);
  ExpectConvergedWithEveryWrite(sim, w);
  // It learned the other members from gossip, not only its seed.
  int known = 0;
  for (const MemberView& m : sim.replicator(fresh).Members()) known += m.connected ? 1 : 0;
  EXPECT_EQ(known, 4) << "itself and the three others";
}

TEST(ClusterFaultTest, NodeAwayPastTheLogCapCatchesUpByFullState) {
  const uint64_t seed = AnnounceSeed("ClusterFaultTest.AwayPastLogCap");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SimOptions o;
  o.nodes = 3;
  o.seed = seed;
  o.log_cap_bytes = 16 << 10;  // small: a few hundred deltas
  o.max_batch_bytes = 4 << 10;
  SimCluster sim(o);
  Workload w(seed);
  WriteFor(sim, w, 100);
  sim.Stop(2);
  WriteFor(sim, w, 2000, 2);
  EXPECT_FALSE(sim.store(0).log_floor().empty()) << "the cap must have trimmed the log";
  sim.Start(2);
  ExpectConvergedWithEveryWrite(sim, w, 60'000);
  EXPECT_GE(sim.replicator(2).snapshots_received(), 1u);
}

// A node whose clock is 10 minutes fast: nobody adopts its timestamps while
// they are beyond the bound, so its write does not overwrite what the others
// write meanwhile; once (simulated) time catches up, all converge.
TEST(ClusterFaultTest, FastClockDoesNotWinBeyondTheBound) {
  const uint64_t seed = AnnounceSeed("ClusterFaultTest.FastClock");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  SimOptions o;
  o.nodes = 3;
  o.seed = seed;
  o.gossip_interval_ms = 1000;
  SimCluster sim(o);
  sim.Run(100);
  sim.SetClockOffset(2, 10 * 60 * 1000);
  sim.Run(10);
  ASSERT_OK(sim.Write(2, "k", [](Object& ob, Stamp now) { return ob.HashSet(now, {{"f", "fast"}}); }));
  sim.Run(200);
  ASSERT_OK(sim.Write(0, "k", [](Object& ob, Stamp now) { return ob.HashSet(now, {{"f", "honest"}}); }));
  sim.Run(2000);
  for (int i : {0, 1}) {
    StatusOr<Object> ob = sim.Read(i, "k");
    ASSERT_OK(ob);
    ASSERT_NE(ob->As<LwwMap>(), nullptr);
    EXPECT_EQ(*ob->As<LwwMap>()->Get("f"), "honest") << "node " << i;
    EXPECT_FALSE(sim.replica(i).HeldForClock().empty()) << "the fast write is held and reported";
  }
  sim.Run(10 * 60 * 1000 + 5000);  // time catches up
  EXPECT_TRUE(sim.RunUntilConverged(10'000));
  EXPECT_TRUE(sim.replica(0).HeldForClock().empty());
}

// A printed seed is only worth printing if it replays the run: the same seed
// gives the same replica ids, the same traffic and the same end state. (Ids
// once came from the machine's entropy, so peers iterated in a different
// order every run and a failure seen once in CI did not come back.)
TEST(SimClusterTest, ASeedReplaysTheSameRun) {
  const uint64_t seed = AnnounceSeed("SimClusterTest.ASeedReplaysTheSameRun");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  struct Run {
    std::vector<ReplicaId> ids;
    uint64_t bytes = 0, dropped = 0, converged_at = 0;
    std::string digest;
  };
  auto run = [seed] {
    SimCluster sim({.nodes = 4, .seed = seed, .max_delay_ms = 30, .drop = 0.1, .duplicate = 0.1});
    Workload w(seed);
    WriteFor(sim, w, 300);
    Run r;
    EXPECT_TRUE(sim.RunUntilConverged(60'000));
    for (int i = 0; i < sim.size(); ++i) r.ids.push_back(sim.id(i));
    r.bytes = sim.bytes_on_wire();
    r.dropped = sim.messages_dropped();
    r.converged_at = sim.now_ms();
    r.digest = sim.Digest(0);
    return r;
  };
  const Run a = run(), b = run();
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.dropped, b.dropped);
  EXPECT_EQ(a.converged_at, b.converged_at);
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_GT(a.bytes, 0u);
}

}  // namespace
}  // namespace converge::testing
