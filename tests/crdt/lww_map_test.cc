#include "crdt/lww_map.h"

#include <gtest/gtest.h>

#include "crdt/lww_register.h"

namespace converge {
namespace {

Stamp At(uint64_t ms, ReplicaId r) { return Stamp{Timestamp(ms, 0), r}; }

TEST(LwwRegisterTest, LaterStampWinsAndReplicaBreaksTies) {
  LwwRegister a, b;
  LwwRegister da = a.Set("from-1", At(10, 1));
  LwwRegister db = b.Set("from-2", At(10, 2));
  a.Join(db);
  b.Join(da);
  EXPECT_EQ(a.value(), "from-2");
  EXPECT_EQ(a, b);
  LwwRegister old = a.Set("older", At(9, 9));
  EXPECT_EQ(a.value(), "from-2") << "an older write loses";
  b.Join(old);
  EXPECT_EQ(a, b);
}

TEST(LwwRegisterTest, DeleteIsATombstoneWrite) {
  LwwRegister r;
  r.Set("v", At(1, 1));
  LwwRegister del = r.Delete(At(2, 1));
  EXPECT_FALSE(r.Live());
  EXPECT_TRUE(r.tombstone());
  LwwRegister s;
  s.Set("v", At(1, 1));
  s.Join(del);
  EXPECT_EQ(s, r);
  r.Set("again", At(3, 2));
  EXPECT_TRUE(r.Live());
}

TEST(LwwMapTest, FieldsFromDifferentReplicasDoNotOverwriteEachOther) {
  LwwMap a, b;
  LwwMap da = a.Set("name", "kiosk", At(10, 1));
  LwwMap db = b.Set("price", "3", At(11, 2));
  a.Join(db);
  b.Join(da);
  EXPECT_EQ(a, b);
  ASSERT_NE(a.Get("name"), nullptr);
  EXPECT_EQ(*a.Get("name"), "kiosk");
  EXPECT_EQ(*a.Get("price"), "3");
  EXPECT_EQ(a.Size(), 2u);
}

TEST(LwwMapTest, FieldTombstoneAndKeyTombstone) {
  LwwMap m;
  m.Set("a", "1", At(1, 1));
  m.Set("b", "2", At(2, 1));
  m.Delete("a", At(3, 1));
  EXPECT_EQ(m.Get("a"), nullptr);
  EXPECT_EQ(m.Tombstones(), 1u);
  LwwMap concurrent;
  LwwMap late = concurrent.Set("c", "3", At(5, 2));  // after the DEL below
  LwwMap early = concurrent.Set("d", "4", At(3, 2));  // before it
  m.Clear(At(4, 1));
  EXPECT_FALSE(m.Live());
  m.Join(late);
  m.Join(early);
  EXPECT_EQ(m.Items(), (std::vector<std::pair<std::string, std::string>>{{"c", "3"}}));
  // Fields hidden by the key tombstone are dropped, not kept.
  EXPECT_EQ(m.fields().size(), 1u);
}

TEST(LwwMapTest, PurgeDropsOnlyTombstonesBelowTheBound) {
  LwwMap m;
  m.Set("a", "1", At(1, 1));
  m.Delete("a", At(4, 1));
  m.Delete("b", At(8, 1));
  m.Clear(At(3, 1));
  EXPECT_EQ(m.Purge(At(5, 0)), 2u) << "a's tombstone and the key tombstone";
  EXPECT_EQ(m.Tombstones(), 1u);
  EXPECT_TRUE(m.cleared().IsZero());
  EXPECT_EQ(m.Purge(At(9, 0)), 1u);
  EXPECT_TRUE(m.fields().empty());
}

}  // namespace
}  // namespace converge
