// Child processes for the storage suites: this test binary run again in a
// role (a store writer to be SIGKILLed, a store holder keeping its lock).
//
// A child is fork + exec of /proc/self/exe, so it starts with no threads
// whatever the parent has (RocksDB's background threads, a Store's WAL sync
// thread): forking a threaded process and carrying on in the child is not
// safe. The role is picked in main() by storage_main.cc from the
// environment; the child reports to the parent over a pipe and ends in _exit.
#ifndef CONVERGE_TESTS_STORAGE_CHILD_PROCESS_H_
#define CONVERGE_TESTS_STORAGE_CHILD_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "crdt/timestamp.h"

extern char** environ;

namespace converge::testing {

inline constexpr const char* kChildRoleEnv = "CONVERGE_STORAGE_CHILD_ROLE";
inline constexpr const char* kChildArgEnv = "CONVERGE_STORAGE_CHILD_ARG";
inline constexpr const char* kChildFdEnv = "CONVERGE_STORAGE_CHILD_FD";

// The origin the writer child logs its deltas under.
inline constexpr ReplicaId kWriterOrigin = 0xC0FFEE;

class ChildProcess {
 public:
  // Starts this binary in `role` with `arg`; the child writes its reports to
  // the pipe read by Read(). Returns a child with pid() < 0 on failure.
  ChildProcess(const std::string& role, const std::string& arg) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    char exe[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    // Everything the child needs is built before fork: only async-signal-safe
    // calls (dup2, execve, _exit) happen between fork and exec.
    const int child_fd = 100;
    std::vector<std::string> env_strings = {
        std::string(kChildRoleEnv) + "=" + role, std::string(kChildArgEnv) + "=" + arg,
        std::string(kChildFdEnv) + "=" + std::to_string(child_fd)};
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    std::vector<char*> envp;
    for (std::string& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    char* argv[] = {exe, nullptr};

    pid_ = ::fork();
    if (pid_ == 0) {
      if (::dup2(fds[1], child_fd) < 0) ::_exit(126);  // dup2 clears O_CLOEXEC
      ::execve(exe, argv, envp.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    read_fd_ = fds[0];
  }

  ~ChildProcess() {
    Kill();
    if (read_fd_ >= 0) ::close(read_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }

  // Reads what the child reported, waiting up to `timeout`; returns the
  // bytes read (empty on timeout); *eof is set when the child's end closed.
  std::string Read(std::chrono::milliseconds timeout, bool* eof) {
    *eof = false;
    pollfd p{read_fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r <= 0) return "";
    char buf[4096];
    const ssize_t n = ::read(read_fd_, buf, sizeof(buf));
    if (n <= 0) {
      *eof = true;
      return "";
    }
    return std::string(buf, static_cast<size_t>(n));
  }

  // Reads until the child has reported anything (its first report), it
  // exits, or `timeout` passes; returns what it read.
  std::string ReadFirst(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string got;
    bool eof = false;
    while (got.empty() && !eof && std::chrono::steady_clock::now() < deadline) {
      got += Read(std::chrono::milliseconds(100), &eof);
    }
    return got;
  }

  // SIGKILL and reap; idempotent.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
};

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_STORAGE_CHILD_PROCESS_H_
