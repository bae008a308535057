#include "node/cli/cli.h"

#include "node/serve.h"

namespace converge {

int RunCli(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  return RunCommandLine(args, [](const NodeOptions& options) { return Serve(options); });
}

}  // namespace converge
