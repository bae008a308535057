// Turns the words after `converge serve` (and the TOML file named by
// --config) into NodeOptions, the contract of PROTOCOL.md, The executable.
//
// Every refusal is InvalidArgument with a one-line reason that names the
// option, because the command line prints it as `converge: <reason>` and
// exits 2. No exception leaves this module: CLI11 and toml++ throw, and both
// are caught here.
//
// Thread-safe: the functions keep no state.
#ifndef CONVERGE_NODE_CLI_SERVE_OPTIONS_H_
#define CONVERGE_NODE_CLI_SERVE_OPTIONS_H_

#include <string>
#include <string_view>
#include <vector>

#include "crdt/status.h"
#include "node/options.h"

namespace converge {

// Parses `serve` arguments (without the word "serve"), e.g.
// {"--data-dir", "d", "--port=7001", "--seeds", "127.0.0.1:17002"}.
//
// `--config FILE` loads a TOML file whose keys are the option names without
// the leading dashes (data-dir = "d", port = 7001, seeds = ["h:1", "h:2"] or
// "h:1,h:2", fault-injection = true, ...). A flag given on the command line
// wins over the same key in the file; every value in the file is still
// checked, so a broken file is reported even when a flag overrides the key.
// The one exception is cluster-secret-file: only the file that wins is read.
//
// Relative paths (data-dir, cluster-secret-file) are relative to the current
// directory, in the file as on the command line, as redis.conf does.
//
// --peer-port left out leaves NodeOptions::peer_port at 0 (= port + 10000).
// --cluster-secret-file is read here: the secret, less one trailing newline,
// lands in NodeOptions::cluster_secret.
//
// `--help` is not handled here (it is not an error): callers look for it
// first and print ServeUsage().
StatusOr<NodeOptions> ParseServeArgs(std::vector<std::string> args);

// The help text of `converge serve`, one line per option with its default.
std::string ServeUsage();

// Splits "h:1,h:2" into host:port strings and checks each one (host
// non-empty, "[v6]:port" accepted, port 1..65535). An empty string is no
// seeds. `label` names the option in the error ("--seeds").
StatusOr<std::vector<std::string>> ParseSeedList(std::string_view text, std::string_view label);

// Reads a secret file: refuses an unreadable or empty file, strips one
// trailing "\n" or "\r\n" (editors add it; it is not part of the secret).
StatusOr<std::string> ReadSecretFile(const std::string& path, std::string_view label);

}  // namespace converge

#endif  // CONVERGE_NODE_CLI_SERVE_OPTIONS_H_
