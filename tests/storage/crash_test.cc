// A process crash loses no acknowledged write, in every durability mode.
//
// A child process applies writes in a loop and reports each write's seq over
// a pipe after its Apply returned; the parent SIGKILLs it at a random moment,
// reopens the store and finds every acknowledged write: its object, its log
// entry, the version vector and the HLC high-water. It also checks that the
// store is whole: the version vector never claims a delta whose log entry or
// object is missing (each batch is all there or not at all). The same holds
// when the writer leaves the objects behind the log and the open replays.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "storage/store.h"
#include "tests/storage/child_process.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::kWriterOrigin;
using testing::Numbered;

int Rounds() {
  if (const char* env = std::getenv("CONVERGE_CRASH_ROUNDS")) return std::atoi(env);
  return 10;
}

// When a round's SIGKILL lands.
struct KillPlan {
  // Kill `after` from spawn, ready or not (lands in startup, open, creation).
  // Otherwise kill `after` from the writer's "ready" (lands in its write
  // loop however slow startup is, e.g. under ASan).
  bool early = false;
  std::chrono::milliseconds after{0};
};

// Runs one writer child on `path` and kills it as `plan` says; returns the
// highest acknowledged seq (acks arrive in increasing order).
uint64_t RunAndKill(const std::string& path, const std::string& mode, KillPlan plan,
                    uint64_t acked_before) {
  ChildProcess child("writer", path + ":" + mode);
  EXPECT_GT(child.pid(), 0);
  if (child.pid() <= 0) return acked_before;
  uint64_t acked = acked_before;
  std::string pending;
  bool ready = false;
  // Before "ready" (late plans), a generous bound on startup.
  auto deadline = std::chrono::steady_clock::now() + (plan.early ? plan.after : 60s);
  auto consume = [&](const std::string& bytes) {
    pending += bytes;
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      const std::string line = pending.substr(0, nl);
      if (line == "R") {
        if (!ready) deadline = std::chrono::steady_clock::now() + plan.after;
        ready = true;
        continue;
      }
      if (line.empty() || line[0] != 'A') {
        ADD_FAILURE() << "writer failed: " << line;
        continue;
      }
      const uint64_t seq = std::strtoull(line.c_str() + 1, nullptr, 10);
      // Above the last ack, not necessarily next to it: a write the previous
      // child made durable but was killed before acknowledging is skipped.
      EXPECT_GT(seq, acked) << "acks out of order";
      acked = std::max(acked, seq);
    }
  };
  bool eof = false;
  while (!eof && std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    consume(child.Read(std::max(left, 1ms), &eof));
  }
  child.Kill();
  // Acks still in the pipe were sent after their Apply returned: they count.
  while (!eof) consume(child.Read(1000ms, &eof));
  return acked;
}

// Reopens the store and checks every acknowledged write and the wholeness of
// everything the VV covers. Objects are checked from `checked` + 1 up (the
// earlier ones were checked in earlier rounds and are not written again);
// returns the new `checked`.
uint64_t CheckStore(const std::string& path, uint64_t acked, uint64_t checked) {
  StatusOr<std::unique_ptr<Store>> opened = Store::Open(path, StoreOptions());
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return checked;
  Store& store = **opened;
  const uint64_t covered = store.version_vector().Get(kWriterOrigin);
  EXPECT_EQ(store.objects_version_vector(), store.version_vector())
      << "the open left the objects behind the log";
  EXPECT_GE(covered, acked) << "an acknowledged write's VV entry is lost";
  if (covered > 0) {
    EXPECT_GE(store.hlc_high_water(), testing::StampOf(kWriterOrigin, covered).ts);
  }
  // Every log entry the VV covers (acknowledged or not) is there.
  auto log = store.ReadLog(kWriterOrigin, 1, std::max<uint64_t>(covered, 1), UINT64_MAX);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return checked;
  EXPECT_EQ(log->size(), covered) << "log entries missing below the VV";
  for (uint64_t seq = 1; seq <= std::min<uint64_t>(covered, log->size()); ++seq) {
    const DeltaInterval& d = (*log)[seq - 1];
    EXPECT_EQ(d, DeltaInterval(testing::SetDelta(kWriterOrigin, seq, Numbered("k", seq),
                                                 Numbered("v", seq))))
        << "log entry " << seq;
  }
  // And so are the objects and holds written in the same batches.
  for (uint64_t seq = checked + 1; seq <= covered; ++seq) {
    auto obj = store.GetObject(Numbered("k", seq));
    EXPECT_TRUE(obj.ok()) << obj.status().ToString();
    if (!obj.ok() || !obj->has_value()) {
      ADD_FAILURE() << "object of seq " << seq << " missing";
      continue;
    }
    const LwwRegister* reg = (*obj)->As<LwwRegister>();
    EXPECT_TRUE(reg != nullptr && reg->value() == Numbered("v", seq)) << "seq " << seq;
    if (seq % 8 == 0) {
      auto hold = store.GetHold(Numbered("h", seq));
      EXPECT_TRUE(hold.ok() && hold->has_value()) << "hold of seq " << seq << " missing";
    }
  }
  return covered;
}

void CrashLoop(const std::string& mode) {
  const uint64_t seed = testing::AnnounceSeed(std::string("CrashTest.").append(mode));
  SCOPED_TRACE(Numbered("seed=", seed));
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  const std::string path = dir.Sub("db");
  uint64_t acked = 0;
  uint64_t checked = 0;
  int rounds_with_writes = 0;
  for (int round = 0; round < Rounds(); ++round) {
    KillPlan plan;
    plan.early = rng() % 4 == 0;
    plan.after = std::chrono::milliseconds(plan.early ? rng() % 150 : rng() % 120);
    const uint64_t before = acked;
    acked = RunAndKill(path, mode, plan, acked);
    if (acked > before) ++rounds_with_writes;
    SCOPED_TRACE(Numbered("round ", round).append(Numbered(", acked ", acked)));
    checked = CheckStore(path, acked, checked);
    if (::testing::Test::HasFailure()) return;
  }
  std::cout << "[ crash    ] " << mode << ": " << Rounds() << " kills, " << acked
            << " acknowledged writes, " << rounds_with_writes << " rounds wrote" << std::endl;
  EXPECT_GT(rounds_with_writes, 0);
}

TEST(CrashTest, EverySecLosesNoAcknowledgedWrite) { CrashLoop("everysec"); }
TEST(CrashTest, AlwaysLosesNoAcknowledgedWrite) { CrashLoop("always"); }
TEST(CrashTest, BatchLosesNoAcknowledgedWrite) { CrashLoop("batch"); }
// The objects lag the log (ApplyBatch::objects_vv): what a kill takes from
// them, the next open replays from the log.
TEST(CrashTest, EverySecWithObjectsBehindTheLogLosesNoAcknowledgedWrite) {
  CrashLoop("everysec-lag");
}
TEST(CrashTest, AlwaysWithObjectsBehindTheLogLosesNoAcknowledgedWrite) {
  CrashLoop("always-lag");
}

}  // namespace
}  // namespace converge
