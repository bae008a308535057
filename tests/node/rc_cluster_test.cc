// Reservation counters on three real nodes with concurrent takers on every
// node, a partition and a restart in between: no read on any node is ever
// below zero, the final value equals adds minus acknowledged takes minus
// committed holds (released and expired holds came back), and with rights
// spread in advance, takes during the partition succeed locally.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include "tests/node/test_node.h"
#include "tests/testing/seed.h"

namespace converge::testing {
namespace {

struct Tally {
  std::atomic<int64_t> taken{0};       // units of acknowledged RC.TAKE
  std::atomic<int64_t> committed{0};   // units of holds whose RC.COMMIT said OK
  std::atomic<int64_t> takes_ok{0};
  std::atomic<int64_t> takes_tryagain{0};
  std::atomic<int64_t> negative_reads{0};
  std::atomic<int64_t> unexpected{0};
  std::mutex mu;
  std::vector<std::string> unexpected_replies;
};

int64_t AsInt(const std::string& reply) {
  return reply.size() > 1 && reply[0] == ':' ? std::stoll(reply.substr(1)) : INT64_MIN;
}

// One taker on one node for `ms` milliseconds.
void Taker(uint16_t port, uint64_t seed, int ms, Tally& t) {
  std::mt19937_64 rng(seed);
  Client c(port);
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    const int64_t n = 1 + static_cast<int64_t>(rng() % 3);
    std::string r;
    if (rng() % 3 != 0) {
      r = c.Run({"RC.TAKE", "stock", std::to_string(n), "TIMEOUT", "150"});
      if (r.rfind(":", 0) == 0) {
        t.taken += n;
        ++t.takes_ok;
        if (AsInt(r) < 0) ++t.negative_reads;
      } else if (r.rfind("-TRYAGAIN", 0) == 0) {
        ++t.takes_tryagain;
      } else if (r.rfind("-INSUFFICIENT", 0) != 0) {
        std::lock_guard<std::mutex> l(t.mu);
        t.unexpected_replies.push_back(r);
        ++t.unexpected;
      }
    } else {
      const std::string ttl = std::to_string(30 + rng() % 300);
      const std::string hold = c.Run({"RC.RESERVE", "stock", std::to_string(n), ttl, "TIMEOUT", "150"});
      if (!hold.empty() && hold[0] != '-') {
        switch (rng() % 3) {
          case 0: {
            const std::string cr = c.Run({"RC.COMMIT", hold});
            if (cr == "OK") t.committed += n;  // EXPIRED: the units came back
            break;
          }
          case 1: c.Run({"RC.RELEASE", hold}); break;
          default: break;  // left to expire
        }
      }
    }
    if (AsInt(c.Run({"RC.GET", "stock"})) < 0) ++t.negative_reads;
  }
}

void Phase(LoopbackCluster& cluster, std::mt19937_64& rng, int ms, Tally& t) {
  std::vector<std::thread> threads;
  for (auto& n : cluster.nodes) {
    threads.emplace_back(Taker, n->options.port, rng(), ms, std::ref(t));
  }
  for (auto& th : threads) th.join();
}

TEST(ReservationClusterTest, NeverBelowZeroAndEveryUnitAccountedFor) {
  const uint64_t seed = AnnounceSeed("ReservationClusterTest");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  LoopbackCluster cluster(3);
  for (auto& n : cluster.nodes) ASSERT_NE(n, nullptr);
  ASSERT_TRUE(WaitFor([&] { return cluster.AllConnected(); }));
  // Rights spread in advance: each node adds its own stock.
  for (auto& c : cluster.clients) ASSERT_EQ(c->Run({"RC.ADD", "stock", "5000"}).substr(0, 1), ":");
  const int64_t added = 15000;
  ASSERT_TRUE(WaitFor([&] {
    for (auto& c : cluster.clients) {
      if (c->Run({"RC.GET", "stock"}) != ":15000") return false;
    }
    return true;
  }));

  Tally t;
  Phase(cluster, rng, 400, t);
  // n1 cut off from both others: it keeps selling from its own rights.
  ASSERT_EQ(cluster.clients[0]->Run({"DEBUG", "PARTITION", "n2", "n3"}), "OK");
  {
    Tally during;
    std::thread solo(Taker, cluster.nodes[0]->options.port, rng(), 400, std::ref(during));
    solo.join();
    t.taken += during.taken.load();
    t.committed += during.committed.load();
    t.negative_reads += during.negative_reads.load();
    t.unexpected += during.unexpected.load();
    std::cout << "[ partition] n1 alone: " << during.takes_ok << " takes succeeded locally, "
              << during.takes_tryagain << " TRYAGAIN\n";
    EXPECT_GT(during.takes_ok, during.takes_tryagain) << "most takes succeed on local rights";
  }
  ASSERT_EQ(cluster.clients[0]->Run({"DEBUG", "HEAL"}), "OK");
  Phase(cluster, rng, 300, t);
  // Restart n3 (its holds come back with it) and go on.
  cluster.clients[2].reset();
  cluster.nodes[2]->node.reset();
  ASSERT_TRUE(cluster.nodes[2]->Open());
  cluster.clients[2] = std::make_unique<Client>(cluster.nodes[2]->options.port);
  ASSERT_TRUE(WaitFor([&] { return cluster.AllConnected(); }));
  Phase(cluster, rng, 300, t);

  // Every hold has run out by now (TTL <= 330 ms) and gave its units back.
  const std::string want = ":" + std::to_string(added - t.taken - t.committed);
  ASSERT_TRUE(WaitFor(
      [&] {
        for (auto& c : cluster.clients) {
          if (c->Run({"RC.GET", "stock"}) != want) return false;
        }
        return cluster.DigestsEqual();
      },
      std::chrono::seconds(20)))
      << "want " << want << ", n1 has " << cluster.clients[0]->Run({"RC.GET", "stock"});
  EXPECT_EQ(t.negative_reads, 0);
  EXPECT_EQ(t.unexpected, 0) << (t.unexpected_replies.empty() ? "" : t.unexpected_replies[0]);
  std::cout << "[ rc       ] takes ok " << t.takes_ok << ", TRYAGAIN " << t.takes_tryagain
            << ", units taken " << t.taken << ", committed in holds " << t.committed << "\n";
}

// A node about to leave gives its rights away with RC.DRAIN; after it is
// stopped and forgotten, the others can sell every unit it held, each from
// its own rights (TIMEOUT 0: no asking). Without the drain those units would
// be stranded with the departed member.
TEST(ReservationClusterTest, DrainMovesEveryRightBeforeANodeLeaves) {
  LoopbackCluster cluster(3);
  for (auto& n : cluster.nodes) ASSERT_NE(n, nullptr);
  ASSERT_TRUE(WaitFor([&] { return cluster.AllConnected(); }));
  Client& n1 = *cluster.clients[0];
  Client& n2 = *cluster.clients[1];
  Client& n3 = *cluster.clients[2];
  ASSERT_EQ(n3.Run({"RC.ADD", "stock", "101"}), ":101");
  ASSERT_EQ(n3.Run({"RC.ADD", "spare", "7"}), ":7");
  const std::string hold = n3.Run({"RC.RESERVE", "stock", "1", "60000"});
  ASSERT_EQ(hold.rfind("n3/", 0), 0u) << hold;
  ASSERT_EQ(n3.Run({"RC.RIGHTS", "stock"}), ":100");

  EXPECT_EQ(n3.Run({"RC.DRAIN", "n9"}).rfind("-ERR Unknown node n9", 0), 0u);
  EXPECT_EQ(n3.Run({"RC.DRAIN", "n3"}).rfind("-ERR Unknown node n3", 0), 0u);
  EXPECT_EQ(n3.Run({"RC.DRAIN", "n1", "n2"}).rfind("-ERR wrong number of arguments", 0), 0u);
  EXPECT_EQ(n1.Run({"RC.DRAIN"}), ":0");  // nothing to give

  // Evenly over the two connected members; the odd unit to one of them.
  ASSERT_EQ(n3.Run({"RC.DRAIN"}), ":107");
  EXPECT_EQ(n3.Run({"RC.RIGHTS", "stock"}), ":0");
  EXPECT_EQ(n3.Run({"RC.RIGHTS", "spare"}), ":0");
  EXPECT_EQ(n3.Run({"RC.GET", "stock"}), ":100");  // the value does not move
  std::string spare1, spare2;
  ASSERT_TRUE(WaitFor([&] {
    spare1 = n1.Run({"RC.RIGHTS", "spare"});
    spare2 = n2.Run({"RC.RIGHTS", "spare"});
    return n1.Run({"RC.RIGHTS", "stock"}) == ":50" && n2.Run({"RC.RIGHTS", "stock"}) == ":50" &&
           ((spare1 == ":4" && spare2 == ":3") || (spare1 == ":3" && spare2 == ":4"));
  })) << n1.Run({"CLUSTER", "NODES"});

  // A hold released after the drain gives its unit back to n3: drain again,
  // this time to a named member.
  ASSERT_EQ(n3.Run({"RC.RELEASE", hold}), "OK");
  EXPECT_EQ(n3.Run({"RC.RIGHTS", "stock"}), ":1");
  ASSERT_EQ(n3.Run({"RC.DRAIN", "n2"}), ":1");
  ASSERT_TRUE(WaitFor([&] { return cluster.DigestsEqual(); }));

  cluster.clients[2].reset();
  cluster.nodes[2]->node.reset();
  ASSERT_EQ(n1.Run({"CLUSTER", "FORGET", "n3"}), "OK");
  // Every unit n3 ever held is sold by the two that remain, from their own rights.
  EXPECT_EQ(n1.Run({"RC.TAKE", "stock", "50", "TIMEOUT", "0"}).substr(0, 1), ":");
  EXPECT_EQ(n2.Run({"RC.TAKE", "stock", "51", "TIMEOUT", "0"}).substr(0, 1), ":");
  EXPECT_EQ(n1.Run({"RC.TAKE", "spare", spare1.substr(1), "TIMEOUT", "0"}).substr(0, 1), ":");
  EXPECT_EQ(n2.Run({"RC.TAKE", "spare", spare2.substr(1), "TIMEOUT", "0"}).substr(0, 1), ":");
  ASSERT_TRUE(WaitFor([&] {
    return n1.Run({"RC.GET", "stock"}) == ":0" && n2.Run({"RC.GET", "stock"}) == ":0" &&
           n1.Run({"RC.GET", "spare"}) == ":0" && n2.Run({"RC.GET", "spare"}) == ":0";
  }));
  EXPECT_EQ(n1.Run({"RC.TAKE", "stock", "1", "TIMEOUT", "0"}).rfind("-INSUFFICIENT", 0), 0u);
}

}  // namespace
}  // namespace converge::testing
