// Deferred object writes (ReplicaOptions::defer_object_writes): whatever the
// generations and slices left unwritten, the committed state survives.
//
// One replica takes random local writes and a peer's intervals, with
// generations small enough to close and be written in slices all the time.
// After every commit its view of every key is recorded as the committed
// state; then, at random:
//   * a commit fails (injected): the view goes back to the committed state;
//   * a crash (the replica dropped without writing anything) and a reopen:
//     the store's replay brings back exactly the committed state;
//   * a clean reopen, a flush (the store then holds the committed state
//     byte for byte), a purge step.
// The purge runs at a bound no later write can be below: every peer delta
// is delivered first and the clock moves on after it.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cluster/replica.h"
#include "crdt/codec.h"
#include "crdt/hybrid_clock.h"
#include "storage/store.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using testing::Numbered;

Replica::Mutation RandomMutation(std::mt19937_64& rng, int key) {
  const uint64_t n = rng();
  switch (key % 3) {
    case 0:
      if (n % 5 == 0) return [](Object& o, Stamp now) { return o.Delete(now); };
      return [n](Object& o, Stamp now) { return o.Set(now, Numbered("v", n % 1000)); };
    case 1:
      if (n % 7 == 0) return [](Object& o, Stamp now) { return o.Delete(now); };
      return [n](Object& o, Stamp now) { return o.IncrBy(now, static_cast<int64_t>(n % 9) - 3); };
    default:
      if (n % 3 == 0) {
        return [n](Object& o, Stamp now) { return o.HashDelete(now, {Numbered("f", n % 4)}); };
      }
      if (n % 11 == 0) return [](Object& o, Stamp now) { return o.Delete(now); };
      return [n](Object& o, Stamp now) {
        return o.HashSet(now, {{Numbered("f", n % 4), Numbered("v", n % 100)}});
      };
  }
}

constexpr int kKeys = 24;

struct Node {
  std::string dir;
  ReplicaOptions options;
  ManualClock* clock = nullptr;
  bool fail_writes = false;
  std::unique_ptr<Store> store;
  std::unique_ptr<Replica> replica;

  // `crash_at_close`: this replica's close writes nothing it had deferred,
  // as a kill would leave the store.
  void Open(bool crash_at_close) {
    StoreOptions so;
    so.before_write = [this] {
      return fail_writes ? UnavailableError("injected write failure") : Status::Ok();
    };
    StatusOr<std::unique_ptr<Store>> s = Store::Open(dir, so);
    ASSERT_OK(s);
    store = std::move(*s);
    ReplicaOptions o = options;
    o.flush_at_close = !crash_at_close;
    replica = std::make_unique<Replica>(store.get(), clock, o);
  }
  void Close() {
    replica.reset();
    store.reset();
  }
};

std::map<std::string, std::string> View(Replica& replica) {
  std::map<std::string, std::string> out;
  for (int k = 0; k < kKeys; ++k) {
    StatusOr<Object> o = replica.Get(Numbered("k", k));
    EXPECT_OK(o);
    if (o.ok()) out[Numbered("k", k)] = Encode(*o);
  }
  return out;
}

uint64_t LiveIn(const std::map<std::string, std::string>& view) {
  uint64_t live = 0;
  for (const auto& [key, bytes] : view) {
    StatusOr<Object> o = Decode<Object>(bytes);
    if (o.ok() && o->Live()) ++live;
  }
  return live;
}

// SnapshotObjects, the readers' view around the cache (SCAN, DIGEST), is the
// committed state, deferred writes included, and writes nothing to get it.
void ExpectSnapshotIsCommitted(Node& node, const std::map<std::string, std::string>& committed) {
  const uint64_t applies = node.store->Stats().applies;
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = node.replica->SnapshotObjects();
  ASSERT_OK(snap);
  ObjectSnapshot& it = **snap;
  EXPECT_EQ(it.version_vector(), node.replica->committed_version_vector());
  std::map<std::string, std::string> seen;
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    StatusOr<Object> o = it.object();
    ASSERT_OK(o);
    seen[std::string(it.key())] = Encode(*o);
  }
  ASSERT_OK(it.status());
  const std::string absent = Encode(Object());
  for (const auto& [key, bytes] : committed) {
    auto found = seen.find(key);
    if (found == seen.end()) {
      EXPECT_EQ(bytes, absent) << key << " committed but missing from the snapshot ("
                               << node.replica->unwritten_objects() << " unwritten)";
    } else {
      EXPECT_EQ(found->second, bytes) << key << " differs in the snapshot";
    }
  }
  for (const auto& [key, bytes] : seen) {
    EXPECT_EQ(committed.count(key), 1u) << key << " in the snapshot was never written";
  }
  EXPECT_EQ(node.store->Stats().applies, applies) << "the snapshot wrote to the store";
}

TEST(ReplicaDeferTest, TheCommittedStateSurvivesFailuresCrashesAndPurges) {
  const uint64_t seed = testing::AnnounceSeed("ReplicaDeferTest.TheCommittedStateSurvives");
  SCOPED_TRACE(Numbered("seed=", seed));
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  ManualClock clock(1'700'000'000'000);
  Node node, peer;
  node.dir = dir.Sub("node");
  peer.dir = dir.Sub("peer");
  node.clock = peer.clock = &clock;
  node.options.generation_keys = 1 + rng() % 8;
  node.options.generation_ms = 1 + rng() % 20;
  node.options.sort_off_strand = rng() % 2 == 0;
  node.options.merge_above_fields = std::vector<size_t>{0, 2, 64}[rng() % 3];
  node.options.max_cached_objects = rng() % 2 == 0 ? 4 : 1000;
  node.options.purge_flush_interval_ms = rng() % 50;
  std::cout << "[ defer    ] generation " << node.options.generation_keys << " keys / "
            << node.options.generation_ms << " ms, sort off strand "
            << node.options.sort_off_strand << ", merge above "
            << node.options.merge_above_fields << ", cache " << node.options.max_cached_objects
            << std::endl;
  bool crash_at_close = rng() % 2 == 0;
  node.Open(crash_at_close);
  peer.Open(false);
  ASSERT_NE(node.replica, nullptr);

  std::vector<DeltaInterval> undelivered;  // the peer's, in order
  std::map<std::string, std::string> committed = View(*node.replica);
  int failed = 0, crashes = 0, reopens = 0, flushes = 0, purges = 0;
  uint64_t replayed = 0;
  auto deliver = [&](size_t n) {
    for (size_t i = 0; i < n && i < undelivered.size(); ++i) {
      node.replica->ApplyRemote(undelivered[i]);
    }
  };
  auto commit = [&](bool fail) -> bool {
    node.fail_writes = fail;
    const uint64_t applies = node.store->Stats().applies;
    StatusOr<CommitResult> c = node.replica->Commit();
    node.fail_writes = false;
    // A commit with nothing to write (every mutation refused, no slice due)
    // writes nothing, and so cannot fail.
    if (fail && c.ok()) {
      EXPECT_EQ(node.store->Stats().applies, applies) << "a write got past the injected failure";
    }
    if (!fail) {
      EXPECT_OK(c);
    }
    if (c.ok()) {
      // Delivered intervals are committed: drop them from the queue.
      const uint64_t have = node.replica->committed_version_vector().Get(peer.replica->id());
      while (!undelivered.empty() && undelivered.front().last() <= have) {
        undelivered.erase(undelivered.begin());
      }
      committed = View(*node.replica);
      ExpectSnapshotIsCommitted(node, committed);
    } else {
      ++failed;
    }
    EXPECT_EQ(View(*node.replica), committed) << (fail ? "after a failed commit" : "after a commit");
    EXPECT_EQ(node.replica->live_keys(), LiveIn(committed));
    return !::testing::Test::HasFailure();
  };

  for (int step = 0; step < 1500; ++step) {
    SCOPED_TRACE(Numbered("step ", step));
    clock.Advance(rng() % 4);
    const uint64_t dice = rng() % 100;
    if (dice < 45) {  // a cycle of local writes, and maybe some of the peer's
      for (int i = 0, n = 1 + static_cast<int>(rng() % 6); i < n; ++i) {
        const int k = static_cast<int>(rng() % kKeys);
        node.replica->Mutate(Numbered("k", k), RandomMutation(rng, k)).IgnoreError();
      }
      if (rng() % 2 == 0) deliver(1 + rng() % 3);
      if (!commit(rng() % 10 == 0)) return;
    } else if (dice < 70) {  // the peer writes; its interval waits for delivery
      for (int i = 0, n = 1 + static_cast<int>(rng() % 4); i < n; ++i) {
        const int k = static_cast<int>(rng() % kKeys);
        peer.replica->Mutate(Numbered("k", k), RandomMutation(rng, k)).IgnoreError();
      }
      StatusOr<CommitResult> c = peer.replica->Commit();
      ASSERT_OK(c);
      if (c->local) undelivered.push_back(std::move(*c->local));
    } else if (dice < 80) {  // idle cycles: slices go on without writes
      if (!commit(false)) return;
    } else if (dice < 85) {
      ASSERT_OK(node.replica->FlushObjects());
      ++flushes;
      for (const auto& [key, bytes] : committed) {
        StatusOr<std::optional<Object>> stored = node.store->GetObject(key);
        ASSERT_OK(stored);
        EXPECT_EQ(stored->has_value() ? Encode(**stored) : Encode(Object()), bytes)
            << key << " not in the store after a flush";
      }
      EXPECT_EQ(node.replica->unwritten_objects(), 0u);
    } else if (dice < 90) {
      // Everything the peer wrote arrives, then a purge below every write
      // still to come.
      deliver(undelivered.size());
      if (!commit(false)) return;
      clock.Advance(1);
      const Stamp bound{Timestamp(clock.NowMillis(), 0), 0};
      clock.Advance(5);
      StatusOr<size_t> purged = node.replica->PurgeStep(bound, 1 + rng() % kKeys);
      ASSERT_OK(purged);
      ++purges;
      // A purge changes tombstones, never what a read sees.
      std::map<std::string, std::string> now = View(*node.replica);
      for (const auto& [key, bytes] : now) {
        StatusOr<Object> a = Decode<Object>(bytes);
        StatusOr<Object> b = Decode<Object>(committed[key]);
        ASSERT_OK(a);
        ASSERT_OK(b);
        EXPECT_EQ(a->DigestBytes(), b->DigestBytes()) << key << " changed by the purge";
      }
      committed = std::move(now);
    } else if (dice < 95) {
      // A reopen: this replica's close was chosen at its open, a crash or not.
      const bool crashed = crash_at_close;
      const size_t unwritten = node.replica->unwritten_objects();
      node.Close();
      crash_at_close = rng() % 2 == 0;
      node.Open(crash_at_close);
      ASSERT_NE(node.replica, nullptr);
      ++(crashed ? crashes : reopens);
      const uint64_t replays = node.store->Stats().replayed_log_entries;
      if (crashed && unwritten > 0) {
        EXPECT_GT(replays, 0u) << "a crash with unwritten objects replayed nothing";
      }
      if (!crashed) {
        EXPECT_EQ(replays, 0u) << "a clean close left something to replay";
      }
      replayed += replays;
      EXPECT_EQ(View(*node.replica), committed) << (crashed ? "after a crash" : "after a reopen");
      EXPECT_EQ(node.replica->live_keys(), LiveIn(committed));
      if (::testing::Test::HasFailure()) return;
    } else {
      // Reads of keys the cache may have to load, between the writes.
      for (int i = 0; i < 4; ++i) ASSERT_OK(node.replica->Get(Numbered("k", rng() % kKeys)));
    }
  }
  std::cout << "[ defer    ] " << failed << " failed commits, " << crashes << " crashes ("
            << replayed << " log entries replayed), " << reopens << " clean reopens, " << flushes
            << " flushes, " << purges << " purge steps" << std::endl;
  // Both nodes converge once the peer hears back and everything is delivered.
  deliver(undelivered.size());
  ASSERT_TRUE(commit(false));
  EXPECT_GT(failed, 0);
  EXPECT_GT(crashes + reopens, 0);
}

}  // namespace
}  // namespace converge
