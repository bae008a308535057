// Helpers for the storage suites: a fresh temporary directory per test, and
// objects and deltas made the way the node makes them.
#ifndef CONVERGE_TESTS_STORAGE_STORE_TESTING_H_
#define CONVERGE_TESTS_STORAGE_STORE_TESTING_H_

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/delta.h"
#include "crdt/object.h"
#include "crdt/timestamp.h"
#include "storage/store.h"

namespace converge::testing {

// A directory made by mkdtemp under /tmp, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/converge-storage-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // best effort: a leftover is harmless
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory that does not exist yet.
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The file names and contents under `dir`: what "nothing changed" compares.
inline std::map<std::string, std::string> DirContents(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string rel = std::filesystem::relative(e.path(), dir).string();
    if (e.is_regular_file()) {
      std::ifstream in(e.path(), std::ios::binary);
      out[rel] = std::string(std::istreambuf_iterator<char>(in), {});
    } else {
      out[rel] = "<dir>";
    }
  }
  return out;
}

// prefix + n, e.g. Numbered("k", 7) == "k7". (Spelled out because GCC 12
// warns falsely on `"k" + std::to_string(n)` at -O3.)
inline std::string Numbered(std::string_view prefix, uint64_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

inline Stamp StampOf(ReplicaId origin, uint64_t seq) {
  return Stamp{Timestamp(1'700'000'000'000 + seq, 0), origin};
}

// The object a string SET makes, as the node would store it.
inline Object StringObject(ReplicaId origin, uint64_t seq, const std::string& value) {
  Object o;
  if (!o.Set(StampOf(origin, seq), value).ok()) std::abort();
  return o;
}

// Delta (origin, seq) that sets `key` to `value`.
inline Delta SetDelta(ReplicaId origin, uint64_t seq, const std::string& key,
                      const std::string& value) {
  Object o;
  StatusOr<Object> d = o.Set(StampOf(origin, seq), value);
  if (!d.ok()) std::abort();
  Delta delta;
  delta.origin = origin;
  delta.seq = seq;
  delta.ts = StampOf(origin, seq).ts;
  delta.key = key;
  delta.object = *d;
  return delta;
}

// One write as the node commits it: the object, its log entry, the VV and
// the HLC high-water, in one batch.
inline ApplyBatch WriteBatchFor(const Delta& d, const VersionVector& vv) {
  ApplyBatch b;
  b.objects.emplace_back(d.key, d.object);
  b.deltas.push_back(d);
  b.version_vector = vv;
  b.hlc_high_water = d.ts;
  return b;
}

// Store::Open, with a failure reported to the test and nullptr returned.
inline std::unique_ptr<Store> OpenOrDie(const std::string& path, const StoreOptions& o) {
  auto s = Store::Open(path, o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

struct RawPut {
  std::string cf, key, value;
};

// Raw RocksDB access to plant damaged bytes where the Store reads them.
inline void PutRaw(const std::string& path, const std::vector<RawPut>& puts) {
  rocksdb::DBOptions o;
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(o, path, descs, &handles, &db).ok());
  for (const RawPut& p : puts) {
    size_t i = std::find(names.begin(), names.end(), p.cf) - names.begin();
    ASSERT_LT(i, names.size());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[i], p.key, p.value).ok());
  }
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  ASSERT_TRUE(db->Close().ok());
  delete db;
}

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_STORAGE_STORE_TESTING_H_
