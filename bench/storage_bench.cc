// Store::Apply throughput per durability mode, against a plain RocksDB write
// loop doing the same I/O in the same run.
//
// One "write" is what the node commits per client write: the key's object
// (a ~100-byte string register) and its log entry. Store::Apply also encodes
// them (crdt/codec.h) and adds the version vector and the HLC high-water per
// batch. The plain loop (BM_PlainRocksDb) writes, per write, two Puts with
// values of exactly the sizes the Store writes (pre-encoded, no codec work),
// in WriteBatches of the same number of writes, with the same WriteOptions
// and the same DB options (block cache, write buffer, compression,
// statistics). Building the batch is outside the timing in both (Pause /
// ResumeTiming); Store::Apply's encoding and its meta record are inside. Arguments: durability (0 always, 1 batch, 2 everysec), writes
// per Apply / per WriteBatch.
//
// Counters: items_per_second = writes/s; writes_per_wal_sync = writes per
// WAL fsync counted by RocksDB statistics (per Apply in always/batch; in
// everysec the background thread syncs once a second).
#include <benchmark/benchmark.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/object.h"
#include "storage/internal/format.h"
#include "storage/store.h"

namespace converge {
namespace {

constexpr ReplicaId kOrigin = 0xBE;
constexpr uint64_t kKeys = 10000;
constexpr size_t kValueBytes = 100;

class BenchDir {
 public:
  BenchDir() {
    std::string tmpl = "/tmp/converge-bench-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string path() const { return path_ + "/db"; }

 private:
  std::string path_;
};

Durability ModeOf(int64_t arg) {
  return arg == 0 ? Durability::kAlways : arg == 1 ? Durability::kBatch : Durability::kEverySec;
}

std::string KeyOf(uint64_t i) {
  std::string k("key");
  k.append(std::to_string(i % kKeys));
  return k;
}

Delta WriteAt(uint64_t seq) {
  Object o;
  const Stamp stamp{Timestamp(1'700'000'000'000 + seq, 0), kOrigin};
  StatusOr<Object> d = o.Set(stamp, std::string(kValueBytes, 'v'));
  if (!d.ok()) std::abort();
  Delta delta;
  delta.origin = kOrigin;
  delta.seq = seq;
  delta.ts = stamp.ts;
  delta.key = KeyOf(seq);
  delta.object = *d;
  return delta;
}

void BM_StoreApply(benchmark::State& state) {
  const Durability mode = ModeOf(state.range(0));
  const int64_t per_apply = state.range(1);
  BenchDir dir;
  StoreOptions options;
  options.durability = mode;
  options.collect_statistics = true;
  auto opened = Store::Open(dir.path(), options);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return;
  }
  Store& store = **opened;
  VersionVector vv;
  uint64_t seq = 0;
  uint64_t writes = 0;
  const uint64_t syncs_before = store.Stats().wal_syncs;
  for (auto _ : state) {
    state.PauseTiming();  // building the batch is the caller's work, not the store's
    ApplyBatch batch;
    for (int64_t i = 0; i < per_apply; ++i) {
      Delta d = WriteAt(++seq);
      vv.Advance(kOrigin, seq);
      batch.objects.emplace_back(d.key, d.object);
      batch.hlc_high_water = d.ts;
      batch.deltas.push_back(std::move(d));
    }
    batch.version_vector = vv;
    state.ResumeTiming();
    Status st = store.Apply(batch);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    writes += static_cast<uint64_t>(per_apply);
  }
  state.SetItemsProcessed(static_cast<int64_t>(writes));
  const uint64_t syncs = store.Stats().wal_syncs - syncs_before;
  state.counters["writes_per_wal_sync"] =
      syncs == 0 ? 0.0 : static_cast<double>(writes) / static_cast<double>(syncs);
}

void BM_PlainRocksDb(benchmark::State& state) {
  const Durability mode = ModeOf(state.range(0));
  const int64_t per_write = state.range(1);
  BenchDir dir;
  // The Store's own choices for the same defaults (storage/store.cc).
  const StoreOptions defaults;
  rocksdb::Options o;
  o.create_if_missing = true;
  o.statistics = rocksdb::CreateDBStatistics();
  o.write_buffer_size = defaults.write_buffer_bytes;
  o.compression = rocksdb::kLZ4Compression;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = rocksdb::NewLRUCache(defaults.block_cache_bytes);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, dir.path(), &raw);
  if (!s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = mode != Durability::kEverySec;
  // Values of the sizes the Store writes: the encoded object and delta.
  const Delta sample = WriteAt(1);
  const std::string object_value(Encode(sample.object).size(), 'o');
  const std::string log_value(Encode(sample).size(), 'l');
  uint64_t seq = 0;
  uint64_t writes = 0;
  const uint64_t syncs_before = o.statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  for (auto _ : state) {
    // Paused around building the batch, as BM_StoreApply is: both pay the
    // same timer overhead.
    state.PauseTiming();
    rocksdb::WriteBatch wb;
    for (int64_t i = 0; i < per_write; ++i) {
      ++seq;
      wb.Put(KeyOf(seq), object_value);
      wb.Put(storage_internal::LogKey(kOrigin, seq), log_value);
    }
    state.ResumeTiming();
    s = db->Write(wo, &wb);
    if (!s.ok()) {
      state.SkipWithError(s.ToString().c_str());
      break;
    }
    writes += static_cast<uint64_t>(per_write);
  }
  state.SetItemsProcessed(static_cast<int64_t>(writes));
  const uint64_t syncs = o.statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED) - syncs_before;
  state.counters["writes_per_wal_sync"] =
      syncs == 0 ? 0.0 : static_cast<double>(writes) / static_cast<double>(syncs);
  s = db->Close();
  if (!s.ok()) state.SkipWithError(s.ToString().c_str());
}

// {durability, writes per Apply}: always commits each write alone, batch
// groups 64 writes per Apply (one apply cycle), everysec both ways.
void Modes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"mode", "writes"});
  b->Args({0, 1});
  b->Args({1, 64});
  b->Args({2, 1});
  b->Args({2, 64});
}

BENCHMARK(BM_StoreApply)->Apply(Modes)->UseRealTime();
BENCHMARK(BM_PlainRocksDb)->Apply(Modes)->UseRealTime();

}  // namespace
}  // namespace converge

BENCHMARK_MAIN();
