// fake_converge: the real converge command line (RunCommandLine) with a fake
// Serve() that answers PING, AUTH, INFO and DBSIZE on the client port and
// stops with exit code 0 on SIGINT/SIGTERM, as PROTOCOL.md asks of serve.
//
// It exists so the cluster up test launches real processes through the real
// fork/exec path (`fake_converge cluster up` re-executes itself as
// `fake_converge serve ...`) without needing the node. It is a test double:
// never installed, never linked into the product.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "node/cli/cli.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

// Parses one RESP array of bulk strings from the front of `in`; returns
// false when more bytes are needed. Malformed input is answered by closing.
bool TakeCommand(std::string& in, std::vector<std::string>& words, bool& bad) {
  words.clear();
  size_t pos = 0;
  auto line = [&](std::string& out) {
    const size_t crlf = in.find("\r\n", pos);
    if (crlf == std::string::npos) return false;
    out = in.substr(pos, crlf - pos);
    pos = crlf + 2;
    return true;
  };
  std::string header;
  if (!line(header)) return false;
  if (header.empty() || header[0] != '*') {
    bad = true;
    return false;
  }
  const long count = std::strtol(header.c_str() + 1, nullptr, 10);
  for (long i = 0; i < count; ++i) {
    std::string len_line;
    if (!line(len_line)) return false;
    const size_t len = std::strtoul(len_line.c_str() + 1, nullptr, 10);
    if (in.size() < pos + len + 2) return false;
    words.push_back(in.substr(pos, len));
    pos += len + 2;
  }
  in.erase(0, pos);
  return true;
}

std::string Bulk(const std::string& s) {
  std::string out = "$";  // appended, not "$" + ...: GCC 12's -Wrestrict misfires on that
  return out.append(std::to_string(s.size())).append("\r\n").append(s).append("\r\n");
}

std::string Answer(const std::vector<std::string>& words, const converge::NodeOptions& options) {
  if (words.empty()) return "-ERR empty command\r\n";
  std::string cmd = words[0];
  for (char& c : cmd) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (cmd == "PING") return "+PONG\r\n";
  if (cmd == "AUTH") return "+OK\r\n";
  if (cmd == "DBSIZE") return ":0\r\n";
  if (cmd == "INFO") {
    const std::string peers = std::to_string(options.seeds.size());
    return Bulk("# Replication\r\nrole:master\r\npeers_connected:" + peers + "\r\npeers_known:" + peers +
                "\r\nrepl_lag_deltas:0\r\n");
  }
  return "-ERR unknown command '" + words[0] + "'\r\n";
}

int FakeServe(const converge::NodeOptions& options) {
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options.port);
  ::inet_pton(AF_INET, options.bind.c_str(), &addr.sin_addr);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 16) != 0) {
    std::fprintf(stderr, "converge: bind %s:%u: %s\n", options.bind.c_str(), unsigned{options.port},
                 std::strerror(errno));
    return 1;
  }
  std::string seeds;
  for (const std::string& seed : options.seeds) seeds += " " + seed;
  std::printf("fake node %s serving on %s:%u peer port %u seeds%s\n", options.name.c_str(),
              options.bind.c_str(), unsigned{options.port}, unsigned{options.effective_peer_port()},
              seeds.c_str());
  std::fflush(stdout);

  std::vector<pollfd> fds = {{listener, POLLIN, 0}};
  std::vector<std::string> inputs = {""};
  while (g_stop == 0) {
    if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return 1;
    if (fds[0].revents & POLLIN) {
      const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) {
        fds.push_back({fd, POLLIN, 0});
        inputs.emplace_back();
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
      bool bad = n <= 0;
      if (n > 0) inputs[i].append(buf, static_cast<size_t>(n));
      std::vector<std::string> words;
      while (!bad && TakeCommand(inputs[i], words, bad)) {
        const std::string reply = Answer(words, options);
        if (::send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) bad = true;
      }
      if (bad) {
        ::close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores it; the slot stays, a test node serves few clients
      }
    }
  }
  std::printf("fake node %s stopped\n", options.name.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return converge::RunCommandLine(args, FakeServe);
}
