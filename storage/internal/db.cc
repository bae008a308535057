#include "storage/internal/db.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace converge::storage_internal {

namespace fs = std::filesystem;

std::mutex& OpenPathsMu() {
  static std::mutex mu;
  return mu;
}

std::set<std::string>& OpenPaths() {
  static std::set<std::string> paths;
  return paths;
}

Status WriteError(const std::string& path, const rocksdb::Status& s) {
  if (s.IsCorruption()) return CorruptionError("store " + path + ": write: " + s.ToString());
  return UnavailableError("store " + path + ": write failed: " + s.ToString());
}

Status ReadError(const std::string& path, std::string_view cf, const rocksdb::Status& s) {
  if (s.IsCorruption()) {
    return CorruptionError("store " + path + ", column family '" + std::string(cf) +
                           "': " + s.ToString());
  }
  return UnavailableError("store " + path + ", column family '" + std::string(cf) +
                          "': read failed: " + s.ToString());
}


Status SyncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return UnavailableError("cannot open " + dir.string() + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return UnavailableError("cannot sync " + dir.string() + ": " + std::strerror(err));
  return Status::Ok();
}

std::string LogKeyAfter(ReplicaId origin, uint64_t seq) {
  std::string key = LogKey(origin, seq);
  key.push_back('\0');
  return key;
}


ReplicaId NewReplicaId() {
  std::random_device rd;
  ReplicaId id = 0;
  while (id == 0) id = (uint64_t{rd()} << 32) | rd();
  return id;
}


}  // namespace converge::storage_internal
