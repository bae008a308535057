// Objects behind the log (ApplyBatch::objects_vv): a writer that defers the
// writing of objects logs each delta at once and writes the objects later;
// whatever it had not written when the store closed, the next open joins in
// from the log. Checked against a reference that joins every delta in
// memory, over random histories with reopens, trims and a small log cap; and
// the trims, the snapshot's vector and damaged input one at a time.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "crdt/delta.h"
#include "crdt/object.h"
#include "storage/internal/format.h"
#include "storage/store.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using testing::Numbered;
using testing::OpenOrDie;
using testing::SetDelta;

constexpr ReplicaId kA = 0xA1;
constexpr ReplicaId kB = 0xB2;
constexpr ReplicaId kC = 0xC3;

std::optional<Object> Stored(const Store& store, const std::string& key) {
  auto o = store.GetObject(key);
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return o.ok() ? *o : std::nullopt;
}

// A writer's history: deltas made against a reference object per key (the
// join of every delta so far), numbered per origin.
class History {
 public:
  explicit History(uint64_t seed) : rng_(seed) {}

  // The next delta of a random origin on a random key: a SET, INCRBY or HSET
  // depending on the key's kind.
  Delta Next() {
    const ReplicaId origin = kOrigins[rng_() % 3];
    const uint64_t seq = vv_.Get(origin) + 1;
    const int kind = static_cast<int>(rng_() % 3);
    const std::string key = Numbered(kind == 0 ? "s" : kind == 1 ? "c" : "h", rng_() % 5);
    const Stamp now{Timestamp(1'700'000'000'000 + ++clock_, 0), origin};
    Object& ref = reference_[key];
    StatusOr<Object> d = kind == 0   ? ref.Set(now, Numbered("v", clock_))
                         : kind == 1 ? ref.IncrBy(now, static_cast<int64_t>(rng_() % 7) - 2)
                                     : ref.HashSet(now, {{Numbered("f", rng_() % 3),
                                                          Numbered("v", clock_)}});
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    Delta delta{origin, seq, now.ts, key, d.ok() ? *d : Object()};
    vv_.Advance(origin, seq);
    deltas_[origin].push_back(delta);
    return delta;
  }

  // Deltas [first, last] of `origin` as one interval, as a relay logs it.
  DeltaInterval Interval(ReplicaId origin, uint64_t first, uint64_t last) const {
    const std::vector<Delta>& all = deltas_.at(origin);
    DeltaInterval out(all[first - 1]);
    for (uint64_t seq = first + 1; seq <= last; ++seq) EXPECT_OK(out.Append(all[seq - 1]));
    return out;
  }

  const VersionVector& vv() const { return vv_; }
  const std::map<std::string, Object>& reference() const { return reference_; }
  std::mt19937_64& rng() { return rng_; }

 private:
  static constexpr ReplicaId kOrigins[] = {kA, kB, kC};
  std::mt19937_64 rng_;
  uint64_t clock_ = 0;
  VersionVector vv_;
  std::map<ReplicaId, std::vector<Delta>> deltas_;
  std::map<std::string, Object> reference_;
};

// Every reference object is in the store, joined with what the writer holds
// unwritten.
void ExpectMatches(const Store& store, const std::map<std::string, Object>& reference,
                   const std::map<std::string, Object>& unwritten, const std::string& when) {
  for (const auto& [key, want] : reference) {
    Object got = Stored(store, key).value_or(Object());
    if (auto it = unwritten.find(key); it != unwritten.end()) got.Join(it->second);
    EXPECT_EQ(got.DigestBytes(), want.DigestBytes()) << key << " " << when;
    EXPECT_EQ(got, want) << key << " " << when;
  }
}

void RandomHistory(const std::string& name, uint64_t log_cap_bytes) {
  const uint64_t seed = testing::AnnounceSeed("ObjectsLagTest." + name);
  SCOPED_TRACE(Numbered("seed=", seed));
  History history(seed);
  std::mt19937_64& rng = history.rng();
  testing::TempDir dir;
  StoreOptions options;
  options.log_cap_bytes = log_cap_bytes;
  std::unique_ptr<Store> store = OpenOrDie(dir.path(), options);
  ASSERT_NE(store, nullptr);

  VersionVector mark;                       // what the objects hold
  std::map<std::string, Object> unwritten;  // the writer's deferred objects
  int reopens = 0, replays = 0, trims = 0;
  for (int step = 0; step < 600; ++step) {
    const uint64_t dice = rng() % 100;
    if (dice < 8) {
      // Close with objects unwritten (the writer's memory is lost) and open.
      const bool lagging = !unwritten.empty();
      store.reset();
      store = OpenOrDie(dir.path(), options);
      ASSERT_NE(store, nullptr);
      ++reopens;
      EXPECT_EQ(store->objects_version_vector(), store->version_vector());
      EXPECT_EQ(store->version_vector(), history.vv());
      if (lagging) {
        EXPECT_GT(store->Stats().replayed_log_entries, 0u) << "step " << step;
        ++replays;
      }
      unwritten.clear();
      mark = history.vv();
      ExpectMatches(*store, history.reference(), unwritten, Numbered("after reopen at step ", step));
      if (::testing::Test::HasFailure()) return;
      continue;
    }
    if (dice < 14) {
      // Everything is stable: the trim must still keep what the objects lack.
      ASSERT_OK(store->TrimLog(history.vv()));
      ++trims;
      const VersionVector floor = store->log_floor();
      for (const auto& [origin, seq] : floor.entries()) {
        EXPECT_LE(seq, mark.Get(origin)) << "trimmed past the objects, step " << step;
      }
      continue;
    }
    ApplyBatch batch;
    if (dice < 30) {
      // The writer catches up: its deferred objects, and the mark.
      for (auto& [key, object] : unwritten) batch.merged_objects.emplace_back(key, object);
      unwritten.clear();
      batch.objects_vv = history.vv();
      mark = history.vv();
      ASSERT_OK(store->Apply(batch));
      EXPECT_EQ(store->objects_version_vector(), store->version_vector());
      continue;
    }
    // A cycle of 1-4 writes, or a relayed interval that may overlap what was
    // logged before; its objects written at once or deferred.
    std::vector<Delta> made;
    if (dice < 45) {
      const Delta first = history.Next();
      made.push_back(first);
      const uint64_t n = 1 + rng() % 3;
      while (made.size() <= n) {
        const Delta d = history.Next();
        made.push_back(d);
      }
      // An interval of one origin; the others' deltas are logged one by one.
      uint64_t last = first.seq;
      for (const Delta& d : made) {
        if (d.origin == first.origin) {
          last = d.seq;
        } else {
          batch.deltas.push_back(d);
        }
      }
      const uint64_t from = first.seq > 2 && rng() % 2 == 0 ? first.seq - 2 : first.seq;
      batch.intervals.push_back(history.Interval(first.origin, from, last));
    } else {
      const uint64_t n = 1 + rng() % 4;
      for (uint64_t i = 0; i < n; ++i) {
        made.push_back(history.Next());
        batch.deltas.push_back(made.back());
      }
    }
    batch.version_vector = history.vv();
    const bool defer = rng() % 10 < 7;
    for (const Delta& d : made) {
      if (defer) {
        unwritten[d.key].Join(d.object);
      } else {
        batch.merged_objects.emplace_back(d.key, d.object);
      }
    }
    // A lag already recorded may be restated or left as it is.
    const VersionVector recorded = store->objects_version_vector();
    const bool lag_recorded = recorded != store->version_vector();
    if (defer && (!lag_recorded || recorded != mark || rng() % 2 == 0)) {
      batch.objects_vv = mark;
    }
    if (!defer && unwritten.empty()) mark = history.vv();
    ASSERT_OK(store->Apply(batch));
    if (!unwritten.empty()) {
      EXPECT_EQ(store->objects_version_vector(), mark);
    }
    ExpectMatches(*store, history.reference(), unwritten, Numbered("at step ", step));
    if (::testing::Test::HasFailure()) return;
  }
  store.reset();
  store = OpenOrDie(dir.path(), options);
  ASSERT_NE(store, nullptr);
  ExpectMatches(*store, history.reference(), {}, "at the end");
  std::cout << "[ lag      ] " << name << ": " << reopens << " reopens (" << replays
            << " replayed), " << trims << " trims, log floor " << store->log_floor().ToString()
            << std::endl;
  EXPECT_GT(replays, 0);
}

TEST(ObjectsLagTest, RandomHistoriesReopenedWhileObjectsLag) {
  RandomHistory("Unbounded", 0);
}

// A cap far below the log: every Apply trims, and must stop at the mark.
TEST(ObjectsLagTest, RandomHistoriesUnderALogCap) { RandomHistory("Capped", 2048); }

// Ten writes written, ten deferred.
void WriteThenDefer(Store& store, VersionVector* vv) {
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    const Delta d = SetDelta(kA, seq, Numbered("k", seq), Numbered("v", seq));
    vv->Advance(kA, seq);
    ApplyBatch b = testing::WriteBatchFor(d, *vv);
    if (seq > 10) {
      b.objects.clear();
      VersionVector mark;
      mark.Set(kA, 10);
      b.objects_vv = mark;
    }
    ASSERT_OK(store.Apply(b));
  }
}

TEST(ObjectsLagTest, TrimStopsAtTheObjectsAndReopenCatchesUp) {
  testing::TempDir dir;
  VersionVector vv;
  {
    auto store = OpenOrDie(dir.path(), StoreOptions());
    ASSERT_NE(store, nullptr);
    WriteThenDefer(*store, &vv);
    EXPECT_EQ(store->objects_version_vector().Get(kA), 10u);
    EXPECT_EQ(Stored(*store, "k15"), std::nullopt) << "a deferred object was written";
    ASSERT_OK(store->TrimLog(vv));
    EXPECT_EQ(store->log_floor().Get(kA), 10u);
    auto log = store->ReadLog(kA, 11, 20, UINT64_MAX);
    ASSERT_OK(log.status());
    EXPECT_EQ(log->size(), 10u);
    auto snapshot = store->SnapshotObjects();
    ASSERT_OK(snapshot.status());
    EXPECT_EQ((*snapshot)->version_vector().Get(kA), 10u) << "the snapshot claims unwritten objects";
  }
  auto store = OpenOrDie(dir.path(), StoreOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats().replayed_log_entries, 10u);
  EXPECT_EQ(store->objects_version_vector(), vv);
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    auto o = Stored(*store, Numbered("k", seq));
    ASSERT_TRUE(o.has_value()) << seq;
    EXPECT_EQ(o->As<LwwRegister>()->value(), Numbered("v", seq));
  }
  {
    auto snapshot = store->SnapshotObjects();
    ASSERT_OK(snapshot.status());
    EXPECT_EQ((*snapshot)->version_vector(), vv);
  }
  ASSERT_OK(store->TrimLog(vv));
  EXPECT_EQ(store->log_floor(), vv);
  // Caught up, a further open replays nothing.
  store.reset();
  store = OpenOrDie(dir.path(), StoreOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Stats().replayed_log_entries, 0u);
}

TEST(ObjectsLagTest, CapStopsAtTheObjects) {
  testing::TempDir dir;
  StoreOptions o;
  o.log_cap_bytes = 64;  // below one entry: the cap would take everything
  auto store = OpenOrDie(dir.path(), o);
  ASSERT_NE(store, nullptr);
  VersionVector vv;
  WriteThenDefer(*store, &vv);
  EXPECT_EQ(store->log_floor().Get(kA), 10u);
  auto log = store->ReadLog(kA, 11, 20, UINT64_MAX);
  ASSERT_OK(log.status());
  EXPECT_EQ(log->size(), 10u);
  // Caught up, the cap takes the rest.
  ApplyBatch catch_up;
  for (uint64_t seq = 11; seq <= 20; ++seq) {
    catch_up.merged_objects.emplace_back(Numbered("k", seq),
                                         SetDelta(kA, seq, "", Numbered("v", seq)).object);
  }
  const Delta d = SetDelta(kA, 21, "k21", "v21");
  vv.Advance(kA, 21);
  catch_up.objects_vv = vv;
  catch_up.deltas.push_back(d);
  catch_up.objects.emplace_back(d.key, d.object);
  catch_up.version_vector = vv;
  ASSERT_OK(store->Apply(catch_up));
  EXPECT_EQ(store->objects_version_vector(), vv);
  EXPECT_GE(store->log_floor().Get(kA), 20u);
}

// A store left with ten objects behind the log, then `damage` planted in it:
// the open must refuse it as Corruption naming `what`.
void ExpectDamageRefused(const testing::RawPut& damage, const std::string& what) {
  testing::TempDir dir;
  {
    auto store = testing::OpenOrDie(dir.path(), StoreOptions());
    ASSERT_NE(store, nullptr);
    VersionVector vv;
    WriteThenDefer(*store, &vv);
  }
  testing::PutRaw(dir.path(), {damage});
  auto s = Store::Open(dir.path(), StoreOptions());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption) << s.status().ToString();
  EXPECT_NE(s.status().message().find(what), std::string::npos) << s.status().ToString();
}

TEST(ObjectsLagTest, DamagedLogEntryTheObjectsNeedIsRefused) {
  ExpectDamageRefused({"log", storage_internal::LogKey(kA, 15), "\x01garbage"}, "lag the log");
}

TEST(ObjectsLagTest, DamagedMarkIsRefused) {
  ExpectDamageRefused({"meta", "objects_vv", "\xff\xff"}, "objects_vv");
}

// A backup taken while the objects lag replays when it is opened.
TEST(ObjectsLagTest, CheckpointWhileBehindReplaysWhenOpened) {
  testing::TempDir dir;
  VersionVector vv;
  {
    auto store = OpenOrDie(dir.Sub("db"), StoreOptions());
    ASSERT_NE(store, nullptr);
    WriteThenDefer(*store, &vv);
    ASSERT_OK(store->Checkpoint(dir.Sub("backup")));
  }
  auto backup = OpenOrDie(dir.Sub("backup"), StoreOptions());
  ASSERT_NE(backup, nullptr);
  EXPECT_EQ(backup->Stats().replayed_log_entries, 10u);
  auto o = Stored(*backup, "k20");
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->As<LwwRegister>()->value(), "v20");
}

}  // namespace
}  // namespace converge
