#include "node/serve.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>

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
  // Block until SIGINT or SIGTERM, then stop gracefully. SIGHUP reloads the
  // TLS files (a rotated certificate) and goes on serving; ReloadTls logs
  // the outcome, and a node without TLS says so.
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM, SIGHUP);
  const std::string who = options.name.empty() ? "node" : options.name;
  std::function<void(const asio::error_code&, int)> on_signal = [&](const asio::error_code& ec,
                                                                    int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      if (Status s = (*node)->ReloadTls(); !s.ok() && !options.tls()) {
        spdlog::info("[{}] SIGHUP: nothing to reload ({})", who, s.message());
      }
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("[{}] signal {}: stopping", who, sig);
  };
  signals.async_wait(on_signal);
  signals_io.run();
  (*node)->Stop();
  return 0;
}

}  // namespace converge
