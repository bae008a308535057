// The embedding API: typed handles, sessions and change subscriptions on
// real nodes in this process (node/handles.h, node/subscription.h).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>

#include "node/internal/change_feed.h"
#include "tests/node/test_node.h"
#include "tests/testing/status_matchers.h"

namespace converge::testing {
namespace {

using std::chrono::milliseconds;

// Two nodes seeded with each other, named a and b.
struct Pair {
  Pair() {
    const uint16_t pa = PickFreePort(), pb = PickFreePort();
    a = TestNode::Start("a", {"127.0.0.1:" + std::to_string(pb)}, [&](NodeOptions& o) { o.peer_port = pa; });
    b = TestNode::Start("b", {"127.0.0.1:" + std::to_string(pa)}, [&](NodeOptions& o) { o.peer_port = pb; });
  }
  bool Connected() {
    return a->node->Execute({"INFO", "replication"}).find("peers_connected:1") != std::string::npos &&
           b->node->Execute({"INFO", "replication"}).find("peers_connected:1") != std::string::npos;
  }
  std::unique_ptr<TestNode> a, b;
};

TEST(HandlesTest, Counter) {
  auto t = TestNode::Start("h-counter");
  ASSERT_NE(t, nullptr);
  Counter c = t->node->counter("visits");
  EXPECT_EQ(c.key(), "visits");
  ASSERT_OK(c.Value());
  EXPECT_EQ(*c.Value(), 0) << "an absent counter reads 0";
  EXPECT_EQ(*c.Add(5), 5);
  EXPECT_EQ(*c.Add(-2), 3);
  EXPECT_EQ(*c.Value(), 3);
  // The handle and a client see the same key.
  EXPECT_EQ(t->node->Execute({"GET", "visits"}), "$1\r\n3\r\n");
  ASSERT_OK(c.Reset());
  EXPECT_EQ(*c.Value(), 0);
  ASSERT_OK(c.Reset()) << "resetting an absent counter is not an error";
}

TEST(HandlesTest, WrongTypeIsFailedPreconditionAndDeletesNothing) {
  auto t = TestNode::Start("h-wrongtype");
  ASSERT_NE(t, nullptr);
  ASSERT_OK(t->node->record("k").Set("f", "v"));
  ASSERT_OK(t->node->string("s").Set("12"));

  StatusOr<int64_t> v = t->node->counter("k").Value();
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsWrongType(v.status())) << v.status().ToString();
  EXPECT_TRUE(IsWrongType(t->node->counter("k").Add(1).status()));
  EXPECT_TRUE(IsWrongType(t->node->counter("s").Value().status()))
      << "a string that looks like a number is still not a counter";
  EXPECT_TRUE(IsWrongType(t->node->string("k").Get().status()));
  EXPECT_TRUE(IsWrongType(t->node->record("s").Get("f").status()));
  EXPECT_TRUE(IsWrongType(t->node->reservation_counter("k").Value().status()));

  // Deletes through a handle of another type refuse and leave the key alone.
  EXPECT_TRUE(IsWrongType(t->node->counter("k").Reset()));
  EXPECT_TRUE(IsWrongType(t->node->string("k").Delete()));
  EXPECT_TRUE(IsWrongType(t->node->record("s").Delete()));
  EXPECT_EQ(*t->node->record("k").Get("f"), std::optional<std::string>("v"));
  EXPECT_EQ(*t->node->string("s").Get(), std::optional<std::string>("12"));
  EXPECT_FALSE(IsWrongType(InvalidArgumentError("ERR nope")));
}

TEST(HandlesTest, String) {
  auto t = TestNode::Start("h-string");
  ASSERT_NE(t, nullptr);
  String s = t->node->string("motd");
  EXPECT_EQ(*s.Get(), std::nullopt);
  ASSERT_OK(s.Set("hello\r\nworld"));  // binary safe
  EXPECT_EQ(*s.Get(), std::optional<std::string>("hello\r\nworld"));
  ASSERT_OK(s.Set(""));
  EXPECT_EQ(*s.Get(), std::optional<std::string>(""));
  ASSERT_OK(s.Delete());
  EXPECT_EQ(*s.Get(), std::nullopt);
}

TEST(HandlesTest, Record) {
  auto t = TestNode::Start("h-record");
  ASSERT_NE(t, nullptr);
  Record r = t->node->record("product:1");
  EXPECT_TRUE(r.GetAll()->empty());
  EXPECT_EQ(*r.Get("price"), std::nullopt);
  ASSERT_OK(r.Set("price", "3"));
  ASSERT_OK(r.Set({{"name", "kiosk"}, {"price", "4"}}));
  EXPECT_EQ(*r.Get("price"), std::optional<std::string>("4"));
  const std::map<std::string, std::string> want = {{"name", "kiosk"}, {"price", "4"}};
  EXPECT_EQ(*r.GetAll(), want);
  EXPECT_EQ(*r.DeleteField("price"), true);
  EXPECT_EQ(*r.DeleteField("price"), false);
  EXPECT_EQ(r.GetAll()->size(), 1u);
  EXPECT_EQ(r.Set(std::vector<std::pair<std::string, std::string>>{}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_OK(r.Delete());
  EXPECT_TRUE(r.GetAll()->empty());
}

TEST(HandlesTest, ReservationCounterErrorsHaveDistinctCodes) {
  auto t = TestNode::Start("h-rc");
  ASSERT_NE(t, nullptr);
  RCounter rc = t->node->reservation_counter("stock:42");
  EXPECT_EQ(*rc.Value(), 0);
  EXPECT_EQ(*rc.Add(10), 10);
  EXPECT_EQ(*rc.LocalRights(), 10);
  EXPECT_EQ(*rc.Take(3), 7);

  StatusOr<int64_t> too_many = rc.Take(50);
  EXPECT_EQ(too_many.status().code(), StatusCode::kResourceExhausted) << too_many.status().ToString();
  EXPECT_EQ(rc.Take(0).status().code(), StatusCode::kInvalidArgument);

  StatusOr<Hold> h = rc.Reserve(2, milliseconds(60'000));
  ASSERT_OK(h);
  EXPECT_EQ(h->units, 2u);
  EXPECT_EQ(h->key, "stock:42");
  EXPECT_EQ(*rc.Value(), 5) << "a hold takes its units at once";
  ASSERT_OK(rc.Commit(*h));
  EXPECT_EQ(rc.Commit(*h).code(), StatusCode::kNotFound) << "a hold ends once";
  EXPECT_EQ(*rc.Value(), 5);

  StatusOr<Hold> released = rc.Reserve(4, milliseconds(60'000));
  ASSERT_OK(released);
  EXPECT_EQ(*rc.Value(), 1);
  ASSERT_OK(rc.Release(*released));
  EXPECT_EQ(*rc.Value(), 5) << "released units come back";
  EXPECT_EQ(rc.Release(*released).code(), StatusCode::kNotFound);

  StatusOr<Hold> expiring = rc.Reserve(1, milliseconds(1));
  ASSERT_OK(expiring);
  std::this_thread::sleep_for(milliseconds(20));  // the TTL itself is what is tested
  EXPECT_EQ(rc.Commit(*expiring).code(), StatusCode::kDeadlineExceeded);
  EXPECT_EQ(*rc.Value(), 5) << "an expired hold's units came back";

  EXPECT_EQ(rc.Commit(Hold{"elsewhere/17"}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(rc.Commit(Hold{"garbage"}).code(), StatusCode::kNotFound);
  EXPECT_EQ(t->node->Execute({"RC.GET", "stock:42"}), ":5\r\n");
}

TEST(HandlesTest, UnavailableBeforeStartAndAfterStop) {
  NodeOptions o;
  o.data_dir = TempDir("h-lifecycle");
  o.port = 0;
  o.peer_port = 0;
  StatusOr<std::unique_ptr<Node>> n = Node::Open(o);
  ASSERT_OK(n);
  Counter c = (*n)->counter("x");
  EXPECT_EQ(c.Add(1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ((*n)->Execute({"PING"}).rfind("-ERR the node is not running", 0), 0u);
  ASSERT_OK((*n)->Start());
  EXPECT_EQ(*c.Add(1), 1);
  (*n)->Stop();
  EXPECT_EQ(c.Value().status().code(), StatusCode::kUnavailable);
  n->reset();
  std::error_code ec;
  std::filesystem::remove_all(o.data_dir, ec);
}

TEST(HandlesTest, ManyThreadsOnOneHandle) {
  auto t = TestNode::Start("h-threads");
  ASSERT_NE(t, nullptr);
  Counter c = t->node->counter("hits");
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([c]() mutable {
      for (int j = 0; j < 100; ++j) ASSERT_OK(c.Add(1));
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(*c.Value(), 400);
}

TEST(HandlesTest, SessionHandlesReadTheirWritesOnAnotherNode) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  ASSERT_EQ(p.b->node->Execute({"DEBUG", "PARTITION", "a"}), "+OK\r\n");
  std::unique_ptr<NodeSession> on_a = p.a->node->NewSession();
  ASSERT_OK(on_a->record("cart").Set("item", "3"));
  ASSERT_OK(on_a->counter("items").Add(2));
  const std::string token = on_a->Token();
  EXPECT_EQ(token.rfind("cv1.", 0), 0u);

  std::unique_ptr<NodeSession> on_b = p.b->node->NewSession();
  EXPECT_EQ(on_b->Resume(token, 200).code(), StatusCode::kUnavailable);
  ASSERT_EQ(p.b->node->Execute({"DEBUG", "HEAL"}), "+OK\r\n");
  ASSERT_OK(on_b->Resume(token, 5000));
  EXPECT_EQ(*on_b->record("cart").Get("item"), std::optional<std::string>("3"));
  EXPECT_EQ(*on_b->counter("items").Value(), 2);
  ASSERT_OK(on_b->counter("items").Add(1));
  EXPECT_EQ(*on_b->WaitForPeers(1, 5000), 1) << "a holds b's write once replicated";
}

// Collects changes a subscriber saw.
struct Seen {
  std::mutex mu;
  std::vector<Change> changes;
  void Add(const Change& c) {
    std::lock_guard<std::mutex> l(mu);
    changes.push_back(c);
  }
  bool Has(const std::string& key, ValueType type) {
    std::lock_guard<std::mutex> l(mu);
    for (const Change& c : changes) {
      if (c.key == key && c.type == type) return true;
    }
    return false;
  }
  std::vector<Change> Copy() {
    std::lock_guard<std::mutex> l(mu);
    return changes;
  }
};

TEST(SubscriptionTest, RemoteChangesWithKeyTypeAndOrigin) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  Seen seen;
  Subscription sub = p.b->node->Subscribe([&](const Change& c) { seen.Add(c); });
  EXPECT_TRUE(sub.active());

  ASSERT_OK(p.b->node->counter("local-only").Add(1));  // b's own write: not notified
  ASSERT_OK(p.a->node->counter("c").Add(1));
  ASSERT_OK(p.a->node->string("s").Set("x"));
  ASSERT_OK(p.a->node->record("r").Set("f", "v"));
  ASSERT_OK(p.a->node->reservation_counter("rc").Add(3));
  ASSERT_TRUE(WaitFor([&] {
    return seen.Has("c", ValueType::kCounter) && seen.Has("s", ValueType::kString) &&
           seen.Has("r", ValueType::kRecord) && seen.Has("rc", ValueType::kReservationCounter);
  }));
  for (const Change& c : seen.Copy()) {
    EXPECT_NE(c.key, "local-only");
    EXPECT_EQ(c.origin_id, p.a->node->id());
    EXPECT_EQ(c.origin_name, "a");
  }
  // When the callback runs, the change is readable on b.
  EXPECT_EQ(*p.b->node->record("r").Get("f"), std::optional<std::string>("v"));
  EXPECT_EQ(sub.dropped(), 0u);

  sub.Cancel();
  EXPECT_FALSE(sub.active());
  const size_t before = seen.Copy().size();
  ASSERT_OK(p.a->node->counter("after-cancel").Add(1));
  ASSERT_TRUE(WaitFor([&] { return *p.b->node->counter("after-cancel").Value() == 1; }));
  // One more round trip on b's apply strand: anything published went out.
  ASSERT_OK(p.b->node->counter("flush").Add(1));
  EXPECT_EQ(seen.Copy().size(), before) << "no callback after Cancel";
}

TEST(SubscriptionTest, ASlowSubscriberDoesNotStallReplication) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> calls{0};
  Subscription sub = p.b->node->Subscribe([&](const Change&) {
    ++calls;
    released.wait();  // blocks the delivery thread
  });
  for (int i = 1; i <= 50; ++i) {
    ASSERT_OK(p.a->node->counter("k" + std::to_string(i)).Add(i));
  }
  // Replication and b's clients go on while the callback blocks.
  ASSERT_TRUE(WaitFor([&] { return *p.b->node->counter("k50").Value() == 50; }));
  EXPECT_EQ(*p.b->node->counter("k1").Add(1), 2);
  EXPECT_EQ(calls.load(), 1) << "the first callback is still blocked";
  release.set_value();
  ASSERT_TRUE(WaitFor([&] { return calls.load() >= 50; }));
}

TEST(SubscriptionTest, CancelFromInsideTheCallbackAndAfterTheNode) {
  Pair p;
  ASSERT_TRUE(WaitFor([&] { return p.Connected(); }));
  std::atomic<int> calls{0};
  Subscription sub;
  std::mutex mu;
  {
    std::lock_guard<std::mutex> l(mu);
    sub = p.b->node->Subscribe([&](const Change&) {
      ++calls;
      std::lock_guard<std::mutex> l2(mu);
      sub.Cancel();
    });
  }
  ASSERT_OK(p.a->node->record("r").Set({{"a", "1"}}));
  ASSERT_TRUE(WaitFor([&] { return calls.load() == 1; }));
  ASSERT_OK(p.a->node->record("r2").Set({{"a", "1"}}));
  ASSERT_TRUE(WaitFor([&] { return p.b->node->record("r2").Get("a")->has_value(); }));
  ASSERT_OK(p.b->node->counter("flush").Add(1));
  EXPECT_EQ(calls.load(), 1);

  // A subscription may outlive its node.
  Subscription late = p.b->node->Subscribe([](const Change&) {});
  p.b.reset();
  EXPECT_FALSE(late.active());
  late.Cancel();
}

Change KeyChange(std::string key) {
  Change c;
  c.key = std::move(key);
  return c;
}

TEST(ChangeFeedTest, ABoundedQueueDropsAndCounts) {
  ChangeFeed feed(/*max_queued=*/4);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::mutex mu;
  std::vector<std::string> keys;
  std::promise<void> first;
  std::atomic<bool> first_set{false};
  feed.Add([&](const Change& c) {
    if (!first_set.exchange(true)) first.set_value();
    released.wait();
    std::lock_guard<std::mutex> l(mu);
    keys.push_back(c.key);
  });
  EXPECT_TRUE(feed.active());
  feed.Publish({KeyChange("k0")});
  first.get_future().wait();  // the thread holds k0 and waits
  std::vector<Change> burst;
  for (int i = 1; i <= 10; ++i) burst.push_back(KeyChange("k" + std::to_string(i)));
  feed.Publish(std::move(burst));
  EXPECT_EQ(feed.dropped(), 6u);
  release.set_value();
  ASSERT_TRUE(WaitFor([&] { return feed.delivered() == 5; }));
  std::lock_guard<std::mutex> l(mu);
  EXPECT_EQ(keys, (std::vector<std::string>{"k0", "k1", "k2", "k3", "k4"})) << "in order, the overflow dropped";
}

}  // namespace
}  // namespace converge::testing
