// The objects column family written as merges of deltas: what reads see
// equals what whole-object puts give, byte for byte, across reopen and
// compaction, after a purge's put, and with damaged bytes in the way.
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "crdt/codec.h"
#include "crdt/digest.h"
#include "storage/internal/object_merge.h"
#include "storage/internal/object_merge_operator.h"
#include "storage/store.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using storage_internal::JoinObjectOperands;
using storage_internal::MergeObjectValues;
using testing::Numbered;
using testing::StampOf;
using testing::TempDir;

constexpr ReplicaId kA = 0xA1;
constexpr ReplicaId kB = 0xB2;

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  StatusOr<std::unique_ptr<Store>> s = Store::Open(path, StoreOptions());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  return std::move(s).value();
}

Object HashOf(Stamp at, const std::vector<std::pair<std::string, std::string>>& kv) {
  Object o;
  StatusOr<Object> d = o.HashSet(at, kv);
  if (!d.ok()) std::abort();
  return *d;
}

// One random write as a delta: hash sets and deletes, counters, strings,
// key deletes, from two origins, on a few keys (so types collide).
struct RandomWriter {
  explicit RandomWriter(uint64_t seed) : rng(seed) {}

  std::mt19937_64 rng;
  uint64_t seq = 0;
  std::map<std::string, Object> state;  // the join of every delta so far

  std::pair<std::string, Object> Next() {
    const std::string key = Numbered("k", rng() % 6);
    Object& o = state[key];
    const Stamp now = StampOf(rng() % 2 ? kA : kB, ++seq);
    StatusOr<Object> d = InternalError("unset");
    switch (rng() % 6) {
      case 0:
      case 1: {
        std::vector<std::pair<std::string, std::string>> kv;
        for (int i = 0, n = 1 + static_cast<int>(rng() % 3); i < n; ++i) {
          kv.emplace_back(Numbered("f", rng() % 100), Numbered("v", rng()));
        }
        d = o.HashSet(now, kv);
        break;
      }
      case 2: d = o.HashDelete(now, {Numbered("f", rng() % 100)}); break;
      case 3: d = o.IncrBy(now, static_cast<int64_t>(rng() % 21) - 10); break;
      case 4: d = o.Set(now, Numbered("s", rng())); break;
      case 5: d = o.Delete(now); break;
    }
    if (!d.ok()) return {key, Object()};  // wrong type or nothing to delete
    return {key, *d};
  }
};

// Every object of `store` by key, encoded, read through a snapshot and
// checked against GetObject.
std::map<std::string, std::string> Contents(const Store& store) {
  std::map<std::string, std::string> out;
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store.SnapshotObjects();
  EXPECT_OK(snap);
  if (!snap.ok()) return out;
  for ((*snap)->SeekToFirst(); (*snap)->Valid(); (*snap)->Next()) {
    StatusOr<Object> o = (*snap)->object();
    EXPECT_OK(o);
    if (!o.ok()) continue;
    out[std::string((*snap)->key())] = Encode(*o);
    StatusOr<std::optional<Object>> got = store.GetObject((*snap)->key());
    EXPECT_OK(got);
    if (got.ok()) {
      EXPECT_TRUE(*got && Encode(**got) == Encode(*o));
    }
  }
  EXPECT_OK((*snap)->status());
  return out;
}

std::string DigestOf(const Store& store) {
  StateDigest digest;
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store.SnapshotObjects();
  if (!snap.ok()) return "error";
  for ((*snap)->SeekToFirst(); (*snap)->Valid(); (*snap)->Next()) {
    StatusOr<Object> o = (*snap)->object();
    if (!o.ok()) return "error";
    digest.Add((*snap)->key(), *o);
  }
  return digest.HexDigest();
}

// The same random history written to two stores, one as whole objects
// (joined by the test), one as merges of the deltas; with purges (a put on
// both) in between, reopens and full compactions. The stores hold the same
// bytes and digest the same throughout, and match the history's join.
TEST(ObjectMergeTest, MergesReadBackAsTheWholeObjectsPutsWouldStore) {
  const uint64_t seed = testing::AnnounceSeed("MergesReadBackAsTheWholeObjectsPutsWouldStore");
  SCOPED_TRACE(seed);
  RandomWriter w(seed);
  TempDir dir;
  auto puts = OpenOrDie(dir.Sub("puts"));
  auto merges = OpenOrDie(dir.Sub("merges"));
  ASSERT_NE(puts, nullptr);
  ASSERT_NE(merges, nullptr);
  for (int cycle = 0; cycle < 150; ++cycle) {
    ApplyBatch p, m;
    std::map<std::string, Object> joined;  // this cycle's delta per key
    for (int i = 0, n = 1 + static_cast<int>(w.rng() % 4); i < n; ++i) {
      auto [key, delta] = w.Next();
      joined[key].Join(delta);
    }
    for (const auto& [key, delta] : joined) {
      p.objects.emplace_back(key, w.state[key]);
      m.merged_objects.emplace_back(key, delta);
    }
    ASSERT_OK(puts->Apply(p));
    ASSERT_OK(merges->Apply(m));

    const int event = static_cast<int>(w.rng() % 20);
    if (event == 0) {  // purge every key, as Replica::PurgeStep would: a put or a delete
      const Stamp bound = StampOf(0, w.seq - w.rng() % 10);
      ApplyBatch purge;
      for (auto it = w.state.begin(); it != w.state.end();) {
        if (it->second.Purge(bound)) {
          purge.erased_objects.push_back(it->first);
          it = w.state.erase(it);
        } else {
          purge.objects.emplace_back(it->first, it->second);
          ++it;
        }
      }
      ASSERT_OK(puts->Apply(purge));
      ASSERT_OK(merges->Apply(purge));
    } else if (event == 1) {
      puts.reset();
      merges.reset();
      puts = OpenOrDie(dir.Sub("puts"));
      merges = OpenOrDie(dir.Sub("merges"));
      ASSERT_NE(puts, nullptr);
      ASSERT_NE(merges, nullptr);
    } else if (event == 2) {
      ASSERT_OK(merges->CompactObjects());
    }
    if (cycle % 10 == 9 || event <= 2) {
      const auto want = Contents(*puts);
      ASSERT_EQ(Contents(*merges), want) << "cycle " << cycle;
      ASSERT_EQ(DigestOf(*merges), DigestOf(*puts));
      std::map<std::string, std::string> model;
      for (const auto& [key, o] : w.state) model[key] = Encode(o);
      ASSERT_EQ(want, model);
    }
  }
  ASSERT_OK(merges->CompactObjects());
  EXPECT_EQ(Contents(*merges), Contents(*puts));
  EXPECT_EQ(merges->Stats().damaged_merge_inputs, 0u);
}

// A put after merges replaces them; merges after the put join onto it.
TEST(ObjectMergeTest, PutThenMergeJoinsOntoThePut) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  const Object f1 = HashOf(StampOf(kA, 1), {{"f1", "a"}});
  const Object f2 = HashOf(StampOf(kA, 2), {{"f2", "b"}});
  const Object f3 = HashOf(StampOf(kA, 3), {{"f3", "c"}});
  ApplyBatch b1;
  b1.merged_objects = {{"h", f1}, {"h", f2}};
  ASSERT_OK(store->Apply(b1));
  ApplyBatch b2;  // the put drops f1 (as a purge drops tombstones), in the same batch as f3
  b2.objects = {{"h", f2}};
  b2.merged_objects = {{"h", f3}};
  ASSERT_OK(store->Apply(b2));
  Object want = f2;
  want.Join(f3);
  for (int round = 0; round < 3; ++round) {
    StatusOr<std::optional<Object>> got = store->GetObject("h");
    ASSERT_OK(got);
    ASSERT_TRUE(*got);
    EXPECT_EQ(Encode(**got), Encode(want)) << "round " << round;
    if (round == 0) {
      ASSERT_OK(store->CompactObjects());
    }
    if (round == 1) {
      store.reset();
      store = OpenOrDie(dir.path());
      ASSERT_NE(store, nullptr);
    }
  }
  ApplyBatch erase;  // an erase then a merge: the merge alone
  erase.erased_objects = {"h"};
  erase.merged_objects = {{"h", f1}};
  ASSERT_OK(store->Apply(erase));
  StatusOr<std::optional<Object>> got = store->GetObject("h");
  ASSERT_OK(got);
  ASSERT_TRUE(*got);
  EXPECT_EQ(Encode(**got), Encode(f1));
}

// Raw RocksDB access, with the store's merge operator, to plant damaged
// values and damaged operands where the Store reads them.
void WriteRaw(const std::string& path, const std::string& key, const std::string& value,
              bool merge) {
  rocksdb::DBOptions o;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  size_t objects = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    rocksdb::ColumnFamilyOptions cf;
    if (names[i] == "objects") {
      objects = i;
      cf.merge_operator = storage_internal::NewObjectMergeOperator(
          std::make_shared<std::atomic<uint64_t>>(0));
    }
    descs.emplace_back(names[i], cf);
  }
  ASSERT_LT(objects, names.size());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, path, descs, &handles, &db).ok());
  rocksdb::Status s = merge ? db->Merge(rocksdb::WriteOptions(), handles[objects], key, value)
                            : db->Put(rocksdb::WriteOptions(), handles[objects], key, value);
  EXPECT_TRUE(s.ok()) << s.ToString();
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
  delete db;
}

// A damaged stored value stays Corruption until a merge reaches it; the
// merge rebuilds the key from the join (what Replica::JoinInterval did with
// puts) and counts the damage. A damaged operand is left out and counted.
// Neither stops the store: flush, compaction and later writes all work.
TEST(ObjectMergeTest, DamagedBytesAreRebuiltOrLeftOutNeverFatal) {
  TempDir dir;
  const Object f1 = HashOf(StampOf(kA, 1), {{"f1", "a"}});
  const Object f2 = HashOf(StampOf(kA, 2), {{"f2", "b"}});
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    ApplyBatch b;
    b.objects = {{"good", f1}};
    ASSERT_OK(store->Apply(b));
  }
  WriteRaw(dir.path(), "bad-base", "\x01garbage", /*merge=*/false);
  WriteRaw(dir.path(), "good", "\x07not an object", /*merge=*/true);
  WriteRaw(dir.path(), "all-bad", "\x01\x02", /*merge=*/true);
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);

  StatusOr<std::optional<Object>> bad = store->GetObject("bad-base");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.status().message().find("bad-base"), std::string::npos);

  StatusOr<std::optional<Object>> all_bad = store->GetObject("all-bad");
  ASSERT_FALSE(all_bad.ok());  // nothing decodes: the bytes pass through, still Corruption
  EXPECT_EQ(all_bad.status().code(), StatusCode::kCorruption);

  StatusOr<std::optional<Object>> good = store->GetObject("good");
  ASSERT_OK(good);
  ASSERT_TRUE(*good);
  EXPECT_EQ(Encode(**good), Encode(f1));  // the damaged operand is left out
  EXPECT_GT(store->Stats().damaged_merge_inputs, 0u);

  ApplyBatch b;
  b.merged_objects = {{"bad-base", f2}, {"good", f2}};
  ASSERT_OK(store->Apply(b));
  ASSERT_OK(store->CompactObjects());
  ASSERT_OK(store->Apply(b));  // still writable after compacting damaged inputs

  StatusOr<std::optional<Object>> rebuilt = store->GetObject("bad-base");
  ASSERT_OK(rebuilt);
  ASSERT_TRUE(*rebuilt);
  EXPECT_EQ(Encode(**rebuilt), Encode(f2));
  Object both = f1;
  both.Join(f2);
  good = store->GetObject("good");
  ASSERT_OK(good);
  ASSERT_TRUE(*good);
  EXPECT_EQ(Encode(**good), Encode(both));
  all_bad = store->GetObject("all-bad");
  EXPECT_EQ(all_bad.status().code(), StatusCode::kCorruption);
}

TEST(ObjectMergeTest, MergeFunctionsJoinWhatDecodesAndCountTheRest) {
  const Object f1 = HashOf(StampOf(kA, 1), {{"f1", "a"}});
  const Object f2 = HashOf(StampOf(kB, 2), {{"f2", "b"}});
  Object both = f1;
  both.Join(f2);
  const std::string e1 = Encode(f1), e2 = Encode(f2), bad = "\x01\xff";

  auto m = MergeObjectValues(e1, {e2, e2});
  EXPECT_EQ(m.value, Encode(both));
  EXPECT_EQ(m.damaged, 0u);
  m = MergeObjectValues(std::nullopt, {e2, e1});
  EXPECT_EQ(m.value, Encode(both));
  m = MergeObjectValues(bad, {e2});
  EXPECT_EQ(m.value, e2);
  EXPECT_EQ(m.damaged, 1u);
  m = MergeObjectValues(e1, {bad, bad});
  EXPECT_EQ(m.value, e1);
  EXPECT_EQ(m.damaged, 2u);
  m = MergeObjectValues(bad, {"x"});
  EXPECT_EQ(m.value, bad);
  EXPECT_EQ(m.damaged, 2u);
  m = MergeObjectValues(std::nullopt, {"x", bad});
  EXPECT_EQ(m.value, "x");

  EXPECT_EQ(JoinObjectOperands({e1, e2}), Encode(both));
  EXPECT_EQ(JoinObjectOperands({e1, bad}), std::nullopt);
}

}  // namespace
}  // namespace converge
