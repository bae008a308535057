#include "node/cli/cluster_up.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <string_view>
#include <utility>

#include "node/cli/resp_client.h"
#include "node/cli/serve_options.h"

namespace converge {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint16_t kPeerPortOffset = 10000;
constexpr std::chrono::milliseconds kProbeTimeout{300};
constexpr std::chrono::seconds kRefresh{1};
// Without a terminal the table is a log: a new copy only when it changed,
// and not more often than this, so a log file stays readable.
constexpr std::chrono::seconds kPlainRefresh{5};
constexpr std::chrono::seconds kStopGrace{10};

// Options cluster up sets per node; given by the user they would make the
// nodes collide or not find each other.
constexpr std::pair<std::string_view, std::string_view> kLauncherOwned[] = {
    {"--data-dir", "use --data-root"},   {"--name", "nodes are named n1..nN"},
    {"--port", "use --base-port"},       {"--peer-port", "peer ports are client ports + 10000"},
    {"--seeds", "each node is seeded with the others"},
    {"--bind", "the local cluster listens on 127.0.0.1"},
};

std::string NodeName(int index) {
  std::string name = "n";  // not "n" + ...: GCC 12's -Wrestrict misfires on it
  return name.append(std::to_string(index + 1));
}

uint16_t ClientPort(const ClusterUpOptions& o, int index) {
  return static_cast<uint16_t>(o.base_port + index);
}

std::string NodeDir(const ClusterUpOptions& o, int index) {
  return (std::filesystem::path(o.data_root) / NodeName(index)).string();
}

// Beside the data directory, not in it: the data directory is the store's
// own, and a store refuses to be created in a directory holding other files.
std::string LogPath(const ClusterUpOptions& o, int index) {
  return (std::filesystem::path(o.data_root) / (NodeName(index) + ".log")).string();
}

std::optional<int64_t> ParseCount(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// The last non-empty line of a log, bounded, for the note under the table:
// usually serve's one-line reason ("bind 127.0.0.1:7002: Address in use").
std::string LastLogLine(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "";
  constexpr long kTail = 4096;
  if (std::fseek(f, 0, SEEK_END) == 0) {
    const long size = std::ftell(f);
    // Deliberately unchecked: on failure we read from the start instead.
    (void)std::fseek(f, size > kTail ? size - kTail : 0, SEEK_SET);
  }
  std::string tail(kTail, '\0');
  tail.resize(std::fread(tail.data(), 1, tail.size(), f));
  std::fclose(f);
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) {
    tail.pop_back();
  }
  const size_t nl = tail.rfind('\n');
  std::string line = nl == std::string::npos ? tail : tail.substr(nl + 1);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  constexpr size_t kMaxShown = 160;
  if (line.size() > kMaxShown) line = line.substr(0, kMaxShown) + "...";
  return line;
}

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// One launched node: its row in the table plus what the launcher tracks.
struct Child {
  NodeRow row;
  pid_t pid = -1;
  bool running = false;
  bool ever_up = false;
  bool stop_sent = false;
  std::string log_path;
  std::optional<RespClient> client;  // kept across ticks so a node logs one connection, not one a second
};

void MarkExited(Child& c, int wait_status) {
  c.running = false;
  c.client.reset();
  c.row.state = NodeRow::State::kExited;
  if (WIFEXITED(wait_status)) c.row.exit_code = WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) c.row.exit_signal = WTERMSIG(wait_status);
  c.row.peers_connected.reset();
  c.row.peers_known.reset();
  c.row.keys.reset();
  c.row.lag.reset();
  if (!c.stop_sent) {
    const std::string last = LastLogLine(c.log_path);
    c.row.note = c.row.name + " " + StateText(c.row) + ", see " + c.log_path +
                 (last.empty() ? "" : ": " + last);
  }
}

// Reaps whichever children have exited, without blocking.
void Reap(std::vector<Child>& children) {
  for (Child& c : children) {
    if (!c.running) continue;
    int status = 0;
    const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    if (r == c.pid) MarkExited(c, status);
  }
}

// Asks one running node for its figures; on no answer it is starting (never
// answered yet) or down (answered before).
void Probe(Child& c, const std::string& requirepass, const RespTls* tls) {
  auto no_answer = [&c] {
    c.client.reset();
    c.row.state = c.ever_up ? NodeRow::State::kDown : NodeRow::State::kStarting;
    c.row.peers_connected.reset();
    c.row.peers_known.reset();
    c.row.keys.reset();
    c.row.lag.reset();
  };
  if (!c.client) {
    StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", c.row.port, kProbeTimeout, tls);
    // A node that listens but refuses the launcher's TLS would stay
    // "starting" with no reason given: its note says why.
    const bool tls_refused = !client.ok() && client.status().message().find("TLS") != std::string::npos;
    c.row.note = tls_refused ? c.row.name + " does not answer the launcher: " + client.status().message()
                             : "";
    if (!client.ok()) return no_answer();
    c.client.emplace(std::move(client).value());
    if (!requirepass.empty()) {
      StatusOr<RespValue> auth = c.client->Command({"AUTH", requirepass});
      if (!auth.ok()) return no_answer();
    }
  }
  StatusOr<RespValue> ping = c.client->Command({"PING"});
  if (!ping.ok() || !ping->IsSimple("PONG")) return no_answer();
  c.ever_up = true;
  c.row.state = NodeRow::State::kUp;

  StatusOr<RespValue> info = c.client->Command({"INFO", "replication"});
  if (info.ok() && info->type == RespValue::Type::kBulkString) {
    c.row.peers_connected = InfoField(info->text, "peers_connected");
    c.row.peers_known = InfoField(info->text, "peers_known");
    c.row.lag = InfoField(info->text, "repl_lag_deltas");
  } else {
    c.row.peers_connected.reset();
    c.row.peers_known.reset();
    c.row.lag.reset();
  }
  StatusOr<RespValue> dbsize = c.client->Command({"DBSIZE"});
  if (dbsize.ok() && dbsize->type == RespValue::Type::kInteger) {
    c.row.keys = dbsize->integer;
  } else {
    c.row.keys.reset();
  }
  // A failed INFO or DBSIZE closed the client; the next tick reconnects.
  if (!info.ok() || !dbsize.ok()) c.client.reset();
}

// fork + exec of `<executable> serve <args>`, output appended to the log.
// Everything the child needs is prepared before fork: between fork and
// exec only async-signal-safe calls are made.
Status Launch(const ClusterUpOptions& options, int index, const sigset_t& launcher_signals,
              Child& c) {
  // The node creates its own data directory; only the root is made here.
  const std::string dir = options.data_root;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return UnavailableError("cannot create " + dir + ": " + ec.message());
  const int log_fd = ::open(c.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return UnavailableError("cannot open " + c.log_path + ": " + std::strerror(errno));
  {
    // A marker between runs, since the log is appended to.
    const std::time_t now = std::time(nullptr);
    char when[64];
    std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
    const std::string mark = std::string("--- converge cluster up: starting ") + c.row.name + " at " +
                             when + " ---\n";
    // Deliberately unchecked: the marker is a courtesy, the node's own output matters.
    (void)!::write(log_fd, mark.data(), mark.size());
  }

  std::vector<std::string> words = {"converge", "serve"};
  for (std::string& a : ServeArgsForNode(options, index)) words.push_back(std::move(a));
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  const std::string exec_failed = "converge cluster up: cannot run " + options.executable + ": ";
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const std::string reason = std::strerror(errno);
    ::close(log_fd);
    return UnavailableError("fork: " + reason);
  }
  if (pid == 0) {
    // Own process group: Ctrl-C reaches the launcher only, which stops the
    // nodes in order. PDEATHSIG: if the launcher is killed outright, its
    // nodes do not linger holding the ports.
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::sigprocmask(SIG_UNBLOCK, &launcher_signals, nullptr);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(options.executable.c_str(), argv.data());
    const char* reason = std::strerror(errno);
    (void)!::write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    (void)!::write(STDERR_FILENO, reason, std::strlen(reason));
    (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(127);
  }
  ::close(log_fd);
  c.pid = pid;
  c.running = true;
  return Status::Ok();
}

int CountLines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// Draws the table: redrawn in place on a terminal, appended otherwise.
class TableOutput {
 public:
  TableOutput() : tty_(::isatty(STDOUT_FILENO) == 1) {}

  void Show(const std::string& table, bool force = false) {
    const Clock::time_point now = Clock::now();
    if (tty_) {
      std::string out;
      if (drawn_lines_ > 0) out = "\x1b[" + std::to_string(drawn_lines_) + "A\x1b[J";
      out += table;
      std::fputs(out.c_str(), stdout);
      drawn_lines_ = CountLines(table);
    } else {
      if (table == last_ || (!force && printed_ && now - last_time_ < kPlainRefresh)) return;
      if (printed_) std::fputs("\n", stdout);  // the first table follows the intro's blank line
      std::fputs(table.c_str(), stdout);
      printed_ = true;
    }
    last_ = table;
    last_time_ = now;
    std::fflush(stdout);
  }

  // Text printed below the table ends in-place redrawing of what is above it.
  void Detach() { drawn_lines_ = 0; }

 private:
  const bool tty_;
  int drawn_lines_ = 0;
  bool printed_ = false;
  std::string last_;
  Clock::time_point last_time_{};
};

std::vector<NodeRow> Rows(const std::vector<Child>& children) {
  std::vector<NodeRow> rows;
  for (const Child& c : children) rows.push_back(c.row);
  return rows;
}

// Waits for a signal in `set` until `deadline`; returns it, or 0 on timeout.
int WaitSignal(const sigset_t& set, Clock::time_point deadline) {
  while (true) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    const int sig = ::sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return sig;
    if (errno == EAGAIN) return 0;
    // EINTR: another signal; go round with what is left of the wait.
  }
}

// SIGTERM to every node, up to kStopGrace, then SIGKILL; a second Ctrl-C
// skips the grace period. Returns the one-line summary.
std::string StopAll(std::vector<Child>& children, const sigset_t& set, const std::string& data_root) {
  int asked = 0;
  for (Child& c : children) {
    if (!c.running) continue;
    c.stop_sent = true;
    ::kill(c.pid, SIGTERM);
    ++asked;
  }
  const Clock::time_point deadline = Clock::now() + kStopGrace;
  while (Clock::now() < deadline) {
    Reap(children);
    if (std::none_of(children.begin(), children.end(), [](const Child& c) { return c.running; })) break;
    const int sig = WaitSignal(set, std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
    if (sig == SIGINT || sig == SIGTERM) {
      std::fputs("second signal: killing the nodes now\n", stdout);
      std::fflush(stdout);
      break;
    }
  }
  int killed = 0;
  for (Child& c : children) {
    if (!c.running) continue;
    ::kill(c.pid, SIGKILL);
    int status = 0;
    while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
    }
    MarkExited(c, status);
    ++killed;
  }
  int clean = 0;
  int failed = 0;
  for (const Child& c : children) {
    if (!c.stop_sent || c.row.exit_signal == SIGKILL) continue;
    (c.row.exit_code == 0 && c.row.exit_signal == 0 ? clean : failed) += 1;
  }
  return "converge: stopped " + std::to_string(asked) + " node" + (asked == 1 ? "" : "s") + " (" +
         std::to_string(clean) + " clean, " + std::to_string(failed) + " with errors, " +
         std::to_string(killed) + " killed after " + std::to_string(kStopGrace.count()) +
         " s); logs under " + data_root + "/";
}

}  // namespace

StatusOr<ClusterUpOptions> ParseClusterUpArgs(const std::vector<std::string>& args) {
  ClusterUpOptions o;
  bool nodes_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    const size_t eq = word.find('=');
    const std::string name = word.rfind("--", 0) == 0 ? word.substr(0, eq) : word;
    for (const auto& [owned, why] : kLauncherOwned) {
      if (name == owned) {
        return InvalidArgumentError(name + ": set by cluster up for each node (" + std::string(why) + ")");
      }
    }
    if (name != "--nodes" && name != "--base-port" && name != "--data-root") {
      o.serve_args.push_back(word);
      continue;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = word.substr(eq + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return InvalidArgumentError(name + ": needs a value");
    }
    if (name == "--nodes") {
      const std::optional<int64_t> n = ParseCount(value);
      if (!n || *n < 1 || *n > ClusterUpOptions::kMaxNodes) {
        return InvalidArgumentError("--nodes: must be an integer in 1.." +
                                    std::to_string(ClusterUpOptions::kMaxNodes) + " (got \"" + value + "\")");
      }
      o.nodes = static_cast<int>(*n);
      nodes_given = true;
    } else if (name == "--base-port") {
      const std::optional<int64_t> p = ParseCount(value);
      if (!p || *p < 1 || *p > 65535) {
        return InvalidArgumentError("--base-port: must be an integer in 1..65535 (got \"" + value + "\")");
      }
      o.base_port = static_cast<uint16_t>(*p);
    } else {
      if (value.empty()) return InvalidArgumentError("--data-root: must not be empty");
      o.data_root = value;
    }
  }
  if (!nodes_given) return InvalidArgumentError("--nodes: required (how many nodes to start, e.g. --nodes 3)");
  const int64_t last_peer_port = int64_t{o.base_port} + o.nodes - 1 + kPeerPortOffset;
  if (last_peer_port > 65535) {
    return InvalidArgumentError("--base-port: " + std::to_string(o.nodes) + " nodes from " +
                                std::to_string(o.base_port) + " need peer ports up to " +
                                std::to_string(last_peer_port) + ", past 65535");
  }
  // Check the pass-through options now, once, rather than watch N nodes
  // fail one by one with the same message in N logs.
  StatusOr<NodeOptions> check = ParseServeArgs(ServeArgsForNode(o, 0));
  if (!check.ok()) return check.status();
  return o;
}

std::vector<std::string> ServeArgsForNode(const ClusterUpOptions& o, int index) {
  const uint16_t port = ClientPort(o, index);
  std::vector<std::string> args = {
      "--data-dir", NodeDir(o, index),
      "--name", NodeName(index),
      "--bind", "127.0.0.1",
      "--port", std::to_string(port),
      "--peer-port", std::to_string(port + kPeerPortOffset),
  };
  std::string seeds;
  for (int k = 0; k < o.nodes; ++k) {
    if (k == index) continue;
    if (!seeds.empty()) seeds += ',';
    seeds += "127.0.0.1:" + std::to_string(ClientPort(o, k) + kPeerPortOffset);
  }
  if (!seeds.empty()) {
    args.push_back("--seeds");
    args.push_back(seeds);
  }
  args.insert(args.end(), o.serve_args.begin(), o.serve_args.end());
  return args;
}

std::string StateText(const NodeRow& row) {
  switch (row.state) {
    case NodeRow::State::kStarting:
      return "starting";
    case NodeRow::State::kUp:
      return "up";
    case NodeRow::State::kDown:
      return "down";
    case NodeRow::State::kExited:
      return "exited(" + (row.exit_signal != 0 ? SignalName(row.exit_signal) : std::to_string(row.exit_code)) +
             ")";
  }
  return "?";
}

std::string RenderStatusTable(const std::vector<NodeRow>& rows) {
  std::vector<std::vector<std::string>> cells = {{"node", "port", "state", "peers", "keys", "lag"}};
  for (const NodeRow& r : rows) {
    std::string peers = "-";
    if (r.peers_connected && r.peers_known) {
      peers = *r.peers_connected + "/" + *r.peers_known;
    } else if (r.peers_connected) {
      peers = *r.peers_connected;
    }
    cells.push_back({r.name, std::to_string(r.port), StateText(r), peers,
                     r.keys ? std::to_string(*r.keys) : "-", r.lag.value_or("-")});
  }
  std::vector<size_t> width(cells[0].size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  }
  std::string out;
  for (const auto& line : cells) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(width[i] - line[i].size() + 2, ' ');
    }
    out += text + "\n";
  }
  for (const NodeRow& r : rows) {
    if (!r.note.empty()) out += r.note + "\n";
  }
  return out;
}

int RunClusterUp(const ClusterUpOptions& options) {
  // The password, if any, lets the launcher AUTH before asking its figures;
  // with TLS it connects as a client would, trusting the nodes' CA (and
  // showing their own certificate when --tls-auth-clients asks for one:
  // every node has the same files).
  StatusOr<NodeOptions> first = ParseServeArgs(ServeArgsForNode(options, 0));
  if (!first.ok()) {
    std::fprintf(stderr, "converge: %s\n", first.status().message().c_str());
    return 2;
  }
  const std::string requirepass = first->requirepass;
  std::optional<RespTls> tls;
  std::string connect_flags = requirepass.empty() ? "" : " --askpass";
  if (first->tls()) {
    tls = RespTls{first->tls_ca_file, first->tls_cert_file, first->tls_key_file};
    connect_flags += " --tls --cacert " + first->tls_ca_file;
    if (first->tls_auth_clients) {
      connect_flags += " --cert " + first->tls_cert_file + " --key " + first->tls_key_file;
    }
  }

  // Signals are taken synchronously (WaitSignal), never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGCHLD);
  sigset_t old_mask;
  ::sigprocmask(SIG_BLOCK, &signals, &old_mask);

  std::vector<Child> children(static_cast<size_t>(options.nodes));
  std::printf("Converge: %d-node local cluster on 127.0.0.1, data under %s/ (Ctrl-C stops it)\n",
              options.nodes, options.data_root.c_str());
  for (int i = 0; i < options.nodes; ++i) {
    Child& c = children[static_cast<size_t>(i)];
    c.row.name = NodeName(i);
    c.row.port = ClientPort(options, i);
    c.log_path = LogPath(options, i);
    std::printf("  %-3s client port %u  peer port %u  connect: redis-cli -p %u%s  log: %s\n",
                c.row.name.c_str(), unsigned{c.row.port}, unsigned{c.row.port} + kPeerPortOffset,
                unsigned{c.row.port}, connect_flags.c_str(), c.log_path.c_str());
    if (Status s = Launch(options, i, signals, c); !s.ok()) {
      c.row.state = NodeRow::State::kExited;
      c.row.exit_code = 1;
      c.row.note = c.row.name + " not started: " + s.message();
    }
  }
  std::printf("\n");
  std::fflush(stdout);

  TableOutput table;
  int exit_code = 0;
  bool stop = false;
  while (!stop) {
    const Clock::time_point tick = Clock::now();
    Reap(children);
    for (Child& c : children) {
      if (c.running) Probe(c, requirepass, tls ? &*tls : nullptr);
    }
    Reap(children);  // a node that died during the probe shows as exited, not down
    const bool any_running =
        std::any_of(children.begin(), children.end(), [](const Child& c) { return c.running; });
    table.Show(RenderStatusTable(Rows(children)), /*force=*/!any_running);
    if (!any_running) {
      std::printf("converge: every node has exited; see the logs under %s/\n", options.data_root.c_str());
      exit_code = 1;
      break;
    }
    // Sleep until the next tick; a Ctrl-C ends the loop, a child's exit
    // redraws at once.
    while (true) {
      const int sig = WaitSignal(signals, tick + kRefresh);
      if (sig == SIGINT || sig == SIGTERM) stop = true;
      if (sig != SIGCHLD) break;
      Reap(children);
      if (std::any_of(children.begin(), children.end(),
                      [](const Child& c) { return c.row.state == NodeRow::State::kExited && !c.stop_sent; })) {
        break;
      }
    }
  }

  if (stop) {
    // Without a terminal the last change may still be held back by the
    // 5-second rate limit; the state the cluster was stopped in matters.
    Reap(children);
    table.Show(RenderStatusTable(Rows(children)), /*force=*/true);
    table.Detach();
    std::printf("stopping the nodes...\n");
    std::fflush(stdout);
    std::printf("%s\n", StopAll(children, signals, options.data_root).c_str());
  }
  std::fflush(stdout);
  // Discard a SIGCHLD still pending from the last child, so restoring the
  // mask does not deliver it to a caller that did not ask for it.
  const timespec zero{0, 0};
  while (::sigtimedwait(&signals, nullptr, &zero) > 0) {
  }
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  return exit_code;
}

}  // namespace converge
