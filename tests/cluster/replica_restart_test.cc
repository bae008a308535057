// What a Replica finds when it starts on a store: the live-key count a clean
// close saved (no scan), or a count by scan when that count cannot be
// trusted (a crash, anything applied since).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cluster/replica.h"
#include "crdt/hybrid_clock.h"
#include "storage/store.h"

namespace converge {
namespace {

class ReplicaRestartTest : public ::testing::Test {
 protected:
  ReplicaRestartTest() {
    std::string tmpl = "/tmp/converge-replica-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir_ = tmpl;
  }
  ~ReplicaRestartTest() override {
    replica_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Open() {
    replica_.reset();
    store_.reset();
    StatusOr<std::unique_ptr<Store>> s = Store::Open(dir_ + "/db", StoreOptions());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    replica_ = std::make_unique<Replica>(store_.get(), &clock_, ReplicaOptions{});
  }

  void SetKey(const std::string& key) {
    ASSERT_TRUE(replica_->Mutate(key, [](Object& o, Stamp now) { return o.Set(now, "v"); }).ok());
  }

  ManualClock clock_{1'000'000};
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReplicaRestartTest, CleanCloseSavesTheCountAndTheNextStartUsesIt) {
  Open();
  for (int i = 0; i < 25; ++i) SetKey("k" + std::to_string(i));
  ASSERT_TRUE(replica_->Commit().ok());
  SetKey("staged-only");  // never committed: not counted by the saved figure
  Open();
  EXPECT_EQ(replica_->live_keys(), 25u);

  // The saved figure is what the start takes, not a recount: plant a wrong
  // one for the same version vector and it shows.
  const VersionVector vv = replica_->committed_version_vector();
  replica_.reset();
  ASSERT_TRUE(store_->SaveLiveKeys(999, vv).ok());
  store_.reset();
  Open();
  EXPECT_EQ(replica_->live_keys(), 999u);
}

TEST_F(ReplicaRestartTest, ACountForAnotherStateIsNotTrusted) {
  Open();
  for (int i = 0; i < 10; ++i) SetKey("k" + std::to_string(i));
  ASSERT_TRUE(replica_->Commit().ok());
  replica_.reset();
  ASSERT_TRUE(store_->SaveLiveKeys(999, VersionVector()).ok());  // another vector
  store_.reset();
  Open();
  EXPECT_EQ(replica_->live_keys(), 10u);
}

TEST_F(ReplicaRestartTest, TheSavedCountIsConsumedByTheOpen) {
  Open();
  SetKey("a");
  ASSERT_TRUE(replica_->Commit().ok());
  const VersionVector vv = replica_->committed_version_vector();
  replica_.reset();
  ASSERT_TRUE(store_->SaveLiveKeys(999, vv).ok());
  store_.reset();
  {
    StatusOr<std::unique_ptr<Store>> s = Store::Open(dir_ + "/db", StoreOptions());
    ASSERT_TRUE(s.ok());
    EXPECT_EQ((*s)->live_keys_at_open(), 999u);
    // Anything applied makes it stale at once.
    ApplyBatch b;
    b.erased_objects.push_back("a");
    ASSERT_TRUE((*s)->Apply(b).ok());
    EXPECT_EQ((*s)->live_keys_at_open(), std::nullopt);
    // A crash: the store is dropped without anyone saving a count. Even with
    // the vector unchanged, the next open must count.
  }
  StatusOr<std::unique_ptr<Store>> s = Store::Open(dir_ + "/db", StoreOptions());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->live_keys_at_open(), std::nullopt);
}

}  // namespace
}  // namespace converge
