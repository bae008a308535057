// The apply loop's group commit, on one thread: a failed commit answers the
// commands whose writes it carried with its error, and only those. A
// request that wrote and then parked (WAIT, RC.TAKE, SESSION RESUME) is not
// among the cycle's finished requests, yet its writes were in the cycle.
#include "node/internal/apply_loop.h"

#include <gtest/gtest.h>

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "crdt/hybrid_clock.h"
#include "crdt/object.h"
#include "node/resp/reply.h"
#include "storage/store.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using namespace std::chrono_literals;

class NoPeers : public PeerNetwork {
 public:
  void Send(ReplicaId, uint8_t, std::string) override {}
  std::vector<ReplicaId> ConnectedPeers() const override { return {}; }
  void Dial(const std::string&) override {}
};

// A node's write path without its network: Store (whose writes fail while
// `fail` is set), Replica, Replicator, ApplyLoop on a single-threaded
// io_context that the test runs by hand.
class ApplyLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions so;
    so.before_write = [this] { return fail_ ? UnavailableError("injected") : Status::Ok(); };
    StatusOr<std::unique_ptr<Store>> store = Store::Open(dir_.path(), so);
    ASSERT_OK(store);
    store_ = std::move(*store);
    replica_ = std::make_unique<Replica>(store_.get(), &clock_, ReplicaOptions{});
    replicator_ = std::make_unique<Replicator>(replica_.get(), store_.get(), &network_,
                                               MemberRecord{store_->replica_id(), "n", "", "", false},
                                               ReplicatorOptions{});
    loop_ = std::make_unique<ApplyLoop>(io_, replica_.get(), replicator_.get(), FsyncMode::kEverySec,
                                        1000);
  }

  // Command 0 sets `key`; command 1 (if `park`) waits until released; then
  // `more` sets `key2`. Returns where the replies will be.
  std::shared_ptr<std::optional<std::string>> Submit(const std::string& key, bool park,
                                                     const std::string& key2 = "") {
    auto replies = std::make_shared<std::optional<std::string>>();
    const size_t commands = 1 + (park ? 1 : 0) + (key2.empty() ? 0 : 1);
    loop_->Submit(
        commands,
        [this, key, park, key2](size_t i, std::string* out) -> std::optional<Wait> {
          if (i == 1 && park) {
            return Wait{std::chrono::steady_clock::now() + 10s,
                        [this](std::string* o) {
                          if (released_) resp::AppendSimpleString(o, "RELEASED");
                          return released_;
                        },
                        [](std::string* o) { resp::AppendError(o, "ERR timeout"); }};
          }
          const std::string& k = i == 0 ? key : key2;
          Status st = replica_->Mutate(k, [](Object& o, Stamp now) { return o.Set(now, "v"); });
          if (st.ok()) {
            resp::AppendSimpleString(out, "OK");
          } else {
            resp::AppendError(out, "ERR " + st.ToString());
          }
          return std::nullopt;
        },
        [replies](std::string out) { *replies = std::move(out); });
    return replies;
  }

  void RunFor(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }

  bool Live(const std::string& key) {
    StatusOr<Object> o = replica_->Get(key);
    EXPECT_OK(o.status());
    return o.ok() && o->Live();
  }

  testing::TempDir dir_;
  ManualClock clock_{1'000'000};
  NoPeers network_;
  bool fail_ = false;
  bool released_ = false;
  asio::io_context io_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<ApplyLoop> loop_;
};

TEST_F(ApplyLoopTest, AFailedCommitAnswersItsCycleWithTheError) {
  fail_ = true;
  auto replies = Submit("k", false);
  RunFor(20ms);
  ASSERT_TRUE(replies->has_value());
  EXPECT_TRUE((*replies)->starts_with("-ERR commit failed: ")) << **replies;
  EXPECT_EQ(loop_->failed_commits(), 1u);
  EXPECT_FALSE(Live("k"));
}

TEST_F(ApplyLoopTest, AParkedRequestsWriteIsAnsweredByTheCommitThatCarriedIt) {
  fail_ = true;
  auto replies = Submit("k", true);
  RunFor(20ms);  // runs command 0, parks on 1, commits (and fails)
  EXPECT_FALSE(replies->has_value());
  EXPECT_EQ(loop_->failed_commits(), 1u);
  EXPECT_FALSE(Live("k"));
  fail_ = false;
  released_ = true;
  RunFor(50ms);  // the wait timer resumes it; its cycle commits
  ASSERT_TRUE(replies->has_value());
  EXPECT_TRUE((*replies)->starts_with("-ERR commit failed: ")) << **replies;
  EXPECT_TRUE((*replies)->ends_with("\r\n+RELEASED\r\n")) << **replies;
  EXPECT_FALSE(Live("k"));  // and the "+OK" it once had would have been a lie
  EXPECT_EQ(loop_->commits(), 0u) << "the cycles after the failure had nothing to write";
}

TEST_F(ApplyLoopTest, APriorCommitsRepliesStandWhenALaterOneFails) {
  auto replies = Submit("k", true, "k2");
  RunFor(20ms);  // "k" committed while parked
  EXPECT_EQ(loop_->commits(), 1u);
  fail_ = true;
  released_ = true;
  RunFor(50ms);  // resumes, writes k2, whose commit fails
  ASSERT_TRUE(replies->has_value());
  // The commit carried the answer of the parked command and k2's write.
  const std::string& out = **replies;
  EXPECT_TRUE(out.starts_with("+OK\r\n-ERR commit failed: ")) << out;
  size_t errors = 0;
  for (size_t at = out.find("-ERR commit failed"); at != std::string::npos;
       at = out.find("-ERR commit failed", at + 1)) {
    ++errors;
  }
  EXPECT_EQ(errors, 2u) << out;
  EXPECT_TRUE(Live("k"));
  EXPECT_FALSE(Live("k2"));
}

TEST_F(ApplyLoopTest, WithoutFailuresEveryReplyIsKept) {
  auto replies = Submit("k", true, "k2");
  RunFor(20ms);
  released_ = true;
  RunFor(50ms);
  ASSERT_TRUE(replies->has_value());
  EXPECT_EQ(**replies, "+OK\r\n+RELEASED\r\n+OK\r\n");
  EXPECT_TRUE(Live("k"));
  EXPECT_TRUE(Live("k2"));
}

}  // namespace
}  // namespace converge
