// Opening refuses what it must not touch, with a clear Status, and changes
// nothing: damaged databases, foreign directories, other format versions,
// and stores already open in this or another process.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/store.h"
#include "tests/storage/child_process.h"
#include "tests/storage/store_testing.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::DirContents;
using testing::TempDir;

constexpr ReplicaId kOrigin = 0xA1;

// A closed store at `path` holding a few writes.
void MakeStore(const std::string& path) {
  auto store = Store::Open(path, StoreOptions());
  ASSERT_OK(store);
  VersionVector vv;
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    vv.Advance(kOrigin, seq);
    Status st =
        (*store)->Apply(testing::WriteBatchFor(testing::SetDelta(kOrigin, seq, "k", "v"), vv));
    ASSERT_OK(st);
  }
}

// Opens `path`, expects `code` with `path` and `cause` in the message, and
// that no file under `path` changed.
void ExpectRefused(const std::string& path, StatusCode code, const std::string& cause) {
  const auto before = DirContents(path);
  auto store = Store::Open(path, StoreOptions());
  ASSERT_FALSE(store.ok()) << "opened " << path;
  EXPECT_EQ(store.status().code(), code) << store.status().ToString();
  EXPECT_NE(store.status().message().find(path), std::string::npos) << store.status().ToString();
  EXPECT_NE(store.status().message().find(cause), std::string::npos) << store.status().ToString();
  EXPECT_EQ(DirContents(path), before) << "refusing changed files under " << path;
}

std::string FindFile(const std::string& dir, const std::string& prefix) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) return e.path().string();
  }
  return "";
}

TEST(OpenTest, CreatesMissingDirectoryAndEmptyDirectory) {
  TempDir dir;
  {
    auto store = Store::Open(dir.Sub("a/b/c"), StoreOptions());
    ASSERT_OK(store);
  }
  // Created in a staging directory and renamed into place: nothing else is left.
  std::vector<std::string> siblings;
  for (const auto& e : fs::directory_iterator(dir.Sub("a/b"))) {
    siblings.push_back(e.path().filename().string());
  }
  EXPECT_EQ(siblings, std::vector<std::string>{"c"});
  auto empty = Store::Open(dir.path() + "/a/b/c/../../b/c", StoreOptions());
  ASSERT_OK(empty);  // the same store, reopened through another spelling
  TempDir fresh;
  auto store = Store::Open(fresh.path(), StoreOptions());
  ASSERT_OK(store);
}

TEST(OpenTest, SecondStoreInThisProcessIsRefused) {
  TempDir dir;
  auto first = Store::Open(dir.path(), StoreOptions());
  ASSERT_OK(first);
  ExpectRefused(dir.path(), StatusCode::kFailedPrecondition, "in use");
  Status st = (*first)->Apply(
      testing::WriteBatchFor(testing::SetDelta(kOrigin, 1, "k", "v"), VersionVector()));
  EXPECT_OK(st);  // the first one is unharmed
}

TEST(OpenTest, StoreLockedByAnotherProcessIsRefused) {
  TempDir dir;
  MakeStore(dir.path());
  testing::ChildProcess holder("holder", dir.path());
  ASSERT_GT(holder.pid(), 0);
  ASSERT_EQ(holder.ReadFirst(20s), "R") << "holder did not open the store";
  ExpectRefused(dir.path(), StatusCode::kFailedPrecondition, "in use");
  holder.Kill();
  auto store = Store::Open(dir.path(), StoreOptions());
  ASSERT_OK(store);  // free again once the holder is gone
  EXPECT_EQ((*store)->version_vector().Get(kOrigin), 20u);
}

TEST(OpenTest, NonEmptyForeignDirectoryIsRefused) {
  TempDir dir;
  std::ofstream(dir.Sub("notes.txt")) << "not a database";
  fs::create_directory(dir.Sub("photos"));
  ExpectRefused(dir.path(), StatusCode::kFailedPrecondition, "not a Converge store");
}

TEST(OpenTest, PlainFileIsRefused) {
  TempDir dir;
  std::ofstream(dir.Sub("file")) << "x";
  auto store = Store::Open(dir.Sub("file"), StoreOptions());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("not a directory"), std::string::npos);
}

TEST(OpenTest, ForeignRocksDbIsRefused) {
  TempDir dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "someone", "else's").ok());
    ASSERT_TRUE(db->Close().ok());
    delete db;
  }
  ExpectRefused(dir.path(), StatusCode::kFailedPrecondition, "not a Converge store");
}

// Rewrites the format record as another version would have written it.
void SetFormatVersion(const std::string& path, char version) {
  testing::PutRaw(path, {{"meta", "format", std::string("\0\0\0", 3) + version}});
}

TEST(OpenTest, OtherFormatVersionIsRefused) {
  TempDir dir;
  MakeStore(dir.path());
  SetFormatVersion(dir.path(), 4);  // a future version
  ExpectRefused(dir.path(), StatusCode::kFailedPrecondition, "format version 4");
  SetFormatVersion(dir.path(), 0);
  ExpectRefused(dir.path(), StatusCode::kFailedPrecondition, "format version 0");
}

// The format record an older build would find after this one opened the store.
std::string FormatRecord(const std::string& path) {
  rocksdb::DBOptions o;
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(o, path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& n : names) descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(o, path, descs, &handles, &db).ok()) {
    ADD_FAILURE() << "cannot open " << path << " read-only";
    return "";
  }
  const size_t meta = std::find(names.begin(), names.end(), "meta") - names.begin();
  std::string value;
  EXPECT_LT(meta, names.size());
  if (meta < names.size()) {
    EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), handles[meta], "format", &value).ok());
  }
  for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  delete db;
  return value;
}

TEST(OpenTest, OlderVersionsOpenAndAreMarkedVersionThree) {
  for (char version : {1, 2}) {
    SCOPED_TRACE(static_cast<int>(version));
    TempDir dir;
    MakeStore(dir.path());
    SetFormatVersion(dir.path(), version);
    {
      StatusOr<std::unique_ptr<Store>> s = Store::Open(dir.path(), StoreOptions());
      ASSERT_TRUE(s.ok()) << s.status().ToString();
    }
    // Version 3, which an older build refuses: this one may leave the
    // objects behind the log, and only a build that replays can read that.
    EXPECT_EQ(FormatRecord(dir.path()), std::string("\0\0\0\x03", 4));
  }
}

TEST(OpenTest, GarbledCurrentIsRefused) {
  TempDir dir;
  MakeStore(dir.path());
  std::ofstream(dir.Sub("CURRENT"), std::ios::trunc) << "MANIFEST-999999\n";
  ExpectRefused(dir.path(), StatusCode::kCorruption, "damaged");
  std::ofstream(dir.Sub("CURRENT"), std::ios::trunc) << "\x01\x02garbage";
  ExpectRefused(dir.path(), StatusCode::kCorruption, "damaged");
}

TEST(OpenTest, TruncatedManifestIsRefused) {
  TempDir dir;
  MakeStore(dir.path());
  const std::string manifest = FindFile(dir.path(), "MANIFEST-");
  ASSERT_FALSE(manifest.empty());
  fs::resize_file(manifest, 10);
  ExpectRefused(dir.path(), StatusCode::kCorruption, "damaged");
}

TEST(OpenTest, GarbledManifestIsRefused) {
  TempDir dir;
  MakeStore(dir.path());
  const std::string manifest = FindFile(dir.path(), "MANIFEST-");
  ASSERT_FALSE(manifest.empty());
  {
    std::fstream f(manifest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(manifest) / 2));
    f.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
  }
  ExpectRefused(dir.path(), StatusCode::kCorruption, "damaged");
}

}  // namespace
}  // namespace converge
