// Join, delta apply and encode/decode per CRDT type (issue 2).
// Run: build/bench/crdt_bench   (make bench runs it and records the figures)
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/object.h"

namespace converge {
namespace {

Stamp At(uint64_t ms, ReplicaId r) { return Stamp{Timestamp(ms, 0), r}; }

// A counter touched by `replicas` replicas.
Object Counter(int replicas) {
  Object o;
  for (int r = 0; r < replicas; ++r) (void)o.IncrBy(At(1 + r, r), r + 1).ok();
  return o;
}

Object Hash(int fields) {
  Object o;
  for (int f = 0; f < fields; ++f) {
    (void)o.HashSet(At(1 + f, f % 3), {{"field" + std::to_string(f), "value-of-some-length"}}).ok();
  }
  return o;
}

Object Register() {
  Object o;
  (void)o.Set(At(1, 1), std::string(64, 'v')).ok();
  return o;
}

Object Reservation(int replicas) {
  Object o;
  for (int r = 0; r < replicas; ++r) (void)o.RcAdd(At(1 + r, r), 100).ok();
  for (int r = 0; r + 1 < replicas; ++r) (void)o.RcTransfer(At(10 + r, r), r + 1, 10).ok();
  return o;
}

Object Sample(int kind, int size) {
  switch (kind) {
    case 0: return Counter(size);
    case 1: return Register();
    case 2: return Hash(size);
    default: return Reservation(size);
  }
}
const char* const kNames[] = {"counter", "string", "hash", "rcounter"};

void BM_Join(benchmark::State& state) {
  const Object a = Sample(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  Object b = a;
  (void)b.IncrBy(At(999, 77), 1).ok();  // fails on other types: b == a then
  state.SetLabel(kNames[state.range(0)]);
  for (auto _ : state) {
    Object s = a;
    s.Join(b);
    benchmark::DoNotOptimize(s);
  }
}

// The apply path for one replicated write: join a one-write delta.
void BM_DeltaApply(benchmark::State& state) {
  const int kind = static_cast<int>(state.range(0));
  Object s = Sample(kind, static_cast<int>(state.range(1)));
  Object scratch = s;
  StatusOr<Object> d = Status();
  switch (kind) {
    case 0: d = scratch.IncrBy(At(1000, 5), 1); break;
    case 1: d = scratch.Set(At(1000, 5), "new"); break;
    case 2: d = scratch.HashSet(At(1000, 5), {{"field0", "new"}}); break;
    default: d = scratch.RcAdd(At(1000, 5), 1); break;
  }
  const Object delta = *d;
  state.SetLabel(kNames[kind]);
  for (auto _ : state) {
    s.Join(delta);
    benchmark::DoNotOptimize(s);
  }
}

void BM_Encode(benchmark::State& state) {
  const Object o = Sample(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  state.SetLabel(kNames[state.range(0)]);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string s = Encode(o);
    bytes += s.size();
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_Decode(benchmark::State& state) {
  const std::string s =
      Encode(Sample(static_cast<int>(state.range(0)), static_cast<int>(state.range(1))));
  state.SetLabel(kNames[state.range(0)]);
  for (auto _ : state) {
    StatusOr<Object> o = Decode<Object>(s);
    benchmark::DoNotOptimize(o);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * s.size()));
}

// Joining 1,000 deltas of one hot counter into one interval entry.
void BM_IntervalJoinHotKey(benchmark::State& state) {
  Object o;
  std::vector<Delta> deltas;
  for (uint64_t i = 1; i <= 1000; ++i) {
    deltas.push_back(Delta{5, i, Timestamp(i, 0), "hot", *o.IncrBy(At(i, 5), 1)});
  }
  for (auto _ : state) {
    DeltaInterval interval(deltas[0]);
    for (size_t i = 1; i < deltas.size(); ++i) (void)interval.Append(deltas[i]).ok();
    benchmark::DoNotOptimize(interval);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * deltas.size()));
}

// (kind, size): size is replicas for counters, fields for hashes.
#define CONVERGE_KINDS ->Args({0, 3})->Args({0, 9})->Args({1, 1})->Args({2, 10})->Args({2, 100})->Args({3, 3})
BENCHMARK(BM_Join) CONVERGE_KINDS;
BENCHMARK(BM_DeltaApply) CONVERGE_KINDS;
BENCHMARK(BM_Encode) CONVERGE_KINDS;
BENCHMARK(BM_Decode) CONVERGE_KINDS;
BENCHMARK(BM_IntervalJoinHotKey);

}  // namespace
}  // namespace converge

BENCHMARK_MAIN();
