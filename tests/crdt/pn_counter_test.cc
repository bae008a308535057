#include "crdt/pn_counter.h"

#include <gtest/gtest.h>

namespace converge {
namespace {

TEST(PNCounterTest, ValueIsIncrementsMinusDecrementsAcrossReplicas) {
  PNCounter a, b;
  PNCounter da1 = a.Add(1, 5);
  PNCounter db = b.Add(2, -3);
  PNCounter da2 = a.Add(1, 2);
  a.Join(db);
  b.Join(da2);  // deltas out of order, the earlier one late and twice
  b.Join(da1);
  b.Join(da1);
  EXPECT_EQ(a.Value(), 4);
  EXPECT_EQ(b.Value(), 4);
  EXPECT_EQ(a, b);
}

TEST(PNCounterTest, IncrementThenDecrementToZeroIsStillLive) {
  PNCounter c;
  c.Add(1, 1);
  c.Add(1, -1);
  EXPECT_EQ(c.Value(), 0);
  EXPECT_TRUE(c.Live());
}

TEST(PNCounterTest, ObservedResetKeepsConcurrentIncrements) {
  PNCounter a, b;
  PNCounter d1 = a.Add(1, 10);
  b.Join(d1);
  PNCounter reset = a.Reset();      // a saw 10
  PNCounter inc = b.Add(2, 3);      // concurrent with the reset
  EXPECT_EQ(a.Value(), 0);
  EXPECT_FALSE(a.Live());
  a.Join(inc);
  b.Join(reset);
  EXPECT_EQ(a.Value(), 3);
  EXPECT_EQ(b.Value(), 3);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.Live());
}

TEST(PNCounterTest, ResetDeltaArrivingBeforeTheIncrementsItSawKeepsFloorsBelowCounters) {
  PNCounter a, c;
  PNCounter other;
  PNCounter from_b = other.Add(2, 7);  // origin 2's increment
  a.Join(from_b);
  PNCounter reset = a.Reset();
  c.Join(reset);  // c never got origin 2's delta directly
  EXPECT_TRUE(c.WellFormed());
  EXPECT_EQ(c.Value(), 0);
  c.Join(from_b);  // arrives later: must not count again
  EXPECT_EQ(c.Value(), 0);
}

}  // namespace
}  // namespace converge
