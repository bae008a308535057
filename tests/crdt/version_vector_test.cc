#include "crdt/version_vector.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/testing/seed.h"

namespace converge {
namespace {

TEST(VersionVectorTest, AdvancesOnlyOverAContiguousPrefix) {
  VersionVector vv;
  EXPECT_TRUE(vv.Advance(7, 1));
  EXPECT_FALSE(vv.Advance(7, 3)) << "a gap must not be claimed";
  EXPECT_FALSE(vv.Advance(7, 1)) << "a duplicate changes nothing";
  EXPECT_EQ(vv.Get(7), 1u);
  EXPECT_TRUE(vv.Advance(7, 2));
  EXPECT_TRUE(vv.Advance(7, 3));
  EXPECT_EQ(vv.Get(7), 3u);
  EXPECT_TRUE(vv.Covers(7, 3));
  EXPECT_FALSE(vv.Covers(7, 4));
  EXPECT_EQ(vv.Get(8), 0u);
}

TEST(VersionVectorTest, CompareAndJoin) {
  VersionVector a, b;
  a.Set(1, 3);
  b.Set(1, 2);
  EXPECT_EQ(a.Compare(b), VersionVector::Order::kGreater);
  EXPECT_EQ(b.Compare(a), VersionVector::Order::kLess);
  EXPECT_TRUE(b <= a);
  b.Set(2, 1);
  EXPECT_EQ(a.Compare(b), VersionVector::Order::kConcurrent);
  VersionVector j = a;
  j.Join(b);
  EXPECT_EQ(j.Get(1), 3u);
  EXPECT_EQ(j.Get(2), 1u);
  EXPECT_TRUE(a <= j && b <= j);
  EXPECT_EQ(j.CountAhead(b), 1u);
  VersionVector m = VersionVector::Meet(a, b);
  EXPECT_EQ(m.Get(1), 2u);
  EXPECT_EQ(m.Get(2), 0u);
  EXPECT_EQ(j.Compare(j), VersionVector::Order::kEqual);
}

TEST(VersionVectorTest, ZeroEntriesAreNotStored) {
  VersionVector a, b;
  a.Set(5, 0);
  EXPECT_EQ(a, b);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(VersionVector::Meet(a, b), b);
}

TEST(VersionVectorTest, JoinIsALattice) {
  std::mt19937_64 rng(testing::AnnounceSeed("VersionVectorTest.JoinIsALattice"));
  auto random_vv = [&] {
    VersionVector v;
    for (int i = 0; i < 4; ++i) v.Set(rng() % 5, rng() % 4);
    return v;
  };
  for (int i = 0; i < 2000; ++i) {
    VersionVector a = random_vv(), b = random_vv(), c = random_vv();
    VersionVector ab = a, ba = b;
    ab.Join(b);
    ba.Join(a);
    EXPECT_EQ(ab, ba);
    VersionVector ab_c = ab, a_bc = a, bc = b;
    ab_c.Join(c);
    bc.Join(c);
    a_bc.Join(bc);
    EXPECT_EQ(ab_c, a_bc);
    VersionVector aa = a;
    aa.Join(a);
    EXPECT_EQ(aa, a);
    EXPECT_TRUE(VersionVector::Meet(a, b) <= a);
  }
}

}  // namespace
}  // namespace converge
