// Real nodes over loopback TCP: random writes of every type on every node,
// a partition and lossy links set through the DEBUG commands, then equal
// digests, every acknowledged write present and counters equal to the
// acknowledged increments.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "tests/node/test_node.h"
#include "tests/testing/seed.h"

namespace converge::testing {
namespace {

class LoopbackReplicationTest : public ::testing::TestWithParam<int> {};

TEST_P(LoopbackReplicationTest, ThroughPartitionAndLossyLinks) {
  const int n = GetParam();
  const uint64_t seed = AnnounceSeed("LoopbackReplicationTest/" + std::to_string(n));
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  LoopbackCluster cluster(n);
  for (auto& n : cluster.nodes) ASSERT_NE(n, nullptr);
  ASSERT_TRUE(WaitFor([&] { return cluster.AllConnected(); })) << "mesh did not form";

  std::map<std::string, int64_t> counters;
  int64_t rc_added = 0;
  std::map<std::string, std::set<std::string>> fields;
  int unique = 0;
  auto write_some = [&](int count) {
    for (int k = 0; k < count; ++k) {
      const int node = static_cast<int>(rng() % n);
      Client& c = *cluster.clients[node];
      const uint64_t kind = rng() % 4;
      if (kind == 0) {
        const std::string key = "c" + std::to_string(rng() % 3);
        const int64_t by = static_cast<int64_t>(rng() % 7) - 2;
        if (c.Run({"INCRBY", key, std::to_string(by)}).rfind(":", 0) == 0) counters[key] += by;
      } else if (kind == 1) {  // strings: last writer wins, checked by the digests
        c.Run({"SET", "s" + std::to_string(rng() % 3), std::to_string(rng())});
      } else if (kind == 2) {  // reservation counter: adds only, so the sum is known
        const int64_t n = 1 + static_cast<int64_t>(rng() % 5);
        if (c.Run({"RC.ADD", "rc", std::to_string(n)}).rfind(":", 0) == 0) rc_added += n;
      } else {
        const std::string key = "h" + std::to_string(rng() % 2);
        const std::string field = "f" + std::to_string(++unique);
        if (c.Run({"HSET", key, field, "v" + field}) == ":1") fields[key].insert(field);
      }
    }
  };
  write_some(150);
  // n1 cut off from every peer; writes continue on both sides.
  std::vector<std::string> cut = {"DEBUG", "PARTITION"};
  for (int j = 2; j <= n; ++j) cut.push_back("n" + std::to_string(j));
  ASSERT_EQ(cluster.clients[0]->Run(cut), "OK");
  write_some(150);
  ASSERT_EQ(cluster.clients[0]->Run({"DEBUG", "HEAL"}), "OK");
  // Lossy, duplicating, slow links on every node.
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      ASSERT_EQ(cluster.clients[i]->Run({"DEBUG", "LINK", "n" + std::to_string(j + 1), "drop",
                                         "0.2", "delay-ms", "5", "dup", "0.2"}),
                "OK");
    }
  }
  write_some(150);
  for (auto& c : cluster.clients) ASSERT_EQ(c->Run({"DEBUG", "HEAL"}), "OK");

  ASSERT_TRUE(WaitFor([&] { return cluster.DigestsEqual(); }, std::chrono::seconds(30)))
      << "digests differ 30 s after the last heal";
  for (auto& c : cluster.clients) {
    // Per-peer figures: one line per peer, alive, with traffic counted.
    const std::string info = c->Run({"INFO", "replication"});
    size_t peers = 0;
    for (size_t at = info.find("\npeer_"); at != std::string::npos; at = info.find("\npeer_", at + 1)) {
      const std::string line = info.substr(at + 1, info.find('\r', at) - at - 1);
      EXPECT_NE(line.find("state=alive"), std::string::npos) << line;
      const std::string zero = "bytes_received=0";
      EXPECT_FALSE(line.size() >= zero.size() &&
                   line.compare(line.size() - zero.size(), zero.size(), zero) == 0)
          << line;
      ++peers;
    }
    EXPECT_EQ(peers, static_cast<size_t>(n - 1)) << info;
    for (const auto& [key, sum] : counters) EXPECT_EQ(c->Run({"GET", key}), std::to_string(sum));
    EXPECT_EQ(c->Run({"RC.GET", "rc"}), ":" + std::to_string(rc_added));
    for (const auto& [key, fs] : fields) {
      for (const auto& f : fs) EXPECT_EQ(c->Run({"HGET", key, f}), "v" + f) << key << "." << f;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, LoopbackReplicationTest, ::testing::Values(3, 5, 9));

}  // namespace
}  // namespace converge::testing
