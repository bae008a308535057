// Replica::PurgeStep: what it drops is gone from the store when it returns,
// and a write that follows the purge is kept.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "cluster/replica.h"
#include "crdt/hybrid_clock.h"
#include "storage/store.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

class ReplicaPurgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<std::unique_ptr<Store>> s = Store::Open(dir_.Sub("db"), StoreOptions());
    ASSERT_OK(s);
    store_ = std::move(*s);
    replica_ = std::make_unique<Replica>(store_.get(), &clock_, ReplicaOptions{});
  }

  void Write(const std::string& key, const Replica::Mutation& m) {
    ASSERT_OK(replica_->Mutate(key, m));
    ASSERT_OK(replica_->Commit());
    clock_.Advance(10);
  }

  // A key whose only content is tombstones: a hash written, then deleted,
  // and in the store, where PurgeStep's scan finds keys (committed objects
  // reach it later: deferred writes).
  void DeadHash(const std::string& key) {
    Write(key, [](Object& o, Stamp now) { return o.HashSet(now, {{"f", "v"}}); });
    Write(key, [](Object& o, Stamp now) { return o.Delete(now); });
    ASSERT_OK(replica_->FlushObjects());
  }

  // The object the store holds at `key`, the replica's writes flushed.
  std::optional<Object> Stored(const std::string& key) {
    EXPECT_OK(replica_->FlushObjects());
    StatusOr<std::optional<Object>> stored = store_->GetObject(key);
    EXPECT_OK(stored);
    return stored.ok() ? *stored : std::nullopt;
  }

  Stamp Above() { return Stamp{Timestamp(clock_.NowMillis() + 1, 0), 0}; }

  testing::TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<Store> store_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReplicaPurgeTest, ADroppedKeyIsGoneFromTheStoreWhenTheStepReturns) {
  DeadHash("dead");
  StatusOr<size_t> dropped = replica_->PurgeStep(Above(), 100);
  ASSERT_OK(dropped);
  EXPECT_GE(*dropped, 1u);
  // Before, a step that only dropped keys left the deletes staged until some
  // later commit; a read in between cached the doomed object again.
  StatusOr<std::optional<Object>> stored = store_->GetObject("dead");
  ASSERT_OK(stored);
  EXPECT_FALSE(stored->has_value());
  EXPECT_FALSE(replica_->HasStaged());
}

TEST_F(ReplicaPurgeTest, AWriteAfterTheDropIsKept) {
  DeadHash("k");
  ASSERT_OK(replica_->PurgeStep(Above(), 100));
  // A read, then a write of the dropped key, committed: the write must stay
  // (the deferred delete used to land after it in the same batch).
  ASSERT_OK(replica_->Get("k"));
  Write("k", [](Object& o, Stamp now) { return o.Set(now, "after"); });
  const std::optional<Object> stored = Stored("k");
  ASSERT_TRUE(stored.has_value());
  ASSERT_NE(stored->As<LwwRegister>(), nullptr);
  EXPECT_EQ(stored->As<LwwRegister>()->value(), "after");
  StatusOr<Object> cached = replica_->Get("k");
  ASSERT_OK(cached);
  EXPECT_EQ(*cached, *stored);
}

}  // namespace
}  // namespace converge
