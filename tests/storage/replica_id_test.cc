// The replica id changes exactly when the store may have lost writes its
// peers hold (Store's class comment): after an unclean stop under everysec
// followed by a reboot, and when a backup is opened. A process crash, a clean
// stop and the syncing modes keep it.
//
// An unclean stop is a real one: a child process opens the store, writes,
// and is SIGKILLed. A reboot is a different StoreOptions::boot_id.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "storage/internal/format.h"
#include "storage/internal/run.h"
#include "storage/store.h"
#include "tests/storage/child_process.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::kWriterOrigin;
using testing::Numbered;
using testing::TempDir;

std::unique_ptr<Store> OpenOn(const std::string& path, const std::string& boot,
                              Durability durability = Durability::kEverySec) {
  StoreOptions o;
  o.durability = durability;
  o.boot_id = boot;
  StatusOr<std::unique_ptr<Store>> s = Store::Open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// A run of a child process on `path` that is SIGKILLed after one write;
// returns the replica id it ran under (0 on failure).
ReplicaId KilledRun(const std::string& path, const std::string& mode, const std::string& boot) {
  ChildProcess child("runner", path + ":" + mode + ":" + boot);
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  bool eof = false;
  while (got.find('\n') == std::string::npos && !eof && std::chrono::steady_clock::now() < deadline) {
    got += child.Read(100ms, &eof);
  }
  child.Kill();
  if (got.empty() || got[0] != 'R') {
    ADD_FAILURE() << "runner failed: " << got;
    return 0;
  }
  return std::strtoull(got.c_str() + 1, nullptr, 10);
}

TEST(ReplicaIdTest, CleanStopKeepsTheIdEvenAfterAReboot) {
  TempDir dir;
  ReplicaId id;
  {
    auto store = OpenOn(dir.path(), "boot-a");
    ASSERT_NE(store, nullptr);
    id = store->replica_id();
  }
  auto store = OpenOn(dir.path(), "boot-b");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->replica_id(), id);
  EXPECT_TRUE(store->retired_replica_ids().empty());
  EXPECT_EQ(store->replica_id_change(), "");
}

// StoreOptions::new_replica_id names the id of a store being created, and
// only then: an existing store keeps its own whatever the option says.
TEST(ReplicaIdTest, ANewStoreTakesTheIdItIsGivenAndKeepsIt) {
  TempDir dir;
  StoreOptions o;
  o.new_replica_id = 0x5eed;
  {
    StatusOr<std::unique_ptr<Store>> store = Store::Open(dir.path(), o);
    ASSERT_OK(store);
    EXPECT_EQ((*store)->replica_id(), 0x5eedu);
  }
  o.new_replica_id = 0xbeef;
  StatusOr<std::unique_ptr<Store>> store = Store::Open(dir.path(), o);
  ASSERT_OK(store);
  EXPECT_EQ((*store)->replica_id(), 0x5eedu);
}

TEST(ReplicaIdTest, ProcessCrashOnTheSameBootKeepsTheId) {
  TempDir dir;
  const ReplicaId id = KilledRun(dir.path(), "everysec", "boot-a");
  ASSERT_NE(id, 0u);
  auto store = OpenOn(dir.path(), "boot-a");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->replica_id(), id);
  EXPECT_TRUE(store->retired_replica_ids().empty());
  EXPECT_EQ(store->version_vector().Get(kWriterOrigin), 1u);  // the write is there
}

TEST(ReplicaIdTest, UncleanEverysecRunThenRebootTakesANewId) {
  TempDir dir;
  const ReplicaId id = KilledRun(dir.path(), "everysec", "boot-a");
  ASSERT_NE(id, 0u);
  ReplicaId fresh;
  {
    auto store = OpenOn(dir.path(), "boot-b");
    ASSERT_NE(store, nullptr);
    fresh = store->replica_id();
    EXPECT_NE(fresh, id);
    EXPECT_NE(fresh, 0u);
    EXPECT_EQ(store->retired_replica_ids(), std::vector<ReplicaId>{id});
    EXPECT_NE(store->replica_id_change().find("rebooted"), std::string::npos)
        << store->replica_id_change();
    // The data stays what it was: only the id new writes go under changes.
    EXPECT_EQ(store->version_vector().Get(kWriterOrigin), 1u);
    StatusOr<std::optional<Object>> o = store->GetObject(Numbered("k", 1));
    ASSERT_OK(o);
    EXPECT_TRUE(o->has_value());
  }
  // Once, not at every open: the next run closed cleanly.
  auto store = OpenOn(dir.path(), "boot-c");
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->replica_id(), fresh);
  EXPECT_EQ(store->retired_replica_ids(), std::vector<ReplicaId>{id});
  EXPECT_EQ(store->replica_id_change(), "");
}

TEST(ReplicaIdTest, SyncingModesKeepTheIdAcrossAnUncleanRunAndAReboot) {
  for (const char* mode : {"always", "batch"}) {
    SCOPED_TRACE(mode);
    TempDir dir;
    const ReplicaId id = KilledRun(dir.path(), mode, "boot-a");
    ASSERT_NE(id, 0u);
    auto store = OpenOn(dir.path(), "boot-b");
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->replica_id(), id);
    EXPECT_TRUE(store->retired_replica_ids().empty());
  }
}

TEST(ReplicaIdTest, TheModeOfTheLostRunDecidesNotTheModeNow) {
  TempDir dir;
  const ReplicaId id = KilledRun(dir.path(), "everysec", "boot-a");
  ASSERT_NE(id, 0u);
  auto store = OpenOn(dir.path(), "boot-b", Durability::kAlways);
  ASSERT_NE(store, nullptr);
  EXPECT_NE(store->replica_id(), id);
}

TEST(ReplicaIdTest, DamagedRunRecordCountsAsAPossibleLoss) {
  TempDir dir;
  ReplicaId id;
  {
    auto store = OpenOn(dir.path(), "boot-a");
    ASSERT_NE(store, nullptr);
    id = store->replica_id();
  }
  testing::PutRaw(dir.path(), {{"meta", "running", "\x01\x07"}});
  auto store = OpenOn(dir.path(), "boot-a");
  ASSERT_NE(store, nullptr);  // not refused: the record only decides the id
  EXPECT_NE(store->replica_id(), id);
  EXPECT_EQ(store->retired_replica_ids(), std::vector<ReplicaId>{id});
}

TEST(ReplicaIdTest, CheckpointIsAConsistentCopyThatTakesANewIdWhenOpened) {
  TempDir dir;
  const std::string db = dir.Sub("db");
  const std::string backup = dir.Sub("backup");
  auto store = OpenOn(db, "boot-a");
  ASSERT_NE(store, nullptr);
  VersionVector vv;
  for (uint64_t seq = 1; seq <= 50; ++seq) {
    vv.Advance(kWriterOrigin, seq);
    const Delta d = testing::SetDelta(kWriterOrigin, seq, Numbered("k", seq), Numbered("v", seq));
    ASSERT_OK(store->Apply(testing::WriteBatchFor(d, vv)));
  }
  ASSERT_OK(store->Checkpoint(backup));
  EXPECT_TRUE(std::filesystem::exists(backup + "/" +
                                      std::string(storage_internal::kRestoreMarkerFile)));
  // A second checkpoint to the same place is refused, leaving the first.
  Status again = store->Checkpoint(backup);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition) << again.ToString();

  // The source keeps writing after the backup was taken.
  vv.Advance(kWriterOrigin, 51);
  ASSERT_OK(store->Apply(testing::WriteBatchFor(
      testing::SetDelta(kWriterOrigin, 51, "after", "backup"), vv)));

  ReplicaId restored_id;
  {
    auto restored = OpenOn(backup, "boot-a");  // same boot, clean-looking: the marker decides
    ASSERT_NE(restored, nullptr);
    restored_id = restored->replica_id();
    EXPECT_NE(restored_id, store->replica_id());
    EXPECT_EQ(restored->retired_replica_ids(), std::vector<ReplicaId>{store->replica_id()});
    EXPECT_NE(restored->replica_id_change().find("backup"), std::string::npos);
    EXPECT_EQ(restored->version_vector().Get(kWriterOrigin), 50u);
    for (uint64_t seq = 1; seq <= 50; ++seq) {
      StatusOr<std::optional<Object>> o = restored->GetObject(Numbered("k", seq));
      ASSERT_OK(o);
      EXPECT_TRUE(o->has_value()) << seq;
    }
    StatusOr<std::optional<Object>> after = restored->GetObject("after");
    ASSERT_OK(after);
    EXPECT_FALSE(after->has_value());
    EXPECT_FALSE(std::filesystem::exists(backup + "/" +
                                         std::string(storage_internal::kRestoreMarkerFile)));
  }
  auto reopened = OpenOn(backup, "boot-a");
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->replica_id(), restored_id);
}

TEST(ReplicaIdTest, LostWritesReasonCoversEveryCase) {
  using storage_internal::LastRun;
  using storage_internal::LostWritesReason;
  using storage_internal::RunRecord;
  const uint8_t everysec = static_cast<uint8_t>(Durability::kEverySec);
  const uint8_t always = static_cast<uint8_t>(Durability::kAlways);
  EXPECT_EQ(LostWritesReason(LastRun{}, "b", everysec), "");
  EXPECT_EQ(LostWritesReason(LastRun{RunRecord{"b", everysec}}, "b", everysec), "");
  EXPECT_NE(LostWritesReason(LastRun{RunRecord{"a", everysec}}, "b", everysec), "");
  EXPECT_EQ(LostWritesReason(LastRun{RunRecord{"a", always}}, "b", everysec), "");
  // An unknown boot (no /proc) is not taken for the same one.
  EXPECT_NE(LostWritesReason(LastRun{RunRecord{"", everysec}}, "", everysec), "");
  EXPECT_NE(LostWritesReason(LastRun{std::nullopt, true}, "b", everysec), "");
  EXPECT_NE(LostWritesReason(LastRun{std::nullopt, false, true}, "b", everysec), "");
}

}  // namespace
}  // namespace converge
