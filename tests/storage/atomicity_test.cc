// A failure between building a batch and writing it leaves the previous state
// whole: in memory, and on disk after a restart.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "storage/store.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using testing::Numbered;
using testing::SetDelta;

constexpr ReplicaId kOrigin = 0xA1;

struct Expected {
  VersionVector vv;
  Timestamp hlc;
};

void ExpectFirstBatchOnly(Store& store, const Expected& e) {
  EXPECT_EQ(store.version_vector(), e.vv);
  EXPECT_EQ(store.hlc_high_water(), e.hlc);
  auto k1 = store.GetObject("k1");
  ASSERT_OK(k1);
  ASSERT_TRUE(k1->has_value());
  EXPECT_EQ((*k1)->As<LwwRegister>()->value(), "first");
  auto k2 = store.GetObject("k2");
  ASSERT_OK(k2);
  EXPECT_FALSE(k2->has_value());
  auto log = store.ReadLog(kOrigin, 1, 10, UINT64_MAX);
  ASSERT_OK(log);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ(log->front().last(), 1u);
  auto hold = store.GetHold("h-old");
  ASSERT_OK(hold);
  EXPECT_TRUE(hold->has_value());
  auto new_hold = store.GetHold("h-new");
  ASSERT_OK(new_hold);
  EXPECT_FALSE(new_hold->has_value());
  auto idem = store.GetIdempotency("i-new");
  ASSERT_OK(idem);
  EXPECT_FALSE(idem->has_value());
}

TEST(AtomicityTest, FailureBeforeWriteLeavesPreviousStateWhole) {
  testing::TempDir dir;
  auto fail = std::make_shared<std::atomic<bool>>(false);
  StoreOptions options;
  options.durability = Durability::kBatch;
  options.before_write = [fail]() -> Status {
    if (fail->load()) return UnavailableError("injected: disk went away");
    return Status::Ok();
  };
  Expected e;
  {
    auto opened = Store::Open(dir.path(), options);
    ASSERT_OK(opened);
    Store& store = **opened;

    const Delta d1 = SetDelta(kOrigin, 1, "k1", "first");
    e.vv.Advance(kOrigin, 1);
    e.hlc = d1.ts;
    ApplyBatch first = testing::WriteBatchFor(d1, e.vv);
    first.put_holds.push_back(HoldRecord{"h-old", "k1", 2, 1000});
    Status st = store.Apply(first);
    ASSERT_OK(st);

    // The second batch touches every column family; all of it must vanish.
    fail->store(true);
    VersionVector vv2 = e.vv;
    ApplyBatch second;
    for (uint64_t seq = 2; seq <= 4; ++seq) {
      const Delta d = SetDelta(kOrigin, seq, Numbered("k", seq - 1), "second");
      vv2.Advance(kOrigin, seq);
      second.objects.emplace_back(d.key, d.object);
      second.deltas.push_back(d);
      second.hlc_high_water = d.ts;
    }
    second.version_vector = vv2;
    second.erased_holds.push_back("h-old");
    second.put_holds.push_back(HoldRecord{"h-new", "k2", 1, 1000});
    second.put_idempotency.push_back(IdempotencyRecord{"i-new", "+OK", 1000});
    st = store.Apply(second);
    EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.ToString();
    EXPECT_NE(st.message().find("injected"), std::string::npos);
    ExpectFirstBatchOnly(store, e);

    // Trims and sweeps go through the same hook.
    st = store.TrimLog(e.vv);
    EXPECT_FALSE(st.ok());
    EXPECT_TRUE(store.log_floor().empty());
    auto swept = store.SweepExpired(UINT64_MAX);
    EXPECT_FALSE(swept.ok());
    ExpectFirstBatchOnly(store, e);
  }
  fail->store(false);
  auto reopened = Store::Open(dir.path(), options);
  ASSERT_OK(reopened);
  ExpectFirstBatchOnly(**reopened, e);
  EXPECT_TRUE((*reopened)->log_floor().empty());
}

}  // namespace
}  // namespace converge
