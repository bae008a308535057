// A bare RocksDB open, the baseline of issue 8 item 7: opens the database in
// a Converge data directory with every column family it has (RocksDB's
// default options, no Converge code), reads one key of the objects column
// family and closes. Prints the open+read wall time in ms.
// Usage: rocksdb_open DATA_DIR KEY
#include <rocksdb/db.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATA_DIR KEY\n", argv[0]);
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  rocksdb::DBOptions options;
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(options, argv[1], &names);
  if (!s.ok()) {
    std::fprintf(stderr, "list column families: %s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  size_t objects = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    descs.emplace_back(names[i], rocksdb::ColumnFamilyOptions());
    if (names[i] == "objects") objects = i;
  }
  if (objects == names.size()) {
    std::fprintf(stderr, "no 'objects' column family in %s\n", argv[1]);
    return 1;
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(options, argv[1], descs, &handles, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
    return 1;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  s = db->Get(rocksdb::ReadOptions(), handles[objects], argv[2], &value);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  for (rocksdb::ColumnFamilyHandle* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  if (!s.ok()) {
    std::fprintf(stderr, "get %s: %s\n", argv[2], s.ToString().c_str());
    return 1;
  }
  std::printf("%.1f\n", ms);
  return 0;
}
