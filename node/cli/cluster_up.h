// `converge cluster up`: starts N `converge serve` processes on 127.0.0.1,
// each seeded with the others, shows a status table refreshed every second,
// and stops them all on Ctrl-C (PROTOCOL.md, The executable). It is what
// `make run` runs, so it is the first thing a new user sees.
//
// The launcher is a plain parent process: no threads, children reaped with
// waitpid, SIGINT/SIGTERM/SIGCHLD taken synchronously with sigtimedwait so
// the one-second sleep is also where a Ctrl-C is noticed.
#ifndef CONVERGE_NODE_CLI_CLUSTER_UP_H_
#define CONVERGE_NODE_CLI_CLUSTER_UP_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crdt/status.h"

namespace converge {

struct ClusterUpOptions {
  // Number of nodes, 1..kMaxNodes. Required.
  int nodes = 0;
  // Client port of n1; nK listens on base_port + K - 1, its peer port is
  // that + 10000. Default 7001.
  uint16_t base_port = 7001;
  // nK keeps its data under data_root/nK and its log in data_root/nK.log. Default "data".
  std::string data_root = "data";
  // Further `serve` options given to every node. Default none.
  std::vector<std::string> serve_args;
  // The program run as `<executable> serve ...`. Default /proc/self/exe, the
  // running converge (tests put another program here).
  std::string executable = "/proc/self/exe";

  static constexpr int kMaxNodes = 64;
};

// Parses the words after `cluster up`: --nodes N, --base-port P,
// --data-root DIR (also as --opt=value); every other word is passed to each
// node's `serve` and checked here by ParseServeArgs, so a typo fails before
// anything starts. Options the launcher sets per node (--data-dir, --name,
// --port, --peer-port, --seeds, --bind) are refused with the reason.
StatusOr<ClusterUpOptions> ParseClusterUpArgs(const std::vector<std::string>& args);

// The `serve` arguments of node `index` (0-based; named n<index+1>):
// --data-dir, --name, --bind 127.0.0.1, --port, --peer-port, --seeds with
// the other nodes' peer addresses, then options.serve_args.
std::vector<std::string> ServeArgsForNode(const ClusterUpOptions& options, int index);

// One line of the status table.
struct NodeRow {
  enum class State { kStarting, kUp, kDown, kExited };

  std::string name;
  uint16_t port = 0;
  State state = State::kStarting;
  // For kExited: the exit code, or the signal that ended the process.
  int exit_code = 0;
  int exit_signal = 0;
  // From INFO replication / DBSIZE; nullopt shows as "-".
  std::optional<std::string> peers_connected;
  std::optional<std::string> peers_known;
  std::optional<int64_t> keys;
  std::optional<std::string> lag;
  // Shown under the table when not empty (why a node exited, where its log is).
  std::string note;
};

// "starting", "up", "down", "exited(1)", "exited(SIGKILL)".
std::string StateText(const NodeRow& row);

// The status table, one line per node under a header, columns aligned:
//   node  port  state  peers  keys  lag
// peers is "connected/known" ("2/2"), "2" when only one is known, "-" when
// neither. Then one line per non-empty note. Ends in a newline. Pure.
std::string RenderStatusTable(const std::vector<NodeRow>& rows);

// Starts the cluster and runs until SIGINT or SIGTERM (then stops every
// node: SIGTERM, up to 10 s, then SIGKILL) or until every node has exited on
// its own. Prints to stdout. Returns the exit code of `converge cluster up`:
// 0 after a Ctrl-C stop, 1 when no node could be started or all have exited.
int RunClusterUp(const ClusterUpOptions& options);

}  // namespace converge

#endif  // CONVERGE_NODE_CLI_CLUSTER_UP_H_
