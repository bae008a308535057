// A TCP port on 127.0.0.1 for a test server to bind a moment later.
//
// Picked at random below Linux's ephemeral range (32768 and up by default)
// and checked bindable. An ephemeral port (bind to 0, read, release) can be
// taken as the source port of some connection before the server binds it,
// e.g. by nodes started earlier dialing their seeds; ports below the range
// are only ever taken by listeners. Within a process a port is handed out
// once; across the test processes ctest runs in parallel, a port is claimed
// by a lock on a file named after it (flock, held until this process exits),
// so two processes never pick the same port between one's pick and its bind
// (seen in CI: one test's node took a port another test had picked for its
// own, and that test's nodes dialed the wrong cluster).
#ifndef CONVERGE_TESTS_TESTING_FREE_PORT_H_
#define CONVERGE_TESTS_TESTING_FREE_PORT_H_

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <random>
#include <set>
#include <string>

namespace converge::testing {

inline bool PortBindable(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

// Claims `port` among this machine's test processes: true when this process
// now holds the lock of /tmp/converge-test-ports/PORT (kept until it exits;
// the kernel drops it even after a kill -9). Where the lock file cannot be
// made, claims without coordinating.
inline bool ClaimPort(uint16_t port, int* fd_out) {
  const std::string dir = "/tmp/converge-test-ports";
  ::mkdir(dir.c_str(), 01777);  // EEXIST is fine
  const std::string path = dir + "/" + std::to_string(port);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  *fd_out = fd;
  if (fd < 0) return true;
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    *fd_out = -1;
    return false;
  }
  return true;
}

// 0 when no free port was found in 200 tries.
inline uint16_t PickFreePort() {
  static std::mutex mu;
  static std::mt19937 rng{std::random_device{}()};
  static std::set<uint16_t> handed_out;  // picked, perhaps not bound yet
  std::lock_guard<std::mutex> l(mu);
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(rng));
    if (handed_out.count(port) != 0) continue;
    int claim = -1;
    if (!ClaimPort(port, &claim)) continue;  // another test process has it
    if (PortBindable(port)) {
      handed_out.insert(port);
      return port;  // `claim` stays open: the lock lasts as long as this process
    }
    if (claim >= 0) ::close(claim);
  }
  return 0;
}

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_TESTING_FREE_PORT_H_
