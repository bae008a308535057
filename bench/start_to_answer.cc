// start_to_answer: how long a server takes from exec to its first answers.
//
//   start_to_answer PORT KEY LOG -- COMMAND [ARGS...]
//
// Starts COMMAND (stdout and stderr to LOG), then connects to 127.0.0.1:PORT
// every 0.2 ms until a connection takes, sends PING until it answers PONG,
// then GET KEY. Prints "PID MS VALUE": the server's pid (left running, for
// the caller to stop), the milliseconds from just before the exec to the
// GET's reply, and that reply. Exits 1 if no answer came within 60 s.
// With PORT 0 it waits for COMMAND to exit instead and prints "PID MS
// STATUS": the same clock for a process that is measured to its end (the
// bare RocksDB open the node's start is compared with).
//
// For issue 8 item 7 (bench/restart_memory.sh): polling with redis-cli, a
// process per try, added up to a poll interval and two process starts to
// the node's figure and nothing to the bare RocksDB open it is compared with.
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

// The reply to one command, or "" with `ok` false when the server is not
// answering yet (connection refused or reset, an error reply).
std::string Ask(redisContext* c, const char* command, const char* arg, bool* ok) {
  auto* r = static_cast<redisReply*>(arg == nullptr ? redisCommand(c, command)
                                                    : redisCommand(c, command, arg));
  *ok = r != nullptr && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING);
  std::string out = *ok ? std::string(r->str, r->len) : "";
  if (r != nullptr) freeReplyObject(r);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6 || std::strcmp(argv[4], "--") != 0) {
    std::fprintf(stderr, "usage: %s PORT KEY LOG -- COMMAND [ARGS...]\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const char* key = argv[2];
  const char* log = argv[3];
  const auto t0 = Clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("fork");
    return 1;
  }
  if (pid == 0) {
    const int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execvp(argv[5], argv + 5);
    std::perror("exec");
    _exit(127);
  }
  if (port == 0) {
    int status = 0;
    waitpid(pid, &status, 0);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    std::printf("%d %.1f %d\n", static_cast<int>(pid), ms, status);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
  }
  const timeval connect_timeout{0, 50'000};
  while (Clock::now() - t0 < std::chrono::seconds(60)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::fprintf(stderr, "start_to_answer: the server exited (status %d)\n", status);
      return 1;
    }
    redisContext* c = redisConnectWithTimeout("127.0.0.1", port, connect_timeout);
    if (c != nullptr && c->err == 0) {
      bool ok = false;
      if (Ask(c, "PING", nullptr, &ok) == "PONG" && ok) {
        const std::string value = Ask(c, "GET %s", key, &ok);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        redisFree(c);
        if (!ok) {
          std::fprintf(stderr, "start_to_answer: GET %s has no value\n", key);
          return 1;
        }
        std::printf("%d %.1f %s\n", static_cast<int>(pid), ms, value.c_str());
        return 0;
      }
    }
    if (c != nullptr) redisFree(c);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::fprintf(stderr, "start_to_answer: no answer on port %d within 60 s\n", port);
  return 1;
}
