// ServerProcess: one `converge serve` child process that the nemesis can
// kill -9, pause, resume and restart on the same data directory and ports.
//
// Thread-compatible: the fault thread owns the processes; others only read
// ports and names, which never change.
#ifndef CONVERGE_TESTS_NEMESIS_PROCESS_H_
#define CONVERGE_TESTS_NEMESIS_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace converge::nemesis {

struct ServerSpec {
  std::string binary;    // the converge executable
  std::string name;      // --name
  std::string data_dir;  // --data-dir
  std::string log_path;  // stdout and stderr of every incarnation, appended
  uint16_t port = 0;
  uint16_t peer_port = 0;
  std::vector<std::string> seeds;  // "127.0.0.1:peer-port"
  std::vector<std::string> extra_args;
};

class ServerProcess {
 public:
  explicit ServerProcess(ServerSpec spec) : spec_(std::move(spec)) {}
  ~ServerProcess();  // SIGKILLs a running child
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the child and waits until its client port answers PING. False
  // (with the child killed) if it did not within the timeout.
  bool Start(int timeout_ms = 15000);
  void Kill9();
  void Pause();
  void Resume();
  // SIGTERM, then SIGKILL after a grace period; returns the exit status text.
  std::string Stop();

  // If the child exited on its own since the last call, describes how.
  // Empty when it is running, paused, or was stopped by us.
  std::string ReapUnexpectedExit();

  bool running() const { return pid_ > 0; }
  bool paused() const { return paused_; }
  const ServerSpec& spec() const { return spec_; }
  // The last lines of the log, for reports.
  std::string LogTail(int lines = 20) const;

 private:
  ServerSpec spec_;
  pid_t pid_ = -1;
  bool paused_ = false;
};

// A port on 127.0.0.1 that was free a moment ago, below the ephemeral range
// and not handed out before by this process; 0 if none was found.
uint16_t PickFreePort();

// One PING over a fresh connection; true on +PONG.
bool Ping(uint16_t port, int timeout_ms);

}  // namespace converge::nemesis

#endif  // CONVERGE_TESTS_NEMESIS_PROCESS_H_
