#include "crdt/hybrid_clock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

TEST(TimestampTest, PacksPhysicalAndLogical) {
  Timestamp t(1234567, 42);
  EXPECT_EQ(t.physical(), 1234567u);
  EXPECT_EQ(t.logical(), 42u);
  EXPECT_LT(Timestamp(5, 65535), Timestamp(6, 0));
  EXPECT_LT(Timestamp(5, 1), Timestamp(5, 2));
  EXPECT_EQ(Timestamp::FromPacked(t.packed()), t);
}

TEST(StampTest, TiesBreakOnReplica) {
  Stamp a{Timestamp(10, 0), 1}, b{Timestamp(10, 0), 2};
  EXPECT_LT(a, b);
  EXPECT_NE(a, b);
}

TEST(HybridClockTest, StrictlyIncreasesEvenWhenPhysicalTimeGoesBack) {
  std::mt19937_64 rng(testing::AnnounceSeed("HybridClockTest.StrictlyIncreases"));
  ManualClock pt(1'000'000);
  HybridClock clock(&pt, 500);
  Timestamp last;
  for (int i = 0; i < 20000; ++i) {
    const int step = static_cast<int>(rng() % 7) - 3;  // -3 .. +3 ms
    pt.Set(pt.NowMillis() + step);
    Timestamp t = clock.Now();
    ASSERT_GT(t, last);
    last = t;
  }
}

TEST(HybridClockTest, ReceiveOrdersAfterTheSend) {
  ManualClock pa(1000), pb(900);
  HybridClock a(&pa, 500), b(&pb, 500);
  Timestamp sent = a.Now();
  StatusOr<Timestamp> got = b.Update(sent);
  ASSERT_OK(got);
  EXPECT_GT(*got, sent);
  EXPECT_GT(b.Now(), sent);
}

TEST(HybridClockTest, RefusesATimestampBeyondTheOffsetAndStaysPut) {
  ManualClock pt(10'000);
  HybridClock clock(&pt, 500);
  Timestamp before = clock.Now();
  StatusOr<Timestamp> r = clock.Update(Timestamp(10'000 + 501, 0));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("ahead"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(clock.Last(), before);
  EXPECT_OK(clock.Update(Timestamp(10'000 + 500, 7)));
  EXPECT_EQ(clock.Last(), Timestamp(10'500, 8));
}

TEST(HybridClockTest, RestoreFromHighWaterNeverGoesBack) {
  ManualClock pt(5'000);
  HybridClock clock(&pt, 500);
  clock.Restore(Timestamp(9'000, 3));  // persisted by a run whose clock was ahead
  Timestamp t = clock.Now();
  EXPECT_GT(t, Timestamp(9'000, 3));
  clock.Restore(Timestamp(1, 0));  // an older high-water changes nothing
  EXPECT_GT(clock.Now(), t);
}

TEST(HybridClockTest, LogicalOverflowAdvancesPhysicalInsteadOfWrapping) {
  ManualClock pt(7'000);
  HybridClock clock(&pt, 500);
  Timestamp last;
  for (int i = 0; i < 70'000; ++i) {  // more events than 16 bits hold in one ms
    Timestamp t = clock.Now();
    ASSERT_GT(t, last);
    last = t;
  }
  EXPECT_EQ(last.physical(), 7'001u);
  // Receiving a timestamp at the logical maximum does the same.
  HybridClock other(&pt, 500);
  StatusOr<Timestamp> r = other.Update(Timestamp(7'002, Timestamp::kMaxLogical));
  ASSERT_OK(r);
  EXPECT_EQ(*r, Timestamp(7'003, 0));
}

// N replicas whose physical clocks are skewed by at most kSkew ms (all within
// the bound) exchange messages at random for a while. Derived bounds
// (Kulkarni et al., Theorems 1 and 3, adapted):
//   * l - pt <= kSkew at every replica: every l was some replica's physical
//     reading at an earlier instant, and no clock is more than kSkew ahead.
//   * c <= E * (kSkew + 1), where E bounds events per ms in the whole system:
//     c grows only while l stays the same, and a given l can stay the max only
//     while some clock has not yet passed it, i.e. for kSkew + 1 ms.
TEST(HybridClockTest, SkewWithinTheBoundKeepsDriftAndLogicalCounterSmall) {
  constexpr int kReplicas = 5;
  constexpr uint64_t kSkew = 40;         // ms, below the 500 ms bound
  constexpr int kEventsPerMs = 6;        // events in the whole system per ms
  std::mt19937_64 rng(testing::AnnounceSeed("HybridClockTest.Skew"));
  std::vector<int64_t> offset(kReplicas);
  for (auto& o : offset) o = static_cast<int64_t>(rng() % (kSkew + 1));
  std::vector<std::unique_ptr<ManualClock>> pts;
  std::vector<std::unique_ptr<HybridClock>> clocks;
  for (int i = 0; i < kReplicas; ++i) {
    pts.push_back(std::make_unique<ManualClock>());
    clocks.push_back(std::make_unique<HybridClock>(pts.back().get(), 500));
  }
  std::vector<std::vector<Timestamp>> inbox(kReplicas);
  uint64_t max_drift = 0, max_logical = 0;
  for (uint64_t now = 100'000; now < 110'000; ++now) {
    for (int i = 0; i < kReplicas; ++i) pts[i]->Set(now + offset[i]);
    for (int e = 0; e < kEventsPerMs; ++e) {
      const int r = static_cast<int>(rng() % kReplicas);
      Timestamp t;
      if (!inbox[r].empty() && rng() % 2 == 0) {
        const size_t k = rng() % inbox[r].size();
        StatusOr<Timestamp> got = clocks[r]->Update(inbox[r][k]);
        ASSERT_OK(got);
        t = *got;
        inbox[r].erase(inbox[r].begin() + static_cast<long>(k));
      } else {
        t = clocks[r]->Now();
        inbox[rng() % kReplicas].push_back(t);
      }
      max_drift = std::max(max_drift, t.physical() - pts[r]->NowMillis());
      max_logical = std::max(max_logical, t.logical());
    }
  }
  EXPECT_LE(max_drift, kSkew);
  EXPECT_LE(max_logical, static_cast<uint64_t>(kEventsPerMs) * (kSkew + 1));
}

}  // namespace
}  // namespace converge
