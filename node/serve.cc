#include "node/serve.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <cstdio>

#include "node/node.h"

namespace converge {

int Serve(const NodeOptions& options) {
  spdlog::set_level(spdlog::level::from_str(options.log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  StatusOr<std::unique_ptr<Node>> node = Node::Open(options);
  if (!node.ok()) {
    std::fprintf(stderr, "converge: %s\n", node.status().message().c_str());
    return 1;
  }
  Status st = (*node)->Start();
  if (!st.ok()) {
    std::fprintf(stderr, "converge: %s\n", st.message().c_str());
    return 1;
  }
  // Block until SIGINT or SIGTERM, then stop gracefully.
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code&, int sig) {
    spdlog::info("[{}] signal {}: stopping", options.name.empty() ? "node" : options.name, sig);
  });
  signals_io.run();
  (*node)->Stop();
  return 0;
}

}  // namespace converge
