#include "node/cli/cluster_up.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "node/cli/resp_client.h"
#include "tests/node_cli/temp_dir.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using testing::TempDir;

TEST(ClusterUpArgsTest, Defaults) {
  StatusOr<ClusterUpOptions> o = ParseClusterUpArgs({"--nodes", "3"});
  ASSERT_OK(o);
  EXPECT_EQ(o->nodes, 3);
  EXPECT_EQ(o->base_port, 7001);
  EXPECT_EQ(o->data_root, "data");
  EXPECT_TRUE(o->serve_args.empty());
  EXPECT_EQ(o->executable, "/proc/self/exe");
}

TEST(ClusterUpArgsTest, OwnOptionsAndPassThrough) {
  StatusOr<ClusterUpOptions> o = ParseClusterUpArgs(
      {"--fsync", "always", "--nodes=5", "--base-port", "8001", "--data-root=/tmp/c", "--fault-injection"});
  ASSERT_OK(o);
  EXPECT_EQ(o->nodes, 5);
  EXPECT_EQ(o->base_port, 8001);
  EXPECT_EQ(o->data_root, "/tmp/c");
  EXPECT_EQ(o->serve_args, (std::vector<std::string>{"--fsync", "always", "--fault-injection"}));
}

TEST(ClusterUpArgsTest, Refusals) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{}, "--nodes"},
      {{"--nodes"}, "--nodes"},
      {{"--nodes", "0"}, "--nodes"},
      {{"--nodes", "65"}, "--nodes"},
      {{"--nodes", "x"}, "--nodes"},
      {{"--nodes", "3", "--base-port", "0"}, "--base-port"},
      {{"--nodes", "3", "--base-port", "55534"}, "--base-port"},  // n3's peer port 65536
      {{"--nodes", "3", "--data-root", ""}, "--data-root"},
      {{"--nodes", "3", "--port", "7001"}, "--port"},
      {{"--nodes", "3", "--seeds=a:1"}, "--seeds"},
      {{"--nodes", "3", "--data-dir", "x"}, "--data-dir"},
      {{"--nodes", "3", "--name", "x"}, "--name"},
      {{"--nodes", "3", "--peer-port", "1"}, "--peer-port"},
      {{"--nodes", "3", "--bind", "0.0.0.0"}, "--bind"},
      {{"--nodes", "3", "--fsync", "sometimes"}, "--fsync"},  // checked before anything starts
      {{"--nodes", "3", "--bogus"}, "--bogus"},
      {{"--nodes", "3", "--tls-cert", "n.crt"}, "--tls-"},  // the three go together, checked up front
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.args));
    StatusOr<ClusterUpOptions> o = ParseClusterUpArgs(c.args);
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(c.names), std::string::npos) << o.status().message();
    EXPECT_EQ(o.status().message().find('\n'), std::string::npos);
  }
  // The last node may use peer port 65535 exactly.
  EXPECT_OK(ParseClusterUpArgs({"--nodes", "3", "--base-port", "55533"}));
}

TEST(ClusterUpArgsTest, EachNodeIsSeededWithTheOthers) {
  ClusterUpOptions o;
  o.nodes = 3;
  o.data_root = "/d";
  o.serve_args = {"--fsync", "always"};
  EXPECT_EQ(ServeArgsForNode(o, 1),
            (std::vector<std::string>{"--data-dir", "/d/n2", "--name", "n2", "--bind", "127.0.0.1", "--port",
                                      "7002", "--peer-port", "17002", "--seeds",
                                      "127.0.0.1:17001,127.0.0.1:17003", "--fsync", "always"}));
  o.nodes = 1;
  EXPECT_EQ(ServeArgsForNode(o, 0),
            (std::vector<std::string>{"--data-dir", "/d/n1", "--name", "n1", "--bind", "127.0.0.1", "--port",
                                      "7001", "--peer-port", "17001", "--fsync", "always"}));
}

TEST(StatusTableTest, RendersAlignedColumns) {
  NodeRow up;
  up.name = "n1";
  up.port = 7001;
  up.state = NodeRow::State::kUp;
  up.peers_connected = "2";
  up.peers_known = "2";
  up.keys = 1234;
  up.lag = "0";
  NodeRow starting;
  starting.name = "n2";
  starting.port = 7002;
  NodeRow down;
  down.name = "n3";
  down.port = 7003;
  down.state = NodeRow::State::kDown;
  NodeRow exited;
  exited.name = "n10";
  exited.port = 7010;
  exited.state = NodeRow::State::kExited;
  exited.exit_code = 1;
  exited.note = "n10 exited(1), see data/n10.log: bind: Address already in use";
  NodeRow partial;
  partial.name = "n4";
  partial.port = 7004;
  partial.state = NodeRow::State::kUp;
  partial.peers_connected = "1";
  partial.keys = 0;  // no lag field in INFO: shown as "-"
  EXPECT_EQ(RenderStatusTable({up, starting, down, exited, partial}),
            "node  port  state      peers  keys  lag\n"
            "n1    7001  up         2/2    1234  0\n"
            "n2    7002  starting   -      -     -\n"
            "n3    7003  down       -      -     -\n"
            "n10   7010  exited(1)  -      -     -\n"
            "n4    7004  up         1      0     -\n"
            "n10 exited(1), see data/n10.log: bind: Address already in use\n");
}

TEST(StatusTableTest, StateNames) {
  NodeRow r;
  r.state = NodeRow::State::kExited;
  r.exit_signal = SIGKILL;
  EXPECT_EQ(StateText(r), "exited(SIGKILL)");
  r.exit_signal = 0;
  r.exit_code = 0;
  EXPECT_EQ(StateText(r), "exited(0)");
  EXPECT_EQ(RenderStatusTable({}), "node  port  state  peers  keys  lag\n");
}

// Sends stdout to a file while alive, so the launcher's output can be read
// as it is written.
class StdoutToFile {
 public:
  explicit StdoutToFile(const std::string& path) {
    std::fflush(stdout);
    saved_ = ::dup(STDOUT_FILENO);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::close(fd);
  }
  ~StdoutToFile() {
    std::fflush(stdout);
    ::dup2(saved_, STDOUT_FILENO);
    ::close(saved_);
  }

 private:
  int saved_ = -1;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool Bindable(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A base port whose n client ports and n peer ports are all free now.
uint16_t FreeBasePort(int n) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 100; ++attempt) {
    const uint16_t base = static_cast<uint16_t>(20000 + rng() % 10000);
    bool free = true;
    for (int i = 0; i < n && free; ++i) free = Bindable(base + i) && Bindable(base + i + 10000);
    if (free) return base;
  }
  return 0;
}

// Polls `ready` every 50 ms until it holds or the deadline passes.
template <typename Pred>
bool WaitUntil(Pred ready, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ready();
}

bool AnswersPing(uint16_t port) {
  StatusOr<RespClient> c = RespClient::Connect("127.0.0.1", port, std::chrono::milliseconds(200));
  if (!c.ok()) return false;
  StatusOr<RespValue> v = c->Command({"PING"});
  return v.ok() && v->IsSimple("PONG");
}

bool HasLine(const std::string& text, const std::string& start, const std::string& contains) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(start, 0) == 0 && line.find(contains) != std::string::npos) return true;
  }
  return false;
}

// Three real processes (fake_converge: the real command line with a fake
// Serve) where n2's port is taken: n1 and n3 come up seeded with the others,
// n2 shows as exited(1) with its log's reason, and Ctrl-C stops the rest.
TEST(ClusterUpTest, StartsNodesShowsAFailedOneAndStopsOnSigint) {
  TempDir dir;
  const uint16_t base = FreeBasePort(3);
  ASSERT_NE(base, 0) << "no free ports";
  // Hold n2's client port, as another program would.
  const int squatter = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(base + 1));
  ASSERT_EQ(::bind(squatter, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(squatter, 1), 0);

  ClusterUpOptions options;
  options.nodes = 3;
  options.base_port = base;
  options.data_root = dir.path() + "/data";
  options.executable = FAKE_CONVERGE_PATH;
  options.serve_args = {"--fsync", "always"};
  const std::string out_path = dir.path() + "/out.txt";

  bool saw_table = false;
  std::thread operator_thread([&] {
    // Block the launcher's signals here too, so the SIGINT below stays
    // pending for the launcher's sigtimedwait instead of killing the test.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // Without a terminal a changed table is printed at most every 5 s.
    saw_table = WaitUntil(
        [&] {
          const std::string out = ReadFile(out_path);
          return HasLine(out, "n1 ", " up ") && HasLine(out, "n3 ", " up ") &&
                 HasLine(out, "n2 ", "exited(1)");
        },
        std::chrono::seconds(30));
    ::kill(::getpid(), SIGINT);
  });
  int code = -1;
  {
    StdoutToFile redirect(out_path);
    code = RunClusterUp(options);
  }
  operator_thread.join();
  ::close(squatter);

  const std::string out = ReadFile(out_path);
  SCOPED_TRACE(out);
  EXPECT_TRUE(saw_table);
  EXPECT_EQ(code, 0);
  EXPECT_NE(out.find("redis-cli -p " + std::to_string(base)), std::string::npos);
  EXPECT_TRUE(HasLine(out, "n1 ", " 2/2 "));  // INFO replication read from the node
  EXPECT_NE(out.find("n2 exited(1), see " + options.data_root + "/n2.log"), std::string::npos);
  EXPECT_NE(out.find("Address already in use"), std::string::npos);
  EXPECT_NE(out.find("converge: stopped 2 nodes (2 clean, 0 with errors, 0 killed"), std::string::npos);

  const std::string n1_log = ReadFile(options.data_root + "/n1.log");
  EXPECT_NE(n1_log.find("fake node n1 serving on 127.0.0.1:" + std::to_string(base) + " peer port " +
                        std::to_string(base + 10000) + " seeds 127.0.0.1:" + std::to_string(base + 10001) +
                        " 127.0.0.1:" + std::to_string(base + 10002)),
            std::string::npos)
      << n1_log;
  EXPECT_NE(n1_log.find("fake node n1 stopped"), std::string::npos) << n1_log;  // SIGTERM, not SIGKILL
  EXPECT_FALSE(AnswersPing(base));
  EXPECT_FALSE(AnswersPing(static_cast<uint16_t>(base + 2)));
}

TEST(ClusterUpTest, ReturnsOneWhenEveryNodeHasExited) {
  TempDir dir;
  ClusterUpOptions options;
  options.nodes = 2;
  options.base_port = FreeBasePort(2);
  options.data_root = dir.path() + "/data";
  options.executable = "/bin/false";
  const std::string out_path = dir.path() + "/out.txt";
  int code = -1;
  {
    StdoutToFile redirect(out_path);
    code = RunClusterUp(options);
  }
  const std::string out = ReadFile(out_path);
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(HasLine(out, "n1 ", "exited(1)")) << out;
  EXPECT_TRUE(HasLine(out, "n2 ", "exited(1)")) << out;
  EXPECT_NE(out.find("every node has exited"), std::string::npos) << out;
}

TEST(ClusterUpTest, MissingExecutableShowsTheReasonInTheLog) {
  TempDir dir;
  ClusterUpOptions options;
  options.nodes = 1;
  options.base_port = FreeBasePort(1);
  options.data_root = dir.path() + "/data";
  options.executable = dir.path() + "/no-such-converge";
  const std::string out_path = dir.path() + "/out.txt";
  int code = -1;
  {
    StdoutToFile redirect(out_path);
    code = RunClusterUp(options);
  }
  const std::string out = ReadFile(out_path);
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(HasLine(out, "n1 ", "exited(127)")) << out;
  EXPECT_NE(out.find("cannot run " + options.executable + ": No such file or directory"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace converge
