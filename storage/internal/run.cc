#include "storage/internal/run.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace converge::storage_internal {

std::string ReadBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!in || !std::getline(in, id)) return "";
  return id;
}

std::string LostWritesReason(const LastRun& last, std::string_view boot_id, uint8_t everysec) {
  if (last.restored) {
    return "the directory is a restored backup (it holds " + std::string(kRestoreMarkerFile) +
           "): the cluster may hold writes made after it was taken";
  }
  if (last.damaged) {
    return "the last run did not stop cleanly and its run record is damaged: writes it had "
           "not synced may be lost";
  }
  if (!last.unclean) return "";  // closed cleanly: everything was synced
  const RunRecord& run = *last.unclean;
  // always and batch sync the WAL before a write is acknowledged or pushed.
  if (run.durability != everysec) return "";
  // Same boot: only the process died, and the OS still had the WAL it wrote.
  if (!boot_id.empty() && run.boot_id == boot_id) return "";
  return "the last run (fsync everysec) did not stop cleanly and the machine has rebooted "
         "since: writes it had not synced may be lost, and peers may hold them";
}

Status WriteFileSynced(const std::string& path, std::string_view contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return UnavailableError("cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return UnavailableError("cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return UnavailableError("cannot sync " + path + ": " + std::strerror(err));
  return Status::Ok();
}

}  // namespace converge::storage_internal
