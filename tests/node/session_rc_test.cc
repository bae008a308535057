// Reservation counters, sessions, WAIT and IDEM through hiredis against real
// nodes on loopback (PROTOCOL.md).
#include <gtest/gtest.h>

#include "tests/node/test_node.h"

namespace converge::testing {
namespace {

// Two nodes seeded with each other, gossiping every 50 ms.
struct Pair {
  Pair(std::function<void(NodeOptions&)> tweak = nullptr) {
    const uint16_t pa = PickFreePort(), pb = PickFreePort();
    a = TestNode::Start("a", {"127.0.0.1:" + std::to_string(pb)}, [&](NodeOptions& o) {
      o.peer_port = pa;
      if (tweak) tweak(o);
    });
    b = TestNode::Start("b", {"127.0.0.1:" + std::to_string(pa)}, [&](NodeOptions& o) {
      o.peer_port = pb;
      if (tweak) tweak(o);
    });
    ca = std::make_unique<Client>(a->options.port);
    cb = std::make_unique<Client>(b->options.port);
  }
  bool Connected() {
    return ca->Run({"INFO", "replication"}).find("peers_connected:1") != std::string::npos &&
           cb->Run({"INFO", "replication"}).find("peers_connected:1") != std::string::npos;
  }
  std::unique_ptr<TestNode> a, b;
  std::unique_ptr<Client> ca, cb;
};

TEST(ReservationCounterTest, AddTakeReserveCommitRelease) {
  auto node = TestNode::Start("rc");
  ASSERT_NE(node, nullptr);
  Client c(node->options.port);
  EXPECT_EQ(c.Run({"RC.GET", "stock"}), ":0");
  EXPECT_EQ(c.Run({"RC.ADD", "stock", "10"}), ":10");
  EXPECT_EQ(c.Run({"RC.ADD", "stock", "0"}), "-ERR units must be a positive integer");
  EXPECT_EQ(c.Run({"TYPE", "stock"}), "rcounter");
  EXPECT_EQ(c.Run({"RC.RIGHTS", "stock"}), ":10");
  EXPECT_EQ(c.Run({"RC.TAKE", "stock", "3"}), ":7");
  EXPECT_EQ(c.Run({"RC.TAKE", "stock", "8"}), "-INSUFFICIENT value is 7, 8 requested");
  const std::string hold = c.Run({"RC.RESERVE", "stock", "2", "60000"});
  EXPECT_EQ(hold.rfind("rc/", 0), 0u) << "the hold id names the node: " << hold;
  EXPECT_EQ(c.Run({"RC.GET", "stock"}), ":5") << "held units are taken now";
  EXPECT_EQ(c.Run({"RC.COMMIT", hold}), "OK");
  EXPECT_EQ(c.Run({"RC.COMMIT", hold}).rfind("-NOHOLD", 0), 0u);
  EXPECT_EQ(c.Run({"RC.GET", "stock"}), ":5");
  const std::string second = c.Run({"RC.RESERVE", "stock", "4", "60000"});
  EXPECT_EQ(c.Run({"RC.GET", "stock"}), ":1");
  EXPECT_EQ(c.Run({"RC.RELEASE", second}), "OK");
  EXPECT_EQ(c.Run({"RC.GET", "stock"}), ":5") << "released units come back";
  EXPECT_EQ(c.Run({"RC.RELEASE", second}).rfind("-NOHOLD", 0), 0u);
  EXPECT_EQ(c.Run({"RC.COMMIT", "other/0000"}), "-WRONGNODE other");
  EXPECT_EQ(c.Run({"DEL", "stock"}).rfind("-ERR", 0), 0u) << "units are never destroyed";
  EXPECT_EQ(c.Run({"SET", "s", "v"}), "OK");
  EXPECT_EQ(c.Run({"RC.TAKE", "s", "1"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_NE(c.Run({"INFO", "crdt"}).find("rcounter:stock=value=5,rights=5"), std::string::npos);
}

TEST(ReservationCounterTest, HoldsExpireAlsoAcrossARestart) {
  // A long gossip interval keeps the periodic sweep out of the way, so the
  // commit itself finds the hold expired.
  auto node = TestNode::Start("exp", {}, [](NodeOptions& o) { o.gossip_interval_ms = 60'000; });
  ASSERT_NE(node, nullptr);
  {
    Client c(node->options.port);
    EXPECT_EQ(c.Run({"RC.ADD", "stock", "10"}), ":10");
    const std::string hold = c.Run({"RC.RESERVE", "stock", "3", "50"});
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the hold's TTL, not a sync
    EXPECT_EQ(c.Run({"RC.COMMIT", hold}), "-EXPIRED the hold ran out; its units came back");
    EXPECT_EQ(c.Run({"RC.GET", "stock"}), ":10");
    // A hold outlives a restart, and one that ran out while the node was
    // down is released when it comes back.
    const std::string kept = c.Run({"RC.RESERVE", "stock", "2", "600000"});
    const std::string lapsing = c.Run({"RC.RESERVE", "stock", "5", "300"});
    EXPECT_EQ(c.Run({"RC.GET", "stock"}), ":3");
    node->node.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(400));  // let `lapsing` run out
    node->options.gossip_interval_ms = 50;
    ASSERT_TRUE(node->Open());
    Client again(node->options.port);
    EXPECT_TRUE(WaitFor([&] { return again.Run({"RC.GET", "stock"}) == ":8"; }))
        << again.Run({"RC.GET", "stock"});
    EXPECT_EQ(again.Run({"RC.COMMIT", kept}), "OK");
    EXPECT_EQ(again.Run({"RC.COMMIT", lapsing}).rfind("-NOHOLD", 0), 0u);
  }
}

TEST(ReservationCounterTest, RightsMoveToTheNodeThatTakesAndPartitionsGiveTryAgain) {
  // Rights move only when a take asks (the background policy is off here).
  Pair p([](NodeOptions& o) { o.rights_policy = false; });
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  EXPECT_EQ(p.ca->Run({"RC.ADD", "stock", "10"}), ":10");
  ASSERT_TRUE(WaitFor([&] { return p.cb->Run({"RC.GET", "stock"}) == ":10"; }));
  EXPECT_EQ(p.cb->Run({"RC.RIGHTS", "stock"}), ":0");
  // b holds no rights: it asks a, which moves them with a delta of its row.
  EXPECT_EQ(p.cb->Run({"RC.TAKE", "stock", "3", "TIMEOUT", "3000"}), ":7");
  ASSERT_TRUE(WaitFor([&] { return p.ca->Run({"RC.GET", "stock"}) == ":7"; }));
  EXPECT_EQ(p.ca->Run({"RC.RIGHTS", "stock"}), ":7");
  EXPECT_EQ(p.cb->Run({"RC.TAKE", "stock", "100"}), "-INSUFFICIENT value is 7, 100 requested");
  // Cut off from the holder, b cannot gather rights: TRYAGAIN, nothing taken.
  ASSERT_EQ(p.cb->Run({"DEBUG", "PARTITION", "a"}), "OK");
  EXPECT_EQ(p.cb->Run({"RC.TAKE", "stock", "1", "TIMEOUT", "300"}).rfind("-TRYAGAIN", 0), 0u);
  // a still sells from its own rights while partitioned.
  EXPECT_EQ(p.ca->Run({"RC.TAKE", "stock", "2"}), ":5");
  ASSERT_EQ(p.cb->Run({"DEBUG", "HEAL"}), "OK");
  ASSERT_TRUE(WaitFor([&] { return p.cb->Run({"RC.GET", "stock"}) == ":5"; }));
  const std::string nodes = p.ca->Run({"CLUSTER", "NODES"});
  EXPECT_NE(nodes.find("rights=stock:5"), std::string::npos) << nodes;
}

int64_t InfoField(Client& c, const std::string& field) {
  const std::string info = c.Run({"INFO", "crdt"});
  const size_t at = info.find(field + ":");
  return at == std::string::npos ? -1 : std::stoll(info.substr(at + field.size() + 1));
}

// With the policy on, a node that had to ask for rights soon holds a surplus
// moved by the holder, and its next takes need no round trip.
TEST(ReservationCounterTest, RightsPolicyMovesSurplusTowardTheSpender) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  EXPECT_EQ(p.ca->Run({"RC.ADD", "stock", "100"}), ":100");
  ASSERT_TRUE(WaitFor([&] { return p.cb->Run({"RC.GET", "stock"}) == ":100"; }));
  EXPECT_EQ(p.cb->Run({"RC.TAKE", "stock", "2", "TIMEOUT", "3000"}), ":98");
  EXPECT_EQ(InfoField(*p.cb, "rc_takes_waited"), 1);
  // a moves up to eight times what b asked, beyond what it spent itself.
  ASSERT_TRUE(WaitFor([&] { return p.cb->Run({"RC.RIGHTS", "stock"}) == ":16"; }))
      << p.cb->Run({"RC.RIGHTS", "stock"});
  EXPECT_EQ(p.cb->Run({"RC.TAKE", "stock", "2"}), ":96");
  EXPECT_EQ(InfoField(*p.cb, "rc_takes_local"), 1);
  EXPECT_GE(InfoField(*p.ca, "rights_moved_by_policy"), 16);
}

TEST(SessionTest, ResumeWaitsForTheWritesItCoversAndReadsThemAfterwards) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  ASSERT_EQ(p.cb->Run({"DEBUG", "PARTITION", "a"}), "OK");
  EXPECT_EQ(p.ca->Run({"SET", "profile", "v2"}), "OK");
  const std::string token = p.ca->Run({"SESSION", "TOKEN"});
  EXPECT_EQ(token.rfind("cv1.", 0), 0u) << token;
  // b is cut off from a: the session cannot resume there.
  EXPECT_EQ(p.cb->Run({"SESSION", "RESUME", token, "300"}), "-TRYAGAIN session not caught up");
  ASSERT_EQ(p.cb->Run({"DEBUG", "HEAL"}), "OK");
  EXPECT_EQ(p.cb->Run({"SESSION", "RESUME", token, "5000"}), "OK");
  EXPECT_EQ(p.cb->Run({"GET", "profile"}), "v2") << "read-your-writes across nodes";
  EXPECT_EQ(p.cb->Run({"SESSION", "RESUME", "garbage"}).rfind("-ERR invalid session token", 0), 0u);
  EXPECT_EQ(p.cb->Run({"SESSION", "RESUME", "cv1.!!"}).rfind("-ERR invalid session token", 0), 0u);
}

TEST(SessionTest, MonotonicReadsOnALaggingNode) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  EXPECT_EQ(p.ca->Run({"SET", "price", "1"}), "OK");
  ASSERT_TRUE(WaitFor([&] { return p.cb->Run({"GET", "price"}) == "1"; }));
  ASSERT_EQ(p.cb->Run({"DEBUG", "PARTITION", "a"}), "OK");
  // Another client moves the value on a; our client reads it there.
  Client writer(p.a->options.port);
  EXPECT_EQ(writer.Run({"SET", "price", "2"}), "OK");
  Client reader(p.a->options.port);
  EXPECT_EQ(reader.Run({"GET", "price"}), "2");
  const std::string token = reader.Run({"SESSION", "TOKEN"});
  // On the lagging b it must not read the older value: the resume refuses.
  Client moved(p.b->options.port);
  EXPECT_EQ(moved.Run({"SESSION", "RESUME", token, "200"}), "-TRYAGAIN session not caught up");
  ASSERT_EQ(p.cb->Run({"DEBUG", "HEAL"}), "OK");
  EXPECT_EQ(moved.Run({"SESSION", "RESUME", token, "5000"}), "OK");
  EXPECT_EQ(moved.Run({"GET", "price"}), "2");
}

// The embedding API's sessions give the same guarantees as connections.
TEST(SessionTest, EmbeddedSessionsMoveBetweenNodes) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  ASSERT_EQ(p.cb->Run({"DEBUG", "PARTITION", "a"}), "OK");
  std::unique_ptr<NodeSession> on_a = p.a->node->NewSession();
  EXPECT_EQ(on_a->Execute({"HSET", "cart", "item", "3"}), ":1\r\n");
  const std::string token = on_a->Token();
  std::unique_ptr<NodeSession> on_b = p.b->node->NewSession();
  EXPECT_EQ(on_b->Resume(token, 200).code(), StatusCode::kUnavailable);
  ASSERT_EQ(p.cb->Run({"DEBUG", "HEAL"}), "OK");
  EXPECT_TRUE(on_b->Resume(token, 5000).ok());
  EXPECT_EQ(on_b->Execute({"HGET", "cart", "item"}), "$1\r\n3\r\n");
  EXPECT_EQ(on_b->Resume("nonsense", 10).code(), StatusCode::kInvalidArgument);
}

TEST(WaitTest, CountsPeersHoldingThisConnectionsWrites) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  EXPECT_EQ(p.ca->Run({"INCR", "c"}), ":1");
  EXPECT_EQ(p.ca->Run({"WAIT", "1", "5000"}), ":1");
  ASSERT_EQ(p.ca->Run({"DEBUG", "PARTITION", "b"}), "OK");
  EXPECT_EQ(p.ca->Run({"INCR", "c"}), ":2");
  EXPECT_EQ(p.ca->Run({"WAIT", "1", "200"}), ":0") << "b cannot have the second write";
}

TEST(IdemTest, ARepeatedWriteCountsOnceAlsoAcrossARestart) {
  auto node = TestNode::Start("idem");
  ASSERT_NE(node, nullptr);
  {
    Client c(node->options.port);
    EXPECT_EQ(c.Run({"IDEM", "order-17", "60000", "INCRBY", "sold", "5"}), ":5");
    EXPECT_EQ(c.Run({"IDEM", "order-17", "60000", "INCRBY", "sold", "5"}), ":5");
    EXPECT_EQ(c.Run({"GET", "sold"}), "5");
    EXPECT_EQ(c.Run({"IDEM", "order-18", "60000", "INCRBY", "sold", "5"}), ":10");
    EXPECT_EQ(c.Run({"IDEM", "k", "60000", "GET", "sold"}).rfind("-ERR IDEM wraps only write", 0), 0u);
    EXPECT_EQ(c.Run({"IDEM", "k", "0", "INCR", "sold"}), "-ERR ttl-ms must be a positive integer");
  }
  node->node.reset();
  ASSERT_TRUE(node->Open());
  Client c(node->options.port);
  EXPECT_EQ(c.Run({"IDEM", "order-17", "60000", "INCRBY", "sold", "5"}), ":5");
  EXPECT_EQ(c.Run({"GET", "sold"}), "10") << "the retry after a restart applied nothing";
}

}  // namespace
}  // namespace converge::testing
