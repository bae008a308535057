#include "crdt/reservation_counter.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <vector>

#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

TEST(ReservationCounterTest, TakeNeedsRightsAndFailsWithoutChange) {
  ReservationCounter a;
  a.Add(1, 10);
  EXPECT_EQ(a.Rights(1), 10);
  EXPECT_EQ(a.Rights(2), 0);
  ASSERT_OK(a.Take(1, 4));
  EXPECT_EQ(a.Value(), 6);
  ReservationCounter before = a;
  StatusOr<ReservationCounter> r = a.Take(1, 7);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a, before) << "a failed take changes nothing";
  StatusOr<ReservationCounter> r2 = a.Take(2, 1);
  EXPECT_FALSE(r2.ok()) << "replica 2 holds no rights although the value is 6";
  EXPECT_FALSE(a.Take(1, 0).ok());
}

TEST(ReservationCounterTest, TransferMovesRightsNotValue) {
  ReservationCounter a;
  a.Add(1, 10);
  StatusOr<ReservationCounter> d = a.Transfer(1, 2, 4);
  ASSERT_OK(d);
  EXPECT_EQ(a.Rights(1), 6);
  EXPECT_EQ(a.Rights(2), 4);
  EXPECT_EQ(a.Value(), 10);
  ReservationCounter b;
  b.Join(*d);
  ASSERT_OK(b.Take(2, 4));
  EXPECT_EQ(b.Value(), 6);
  EXPECT_FALSE(b.Take(2, 1).ok());
  EXPECT_FALSE(a.Transfer(1, 1, 1).ok());
  EXPECT_FALSE(a.Transfer(1, 2, 7).ok());
  auto holders = a.Holders();
  ASSERT_EQ(holders.size(), 2u);
  EXPECT_EQ(holders[0], (std::pair<ReplicaId, uint64_t>{1, 6}));
}

// Five replicas add, take and transfer at random and gossip deltas with loss
// of order and duplication. No replica's view ever shows a negative value or
// negative rights, and the final join's value equals adds minus successful
// takes.
TEST(ReservationCounterTest, RandomConcurrentHistoryNeverGoesNegative) {
  const uint64_t seed = testing::AnnounceSeed("ReservationCounterTest.NeverNegative");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr int kReplicas = 5;
  for (int round = 0; round < 300; ++round) {
    std::vector<ReservationCounter> views(kReplicas);
    std::vector<std::deque<ReservationCounter>> inbox(kReplicas);
    int64_t added = 0, taken = 0;
    for (int step = 0; step < 120; ++step) {
      const ReplicaId i = rng() % kReplicas;
      ReservationCounter& v = views[i];
      std::optional<ReservationCounter> delta;
      switch (rng() % 5) {
        case 0: {
          const uint64_t n = 1 + rng() % 5;
          delta = v.Add(i, n);
          added += static_cast<int64_t>(n);
          break;
        }
        case 1:
        case 2: {
          const uint64_t n = 1 + rng() % 4;
          StatusOr<ReservationCounter> d = v.Take(i, n);
          if (d.ok()) {
            delta = *d;
            taken += static_cast<int64_t>(n);
          }
          break;
        }
        case 3: {
          const ReplicaId j = rng() % kReplicas;
          StatusOr<ReservationCounter> d = v.Transfer(i, j, 1 + rng() % 3);
          if (d.ok()) delta = *d;
          break;
        }
        case 4: {  // deliver one pending delta, possibly twice, out of order
          if (inbox[i].empty()) break;
          const size_t k = rng() % inbox[i].size();
          v.Join(inbox[i][k]);
          if (rng() % 3 != 0) inbox[i].erase(inbox[i].begin() + static_cast<long>(k));
          break;
        }
      }
      if (delta) {
        for (int j = 0; j < kReplicas; ++j) {
          if (j != static_cast<int>(i)) inbox[j].push_back(*delta);
        }
      }
      for (const auto& view : views) {
        ASSERT_GE(view.Value(), 0) << "round " << round << " step " << step;
        for (int r = 0; r < kReplicas; ++r) ASSERT_GE(view.Rights(r), 0);
      }
    }
    ReservationCounter final_state;
    for (const auto& view : views) final_state.Join(view);
    for (int r = 0; r < kReplicas; ++r) {
      for (const auto& d : inbox[r]) final_state.Join(d);
    }
    ASSERT_GE(final_state.Value(), 0);
    ASSERT_EQ(final_state.Value(), added - taken) << "round " << round;
  }
}

}  // namespace
}  // namespace converge
