// The entry point `converge serve` runs: opens a node from options, serves
// until SIGINT or SIGTERM, stops gracefully.
#ifndef CONVERGE_NODE_SERVE_H_
#define CONVERGE_NODE_SERVE_H_

#include "node/options.h"

namespace converge {

// Returns the process exit code: 0 after a clean stop on SIGINT/SIGTERM,
// 1 on a runtime failure (logged, with a one-line reason on stderr).
int Serve(const NodeOptions& options);

}  // namespace converge

#endif  // CONVERGE_NODE_SERVE_H_
