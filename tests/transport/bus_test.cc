// Transport end to end over loopback: real sockets on 127.0.0.1, port 0.
// Each node runs its own io_context on its own thread, as separate processes
// would; tests wait on conditions with deadlines, never on sleeps.
#include "transport/transport.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/free_port.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"
#include "tests/transport/test_bus.h"
#include "transport/handshake.h"

namespace converge::transport {
namespace {

using namespace bus_testing;  // NOLINT: the helpers of test_bus.h

TEST(BusTest, RefusesBadSendsBeforeConnecting) {
  TestNode a(FastOptions("a", 1));
  ASSERT_OK(a.Start());
  EXPECT_NE(a.bus().port(), 0);
  EXPECT_EQ(a.bus().Send(2, kData, "x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(a.bus().Send(2, static_cast<uint8_t>(MessageType::kHello), "x").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(a.bus().Broadcast(kData, "x"), 0u);
}

TEST(BusTest, TwoNodesExchangeFramesBothWaysInOrder) {
  TestNode a(FastOptions("a", 1)), b(FastOptions("b", 2));
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  ASSERT_TRUE(b.WaitConnected(1));
  constexpr int kN = 200;
  for (int i = 0; i < kN; ++i) {
    ASSERT_OK(a.bus().Send(2, kData, Numbered("a", i)));
    ASSERT_OK(b.bus().Send(1, kData + 1, Numbered("b", i)));
  }
  ASSERT_TRUE(b.WaitFor([&] { return b.CountLocked(1, "a") == kN; }));
  ASSERT_TRUE(a.WaitFor([&] { return a.CountLocked(2, "b") == kN; }));
  const auto at_b = b.FramesFrom(1);
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(at_b[static_cast<std::size_t>(i)].body, Numbered("a", i));
    EXPECT_EQ(at_b[static_cast<std::size_t>(i)].type, kData);
  }
  const PeerStats s = *a.bus().Stats(2);
  EXPECT_TRUE(s.connected);
  EXPECT_EQ(s.node_name, "b");
  EXPECT_EQ(s.peer_address, b.address());
  EXPECT_EQ(s.frames_received, static_cast<uint64_t>(kN) + 0 * s.frames_received);
  EXPECT_GE(s.frames_sent, static_cast<uint64_t>(kN));
  EXPECT_GT(s.bytes_sent, 0u);
  EXPECT_GT(s.connected_since_ms, 0);
  EXPECT_LT(std::llabs(s.clock_offset_ms), 500);
  EXPECT_EQ(a.bus().FindPeerByName("b"), std::optional<uint64_t>(2));
}

// Every node seeds every other, so each pair dials both ways at once.
TEST(BusTest, FullMeshKeepsExactlyOneConnectionPerPair) {
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::unique_ptr<TestNode>> nodes;
    for (uint64_t id = 1; id <= 3; ++id) {
      auto o = FastOptions(Numbered("n", id), id * 1000 + static_cast<uint64_t>(round));
      nodes.push_back(std::make_unique<TestNode>(o));
    }
    // Ports picked first so every node can seed the others before any dials;
    // below the ephemeral range, so no node's dial takes another's port.
    for (auto& n : nodes) {
      n->options().port = testing::PickFreePort();
      ASSERT_NE(n->options().port, 0);
    }
    for (auto& n : nodes) {
      for (auto& m : nodes) {
        if (m != n) n->options().seeds.push_back("127.0.0.1:" + std::to_string(m->options().port));
      }
    }
    for (auto& n : nodes) ASSERT_OK(n->Start());
    for (auto& n : nodes) {
      for (auto& m : nodes) {
        if (m != n) {
          ASSERT_TRUE(n->WaitConnected(m->id()));
        }
      }
    }
    // Settled: each node holds exactly two TCP connections, and both ends of
    // each pair use the same one.
    for (auto& n : nodes) {
      ASSERT_TRUE(TestNode::Eventually([&] { return n->bus().connection_count() == 2; }))
          << n->bus().connection_count();
    }
    for (auto& n : nodes) {
      for (auto& m : nodes) {
        if (m == n) continue;
        const std::string nm = n->bus().Stats(m->id())->link;
        const std::string mn = m->bus().Stats(n->id())->link;
        const auto arrow = nm.find(" -> ");
        ASSERT_NE(arrow, std::string::npos);
        EXPECT_EQ(nm.substr(arrow + 4) + " -> " + nm.substr(0, arrow), mn);
      }
    }
    for (auto& n : nodes) EXPECT_EQ(n->bus().Broadcast(kData, "hi"), 2u);
    for (auto& n : nodes) {
      for (auto& m : nodes) {
        if (m != n) {
          EXPECT_TRUE(n->WaitFor([&] { return n->CountLocked(m->id(), "hi") == 1; }));
        }
      }
    }
    for (auto& n : nodes) n->Stop();
  }
}

TEST(BusTest, ReconnectsAfterPeerRestarts) {
  TestNode a(FastOptions("a", 1));
  auto b = std::make_unique<TestNode>(FastOptions("b", 2));
  ASSERT_OK(b->Start());
  a.options().seeds = {b->address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  const TransportOptions b_options = b->options();  // same port and replica id
  b.reset();                                         // stops b
  ASSERT_TRUE(a.WaitEvent(PeerEvent::Kind::kDown));
  EXPECT_FALSE(a.bus().IsConnected(2));
  b = std::make_unique<TestNode>(b_options);
  ASSERT_OK(b->Start());
  ASSERT_TRUE(a.WaitConnected(2));
  ASSERT_TRUE(b->WaitConnected(1));
  ASSERT_OK(a.bus().Send(2, kData, "again"));
  EXPECT_TRUE(b->WaitFor([&] { return b->CountLocked(1, "again") == 1; }));
}

TEST(BusTest, WrongClusterSecretRefused) {
  auto oa = FastOptions("a", 1);
  auto ob = FastOptions("b", 2);
  oa.cluster_secret = "alpha-secret-alpha-secret";
  ob.cluster_secret = "bravo-secret-bravo-secret";
  TestNode a(oa), b(ob);
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  EXPECT_TRUE(a.WaitEvent(PeerEvent::Kind::kRefused, "cluster secret"));
  EXPECT_TRUE(b.WaitEvent(PeerEvent::Kind::kRefused));
  EXPECT_EQ(a.CountEvents(PeerEvent::Kind::kUp), 0u);
  EXPECT_EQ(b.CountEvents(PeerEvent::Kind::kUp), 0u);
  EXPECT_FALSE(a.bus().IsConnected(2));
}

TEST(BusTest, SecretNeverAppearsInHandshakeBytes) {
  auto ob = FastOptions("b", 2);
  ob.cluster_secret = "the-real-cluster-secret-value";
  ob.handshake_timeout = milliseconds(300);
  TestNode b(ob);
  ASSERT_OK(b.Start());
  // Dial b by hand with a (wrongly keyed) dialer handshake and capture what b
  // sends back: its Hello and Proof (then a Refuse).
  Handshake dialer(Handshake::Role::kDialer, {"test-cluster", 9, "raw", "", ""},
                   {"some-other-secret", 500});
  RawClient raw(b.bus().port());
  raw.Write(EncodeFrame(static_cast<uint8_t>(MessageType::kHello), *dialer.MakeHello(NowMs())));
  std::string got;
  // b proves first, then waits for our proof; we never send it, so b closes
  // at its handshake deadline.
  ASSERT_TRUE(raw.ReadUntilClosed(&got));
  EXPECT_GT(got.size(), 2 * kFrameHeaderSize);
  EXPECT_EQ(got.find(ob.cluster_secret), std::string::npos);
  EXPECT_EQ(got.find(ob.cluster_secret.substr(0, 10)), std::string::npos);
}

TEST(BusTest, ClockOffsetBeyondBoundRefusedWithMessage) {
  auto oa = FastOptions("a", 1);
  auto ob = FastOptions("b", 2);
  ob.clock_ms = [] { return NowMs() + 5000; };  // b runs 5 s fast
  TestNode a(oa), b(ob);
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  // b checks a's Hello first (a is 5 s behind) and refuses; a learns why.
  ASSERT_TRUE(b.WaitEvent(PeerEvent::Kind::kRefused, "beyond the bound of 500 ms"));
  ASSERT_TRUE(a.WaitEvent(PeerEvent::Kind::kRefused, "clock offset with peer 'a' is -"));
  EXPECT_EQ(a.CountEvents(PeerEvent::Kind::kUp), 0u);
}

TEST(BusTest, GarbageAndOversizedFramesDoNotHarmGoodConnection) {
  TestNode a(FastOptions("a", 1)), b(FastOptions("b", 2));
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  const int64_t since = a.bus().Stats(2)->connected_since_ms;

  {
    RawClient garbage(b.bus().port());
    garbage.Write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    EXPECT_TRUE(garbage.ReadUntilClosed(&got));
  }
  {
    // A valid-looking header announcing a 4 GiB body: refused on the header.
    std::string header = EncodeFrame(static_cast<uint8_t>(MessageType::kHello), "")
                             .substr(0, kFrameHeaderSize);
    const uint32_t huge = 0xFFFFFFFFu;
    std::memcpy(header.data() + 8, &huge, 4);
    RawClient oversized(b.bus().port());
    oversized.Write(header);
    std::string got;
    EXPECT_TRUE(oversized.ReadUntilClosed(&got));
  }
  EXPECT_TRUE(TestNode::Eventually([&] { return b.bus().rejected_connections() >= 2; }));

  ASSERT_OK(a.bus().Send(2, kData, "still here"));
  ASSERT_OK(b.bus().Send(1, kData, "me too"));
  EXPECT_TRUE(b.WaitFor([&] { return b.CountLocked(1, "still here") == 1; }));
  EXPECT_TRUE(a.WaitFor([&] { return a.CountLocked(2, "me too") == 1; }));
  EXPECT_EQ(a.bus().Stats(2)->connected_since_ms, since);
  EXPECT_EQ(a.CountEvents(PeerEvent::Kind::kDown), 0u);
  EXPECT_EQ(b.CountEvents(PeerEvent::Kind::kDown), 0u);
}

TEST(BusTest, PartitionSetOnOneSideCutsBothWaysAndHealRestores) {
  TestNode a(FastOptions("a", 1)), b(FastOptions("b", 2)), c(FastOptions("c", 3));
  ASSERT_OK(b.Start());
  ASSERT_OK(c.Start());
  a.options().seeds = {b.address(), c.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  ASSERT_TRUE(a.WaitConnected(3));

  a.bus().Partition(2);  // only a knows about the partition
  ASSERT_OK(a.bus().Send(2, kData, "during-a"));
  ASSERT_OK(b.bus().Send(1, kData, "during-b"));
  ASSERT_OK(a.bus().Send(3, kData, "to-c"));
  // a counts both: its own send, and b's frame it threw away on receipt.
  ASSERT_TRUE(TestNode::Eventually([&] { return a.bus().Stats(2)->frames_dropped >= 2; }));
  EXPECT_TRUE(c.WaitFor([&] { return c.CountLocked(1, "to-c") == 1; }));  // others unaffected

  a.bus().Heal();
  ASSERT_TRUE(a.WaitConnected(2));
  ASSERT_OK(a.bus().Send(2, kData, "after-a"));
  ASSERT_OK(b.bus().Send(1, kData, "after-b"));
  ASSERT_TRUE(b.WaitFor([&] { return b.CountLocked(1, "after-a") == 1; }));
  ASSERT_TRUE(a.WaitFor([&] { return a.CountLocked(2, "after-b") == 1; }));
  EXPECT_EQ(b.CountFrom(1, "during"), 0u);
  EXPECT_EQ(a.CountFrom(2, "during"), 0u);
}

TEST(BusTest, PartitionTakesPeerDownAndHealBringsItBack) {
  auto oa = FastOptions("a", 1);
  auto ob = FastOptions("b", 2);
  oa.idle_timeout = ob.idle_timeout = milliseconds(400);
  TestNode a(oa), b(ob);
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  b.bus().Partition(1);
  // Heartbeats are cut too, so the link dies at the idle deadline, as a
  // real cut would, and the dialer cannot get a handshake through.
  ASSERT_TRUE(a.WaitEvent(PeerEvent::Kind::kDown));
  ASSERT_TRUE(b.WaitEvent(PeerEvent::Kind::kDown));
  b.bus().Heal();
  ASSERT_TRUE(a.WaitConnected(2));
  ASSERT_TRUE(b.WaitConnected(1));
  ASSERT_OK(b.bus().Send(1, kData, "back"));
  EXPECT_TRUE(a.WaitFor([&] { return a.CountLocked(2, "back") == 1; }));
}

// Sends n frames "<prefix><i>" from `from` to `to`. Callers then heal and
// send a marker: frames on one connection stay in order, so when the marker
// arrives every surviving frame has.
void SendNumbered(TestNode& from, TestNode& to, int n, const std::string& prefix) {
  for (int i = 0; i < n; ++i) ASSERT_OK(from.bus().Send(to.id(), kData, Numbered(prefix, i)));
}

TEST(BusTest, LinkDropAndDuplicateHaveTheirExpectedRates) {
  const uint64_t seed = testing::AnnounceSeed("BusTest.LinkDropAndDuplicateHaveTheirExpectedRates");
  SCOPED_TRACE(seed);
  auto oa = FastOptions("a", 1);
  oa.rng_seed = seed | 1;
  TestNode a(oa), b(FastOptions("b", 2));
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  ASSERT_TRUE(b.WaitConnected(1));
  constexpr int kN = 2000;

  // Loss 0.3 set on a applies in both directions.
  a.bus().SetLinkFaults(2, LinkFaults{0.3, 0, milliseconds(0)});
  SendNumbered(a, b, kN, "drop-ab-");
  // a's own sends are decided inside Send; what a drops from now on is b's.
  const uint64_t dropped_sending = a.bus().Stats(2)->frames_dropped;
  SendNumbered(b, a, kN, "drop-ba-");
  // Wait until a has accounted for every frame b sent, then mark.
  ASSERT_TRUE(TestNode::Eventually([&] {
    return a.CountFrom(2, "drop-ba-") + (a.bus().Stats(2)->frames_dropped - dropped_sending) >=
           static_cast<uint64_t>(kN);
  }));
  a.bus().Heal();
  ASSERT_OK(a.bus().Send(2, kData, "mark-1"));
  ASSERT_TRUE(b.WaitFor([&] { return b.CountLocked(1, "mark-1") == 1; }));
  // 5 sigma of Binomial(2000, 0.7) is about 102.
  const double ab = static_cast<double>(b.CountFrom(1, "drop-ab-"));
  const double ba = static_cast<double>(a.CountFrom(2, "drop-ba-"));
  EXPECT_NEAR(ab, 0.7 * kN, 102) << "a->b delivered";
  EXPECT_NEAR(ba, 0.7 * kN, 102) << "b->a delivered";

  // Duplication 0.25: about 500 extra copies (5 sigma ~ 97).
  a.bus().SetLinkFaults(2, LinkFaults{0, 0.25, milliseconds(0)});
  SendNumbered(a, b, kN, "dup-");
  a.bus().Heal();
  ASSERT_OK(a.bus().Send(2, kData, "mark-2"));
  ASSERT_TRUE(b.WaitFor([&] { return b.CountLocked(1, "mark-2") == 1; }));
  EXPECT_NEAR(static_cast<double>(b.CountFrom(1, "dup-")), 1.25 * kN, 97);
}

TEST(BusTest, LinkDelayHoldsEveryFrameAndKeepsOrder) {
  TestNode a(FastOptions("a", 1)), b(FastOptions("b", 2));
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  constexpr auto kDelay = milliseconds(150);
  a.bus().SetLinkFaults(2, LinkFaults{0, 0, kDelay});
  constexpr int kN = 50;
  const auto sent_at = Clock::now();
  SendNumbered(a, b, kN, "d");
  ASSERT_TRUE(b.WaitFor([&] { return b.CountLocked(1, "d") == kN; }));
  const auto got = b.FramesFrom(1);
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(got[static_cast<std::size_t>(i)].body, Numbered("d", i));
    EXPECT_GE(got[static_cast<std::size_t>(i)].at - sent_at, kDelay);
  }
}

TEST(BusTest, SlowPeerDoesNotStallOthersNorGrowPastQueueBound) {
  constexpr std::size_t kQueueBound = 1 << 20;
  auto oa = FastOptions("a", 1);
  oa.max_send_queue_bytes = kQueueBound;
  oa.idle_timeout = oa.write_timeout = milliseconds(60000);
  auto ob = FastOptions("b", 2);
  ob.idle_timeout = milliseconds(60000);
  TestNode a(oa), b(ob), c(FastOptions("c", 3));

  // b's handler blocks its only io thread until released: b stops reading.
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool released = false;
  ASSERT_OK(b.Start([&](uint64_t, uint8_t, const std::string&) {
    std::unique_lock<std::mutex> lock(gate_mu);
    gate_cv.wait(lock, [&] { return released; });
  }));
  ASSERT_OK(c.Start());
  a.options().seeds = {b.address(), c.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  ASSERT_TRUE(a.WaitConnected(3));

  const std::string big(64 * 1024, 'x');
  int to_c = 0, exhausted = 0;
  std::size_t max_seen = 0;
  for (int i = 0; i < 600; ++i) {  // ~38 MiB toward b: far beyond socket buffers
    const Status st = a.bus().Send(2, kData, big);
    if (st.code() == StatusCode::kResourceExhausted) ++exhausted;
    else EXPECT_OK(st);
    max_seen = std::max(max_seen, a.bus().Stats(2)->send_queue_bytes);
    if (i % 10 == 0) {
      ASSERT_OK(a.bus().Send(3, kData, Numbered("c", to_c)));
      ++to_c;
    }
  }
  // c gets everything while b is stuck.
  EXPECT_TRUE(c.WaitFor([&] { return c.CountLocked(1, "c") == static_cast<std::size_t>(to_c); }));
  EXPECT_GT(exhausted, 0);
  EXPECT_LE(max_seen, kQueueBound);
  EXPECT_EQ(a.bus().Stats(2)->frames_dropped, static_cast<uint64_t>(exhausted));
  {
    std::lock_guard<std::mutex> lock(gate_mu);
    released = true;
  }
  gate_cv.notify_all();
}

}  // namespace
}  // namespace converge::transport
