#include "crdt/object.h"

#include <gtest/gtest.h>

#include "crdt/codec.h"
#include "crdt/digest.h"
#include <random>

#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

Stamp At(uint64_t ms, ReplicaId r) { return Stamp{Timestamp(ms, 0), r}; }

TEST(ObjectTest, ConcurrentCreationAsDifferentTypesConvergesToTheLaterBirth) {
  Object a, b;
  StatusOr<Object> da = a.IncrBy(At(10, 1), 5);
  StatusOr<Object> db = b.Set(At(12, 2), "text");
  ASSERT_OK(da);
  ASSERT_OK(db);
  a.Join(*db);
  b.Join(*da);
  EXPECT_EQ(Encode(a), Encode(b));
  EXPECT_EQ(a.Type(), ObjectType::kString);
  ASSERT_NE(a.As<LwwRegister>(), nullptr);
  EXPECT_EQ(a.As<LwwRegister>()->value(), "text");
  EXPECT_EQ(a.As<PNCounter>(), nullptr);
  // Writes of the losing type are now refused with Redis's text.
  StatusOr<Object> again = a.IncrBy(At(13, 1), 1);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(Object::IsWrongType(again.status()));
}

TEST(ObjectTest, ConcurrentCreationAsTheSameTypeKeepsEveryWrite) {
  Object a, b;
  StatusOr<Object> da = a.IncrBy(At(10, 1), 5);
  StatusOr<Object> db = b.IncrBy(At(12, 2), 7);
  a.Join(*db);
  b.Join(*da);
  EXPECT_EQ(a.As<PNCounter>()->Value(), 12);
  EXPECT_EQ(Encode(a), Encode(b));
}

TEST(ObjectTest, DeleteThenRecreateAsAnotherType) {
  Object o;
  ASSERT_OK(o.IncrBy(At(1, 1), 3));
  StatusOr<Object> del = o.Delete(At(2, 1));
  ASSERT_OK(del);
  EXPECT_FALSE(o.Live());
  EXPECT_EQ(o.Delete(At(3, 1)).status().code(), StatusCode::kNotFound);
  ASSERT_OK(o.HashSet(At(4, 1), {{"f", "v"}}));
  EXPECT_EQ(o.Type(), ObjectType::kHash);
  // Recreate the counter: old increments do not come back.
  ASSERT_OK(o.Delete(At(5, 1)));
  StatusOr<Object> inc = o.IncrBy(At(6, 1), 1);
  ASSERT_OK(inc);
  EXPECT_EQ(o.Type(), ObjectType::kCounter);
  EXPECT_EQ(o.As<PNCounter>()->Value(), 1);
}

TEST(ObjectTest, RecreatedHashDoesNotShowOldFields) {
  Object o;
  ASSERT_OK(o.HashSet(At(1, 1), {{"old", "1"}}));
  ASSERT_OK(o.Delete(At(2, 1)));
  ASSERT_OK(o.Set(At(3, 1), "s"));
  ASSERT_OK(o.Delete(At(4, 1)));
  ASSERT_OK(o.HashSet(At(5, 1), {{"new", "2"}}));
  EXPECT_EQ(o.As<LwwMap>()->Items(),
            (std::vector<std::pair<std::string, std::string>>{{"new", "2"}}));
}

TEST(ObjectTest, ReservationCounterCannotBeDeleted) {
  Object o;
  ASSERT_OK(o.RcAdd(At(1, 1), 5));
  StatusOr<Object> del = o.Delete(At(2, 1));
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(o.As<ReservationCounter>()->Value(), 5);
  EXPECT_FALSE(o.RcTake(At(3, 2), 1).ok()) << "replica 2 holds no rights";
  Object before = o;
  EXPECT_FALSE(o.RcTake(At(3, 1), 6).ok());
  EXPECT_EQ(o, before);
}

TEST(ObjectTest, FailedTakeOnAMissingKeyLeavesNothingBehind) {
  Object o;
  EXPECT_FALSE(o.RcTake(At(1, 1), 1).ok());
  EXPECT_EQ(o, Object());
}

TEST(ObjectTest, HashDeleteOfMissingFieldsIsNotFound) {
  Object o;
  EXPECT_EQ(o.HashDelete(At(1, 1), {"x"}).status().code(), StatusCode::kNotFound);
  ASSERT_OK(o.HashSet(At(2, 1), {{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(o.HashDelete(At(3, 1), {"x"}).status().code(), StatusCode::kNotFound);
  ASSERT_OK(o.HashDelete(At(4, 1), {"a", "x"}));
  EXPECT_EQ(o.As<LwwMap>()->Size(), 1u);
}

TEST(ObjectTest, PurgeDropsADeadStringOnlyOnceStable) {
  Object o;
  ASSERT_OK(o.Set(At(1, 1), "v"));
  ASSERT_OK(o.Delete(At(2, 1)));
  EXPECT_FALSE(o.Purge(At(2, 0)));
  EXPECT_TRUE(o.Purge(At(3, 0)));
  Object c;
  ASSERT_OK(c.IncrBy(At(1, 1), 1));
  ASSERT_OK(c.Delete(At(2, 1)));
  EXPECT_FALSE(c.Purge(At(100, 0))) << "counter floors are kept";
}

TEST(ObjectTest, DigestIgnoresTombstonesButNotLiveValues) {
  Object a, b;
  ASSERT_OK(a.HashSet(At(1, 1), {{"f", "v"}}));
  ASSERT_OK(b.HashSet(At(1, 1), {{"f", "v"}}));
  ASSERT_OK(b.HashSet(At(2, 1), {{"g", "w"}}));
  ASSERT_OK(b.HashDelete(At(3, 1), {"g"}));
  EXPECT_NE(Encode(a), Encode(b));
  EXPECT_EQ(a.DigestBytes(), b.DigestBytes());
  ASSERT_OK(b.HashSet(At(4, 1), {{"f", "changed"}}));
  EXPECT_NE(a.DigestBytes(), b.DigestBytes());

  StateDigest da, db;
  da.Add("k", a);
  db.Add("k", b);
  EXPECT_NE(da.HexDigest(), db.HexDigest());
}

TEST(StateDigestTest, SkipsDeadKeysAndIs40Hex) {
  Object live, dead;
  ASSERT_OK(live.Set(At(1, 1), "v"));
  ASSERT_OK(dead.Set(At(1, 1), "v"));
  ASSERT_OK(dead.Delete(At(2, 1)));
  StateDigest with_dead, without;
  with_dead.Add("a", dead);
  with_dead.Add("b", live);
  without.Add("b", live);
  EXPECT_EQ(with_dead.live_keys(), 1u);
  const std::string h = with_dead.HexDigest();
  EXPECT_EQ(h, without.HexDigest());
  EXPECT_EQ(h.size(), 40u);
  EXPECT_EQ(h.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
}  // namespace converge

namespace converge {
namespace {

// Five replicas create one key concurrently, each as a random type, and then
// receive each other's deltas in random orders: all end on the same winner,
// the type whose creation has the largest (timestamp, replica).
TEST(ObjectTest, RandomConcurrentCreationsConvergeToOneWinner) {
  const uint64_t seed = testing::AnnounceSeed("ObjectTest.RandomConcurrentCreations");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 500; ++round) {
    constexpr int kReplicas = 5;
    std::vector<Object> replicas(kReplicas);
    std::vector<Object> deltas;
    Stamp max_birth;
    std::optional<ObjectType> expected;
    for (int r = 0; r < kReplicas; ++r) {
      const Stamp now{Timestamp(100 + rng() % 3, rng() % 2), static_cast<ReplicaId>(r)};
      StatusOr<Object> d = Status();
      ObjectType t = static_cast<ObjectType>(rng() % 4);
      switch (t) {
        case ObjectType::kCounter: d = replicas[r].IncrBy(now, 1); break;
        case ObjectType::kString: d = replicas[r].Set(now, "s"); break;
        case ObjectType::kHash: d = replicas[r].HashSet(now, {{"f", "v"}}); break;
        case ObjectType::kReservation: d = replicas[r].RcAdd(now, 1); break;
      }
      ASSERT_OK(d);
      deltas.push_back(*d);
      if (!expected || now > max_birth) {
        max_birth = now;
        expected = t;
      }
    }
    for (auto& replica : replicas) {
      std::vector<Object> order = deltas;
      std::shuffle(order.begin(), order.end(), rng);
      for (const auto& d : order) replica.Join(d);
    }
    for (const auto& replica : replicas) {
      ASSERT_EQ(replica.Type(), expected) << "round " << round;
      ASSERT_EQ(Encode(replica), Encode(replicas[0]));
    }
  }
}

}  // namespace
}  // namespace converge
