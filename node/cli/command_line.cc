// RunCommandLine: the dispatch behind RunCli, kept apart from it so that it
// links without Serve() (see cli.h).
#include <cstdio>
#include <string>
#include <vector>

#include "node/cli/cli.h"
#include "node/cli/cluster_up.h"
#include "node/cli/serve_options.h"

#ifndef CONVERGE_VERSION
#error "CONVERGE_VERSION must be defined by the build (PROJECT_VERSION)"
#endif

namespace converge {
namespace {

constexpr char kUsage[] =
    "usage:\n"
    "  converge serve --data-dir DIR [options]     run one node (converge serve --help)\n"
    "  converge cluster up --nodes N [--base-port 7001] [--data-root DIR] [serve options]\n"
    "                                              run N local nodes until Ctrl-C\n"
    "  converge --version\n";

constexpr char kClusterUpUsage[] =
    "usage: converge cluster up --nodes N [--base-port 7001] [--data-root DIR] [serve options]\n"
    "\n"
    "Starts N `converge serve` processes on 127.0.0.1: nK is named nK, listens on\n"
    "base-port+K-1 (peer port +10000), keeps its data under DATA-ROOT/nK\n"
    "(default ./data), its log in DATA-ROOT/nK.log, and is seeded with the others. Other serve\n"
    "options (e.g. --fsync always, --requirepass PW) are given to every node.\n"
    "Shows a status table every second; Ctrl-C stops all nodes.\n";

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") return true;
  }
  return false;
}

int BadUsage(const std::string& reason) {
  if (!reason.empty()) std::fprintf(stderr, "converge: %s\n", reason.c_str());
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace

int RunCommandLine(const std::vector<std::string>& args, const ServeFunction& serve) {
  if (args.empty()) return BadUsage("");
  const std::string& command = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());

  if (command == "--version" || command == "version") {
    std::printf("converge %s\n", CONVERGE_VERSION);
    return 0;
  }
  if (command == "-h" || command == "--help" || command == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (command == "serve") {
    if (WantsHelp(rest)) {
      std::fputs(ServeUsage().c_str(), stdout);
      return 0;
    }
    StatusOr<NodeOptions> options = ParseServeArgs(rest);
    if (!options.ok()) {
      std::fprintf(stderr, "converge: %s\n", options.status().message().c_str());
      return 2;
    }
    return serve(*options);
  }
  if (command == "cluster") {
    if (rest.empty() || rest[0] != "up") {
      return BadUsage(rest.empty() ? "cluster: missing subcommand (up)"
                                   : "cluster: unknown subcommand \"" + rest[0] + "\" (only up)");
    }
    const std::vector<std::string> up_args(rest.begin() + 1, rest.end());
    if (WantsHelp(up_args)) {
      std::fputs(kClusterUpUsage, stdout);
      return 0;
    }
    StatusOr<ClusterUpOptions> options = ParseClusterUpArgs(up_args);
    if (!options.ok()) {
      std::fprintf(stderr, "converge: %s\n", options.status().message().c_str());
      std::fputs(kClusterUpUsage, stderr);
      return 2;
    }
    return RunClusterUp(*options);
  }
  return BadUsage("unknown command \"" + command + "\"");
}

}  // namespace converge
