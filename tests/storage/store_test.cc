// Store: what comes back after a restart, reads, snapshots, holds and
// idempotency records, and damaged values.
#include "storage/store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crdt/codec.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using testing::Numbered;
using testing::PutRaw;
using testing::RawPut;
using testing::SetDelta;
using testing::TempDir;
using testing::WriteBatchFor;

constexpr ReplicaId kOrigin = 0xA1;
constexpr ReplicaId kPeer = 0xB2;

StoreOptions Fast() {
  StoreOptions o;
  o.durability = Durability::kEverySec;
  return o;
}

std::unique_ptr<Store> OpenOrDie(const std::string& path, const StoreOptions& o = Fast()) {
  StatusOr<std::unique_ptr<Store>> s = Store::Open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  return std::move(s).value();
}

TEST(StoreTest, ReplicaIdIsCreatedOnceAndKept) {
  TempDir dir;
  ReplicaId first;
  {
    auto store = OpenOrDie(dir.Sub("db"));
    ASSERT_NE(store, nullptr);
    first = store->replica_id();
    EXPECT_NE(first, 0u);
  }
  auto store = OpenOrDie(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->replica_id(), first);

  TempDir other;
  auto another = OpenOrDie(other.Sub("db"));
  ASSERT_NE(another, nullptr);
  EXPECT_NE(another->replica_id(), first);
}

TEST(StoreTest, EverythingComesBackAfterRestart) {
  TempDir dir;
  VersionVector vv;
  std::vector<Delta> deltas;
  const HoldRecord hold{"h1", "stock", 3, 123456};
  const IdempotencyRecord idem{"req-7", "+OK", 999};
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    for (uint64_t seq = 1; seq <= 10; ++seq) {
      for (ReplicaId origin : {kOrigin, kPeer}) {
        Delta d = SetDelta(origin, seq, Numbered("k", seq), Numbered("v", origin));
        vv.Advance(origin, seq);
        deltas.push_back(d);
        Status st = store->Apply(WriteBatchFor(d, vv));
        ASSERT_OK(st);
      }
    }
    ApplyBatch b;
    b.put_holds.push_back(hold);
    b.put_idempotency.push_back(idem);
    Status st = store->Apply(b);
    ASSERT_OK(st);
    st = store->SetClusterId("cluster-x");
    ASSERT_OK(st);
  }
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->version_vector(), vv);
  EXPECT_EQ(store->hlc_high_water(), deltas.back().ts);
  EXPECT_EQ(store->cluster_id(), "cluster-x");
  for (const Delta& d : deltas) {
    auto obj = store->GetObject(d.key);
    ASSERT_OK(obj);
    ASSERT_TRUE(obj->has_value()) << d.key;
  }
  for (ReplicaId origin : {kOrigin, kPeer}) {
    auto log = store->ReadLog(origin, 1, 10, UINT64_MAX);
    ASSERT_OK(log);
    ASSERT_EQ(log->size(), 10u);
    for (uint64_t i = 0; i < 10; ++i) {
      EXPECT_EQ((*log)[i],
                DeltaInterval(SetDelta(origin, i + 1, Numbered("k", i + 1), Numbered("v", origin))));
    }
  }
  auto h = store->GetHold("h1");
  ASSERT_OK(h);
  ASSERT_TRUE(h->has_value());
  EXPECT_EQ(**h, hold);
  auto i = store->GetIdempotency("req-7");
  ASSERT_OK(i);
  ASSERT_TRUE(i->has_value());
  EXPECT_EQ(**i, idem);
  EXPECT_GT(store->log_bytes(), 0u);
}

TEST(StoreTest, MissingThingsAreNullopt) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  auto obj = store->GetObject("nope");
  ASSERT_OK(obj);
  EXPECT_FALSE(obj->has_value());
  auto h = store->GetHold("nope");
  ASSERT_OK(h);
  EXPECT_FALSE(h->has_value());
  auto log = store->ReadLog(kOrigin, 1, 100, UINT64_MAX);
  ASSERT_OK(log);
  EXPECT_TRUE(log->empty());
  EXPECT_TRUE(store->version_vector().empty());
  EXPECT_EQ(store->cluster_id(), "");
}

TEST(StoreTest, ObjectsCanBeErased) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  ApplyBatch put;
  put.objects.emplace_back("gone", testing::StringObject(kOrigin, 1, "x"));
  Status st = store->Apply(put);
  ASSERT_OK(st);
  ApplyBatch erase;
  erase.erased_objects.push_back("gone");
  st = store->Apply(erase);
  ASSERT_OK(st);
  auto obj = store->GetObject("gone");
  ASSERT_OK(obj);
  EXPECT_FALSE(obj->has_value());
}

TEST(StoreTest, ReadLogHonorsRangeAndMaxBytes) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  VersionVector vv;
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    vv.Advance(kOrigin, seq);
    Status st = store->Apply(WriteBatchFor(SetDelta(kOrigin, seq, "k", std::string(100, 'x')), vv));
    ASSERT_OK(st);
  }
  auto mid = store->ReadLog(kOrigin, 10, 20, UINT64_MAX);
  ASSERT_OK(mid);
  ASSERT_EQ(mid->size(), 11u);
  EXPECT_EQ(mid->front().last(), 10u);
  EXPECT_EQ(mid->back().last(), 20u);

  auto bounded = store->ReadLog(kOrigin, 1, 50, 450);  // each entry is > 100 bytes
  ASSERT_OK(bounded);
  EXPECT_GE(bounded->size(), 1u);
  EXPECT_LE(bounded->size(), 4u);
  for (size_t i = 0; i < bounded->size(); ++i) EXPECT_EQ((*bounded)[i].last(), i + 1);

  auto one = store->ReadLog(kOrigin, 5, 50, 1);  // at least one entry
  ASSERT_OK(one);
  EXPECT_EQ(one->size(), 1u);

  EXPECT_EQ(store->ReadLog(kOrigin, 0, 5, 100).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->ReadLog(kOrigin, 6, 5, 100).status().code(), StatusCode::kInvalidArgument);
  auto other = store->ReadLog(kPeer, 1, 50, UINT64_MAX);
  ASSERT_OK(other);
  EXPECT_TRUE(other->empty());
}

TEST(StoreTest, SnapshotSeesOnePointInTime) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  VersionVector vv;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    vv.Advance(kOrigin, seq);
    Status st = store->Apply(WriteBatchFor(SetDelta(kOrigin, seq, Numbered("k", seq), "a"), vv));
    ASSERT_OK(st);
  }
  const VersionVector at_snapshot = vv;
  auto snap = store->SnapshotObjects();
  ASSERT_OK(snap);
  for (uint64_t seq = 6; seq <= 9; ++seq) {
    vv.Advance(kOrigin, seq);
    Status st = store->Apply(WriteBatchFor(SetDelta(kOrigin, seq, Numbered("k", seq), "b"), vv));
    ASSERT_OK(st);
  }
  ApplyBatch erase;
  erase.erased_objects.push_back("k1");
  Status st = store->Apply(erase);
  ASSERT_OK(st);

  ObjectSnapshot& s = **snap;
  EXPECT_EQ(s.version_vector(), at_snapshot);
  std::vector<std::string> keys;
  for (s.SeekToFirst(); s.Valid(); s.Next()) {
    keys.emplace_back(s.key());
    auto obj = s.object();
    ASSERT_OK(obj);
    ASSERT_NE(obj->As<LwwRegister>(), nullptr);
    EXPECT_EQ(obj->As<LwwRegister>()->value(), "a");
  }
  ASSERT_OK(s.status());
  EXPECT_EQ(keys, (std::vector<std::string>{"k1", "k2", "k3", "k4", "k5"}));
  s.Seek("k3");
  ASSERT_TRUE(s.Valid());
  EXPECT_EQ(s.key(), "k3");
}

TEST(StoreTest, SweepExpiredRemovesOnlyExpiredRecordsAndSurvivesRestart) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
    for (uint64_t i = 1; i <= 10; ++i) {
      Status st = store->PutHold(HoldRecord{Numbered("h", i), "stock", i, i * 100});
      ASSERT_OK(st);
      st = store->PutIdempotency(IdempotencyRecord{Numbered("r", i), "reply", i * 100});
      ASSERT_OK(st);
    }
    Status st = store->DeleteHold("h10");
    ASSERT_OK(st);
    st = store->DeleteIdempotency("r10");
    ASSERT_OK(st);
  }
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  auto swept = store->SweepExpired(500);  // expiry <= now is expired
  ASSERT_OK(swept);
  EXPECT_EQ(swept->holds.size(), 5u);
  EXPECT_EQ(swept->idempotency.size(), 5u);
  for (const HoldRecord& h : swept->holds) EXPECT_LE(h.expiry_ms, 500u);
  for (uint64_t i = 1; i <= 10; ++i) {
    auto h = store->GetHold(Numbered("h", i));
    ASSERT_OK(h);
    EXPECT_EQ(h->has_value(), i > 5 && i < 10) << i;
    auto r = store->GetIdempotency(Numbered("r", i));
    ASSERT_OK(r);
    EXPECT_EQ(r->has_value(), i > 5 && i < 10) << i;
  }
  auto again = store->SweepExpired(500);
  ASSERT_OK(again);
  EXPECT_TRUE(again->holds.empty());
  EXPECT_TRUE(again->idempotency.empty());
}

TEST(StoreTest, BadInputIsInvalidArgument) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  ApplyBatch zero;
  zero.deltas.push_back(SetDelta(kOrigin, 1, "k", "v"));
  zero.deltas.back().seq = 0;
  EXPECT_EQ(store->Apply(zero).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->PutHold(HoldRecord{"", "k", 1, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->PutHold(HoldRecord{"h", "k", 0, 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->PutIdempotency(IdempotencyRecord{"", "r", 1}).code(),
            StatusCode::kInvalidArgument);
}

TEST(StoreTest, CompressionOptions) {
  for (Compression c : {Compression::kAuto, Compression::kNone, Compression::kSnappy,
                        Compression::kLz4, Compression::kZstd}) {
    TempDir dir;
    StoreOptions o = Fast();
    o.compression = c;
    auto s = Store::Open(dir.path(), o);
    // This RocksDB is built with all of them; a missing one would be
    // InvalidArgument, never a crash or a silent fallback.
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().ToString();
      continue;
    }
    Status st = (*s)->Apply(WriteBatchFor(SetDelta(kOrigin, 1, "k", "v"), VersionVector()));
    EXPECT_OK(st);
  }
}

TEST(StoreTest, DurabilityModesSyncTheWal) {
  for (Durability mode : {Durability::kAlways, Durability::kBatch, Durability::kEverySec}) {
    TempDir dir;
    StoreOptions o;
    o.durability = mode;
    o.collect_statistics = true;
    auto store = OpenOrDie(dir.path(), o);
    ASSERT_NE(store, nullptr);
    const uint64_t at_open = store->Stats().wal_syncs;  // opening syncs too
    for (uint64_t seq = 1; seq <= 5; ++seq) {
      Status st = store->Apply(WriteBatchFor(SetDelta(kOrigin, seq, "k", "v"), VersionVector()));
      ASSERT_OK(st);
    }
    if (mode != Durability::kEverySec) {
      EXPECT_EQ(store->Stats().wal_syncs - at_open, 5u);  // one fsync per Apply
      continue;
    }
    EXPECT_EQ(store->Stats().wal_syncs, at_open);  // not in Apply...
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (store->Stats().wal_syncs == at_open && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a condition
    }
    EXPECT_GT(store->Stats().wal_syncs, at_open);  // ...but by the background thread
  }
}

// Safe from any thread: a writer, log readers, snapshot scans and trims at
// once; readers see only whole ranges or "trimmed".
TEST(StoreTest, ConcurrentWritersReadersAndTrims) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  constexpr uint64_t kWrites = 1500;
  std::atomic<uint64_t> written{0};
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    VersionVector vv;
    for (uint64_t seq = 1; seq <= kWrites; ++seq) {
      vv.Advance(kOrigin, seq);
      if (!store->Apply(WriteBatchFor(SetDelta(kOrigin, seq, Numbered("k", seq % 50), "v"), vv))
               .ok()) {
        failed = true;
      }
      written = seq;
    }
  });
  std::thread trimmer([&] {
    while (written < kWrites) {
      VersionVector stable;
      if (written > 100) stable.Set(kOrigin, written - 100);
      if (!store->TrimLog(stable).ok()) failed = true;
      std::this_thread::yield();
    }
  });
  uint64_t reads = 0;
  while (written < kWrites) {
    const uint64_t last = written;
    if (last == 0) continue;
    const uint64_t from = last > 50 ? last - 50 : 1;
    auto log = store->ReadLog(kOrigin, from, last, UINT64_MAX);
    if (log.ok()) {
      EXPECT_EQ(log->size(), last - from + 1);
      for (size_t i = 0; i < log->size(); ++i) EXPECT_EQ((*log)[i].last(), from + i);
    } else {
      EXPECT_EQ(log.status().code(), StatusCode::kFailedPrecondition) << log.status().ToString();
    }
    auto snap = store->SnapshotObjects();
    ASSERT_OK(snap);
    for ((*snap)->SeekToFirst(); (*snap)->Valid(); (*snap)->Next()) {
      EXPECT_OK((*snap)->object());
    }
    ++reads;
  }
  writer.join();
  trimmer.join();
  EXPECT_FALSE(failed);
  EXPECT_GT(reads, 0u);
  EXPECT_EQ(store->version_vector().Get(kOrigin), kWrites);
}

TEST(StoreTest, DamagedValuesAreCorruptionNamingColumnFamilyAndKey) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
  }
  PutRaw(dir.path(),
         {{"objects", "bad-object", "\x01garbage"},
          {"holds", "bad-hold", ""},
          {"log", std::string("\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0\x01", 16), "\x01\x02"}});
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);

  auto obj = store->GetObject("bad-object");
  ASSERT_FALSE(obj.ok());
  EXPECT_EQ(obj.status().code(), StatusCode::kCorruption);
  EXPECT_NE(obj.status().message().find("'objects'"), std::string::npos) << obj.status().ToString();
  EXPECT_NE(obj.status().message().find("bad-object"), std::string::npos);

  auto hold = store->GetHold("bad-hold");
  ASSERT_FALSE(hold.ok());
  EXPECT_EQ(hold.status().code(), StatusCode::kCorruption);
  EXPECT_NE(hold.status().message().find("'holds'"), std::string::npos);
  auto swept = store->SweepExpired(UINT64_MAX);
  EXPECT_EQ(swept.status().code(), StatusCode::kCorruption);

  auto log = store->ReadLog(7, 1, 1, UINT64_MAX);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find("'log'"), std::string::npos);

  auto snap = store->SnapshotObjects();
  ASSERT_OK(snap);
  (*snap)->Seek("bad-object");
  ASSERT_TRUE((*snap)->Valid());
  EXPECT_EQ((*snap)->object().status().code(), StatusCode::kCorruption);
}

TEST(StoreTest, DamagedMetaIsRefusedAtOpen) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
  }
  PutRaw(dir.path(), {{"meta", "applied", "\x01\x05"}});
  auto s = Store::Open(dir.path(), Fast());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_NE(s.status().message().find("'meta'"), std::string::npos) << s.status().ToString();
  EXPECT_NE(s.status().message().find("'applied'"), std::string::npos);
}

// Random damage to stored values: every read either decodes or says
// Corruption; none crashes (run under ASan/UBSan too).
TEST(StoreTest, RandomlyGarbledValuesNeverCrashReaders) {
  const uint64_t seed = testing::AnnounceSeed("RandomlyGarbledValuesNeverCrashReaders");
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  std::vector<RawPut> planted;
  for (int i = 0; i < 40; ++i) {
    Object o = testing::StringObject(kOrigin, i + 1, std::string(rng() % 20, 'v'));
    if (i % 2 == 1) {
      Object h;
      auto d = h.HashSet(testing::StampOf(kPeer, i), {{"f", "x"}, {"g", "y"}});
      ASSERT_OK(d);
      o = h;
    }
    std::string bytes = Encode(o);
    const int damage = static_cast<int>(rng() % 4);
    if (damage == 0 && !bytes.empty()) {
      bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
    } else if (damage == 1) {
      bytes.resize(rng() % bytes.size());
    } else if (damage == 2) {
      bytes.push_back(static_cast<char>(rng()));
    } else {
      for (char& c : bytes) c = static_cast<char>(rng());
    }
    planted.push_back({"objects", Numbered("key", i), bytes});
  }
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_NE(store, nullptr);
  }
  PutRaw(dir.path(), planted);
  auto store = OpenOrDie(dir.path());
  ASSERT_NE(store, nullptr);
  for (const RawPut& p : planted) {
    auto obj = store->GetObject(p.key);
    if (!obj.ok()) {
      EXPECT_EQ(obj.status().code(), StatusCode::kCorruption);
    }
  }
}

}  // namespace
}  // namespace converge
