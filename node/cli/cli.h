// The `converge` command line (PROTOCOL.md, The executable):
//
//   converge serve --data-dir DIR [options]
//   converge cluster up --nodes N [--base-port 7001] [--data-root DIR] [serve options]
//   converge --version
//
// Exit codes: what Serve() returns for `serve` (0 clean stop, 1 runtime
// failure); 2 for bad arguments or configuration, with `converge: <reason>`
// on stderr; 0 for --version and --help.
#ifndef CONVERGE_NODE_CLI_CLI_H_
#define CONVERGE_NODE_CLI_CLI_H_

#include <functional>
#include <string>
#include <vector>

#include "node/options.h"

namespace converge {

// What `converge serve` runs once its options are parsed.
using ServeFunction = std::function<int(const NodeOptions&)>;

// main() of the converge executable: RunCommandLine with Serve() from
// node/serve.h. Defined in cli.cc, the only part of converge_cli that needs
// converge::node, so the library's tests link without the node.
int RunCli(int argc, char** argv);

// Dispatches the words after the program name; `serve` is called for
// `converge serve` with the parsed options. Returns the process exit code.
// Prints usage and errors to stderr, --version and --help to stdout.
int RunCommandLine(const std::vector<std::string>& args, const ServeFunction& serve);

}  // namespace converge

#endif  // CONVERGE_NODE_CLI_CLI_H_
