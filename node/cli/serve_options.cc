#include "node/cli/serve_options.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <utility>
#include <variant>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

#include "node/cli/option_values.h"

namespace converge {
namespace {

using option_values::CheckInteger;
using option_values::CheckOneOf;
using option_values::CheckSeed;
using option_values::CheckText;
using option_values::Invalid;
using option_values::Quote;
using option_values::RawValue;
using option_values::Unsupported;

// How an option's value is checked. Flags and files share one table so the
// command line and the TOML file cannot drift apart.
enum class Kind {
  kText,        // non-empty string
  kPort,        // 1..65535
  kPortOrOff,   // 0..65535, 0 = off
  kMillis,      // 1..kMaxMillis
  kThreads,     // 1..kMaxThreads
  kFsync,       // always | batch | everysec
  kLogLevel,    // trace | debug | info | warn | error
  kSeeds,       // "h:q,h:q" or, in TOML, ["h:q", "h:q"]
  kFlag,        // bool
  kSecretFile,  // path, read once the winning value is known
  kFile,        // path of a file that must be readable (checked at the end)
};

struct OptionSpec {
  std::string_view name;  // without dashes: the TOML key
  Kind kind;
  std::string_view value_name;
  std::string_view help;
};

// One day: far beyond any sensible period, and small enough that the node can
// turn it into nanoseconds without overflow.
constexpr int64_t kMaxMillis = 86'400'000;
constexpr int64_t kMaxThreads = 64;

// PROTOCOL.md, The executable. The order is the order of `serve --help`.
constexpr OptionSpec kOptions[] = {
    {"data-dir", Kind::kText, "DIR", "RocksDB data directory; created if missing (required)"},
    {"name", Kind::kText, "NAME", "name of the node, unique in the cluster (default host:port)"},
    {"bind", Kind::kText, "ADDR", "address both listeners bind (default 127.0.0.1)"},
    {"port", Kind::kPort, "P", "client port, RESP2 (default 6380)"},
    {"peer-port", Kind::kPort, "Q", "peer port, cluster bus (default P + 10000)"},
    {"seeds", Kind::kSeeds, "H:Q,...", "peer addresses to join through (default none)"},
    {"cluster-secret-file", Kind::kSecretFile, "F",
     "file holding the shared secret peers must prove (default none)"},
    {"requirepass", Kind::kText, "PW", "password clients must AUTH with (default none)"},
    {"tls-cert", Kind::kFile, "FILE",
     "PEM certificate chain of this node; with --tls-key and --tls-ca, TLS on both ports "
     "(default none)"},
    {"tls-key", Kind::kFile, "FILE", "PEM private key of --tls-cert (default none)"},
    {"tls-ca", Kind::kFile, "FILE",
     "PEM CA certificate that signs every node's certificate; peers verify each other "
     "against it (default none)"},
    {"tls-auth-clients", Kind::kFlag, "",
     "clients must present a certificate signed by --tls-ca (default off: TLS only)"},
    {"backup-dir", Kind::kText, "DIR",
     "directory CHECKPOINT writes backups under; unset = CHECKPOINT off (default none)"},
    {"http-port", Kind::kPortOrOff, "H",
     "port of /metrics, /healthz and the status page; 0 = off (default 0)"},
    {"fsync", Kind::kFsync, "always|batch|everysec",
     "when an acknowledged write is on disk (default everysec)"},
    {"gossip-interval-ms", Kind::kMillis, "MS", "anti-entropy period (default 200)"},
    {"max-clock-offset-ms", Kind::kMillis, "MS", "HLC skew bound (default 500)"},
    {"fault-injection", Kind::kFlag, "", "enable the DEBUG fault commands (default off)"},
    {"threads", Kind::kThreads, "N",
     "threads serving client and peer connections (default: 1 with at most 2 CPUs, else 2)"},
    {"log-level", Kind::kLogLevel, "trace|debug|info|warn|error", "log level (default info)"},
};

constexpr std::string_view kFsyncNames[] = {"always", "batch", "everysec"};
constexpr FsyncMode kFsyncModes[] = {FsyncMode::kAlways, FsyncMode::kBatch, FsyncMode::kEverySec};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};

// Options as they are assembled: NodeOptions plus what is only known once
// every source is read.
struct Assembly {
  NodeOptions options;
  bool data_dir_given = false;
  std::string secret_file;  // the winning --cluster-secret-file, read at the end
  std::string secret_label;
  std::optional<std::string> port_label;       // where --port was set, for cross checks
  std::optional<std::string> peer_port_label;  // where --peer-port was set
  std::map<std::string, std::string, std::less<>> file_labels;  // kFile option -> where set
};

// Checks one value and stores it. `label` is where the value came from, as
// the user would find it: "--port" or "node.toml: port".
Status Apply(const OptionSpec& spec, const RawValue& raw, std::string_view label, bool from_command_line,
             Assembly& a) {
  NodeOptions& o = a.options;
  switch (spec.kind) {
    case Kind::kText: {
      CONVERGE_ASSIGN_OR_RETURN(std::string s, CheckText(raw, label));
      if (spec.name == "data-dir") {
        o.data_dir = std::move(s);
        a.data_dir_given = true;
      } else if (spec.name == "name") {
        // The name appears in every log line and in status tables.
        if (std::any_of(s.begin(), s.end(), [](char c) { return c <= ' ' || c == 0x7f; })) {
          return Invalid(label, "must not contain spaces or control characters", s);
        }
        o.name = std::move(s);
      } else if (spec.name == "bind") {
        o.bind = std::move(s);
      } else if (spec.name == "requirepass") {
        o.requirepass = std::move(s);
      } else if (spec.name == "backup-dir") {
        o.backup_dir = std::move(s);
      }
      return Status::Ok();
    }
    case Kind::kPort:
    case Kind::kPortOrOff: {
      CONVERGE_ASSIGN_OR_RETURN(
          const int64_t p, CheckInteger(raw, spec.kind == Kind::kPort ? 1 : 0, 65535, label, from_command_line));
      if (spec.name == "port") {
        o.port = static_cast<uint16_t>(p);
        a.port_label = std::string(label);
      } else if (spec.name == "peer-port") {
        o.peer_port = static_cast<uint16_t>(p);
        a.peer_port_label = std::string(label);
      } else if (spec.name == "http-port") {
        o.http_port = static_cast<uint16_t>(p);
      }
      return Status::Ok();
    }
    case Kind::kMillis: {
      CONVERGE_ASSIGN_OR_RETURN(const int64_t ms, CheckInteger(raw, 1, kMaxMillis, label, from_command_line));
      if (spec.name == "gossip-interval-ms") o.gossip_interval_ms = static_cast<uint64_t>(ms);
      if (spec.name == "max-clock-offset-ms") o.max_clock_offset_ms = static_cast<uint64_t>(ms);
      return Status::Ok();
    }
    case Kind::kThreads: {
      CONVERGE_ASSIGN_OR_RETURN(const int64_t n, CheckInteger(raw, 1, kMaxThreads, label, from_command_line));
      o.threads = static_cast<int>(n);
      return Status::Ok();
    }
    case Kind::kFsync: {
      CONVERGE_ASSIGN_OR_RETURN(const size_t i, CheckOneOf(raw, kFsyncNames, label));
      o.fsync = kFsyncModes[i];
      return Status::Ok();
    }
    case Kind::kLogLevel: {
      CONVERGE_ASSIGN_OR_RETURN(const size_t i, CheckOneOf(raw, kLogLevels, label));
      o.log_level = std::string(kLogLevels[i]);
      return Status::Ok();
    }
    case Kind::kSeeds: {
      if (const auto* s = std::get_if<std::string>(&raw)) {
        CONVERGE_ASSIGN_OR_RETURN(o.seeds, ParseSeedList(*s, label));
        return Status::Ok();
      }
      if (const auto* list = std::get_if<std::vector<std::string>>(&raw)) {
        for (const std::string& seed : *list) CONVERGE_RETURN_IF_ERROR(CheckSeed(seed, label));
        o.seeds = *list;
        return Status::Ok();
      }
      return Invalid(label, "must be an array of \"host:port\" strings or one comma-separated string",
                     raw);
    }
    case Kind::kFlag: {
      const auto* b = std::get_if<bool>(&raw);
      if (b == nullptr) return Invalid(label, "must be true or false", raw);
      if (spec.name == "fault-injection") o.fault_injection = *b;
      if (spec.name == "tls-auth-clients") o.tls_auth_clients = *b;
      return Status::Ok();
    }
    case Kind::kFile: {
      CONVERGE_ASSIGN_OR_RETURN(std::string path, CheckText(raw, label));
      if (spec.name == "tls-cert") o.tls_cert_file = std::move(path);
      if (spec.name == "tls-key") o.tls_key_file = std::move(path);
      if (spec.name == "tls-ca") o.tls_ca_file = std::move(path);
      a.file_labels[std::string(spec.name)] = std::string(label);
      return Status::Ok();
    }
    case Kind::kSecretFile: {
      CONVERGE_ASSIGN_OR_RETURN(a.secret_file, CheckText(raw, label));
      a.secret_label = std::string(label);
      return Status::Ok();
    }
  }
  return InternalError(std::string(label) + ": option kind not handled");
}

const OptionSpec* FindSpec(std::string_view name) {
  for (const OptionSpec& spec : kOptions) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

RawValue FromToml(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return std::string(node.as_string()->get());
    case toml::node_type::integer:
      return node.as_integer()->get();
    case toml::node_type::boolean:
      return node.as_boolean()->get();
    case toml::node_type::array: {
      std::vector<std::string> out;
      for (const toml::node& element : *node.as_array()) {
        if (!element.is_string()) return Unsupported{"an array holding a non-string"};
        out.emplace_back(element.as_string()->get());
      }
      return out;
    }
    case toml::node_type::floating_point:
      return Unsupported{"a float"};
    case toml::node_type::table:
      return Unsupported{"a table"};
    default:
      return Unsupported{"a date or time"};
  }
}

std::string ErrnoText(int err) { return std::strerror(err); }

// Reads a whole file; the error says why in the OS's words.
StatusOr<std::string> ReadWholeFile(const std::string& path, std::string_view label) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return InvalidArgumentError(std::string(label) + ": cannot read " + Quote(path) + ": Is a directory");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return InvalidArgumentError(std::string(label) + ": cannot read " + Quote(path) + ": " +
                                ErrnoText(errno != 0 ? errno : ENOENT));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return InvalidArgumentError(std::string(label) + ": cannot read " + Quote(path) + ": " +
                                ErrnoText(errno != 0 ? errno : EIO));
  }
  return content.str();
}

Status ApplyConfigFile(const std::string& path, Assembly& a) {
  CONVERGE_ASSIGN_OR_RETURN(const std::string text, ReadWholeFile(path, "--config"));
  toml::table table;
#if TOML_EXCEPTIONS
  try {
    table = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    std::string reason(e.description());
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    return InvalidArgumentError(path + ":" + std::to_string(where.line) + ":" +
                                std::to_string(where.column) + ": " + reason);
  }
#else
  toml::parse_result result = toml::parse(text, path);
  if (!result) {
    const auto& where = result.error().source().begin;
    std::string reason(result.error().description());
    std::replace(reason.begin(), reason.end(), '\n', ' ');
    return InvalidArgumentError(path + ":" + std::to_string(where.line) + ":" +
                                std::to_string(where.column) + ": " + reason);
  }
  table = std::move(result).table();
#endif
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const OptionSpec* spec = FindSpec(name);
    if (spec == nullptr) {
      return InvalidArgumentError(path + ":" + std::to_string(key.source().begin.line) + ": unknown key " +
                                  Quote(name) + " (keys are the serve options without dashes)");
    }
    const std::string label = path + ":" + std::to_string(node.source().begin.line) + ": " + name;
    CONVERGE_RETURN_IF_ERROR(Apply(*spec, FromToml(node), label, /*from_command_line=*/false, a));
  }
  return Status::Ok();
}

// Builds the CLI11 parser over string-valued options: CLI11 only splits the
// words, every check happens in Apply so flags and TOML say the same thing.
struct CommandLine {
  CLI::App app{"Run one Converge node until SIGINT or SIGTERM.", "converge serve"};
  std::map<std::string, std::string, std::less<>> text;
  std::vector<std::string> seeds;
  std::map<std::string, bool, std::less<>> flags;
  std::string config;
  std::map<std::string, CLI::Option*, std::less<>> opts;

  CommandLine() {
    app.allow_extras(true);  // reported by us, by name
    app.set_help_flag("-h,--help", "print this help and exit");
    opts["config"] = app.add_option("--config", config, "TOML file of these options; flags win")
                         ->type_name("FILE");
    for (const OptionSpec& spec : kOptions) {
      const std::string flag = "--" + std::string(spec.name);
      const std::string help(spec.help);
      CLI::Option* opt = nullptr;
      if (spec.kind == Kind::kFlag) {
        opt = app.add_flag(flag, flags[std::string(spec.name)], help);
      } else if (spec.kind == Kind::kSeeds) {
        // Repeatable: "--seeds a:1 --seeds b:2" means "--seeds a:1,b:2".
        opt = app.add_option(flag, seeds, help)
                  ->type_name(std::string(spec.value_name))
                  ->expected(1)
                  ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
      } else {
        opt = app.add_option(flag, text[std::string(spec.name)], help)
                  ->type_name(std::string(spec.value_name));
      }
      opts[std::string(spec.name)] = opt;
    }
  }
};

std::string OneLine(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Runs CLI11 over the words; its exceptions become a Status here.
Status SplitWords(CommandLine& cl, std::vector<std::string> args) {
  try {
    std::reverse(args.begin(), args.end());  // CLI11's vector overload wants them reversed
    cl.app.parse(args);
  } catch (const CLI::CallForHelp&) {
    return InvalidArgumentError("--help: not an option here (use `converge serve --help`)");
  } catch (const CLI::ArgumentMismatch& e) {
    const std::string what = e.what();
    const size_t colon = what.find(':');
    const std::string name = colon == std::string::npos ? "" : what.substr(0, colon);
    if (what.find("At Most") != std::string::npos) {
      return InvalidArgumentError(name + ": given more than once");
    }
    if (what.find("missing") != std::string::npos) return InvalidArgumentError(name + ": needs a value");
    return InvalidArgumentError(OneLine(what));
  } catch (const CLI::Error& e) {
    return InvalidArgumentError(OneLine(e.what()));
  } catch (const std::exception& e) {
    return InvalidArgumentError(OneLine(e.what()));
  }
  const std::vector<std::string> extras = cl.app.remaining();
  if (!extras.empty()) {
    const std::string& first = extras.front();
    if (first.size() > 1 && first[0] == '-') {
      const std::string name = first.substr(0, first.find('='));
      return InvalidArgumentError("unknown option " + name + " (see `converge serve --help`)");
    }
    return InvalidArgumentError("unexpected argument " + Quote(first) +
                                " (options take the form --name VALUE)");
  }
  return Status::Ok();
}

// TLS files come as a set, and each must be readable now: a typo should stop
// the node at once (exit 2), not at its first connection. Whether the PEM
// inside parses is the node's check when it opens (exit 1, naming the file).
Status CheckTls(const Assembly& a) {
  const NodeOptions& o = a.options;
  const bool any = !o.tls_cert_file.empty() || !o.tls_key_file.empty() || !o.tls_ca_file.empty();
  if (!any) {
    if (o.tls_auth_clients) {
      return InvalidArgumentError("--tls-auth-clients: needs TLS (--tls-cert, --tls-key, --tls-ca)");
    }
    return Status::Ok();
  }
  const std::pair<const char*, const std::string*> files[] = {
      {"tls-cert", &o.tls_cert_file}, {"tls-key", &o.tls_key_file}, {"tls-ca", &o.tls_ca_file}};
  for (const auto& [name, path] : files) {
    if (path->empty()) {
      return InvalidArgumentError(std::string("--") + name +
                                  ": required with the other TLS options (--tls-cert, --tls-key "
                                  "and --tls-ca go together)");
    }
  }
  for (const auto& [name, path] : files) {
    auto it = a.file_labels.find(std::string_view(name));
    const std::string label = it != a.file_labels.end() ? it->second : std::string("--") + name;
    StatusOr<std::string> content = ReadWholeFile(*path, label);
    if (!content.ok()) return content.status();
    if (content->empty()) return InvalidArgumentError(label + ": " + Quote(*path) + " is empty");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<std::string>> ParseSeedList(std::string_view text, std::string_view label) {
  std::vector<std::string> seeds;
  if (text.empty()) return seeds;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    std::string_view seed = text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    // "a:1, b:2" is how people write lists; the spaces are not part of an address.
    while (!seed.empty() && seed.front() == ' ') seed.remove_prefix(1);
    while (!seed.empty() && seed.back() == ' ') seed.remove_suffix(1);
    if (seed.empty()) return Invalid(label, "has an empty entry in the list", std::string(text));
    CONVERGE_RETURN_IF_ERROR(CheckSeed(seed, label));
    seeds.emplace_back(seed);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return seeds;
}

StatusOr<std::string> ReadSecretFile(const std::string& path, std::string_view label) {
  CONVERGE_ASSIGN_OR_RETURN(std::string secret, ReadWholeFile(path, label));
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) {
    return InvalidArgumentError(std::string(label) + ": " + Quote(path) +
                                " is empty; a cluster secret must have at least one byte");
  }
  return secret;
}

StatusOr<NodeOptions> ParseServeArgs(std::vector<std::string> args) {
  CommandLine cl;
  CONVERGE_RETURN_IF_ERROR(SplitWords(cl, std::move(args)));

  Assembly a;
  if (cl.opts["config"]->count() > 0) CONVERGE_RETURN_IF_ERROR(ApplyConfigFile(cl.config, a));

  // Flags second, so they win over the file.
  for (const OptionSpec& spec : kOptions) {
    const CLI::Option* opt = cl.opts.find(spec.name)->second;
    if (opt->count() == 0) continue;
    const std::string label = "--" + std::string(spec.name);
    RawValue raw;
    if (spec.kind == Kind::kFlag) {
      raw = cl.flags.find(spec.name)->second;
    } else if (spec.kind == Kind::kSeeds) {
      std::string joined;
      for (const std::string& s : cl.seeds) joined += (joined.empty() ? "" : ",") + s;
      raw = joined;
    } else {
      raw = cl.text.find(spec.name)->second;
    }
    CONVERGE_RETURN_IF_ERROR(Apply(spec, raw, label, /*from_command_line=*/true, a));
  }

  NodeOptions& o = a.options;
  if (!a.data_dir_given) {
    return InvalidArgumentError("--data-dir: required (on the command line or as data-dir in --config)");
  }
  if (!a.secret_file.empty()) {
    CONVERGE_ASSIGN_OR_RETURN(o.cluster_secret, ReadSecretFile(a.secret_file, a.secret_label));
  }
  CONVERGE_RETURN_IF_ERROR(CheckTls(a));
  // effective_peer_port() would wrap around past 65535.
  if (o.peer_port == 0 && o.port > 65535 - 10000) {
    return InvalidArgumentError(a.port_label.value_or("--port") + ": " + std::to_string(o.port) +
                                " + 10000 is past 65535; give --peer-port");
  }
  if (o.effective_peer_port() == o.port) {
    return InvalidArgumentError(a.peer_port_label.value_or("--peer-port") +
                                ": must differ from the client port (both " + std::to_string(o.port) +
                                ")");
  }
  if (o.http_port != 0 && (o.http_port == o.port || o.http_port == o.effective_peer_port())) {
    return InvalidArgumentError("--http-port: must differ from the client and peer ports (got " +
                                std::to_string(o.http_port) + ")");
  }
  return o;
}

std::string ServeUsage() {
  try {
    CommandLine cl;
    return cl.app.help();
  } catch (const std::exception& e) {
    return std::string("converge serve --data-dir DIR [options]\n(help unavailable: ") + e.what() +
           ")\n";
  }
}

}  // namespace converge
