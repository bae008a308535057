#include "crdt/codec.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "crdt/delta.h"
#include "crdt/internal/boxed.h"
#include "crdt/object.h"
#include "crdt/version_vector.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

Stamp At(uint64_t ms, ReplicaId r) { return Stamp{Timestamp(ms, 0), r}; }

Object SampleObject() {
  Object o;
  (void)o.HashSet(At(1, 1), {{"name", "kiosk"}, {"price", "3"}}).ok();
  (void)o.HashDelete(At(2, 2), {"price"}).ok();
  (void)o.Set(At(0, 3), "loser").ok();  // a hidden slot is encoded too
  return o;
}

TEST(CodecTest, RoundTripsEveryType) {
  Object o = SampleObject();
  StatusOr<Object> back = Decode<Object>(Encode(o));
  ASSERT_OK(back);
  EXPECT_EQ(*back, o);

  VersionVector vv;
  vv.Set(1, 10);
  vv.Set(99, 3);
  StatusOr<VersionVector> vv_back = Decode<VersionVector>(Encode(vv));
  ASSERT_OK(vv_back);
  EXPECT_EQ(*vv_back, vv);

  Delta d{7, 1, Timestamp(5, 1), "key", o};
  DeltaInterval interval(d);
  Object inc;
  Delta d2{7, 2, Timestamp(6, 0), "other", *inc.IncrBy(At(6, 7), 4)};
  ASSERT_OK(interval.Append(d2));
  EXPECT_FALSE(interval.Append(d2).ok()) << "not the next seq";
  StatusOr<DeltaInterval> i_back = Decode<DeltaInterval>(Encode(interval));
  ASSERT_OK(i_back);
  EXPECT_EQ(*i_back, interval);
  EXPECT_EQ(i_back->last(), 2u);
  EXPECT_EQ(i_back->max_ts(), Timestamp(6, 0));
}

// Object keeps its slots in Boxed (on the heap) where it used to keep them
// in std::optional: the bytes must not change, or stores and peers written
// before could not be read.
template <class T>
void ExpectBoxedEncodesAsOptional(const Slot<T>& slot) {
  std::optional<Slot<T>> optional;
  Boxed<Slot<T>> boxed;
  EXPECT_EQ(EncodeBody(boxed), EncodeBody(optional));
  optional = slot;
  boxed.emplace() = slot;
  EXPECT_EQ(EncodeBody(boxed), EncodeBody(optional));
}

TEST(CodecTest, BoxedSlotsEncodeAsOptionalOnesDid) {
  Object o = SampleObject();
  (void)o.IncrBy(At(3, 4), 5).ok();
  (void)o.RcAdd(At(4, 5), 9).ok();
  ExpectBoxedEncodesAsOptional(Slot<LwwMap>{At(1, 1), *o.As<LwwMap>()});
  Object s;
  (void)s.Set(At(6, 2), "value").ok();
  ExpectBoxedEncodesAsOptional(Slot<LwwRegister>{At(6, 2), *s.As<LwwRegister>()});
  Object c;
  (void)c.IncrBy(At(7, 3), -4).ok();
  ExpectBoxedEncodesAsOptional(Slot<PNCounter>{At(7, 3), *c.As<PNCounter>()});
  Object r;
  (void)r.RcAdd(At(8, 4), 12).ok();
  ExpectBoxedEncodesAsOptional(Slot<ReservationCounter>{At(8, 4), *r.As<ReservationCounter>()});
}

TEST(CodecTest, BoxedHasValueSemantics) {
  Boxed<std::string> a;
  EXPECT_FALSE(a.has_value());
  a.emplace() = "x";
  Boxed<std::string> b = a;  // a copy, not a shared value
  *b = "y";
  EXPECT_EQ(*a, "x");
  EXPECT_FALSE(a == b);
  b = a;
  EXPECT_TRUE(a == b);
  Boxed<std::string> empty;
  b = empty;
  EXPECT_FALSE(b.has_value());
  EXPECT_FALSE(a == b);
  EXPECT_TRUE(b == Boxed<std::string>());
  Boxed<std::string> moved = std::move(a);
  EXPECT_EQ(*moved, "x");
}

TEST(CodecTest, EqualStatesEncodeEqualWhateverTheOrderOfWrites) {
  Object a, b;
  auto da = *a.HashSet(At(1, 1), {{"x", "1"}});
  auto db = *b.HashSet(At(2, 2), {{"y", "2"}});
  a.Join(db);
  b.Join(da);
  EXPECT_EQ(Encode(a), Encode(b));
}

TEST(CodecTest, RefusesUnknownVersionTrailingBytesAndBadBools) {
  std::string bytes = Encode(SampleObject());
  std::string bad_version = bytes;
  bad_version[0] = 9;
  EXPECT_EQ(Decode<Object>(bad_version).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Decode<Object>(bytes + "x").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Decode<Object>("").status().code(), StatusCode::kCorruption);

  LwwRegister r;
  r.Set("v", At(1, 1));
  std::string reg = Encode(r);
  // Layout: version, stamp (8 + 8), tombstone bool, then the value.
  reg[1 + 16] = 2;
  EXPECT_EQ(Decode<LwwRegister>(reg).status().code(), StatusCode::kCorruption);
}

TEST(CodecTest, RefusesMapKeysOutOfOrderOrRepeated) {
  // A VersionVector is a map origin -> seq: count, then (origin, seq) pairs.
  auto vv = [](std::initializer_list<std::pair<uint64_t, uint64_t>> entries) {
    std::string out(1, static_cast<char>(kFormatVersion));
    const uint64_t n = entries.size();
    out.append(reinterpret_cast<const char*>(&n), 8);
    for (const auto& [origin, seq] : entries) {
      out.append(reinterpret_cast<const char*>(&origin), 8);
      out.append(reinterpret_cast<const char*>(&seq), 8);
    }
    return out;
  };
  StatusOr<VersionVector> sorted = Decode<VersionVector>(vv({{1, 7}, {2, 3}}));
  ASSERT_OK(sorted);
  EXPECT_EQ(Encode(*sorted), vv({{1, 7}, {2, 3}}));
  // Before the fix these decoded (sorted, or the repeat dropped), so one
  // value had several encodings (fuzz/regressions/storage).
  EXPECT_EQ(Decode<VersionVector>(vv({{2, 3}, {1, 7}})).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Decode<VersionVector>(vv({{1, 7}, {1, 3}})).status().code(), StatusCode::kCorruption);
}

TEST(CodecTest, AHugeLengthIsRefusedBeforeAllocating) {
  // A VersionVector claiming 2^40 entries, and a register claiming a 2^50
  // byte value, in a few bytes of input.
  std::string vv(1, static_cast<char>(kFormatVersion));
  uint64_t n = uint64_t{1} << 40;
  vv.append(reinterpret_cast<const char*>(&n), 8);
  StatusOr<VersionVector> r = Decode<VersionVector>(vv);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);

  LwwRegister reg;
  reg.Set("v", At(1, 1));
  std::string bytes = Encode(reg);
  uint64_t huge = uint64_t{1} << 50;
  bytes.replace(1 + 16 + 1, 8, reinterpret_cast<const char*>(&huge), 8);
  EXPECT_EQ(Decode<LwwRegister>(bytes).status().code(), StatusCode::kCorruption);
}

TEST(CodecTest, RefusesStatesThatBreakInvariants) {
  // A counter whose floor exceeds its count cannot come from the mutators.
  PNCounter c;
  c.Add(1, 1);
  std::string bytes = Encode(c);
  // p={1:1}, n={}, rp={}, rn={}: rewrite rp to {1:5}.
  std::string forged(1, static_cast<char>(kFormatVersion));
  forged += EncodeBody(c.p(), PNCounter::Entries{}, PNCounter::Entries{{1, 5}},
                       PNCounter::Entries{});
  EXPECT_EQ(Decode<PNCounter>(forged).status().code(), StatusCode::kCorruption);
  EXPECT_OK(Decode<PNCounter>(bytes));
}

// A counter's maps are sorted vectors now; their bytes must stay a
// std::map's, which stores and peers already hold. Random counters (adds and
// resets at several replicas, joined in random orders) encode exactly as the
// same four maps as std::map do, and decode back.
TEST(CodecTest, CounterMapsEncodeAsStdMapsDid) {
  const uint64_t seed = testing::AnnounceSeed("CodecTest.CounterMapsEncodeAsStdMapsDid");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto as_map = [](const PNCounter::Entries& e) {
    return std::map<ReplicaId, uint64_t>(e.begin(), e.end());
  };
  for (int round = 0; round < 500; ++round) {
    std::vector<PNCounter> replicas(1 + rng() % 4);
    for (int op = 0; op < static_cast<int>(rng() % 30); ++op) {
      PNCounter& c = replicas[rng() % replicas.size()];
      switch (rng() % 4) {
        case 0: c.Reset(); break;
        case 1: c.Join(replicas[rng() % replicas.size()]); break;
        default: c.Add(1 + rng() % 6, static_cast<int64_t>(rng() % 200) - 100); break;
      }
    }
    for (const PNCounter& c : replicas) {
      const std::string bytes = Encode(c);
      std::string reference(1, static_cast<char>(kFormatVersion));
      reference += EncodeBody(as_map(c.p()), as_map(c.n()), as_map(c.rp()), as_map(c.rn()));
      ASSERT_EQ(bytes, reference) << "round " << round;
      StatusOr<PNCounter> back = Decode<PNCounter>(bytes);
      ASSERT_OK(back);
      EXPECT_EQ(*back, c);
    }
  }
  // Keys out of order or repeated are no encoding of a map: refused.
  using Pairs = std::vector<std::pair<ReplicaId, uint64_t>>;
  for (const Pairs& p : {Pairs{{2, 1}, {1, 1}}, Pairs{{1, 1}, {1, 2}}}) {
    std::string forged(1, static_cast<char>(kFormatVersion));
    forged += EncodeBody(p, Pairs{}, Pairs{}, Pairs{});
    EXPECT_EQ(Decode<PNCounter>(forged).status().code(), StatusCode::kCorruption);
  }
  std::string ordered(1, static_cast<char>(kFormatVersion));
  ordered += EncodeBody(Pairs{{1, 1}, {2, 1}}, Pairs{}, Pairs{}, Pairs{});
  EXPECT_OK(Decode<PNCounter>(ordered));
}

TEST(CodecTest, RandomAndTruncatedBytesGiveErrorsNotCrashes) {
  const uint64_t seed = testing::AnnounceSeed("CodecTest.RandomBytes");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::string good = Encode(SampleObject());
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    switch (i % 3) {
      case 0:  // truncation
        bytes = good.substr(0, rng() % good.size());
        break;
      case 1: {  // bit flips
        bytes = good;
        for (int k = 0; k < 1 + static_cast<int>(rng() % 4); ++k) {
          bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
        }
        break;
      }
      default: {  // noise after a valid version byte
        bytes.assign(1, static_cast<char>(kFormatVersion));
        const size_t len = rng() % 64;
        for (size_t k = 0; k < len; ++k) bytes += static_cast<char>(rng());
      }
    }
    StatusOr<Object> o = Decode<Object>(bytes);
    if (o.ok()) {
      ++decoded;
      EXPECT_TRUE(o->WellFormed());
    } else {
      EXPECT_EQ(o.status().code(), StatusCode::kCorruption);
    }
    (void)Decode<DeltaInterval>(bytes);
    (void)Decode<VersionVector>(bytes);
  }
  std::cout << "decoded " << decoded << " of 20000 mangled inputs as well-formed states\n";
}

}  // namespace
}  // namespace converge
