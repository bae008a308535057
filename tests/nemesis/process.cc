#include "tests/nemesis/process.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include "tests/testing/free_port.h"

namespace converge::nemesis {
namespace {

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string Join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : std::string(1, sep)) + s;
  return out;
}

}  // namespace

uint16_t PickFreePort() { return testing::PickFreePort(); }

bool Ping(uint16_t port, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (c != nullptr && c->err == 0) {
    redisSetTimeout(c, tv);
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    ok = r != nullptr && r->type == REDIS_REPLY_STATUS && std::string(r->str, r->len) == "PONG";
    if (r != nullptr) freeReplyObject(r);
  }
  if (c != nullptr) redisFree(c);
  return ok;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill9();
}

bool ServerProcess::Start(int timeout_ms) {
  std::vector<std::string> args = {spec_.binary,
                                   "serve",
                                   "--data-dir", spec_.data_dir,
                                   "--name", spec_.name,
                                   "--port", std::to_string(spec_.port),
                                   "--peer-port", std::to_string(spec_.peer_port),
                                   "--fault-injection"};
  if (!spec_.seeds.empty()) {
    args.push_back("--seeds");
    args.push_back(Join(spec_.seeds, ','));
  }
  args.insert(args.end(), spec_.extra_args.begin(), spec_.extra_args.end());

  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    const int fd = open(spec_.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  paused_ = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {  // died while starting
      pid_ = -1;
      return false;
    }
    if (Ping(spec_.port, 200)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill9();
  return false;
}

void ServerProcess::Kill9() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  paused_ = false;
}

void ServerProcess::Pause() {
  if (pid_ <= 0 || paused_) return;
  kill(pid_, SIGSTOP);
  paused_ = true;
}

void ServerProcess::Resume() {
  if (pid_ <= 0 || !paused_) return;
  kill(pid_, SIGCONT);
  paused_ = false;
}

std::string ServerProcess::Stop() {
  if (pid_ <= 0) return "not running";
  Resume();
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 200; ++i) {  // 10 s grace
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return DescribeStatus(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill9();
  return "did not stop within 10 s of SIGTERM (killed)";
}

std::string ServerProcess::ReapUnexpectedExit() {
  if (pid_ <= 0) return "";
  int status;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return "";
  pid_ = -1;
  paused_ = false;
  return DescribeStatus(status);
}

std::string ServerProcess::LogTail(int lines) const {
  std::ifstream in(spec_.log_path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += "    | " + l + "\n";
  return out;
}

}  // namespace converge::nemesis
