// The delta log: trimming at the stable vector, and the size cap keeping it
// bounded in a long run while every untrimmed range stays readable and every
// trimmed one says it is gone.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "storage/internal/format.h"
#include "storage/store.h"
#include "tests/storage/child_process.h"
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

TEST(LogTest, TrimLogDeletesAtOrBelowStableAndRaisesFloor) {
  testing::TempDir dir;
  StoreOptions o;
  VersionVector vv;
  uint64_t bytes_at_close = 0;
  {
    auto store = OpenOrDie(dir.path(), o);
    ASSERT_NE(store, nullptr);
    for (uint64_t seq = 1; seq <= 20; ++seq) {
      for (ReplicaId origin : {kA, kB}) {
        vv.Advance(origin, seq);
        Status st = store->Apply(testing::WriteBatchFor(SetDelta(origin, seq, "k", "v"), vv));
        ASSERT_OK(st);
      }
    }
    const uint64_t before = store->log_bytes();
    VersionVector stable;
    stable.Set(kA, 12);
    stable.Set(kB, 3);
    Status st = store->TrimLog(stable);
    ASSERT_OK(st);
    EXPECT_EQ(store->log_floor(), stable);
    EXPECT_LT(store->log_bytes(), before);

    // A lower stable vector later changes nothing.
    VersionVector lower;
    lower.Set(kA, 5);
    st = store->TrimLog(lower);
    ASSERT_OK(st);
    EXPECT_EQ(store->log_floor(), stable);
    bytes_at_close = store->log_bytes();
  }
  auto store = OpenOrDie(dir.path(), o);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->log_floor().Get(kA), 12u);
  EXPECT_EQ(store->log_floor().Get(kB), 3u);

  auto gone = store->ReadLog(kA, 12, 20, UINT64_MAX);
  EXPECT_EQ(gone.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(gone.status().message().find("full-state"), std::string::npos);
  auto a = store->ReadLog(kA, 13, 20, UINT64_MAX);
  ASSERT_OK(a);
  ASSERT_EQ(a->size(), 8u);
  EXPECT_EQ(a->front().last(), 13u);
  auto b = store->ReadLog(kB, 4, 20, UINT64_MAX);
  ASSERT_OK(b);
  EXPECT_EQ(b->size(), 17u);
  // The size recomputed at open equals the one kept across the trim.
  EXPECT_EQ(store->log_bytes(), bytes_at_close);
}

TEST(LogTest, CapKeepsLogBoundedInALongRun) {
  const uint64_t seed = testing::AnnounceSeed("LogTest.CapKeepsLogBoundedInALongRun");
  SCOPED_TRACE(Numbered("seed=", seed));
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  StoreOptions o;
  o.log_cap_bytes = 256 << 10;
  o.write_buffer_bytes = 1 << 20;  // several flushes in the run
  const std::vector<ReplicaId> origins = {kA, kB, kC};
  VersionVector vv;
  uint64_t max_seen = 0;
  constexpr int kDeltas = 20000;
  {
    auto store = OpenOrDie(dir.path(), o);
    ASSERT_NE(store, nullptr);
    int written = 0;
    uint64_t tick = 0;
    while (written < kDeltas) {
      ApplyBatch batch;
      const int n = 1 + static_cast<int>(rng() % 16);
      for (int i = 0; i < n && written < kDeltas; ++i, ++written) {
        // Origin kC writes rarely, so its entries are the oldest to survive.
        const ReplicaId origin = rng() % 10 == 0 ? kC : origins[rng() % 2];
        const uint64_t seq = vv.Get(origin) + 1;
        Delta d =
            SetDelta(origin, seq, Numbered("key", rng() % 500), std::string(20 + rng() % 100, 'x'));
        d.ts = Timestamp(1'700'000'000'000 + ++tick, 0);  // one clock across origins
        vv.Advance(origin, seq);
        batch.objects.emplace_back(d.key, d.object);
        batch.deltas.push_back(std::move(d));
      }
      batch.version_vector = vv;
      Status st = store->Apply(batch);
      ASSERT_OK(st);
      max_seen = std::max(max_seen, store->log_bytes());
      ASSERT_LE(store->log_bytes(), o.log_cap_bytes) << "after " << written << " deltas";
    }
    EXPECT_GT(store->log_floor().Get(kA), 0u);
    EXPECT_GT(store->log_floor().Get(kB), 0u);
  }
  // Reopen: the floor persisted and the recomputed size is within the cap.
  auto store = OpenOrDie(dir.path(), o);
  ASSERT_NE(store, nullptr);
  EXPECT_LE(store->log_bytes(), o.log_cap_bytes);
  EXPECT_GT(store->log_bytes(), o.log_cap_bytes / 2);
  const VersionVector floor = store->log_floor();
  for (ReplicaId origin : origins) {
    const uint64_t f = floor.Get(origin);
    const uint64_t last = vv.Get(origin);
    ASSERT_LT(f, last) << "the newest entries of every origin are kept";
    // Everything above the floor is there, contiguous, in bounded reads.
    uint64_t next = f + 1;
    while (next <= last) {
      auto part = store->ReadLog(origin, next, last, 16 << 10);
      ASSERT_OK(part);
      ASSERT_FALSE(part->empty());
      for (const DeltaInterval& d : *part) {
        ASSERT_EQ(d.first(), next) << "gap in the log of origin " << origin;
        ASSERT_EQ(d.last(), next);
        ++next;
      }
    }
    if (f > 0) {
      auto gone = store->ReadLog(origin, f, last, UINT64_MAX);
      EXPECT_EQ(gone.status().code(), StatusCode::kFailedPrecondition);
      auto below = store->ReadLog(origin, 1, 1, UINT64_MAX);
      EXPECT_EQ(below.status().code(), StatusCode::kFailedPrecondition);
    }
  }
  std::cout << "[ log cap  ] cap " << o.log_cap_bytes << " B, max log " << max_seen << " B, floor "
            << floor.ToString() << ", vv " << vv.ToString() << std::endl;
}

// Entries are intervals keyed by their last seq: a read that starts inside
// one returns it whole, trims go by whole entries, and a full-state transfer
// can raise the floor past ranges this log never held.
TEST(LogTest, IntervalEntriesReadTrimAndRaiseTheFloor) {
  testing::TempDir dir;
  StoreOptions o;
  {
    auto store = OpenOrDie(dir.path(), o);
    ASSERT_NE(store, nullptr);
    DeltaInterval first(SetDelta(kA, 1, "k1", "a"));
    ASSERT_OK(first.Append(SetDelta(kA, 2, "k2", "b")));
    ASSERT_OK(first.Append(SetDelta(kA, 3, "k1", "c")));
    ApplyBatch batch;
    batch.intervals.push_back(first);
    batch.intervals.push_back(DeltaInterval(SetDelta(kA, 4, "k3", "d")));
    ASSERT_OK(store->Apply(batch));

    auto mid = store->ReadLog(kA, 2, 4, UINT64_MAX);
    ASSERT_OK(mid);
    ASSERT_EQ(mid->size(), 2u);
    EXPECT_EQ(mid->front(), first) << "the entry holding seq 2 comes back whole";
    EXPECT_EQ(mid->front().objects().size(), 2u) << "joined by key";
    auto tail = store->ReadLog(kA, 4, 4, UINT64_MAX);
    ASSERT_OK(tail);
    ASSERT_EQ(tail->size(), 1u);
    EXPECT_EQ(tail->front().first(), 4u);
    auto none = store->ReadLog(kA, 1, 1, UINT64_MAX);
    ASSERT_OK(none);
    EXPECT_EQ(none->size(), 1u) << "[1, 3] holds seq 1";

    VersionVector stable;
    stable.Set(kA, 3);
    ASSERT_OK(store->TrimLog(stable));
    EXPECT_EQ(store->ReadLog(kA, 3, 4, UINT64_MAX).status().code(),
              StatusCode::kFailedPrecondition);

    ApplyBatch raise;
    raise.raise_log_floor.emplace();
    raise.raise_log_floor->Set(kB, 10);
    ASSERT_OK(store->Apply(raise));
    EXPECT_EQ(store->log_floor().Get(kB), 10u);
  }
  auto reopened = OpenOrDie(dir.path(), o);
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->log_floor().Get(kB), 10u) << "the raised floor is durable";
  EXPECT_EQ(reopened->log_floor().Get(kA), 3u);
  auto kept = reopened->ReadLog(kA, 4, 4, UINT64_MAX);
  ASSERT_OK(kept);
  EXPECT_EQ(kept->size(), 1u);
}

// Thirty log entries of kA, then a clean close; returns the log's size.
uint64_t LogAndClose(const std::string& path) {
  auto store = OpenOrDie(path, StoreOptions());
  if (store == nullptr) return 0;
  VersionVector vv;
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    vv.Advance(kA, seq);
    EXPECT_OK(store->Apply(testing::WriteBatchFor(SetDelta(kA, seq, Numbered("k", seq), "v"), vv)));
  }
  return store->log_bytes();
}

// Plants the record a clean close leaves, for the store's current vector and
// floor (or `vv` instead), with a figure no scan would give; or raw bytes.
void PlantLogSize(const std::string& path, uint64_t bytes,
                  std::optional<VersionVector> vv = std::nullopt) {
  std::string value;
  {
    auto store = OpenOrDie(path, StoreOptions());
    ASSERT_NE(store, nullptr);
    value = Encode(storage_internal::LogSizeRecord{vv ? *vv : store->version_vector(),
                                                   store->log_floor(), {{kC, bytes}}});
  }
  testing::PutRaw(path, {{std::string(storage_internal::kMetaCf),
                          std::string(storage_internal::kLogSizeKey), value}});
}

TEST(LogTest, TheOpenTakesTheSizeTheLastCleanCloseSaved) {
  testing::TempDir dir;
  const uint64_t scanned = LogAndClose(dir.path());
  ASSERT_GT(scanned, 0u);
  EXPECT_EQ(OpenOrDie(dir.path(), StoreOptions())->log_bytes(), scanned);
  // The saved figure is what the open takes, not a scan.
  PlantLogSize(dir.path(), 12345);
  EXPECT_EQ(OpenOrDie(dir.path(), StoreOptions())->log_bytes(), 12345u);
}

TEST(LogTest, ASizeRecordThatDoesNotMatchOrDecodeMeansAScan) {
  testing::TempDir dir;
  const uint64_t scanned = LogAndClose(dir.path());
  VersionVector other;
  other.Set(kA, 29);
  PlantLogSize(dir.path(), 12345, other);  // another state of the log
  EXPECT_EQ(OpenOrDie(dir.path(), StoreOptions())->log_bytes(), scanned);
  testing::PutRaw(dir.path(), {{std::string(storage_internal::kMetaCf),
                                std::string(storage_internal::kLogSizeKey), "\x01garbage"}});
  EXPECT_EQ(OpenOrDie(dir.path(), StoreOptions())->log_bytes(), scanned);
}

TEST(LogTest, TheSizeRecordIsConsumedByTheOpen) {
  using namespace std::chrono_literals;
  testing::TempDir dir;
  const uint64_t scanned = LogAndClose(dir.path());
  PlantLogSize(dir.path(), 12345);
  {
    // A run that never closes: it opens (and so consumes the record) and
    // is killed. The log and the vector are unchanged, so only the
    // consumption keeps the next open from trusting the old figure.
    testing::ChildProcess holder("holder", dir.path());
    ASSERT_EQ(holder.ReadFirst(20s), "R") << "holder did not open the store";
    holder.Kill();
  }
  EXPECT_EQ(OpenOrDie(dir.path(), StoreOptions())->log_bytes(), scanned);
}

// A clean close flushes the memtables: the WAL it leaves is empty, so the
// next open replays nothing, and everything written is still there.
TEST(LogTest, ACleanCloseLeavesNothingInTheWalToReplay) {
  testing::TempDir dir;
  const uint64_t scanned = LogAndClose(dir.path());
  ASSERT_GT(scanned, 0u);
  uint64_t wal_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().extension() == ".log") wal_bytes += entry.file_size();
  }
  EXPECT_EQ(wal_bytes, 0u);
  auto store = OpenOrDie(dir.path(), StoreOptions());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->version_vector().Get(kA), 30u);
  StatusOr<std::vector<DeltaInterval>> log = store->ReadLog(kA, 1, 30, UINT64_MAX);
  ASSERT_OK(log.status());
  EXPECT_EQ(log->size(), 30u);
}

}  // namespace
}  // namespace converge
