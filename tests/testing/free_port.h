// A TCP port on 127.0.0.1 for a test server to bind a moment later.
//
// Picked at random below Linux's ephemeral range (32768 and up by default)
// and checked bindable. An ephemeral port (bind to 0, read, release) can be
// taken as the source port of some connection before the server binds it,
// e.g. by nodes started earlier dialing their seeds; ports below the range
// are only ever taken by listeners. Within a process a port is handed out
// once.
#ifndef CONVERGE_TESTS_TESTING_FREE_PORT_H_
#define CONVERGE_TESTS_TESTING_FREE_PORT_H_

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <random>
#include <set>

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

// 0 when no free port was found in 200 tries.
inline uint16_t PickFreePort() {
  static std::mutex mu;
  static std::mt19937 rng{std::random_device{}()};
  static std::set<uint16_t> handed_out;  // picked, perhaps not bound yet
  std::lock_guard<std::mutex> l(mu);
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(rng));
    if (handed_out.count(port) == 0 && PortBindable(port)) {
      handed_out.insert(port);
      return port;
    }
  }
  return 0;
}

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_TESTING_FREE_PORT_H_
