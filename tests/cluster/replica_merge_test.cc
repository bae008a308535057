// Replica commits large objects as merges of their deltas and small ones
// whole (ReplicaOptions::merge_above_fields). Whatever the rule, the stored
// objects must be the same bytes: one replica writes (every object merged);
// two others apply its intervals, one putting every object whole, one with
// a low threshold (both forms); purges, restarts and compactions in between.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
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
using testing::TempDir;

struct Node {
  std::string dir;
  ReplicaOptions options;
  PhysicalClock* clock;
  std::unique_ptr<Store> store;
  std::unique_ptr<Replica> replica;

  void Open() {
    replica.reset();
    store.reset();
    StatusOr<std::unique_ptr<Store>> s = Store::Open(dir, StoreOptions());
    ASSERT_OK(s);
    store = std::move(*s);
    replica = std::make_unique<Replica>(store.get(), clock, options);
  }
};

// Key -> encoded object, as stored (through a snapshot).
std::map<std::string, std::string> Stored(const Store& store) {
  std::map<std::string, std::string> out;
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store.SnapshotObjects();
  EXPECT_OK(snap);
  if (!snap.ok()) return out;
  for ((*snap)->SeekToFirst(); (*snap)->Valid(); (*snap)->Next()) {
    StatusOr<Object> o = (*snap)->object();
    EXPECT_OK(o);
    if (o.ok()) out[std::string((*snap)->key())] = Encode(*o);
  }
  return out;
}

Replica::Mutation RandomMutation(std::mt19937_64& rng) {
  const int op = static_cast<int>(rng() % 10);
  const uint64_t r = rng();
  return [op, r](Object& o, Stamp now) -> StatusOr<Object> {
    switch (op) {
      case 0: return o.IncrBy(now, static_cast<int64_t>(r % 7) - 3);
      case 1: return o.Set(now, Numbered("s", r));
      case 2: return o.Delete(now);
      case 3: return o.HashDelete(now, {Numbered("f", r % 150)});
      default: {  // mostly hash writes, so some hashes pass the thresholds
        std::vector<std::pair<std::string, std::string>> kv;
        for (uint64_t i = 0; i < 1 + r % 4; ++i) {
          kv.emplace_back(Numbered("f", (r >> (8 * i)) % 150), Numbered("v", r + i));
        }
        return o.HashSet(now, kv);
      }
    }
  };
}

TEST(ReplicaMergeTest, MergedAndWholeCommitsStoreTheSameBytes) {
  const uint64_t seed = testing::AnnounceSeed("MergedAndWholeCommitsStoreTheSameBytes");
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  TempDir dir;
  ManualClock clock(1'700'000'000'000);
  std::vector<Node> nodes(3);
  const size_t thresholds[] = {0, std::numeric_limits<size_t>::max(), 8};
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].dir = dir.Sub(Numbered("n", i));
    nodes[i].options.merge_above_fields = thresholds[i];
    nodes[i].clock = &clock;
    nodes[i].Open();
    ASSERT_NE(nodes[i].replica, nullptr);
  }
  Node& writer = nodes[0];
  for (int cycle = 0; cycle < 300; ++cycle) {
    clock.Advance(1 + rng() % 3);
    for (int i = 0, n = 1 + static_cast<int>(rng() % 5); i < n; ++i) {
      // Errors (wrong type, nothing to delete) stage nothing: ignored.
      writer.replica->Mutate(Numbered("k", rng() % 8), RandomMutation(rng)).IgnoreError();
    }
    StatusOr<CommitResult> c = writer.replica->Commit();
    ASSERT_OK(c);
    if (c->local) {
      for (size_t i = 1; i < nodes.size(); ++i) {
        ASSERT_EQ(nodes[i].replica->ApplyRemote(*c->local), Replica::RemoteResult::kApplied);
        ASSERT_OK(nodes[i].replica->Commit());
      }
    }
    const int event = static_cast<int>(rng() % 25);
    if (event == 0) {  // purge on every node at the same bound: a put or a delete each
      // With the deferred writes in, every node's scan meets the same keys,
      // none of them in a generation (which a purge would leave alone).
      for (Node& n : nodes) ASSERT_OK(n.replica->FlushObjects());
      const Stamp bound{Timestamp(clock.NowMillis() - rng() % 100, 0), 0};
      for (Node& n : nodes) ASSERT_OK(n.replica->PurgeStep(bound, 1000));
    } else if (event == 1) {
      for (Node& n : nodes) {
        n.Open();
        ASSERT_NE(n.replica, nullptr);
      }
    } else if (event == 2) {
      for (Node& n : nodes) ASSERT_OK(n.store->CompactObjects());
    }
    if (cycle % 25 == 24 || event <= 2) {
      // The stores hold the committed state once the deferred writes are in.
      for (Node& n : nodes) ASSERT_OK(n.replica->FlushObjects());
      const auto want = Stored(*nodes[1].store);  // every object put whole
      for (Node& n : nodes) {
        ASSERT_EQ(Stored(*n.store), want) << "cycle " << cycle << ", threshold "
                                          << n.options.merge_above_fields;
        StatusOr<std::string> digest = n.replica->Digest();
        ASSERT_OK(digest);
        EXPECT_EQ(*digest, *nodes[1].replica->Digest());
        for (const auto& [key, bytes] : want) {  // the cache agrees with the store
          StatusOr<Object> cached = n.replica->Get(key);
          ASSERT_OK(cached);
          EXPECT_EQ(Encode(*cached), bytes) << key;
        }
      }
    }
  }
  // The writer merged; the mixed node did both; the whole-object node never merged.
  EXPECT_EQ(writer.store->Stats().damaged_merge_inputs, 0u);
}

}  // namespace
}  // namespace converge
