// The Replica's object cache: the capacity holds without a burst of
// evictions, staged (pinned) entries are never evicted, and reads of absent
// keys are answered without filling the cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

#include "cluster/object_cache.h"
#include "cluster/replica.h"
#include "crdt/hybrid_clock.h"
#include "storage/store.h"

namespace converge {
namespace {

Object Register(const std::string& value) {
  Object o;
  if (!o.Set(Stamp{Timestamp(1, 0), 1}, value).ok()) std::abort();
  return o;
}

TEST(ObjectCacheTest, InsertsPastCapacityEvictAFewEachAndHoldTheBound) {
  ObjectCache cache(100);
  for (int i = 0; i < 1000; ++i) {
    const size_t before = cache.size();
    cache.Insert("k" + std::to_string(i), Object());
    // Bounded work: one insert never frees more than kMaxEvictPerInsert.
    EXPECT_GE(cache.size() + ObjectCache::kMaxEvictPerInsert, before + 1);
    EXPECT_LE(cache.size(), 100u);
  }
  EXPECT_EQ(cache.size(), 100u);
}

TEST(ObjectCacheTest, PinnedEntriesAreNeverEvicted) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  ObjectCache cache(64);
  std::set<std::string, std::less<>> pinned;
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 400);
    ObjectCache::Entry* e = cache.Find(key);
    if (e == nullptr) e = &cache.Insert(key, Register(key));
    if (rng() % 8 == 0 && pinned.size() < 48) {
      pinned.insert(key);
      e->pin = 1;
    }
    if (rng() % 500 == 0) {  // a commit unpins everything
      for (const std::string& p : pinned) cache.Find(p)->pin = 0;
      pinned.clear();
    }
    for (const std::string& p : pinned) {
      ObjectCache::Entry* found = cache.Find(p);
      ASSERT_NE(found, nullptr) << p << " evicted while pinned, step " << i;
      EXPECT_EQ(found->key(), p);
      EXPECT_EQ(found->object.As<LwwRegister>()->value(), p);
    }
  }
}

TEST(ObjectCacheTest, AllPinnedGoesOverCapacityThenComesBack) {
  ObjectCache cache(10);
  for (int i = 0; i < 30; ++i) cache.Insert("p" + std::to_string(i), Object()).pin = 1;
  EXPECT_EQ(cache.size(), 30u);  // nothing could go
  for (int i = 0; i < 30; ++i) cache.Find("p" + std::to_string(i))->pin = 0;
  for (int i = 0; i < 200; ++i) cache.Insert("k" + std::to_string(i), Object());
  EXPECT_LE(cache.size(), 10u);
}

TEST(ObjectCacheTest, EraseFreesTheSlotForReuse) {
  ObjectCache cache(4);
  for (int i = 0; i < 4; ++i) cache.Insert("k" + std::to_string(i), Object());
  cache.Erase("k1");
  cache.Erase("absent");
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.Find("k1"), nullptr);
  cache.Insert("k1", Register("again"));
  EXPECT_EQ(cache.Find("k1")->object.As<LwwRegister>()->value(), "again");
  // An entry is erased by its handle too, pinned or not.
  ObjectCache::Entry* k2 = cache.Find("k2");
  k2->pin = 7;
  cache.Erase(k2);
  EXPECT_EQ(cache.Find("k2"), nullptr);
  EXPECT_EQ(cache.size(), 3u);
}

// The index against a model, over random inserts, finds and erases of keys
// of every length (empty, inline-sized, long), with a small capacity so that
// evictions and erases keep reshaping the probe runs: whatever is found holds
// its key's latest value, an erased key is never found, and size() counts
// exactly the keys that can be found.
TEST(ObjectCacheTest, RandomOperationsAgreeWithAModel) {
  const unsigned seed = std::random_device{}();
  std::printf("ObjectCacheTest.RandomOperationsAgreeWithAModel seed %u\n", seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (size_t capacity : {size_t{1}, size_t{7}, size_t{300}, size_t{5000}}) {
    ObjectCache cache(capacity);
    std::map<std::string, std::string> model;  // keys that may be cached, with their value
    // Key 0 is empty; the others are their number padded to 1, 15 (the
    // longest inline std::string), 16 or 40 bytes.
    auto key_of = [](uint32_t n) {
      if (n == 0) return std::string();
      static constexpr size_t kLengths[] = {1, 15, 16, 40};
      std::string k = std::to_string(n);
      k.resize(std::max(k.size(), kLengths[n % 4]), 'x');
      return k;
    };
    for (int step = 0; step < 20000; ++step) {
      const std::string key = key_of(rng() % 2000);
      const uint32_t op = rng() % 10;
      if (op < 5) {
        if (cache.Find(key) == nullptr) {
          const std::string value = "v" + std::to_string(step);
          cache.Insert(key, Register(value));
          model[key] = value;
        }
      } else if (op < 7) {
        cache.Erase(key);
        model.erase(key);
      } else {
        ObjectCache::Entry* e = cache.Find(key);
        auto it = model.find(key);
        if (it == model.end()) {
          ASSERT_EQ(e, nullptr) << "found a key never inserted or erased: " << key;
        } else if (e != nullptr) {
          ASSERT_EQ(e->key(), key);
          ASSERT_EQ(e->object.As<LwwRegister>()->value(), it->second) << key;
        }
      }
      ASSERT_LE(cache.size(), capacity);
    }
    size_t findable = 0;
    for (const auto& [key, value] : model) {
      if (ObjectCache::Entry* e = cache.Find(key)) {
        ++findable;
        EXPECT_EQ(e->object.As<LwwRegister>()->value(), value) << key;
      }
    }
    EXPECT_EQ(cache.size(), findable) << "capacity " << capacity;
  }
}

class ReplicaCacheTest : public ::testing::Test {
 protected:
  ReplicaCacheTest() {
    std::string tmpl = "/tmp/converge-replica-cache-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
    StatusOr<std::unique_ptr<Store>> s = Store::Open(dir_ + "/db", StoreOptions());
    if (!s.ok()) std::abort();
    store_ = std::move(*s);
    ReplicaOptions options;
    options.max_cached_objects = 16;
    replica_ = std::make_unique<Replica>(store_.get(), &clock_, options);
  }
  ~ReplicaCacheTest() override {
    replica_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void SetKey(const std::string& key, const std::string& value) {
    ASSERT_TRUE(replica_->Mutate(key, [&](Object& o, Stamp now) { return o.Set(now, value); }).ok());
  }
  std::string Value(const std::string& key) {
    StatusOr<const Object*> o = replica_->Read(key);
    if (!o.ok() || !(*o)->Live()) return "<none>";
    return (*o)->As<LwwRegister>()->value();
  }

  ManualClock clock_{1'000'000};
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReplicaCacheTest, ReadsOfAbsentKeysAreEmptyAndNotCached) {
  SetKey("present", "v");
  ASSERT_TRUE(replica_->Commit().ok());
  const size_t cached = replica_->cached_objects();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(Value("missing" + std::to_string(i)), "<none>");
  EXPECT_EQ(replica_->cached_objects(), cached);
  EXPECT_EQ(Value("present"), "v");
  // A write after an absent read sees the absent key, and then its value.
  SetKey("missing7", "now");
  EXPECT_EQ(Value("missing7"), "now");
  ASSERT_TRUE(replica_->Commit().ok());
  EXPECT_EQ(Value("missing7"), "now");
  EXPECT_EQ(replica_->live_keys(), 2u);
}

TEST_F(ReplicaCacheTest, StagedWritesSurviveManyReadsAndAreCommitted) {
  for (int i = 0; i < 50; ++i) SetKey("old" + std::to_string(i), "o" + std::to_string(i));
  ASSERT_TRUE(replica_->Commit().ok());
  // Committed keys stay pinned until their objects are written (deferred
  // writes); written, they may go.
  ASSERT_TRUE(replica_->FlushObjects().ok());
  // More staged keys than the cache holds, with reads of stored keys between
  // them that need room: the staged objects must stay until Commit.
  for (int i = 0; i < 40; ++i) {
    SetKey("new" + std::to_string(i), "n" + std::to_string(i));
    EXPECT_EQ(Value("old" + std::to_string(i)), "o" + std::to_string(i));
  }
  for (int i = 0; i < 40; ++i) EXPECT_EQ(Value("new" + std::to_string(i)), "n" + std::to_string(i));
  ASSERT_TRUE(replica_->Commit().ok());
  EXPECT_LE(replica_->cached_objects(), 16u + 40u);
  ASSERT_TRUE(replica_->FlushObjects().ok());
  for (int i = 0; i < 200; ++i) Value("old" + std::to_string(i % 50));
  EXPECT_LE(replica_->cached_objects(), 16u);  // back under the bound once unpinned
  for (int i = 0; i < 40; ++i) EXPECT_EQ(Value("new" + std::to_string(i)), "n" + std::to_string(i));
  EXPECT_EQ(replica_->live_keys(), 90u);
}

}  // namespace
}  // namespace converge
