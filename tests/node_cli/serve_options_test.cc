#include "node/cli/serve_options.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/node_cli/temp_dir.h"
#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using testing::TempDir;

// Every refusal is InvalidArgument, one line, naming what was wrong.
void ExpectRefused(const StatusOr<NodeOptions>& result, const std::string& names) {
  ASSERT_FALSE(result.ok()) << "accepted, expected a refusal naming " << names;
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().ToString();
  EXPECT_EQ(result.status().message().find('\n'), std::string::npos) << result.status().message();
  EXPECT_NE(result.status().message().find(names), std::string::npos)
      << "message does not name " << names << ": " << result.status().message();
}

TEST(ServeOptionsTest, DefaultsAreThoseOfTheProtocol) {
  StatusOr<NodeOptions> o = ParseServeArgs({"--data-dir", "d"});
  ASSERT_OK(o);
  EXPECT_EQ(o->data_dir, "d");
  EXPECT_EQ(o->name, "");  // the node fills in host:port
  EXPECT_EQ(o->bind, "127.0.0.1");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->peer_port, 0);
  EXPECT_EQ(o->effective_peer_port(), 16380);
  EXPECT_TRUE(o->seeds.empty());
  EXPECT_EQ(o->cluster_secret, "");
  EXPECT_EQ(o->requirepass, "");
  EXPECT_EQ(o->http_port, 0);
  EXPECT_EQ(o->fsync, FsyncMode::kEverySec);
  EXPECT_EQ(o->gossip_interval_ms, 200u);
  EXPECT_EQ(o->max_clock_offset_ms, 500u);
  EXPECT_FALSE(o->fault_injection);
  EXPECT_EQ(o->log_level, "info");
  EXPECT_EQ(o->threads, 0);  // automatic
  EXPECT_EQ(o->effective_threads(), std::thread::hardware_concurrency() <= 2 ? 1 : 2);
  o->threads = 3;
  EXPECT_EQ(o->effective_threads(), 3);
}

TEST(ServeOptionsTest, EveryOptionFromFlags) {
  TempDir dir;
  const std::string secret = dir.Write("secret", "s3cret\n");
  StatusOr<NodeOptions> o = ParseServeArgs({
      "--data-dir", "/var/lib/converge", "--name", "n1", "--bind", "0.0.0.0", "--port", "7001",
      "--peer-port", "17101", "--seeds", "127.0.0.1:17002,[::1]:17003", "--cluster-secret-file", secret,
      "--requirepass", "pw", "--http-port", "9100", "--fsync", "always", "--gossip-interval-ms", "50",
      "--max-clock-offset-ms", "250", "--fault-injection", "--threads", "3", "--log-level", "debug"});
  ASSERT_OK(o);
  EXPECT_EQ(o->threads, 3);
  EXPECT_EQ(o->data_dir, "/var/lib/converge");
  EXPECT_EQ(o->name, "n1");
  EXPECT_EQ(o->bind, "0.0.0.0");
  EXPECT_EQ(o->port, 7001);
  EXPECT_EQ(o->peer_port, 17101);
  EXPECT_EQ(o->seeds, (std::vector<std::string>{"127.0.0.1:17002", "[::1]:17003"}));
  EXPECT_EQ(o->cluster_secret, "s3cret");
  EXPECT_EQ(o->requirepass, "pw");
  EXPECT_EQ(o->http_port, 9100);
  EXPECT_EQ(o->fsync, FsyncMode::kAlways);
  EXPECT_EQ(o->gossip_interval_ms, 50u);
  EXPECT_EQ(o->max_clock_offset_ms, 250u);
  EXPECT_TRUE(o->fault_injection);
  EXPECT_EQ(o->log_level, "debug");
}

TEST(ServeOptionsTest, EqualsFormAndEveryFsyncAndLogLevel) {
  StatusOr<NodeOptions> o = ParseServeArgs({"--data-dir=d", "--port=7002", "--fsync=batch"});
  ASSERT_OK(o);
  EXPECT_EQ(o->port, 7002);
  EXPECT_EQ(o->fsync, FsyncMode::kBatch);
  for (const char* level : {"trace", "debug", "info", "warn", "error"}) {
    StatusOr<NodeOptions> l = ParseServeArgs({"--data-dir", "d", "--log-level", level});
    ASSERT_OK(l);
    EXPECT_EQ(l->log_level, level);
  }
}

TEST(ServeOptionsTest, SeedsMayBeRepeatedAndSpaced) {
  StatusOr<NodeOptions> o =
      ParseServeArgs({"--data-dir", "d", "--seeds", "a:1, b:2", "--seeds", "c.example:3"});
  ASSERT_OK(o);
  EXPECT_EQ(o->seeds, (std::vector<std::string>{"a:1", "b:2", "c.example:3"}));
}

TEST(ServeOptionsTest, SeedListParsing) {
  StatusOr<std::vector<std::string>> none = ParseSeedList("", "--seeds");
  ASSERT_OK(none);
  EXPECT_TRUE(none->empty());
  StatusOr<std::vector<std::string>> v6 = ParseSeedList("[fe80::1]:17001,10.0.0.2:65535", "--seeds");
  ASSERT_OK(v6);
  EXPECT_EQ(*v6, (std::vector<std::string>{"[fe80::1]:17001", "10.0.0.2:65535"}));
  for (const char* bad : {"nohost", "h:0", "h:65536", ":7001", "h:", "h:x", "a:1,,b:2", "::1:7001",
                          "a b:1", "h:+1"}) {
    StatusOr<std::vector<std::string>> r = ParseSeedList(bad, "--seeds");
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message().rfind("--seeds: ", 0), 0u) << r.status().message();
  }
}

TEST(ServeOptionsTest, InvalidFlagsAreRefusedNamingTheOption) {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const std::vector<Case> cases = {
      {{"--port", "0"}, "--port"},
      {{"--port", "65536"}, "--port"},
      {{"--port", "abc"}, "--port"},
      {{"--port", "-1"}, "--port"},
      {{"--port", " 7001"}, "--port"},
      {{"--port", ""}, "--port"},
      {{"--peer-port", "0"}, "--peer-port"},
      {{"--http-port", "70000"}, "--http-port"},
      {{"--http-port", "x"}, "--http-port"},
      {{"--fsync", "sometimes"}, "--fsync"},
      {{"--log-level", "verbose"}, "--log-level"},
      {{"--log-level", "INFO"}, "--log-level"},
      {{"--gossip-interval-ms", "0"}, "--gossip-interval-ms"},
      {{"--threads", "0"}, "--threads"},
      {{"--threads", "65"}, "--threads"},
      {{"--gossip-interval-ms", "1.5"}, "--gossip-interval-ms"},
      {{"--max-clock-offset-ms", "0"}, "--max-clock-offset-ms"},
      {{"--max-clock-offset-ms", "99999999999999999999"}, "--max-clock-offset-ms"},
      {{"--seeds", "nohost"}, "--seeds"},
      {{"--seeds", "h:0"}, "--seeds"},
      {{"--name", ""}, "--name"},
      {{"--name", "my node"}, "--name"},
      {{"--bind", ""}, "--bind"},
      {{"--requirepass", ""}, "--requirepass"},
      {{"--cluster-secret-file", "/nonexistent/secret"}, "--cluster-secret-file"},
      {{"--prot", "7001"}, "--prot"},
      {{"--prot=7001"}, "--prot"},
      {{"stray"}, "stray"},
      {{"--port"}, "--port"},
      {{"--port", "1", "--port", "2"}, "--port"},
      {{"--port", "60000"}, "--port"},                     // peer port would be past 65535
      {{"--port", "7001", "--peer-port", "7001"}, "--peer-port"},
      {{"--port", "7001", "--http-port", "17001"}, "--http-port"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--data-dir", "d"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    SCOPED_TRACE(::testing::PrintToString(args));
    ExpectRefused(ParseServeArgs(args), c.names);
  }
}

TEST(ServeOptionsTest, RefusalMessagesReadWell) {
  StatusOr<NodeOptions> o = ParseServeArgs({"--data-dir", "d", "--fsync", "sometimes"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), "--fsync: must be one of always, batch, everysec (got \"sometimes\")");
  o = ParseServeArgs({"--data-dir", "d", "--port", "70000"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), "--port: must be an integer in 1..65535 (got \"70000\")");
  o = ParseServeArgs({"--data-dir", "d", "--bogus"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), "unknown option --bogus (see `converge serve --help`)");
  o = ParseServeArgs({"--data-dir", "d", "--port"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(), "--port: needs a value");
  // A value with a newline cannot break the one-line rule.
  o = ParseServeArgs({"--data-dir", "d", "--log-level", "info\nerror"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(),
            "--log-level: must be one of trace, debug, info, warn, error (got \"info\\nerror\")");
}

TEST(ServeOptionsTest, DataDirIsRequired) {
  ExpectRefused(ParseServeArgs({}), "--data-dir");
  ExpectRefused(ParseServeArgs({"--port", "7001"}), "--data-dir");
  ExpectRefused(ParseServeArgs({"--data-dir", ""}), "--data-dir");
}

TEST(ServeOptionsTest, FaultInjectionFlag) {
  StatusOr<NodeOptions> on = ParseServeArgs({"--data-dir", "d", "--fault-injection"});
  ASSERT_OK(on);
  EXPECT_TRUE(on->fault_injection);
  StatusOr<NodeOptions> off = ParseServeArgs({"--data-dir", "d"});
  ASSERT_OK(off);
  EXPECT_FALSE(off->fault_injection);
}

TEST(ServeOptionsTest, EveryOptionFromTheConfigFile) {
  TempDir dir;
  const std::string secret = dir.Write("secret", "from-file\r\n");
  const std::string config = dir.Write("node.toml",
                                       "# a node\n"
                                       "data-dir = \"/srv/n1\"\n"
                                       "name = \"n1\"\n"
                                       "bind = \"0.0.0.0\"\n"
                                       "port = 7001\n"
                                       "peer-port = 17101\n"
                                       "seeds = [\"127.0.0.1:17002\", \"127.0.0.1:17003\"]\n"
                                       "cluster-secret-file = \"" + secret + "\"\n"
                                       "requirepass = \"pw\"\n"
                                       "http-port = 9100\n"
                                       "fsync = \"batch\"\n"
                                       "gossip-interval-ms = 75\n"
                                       "max-clock-offset-ms = 1000\n"
                                       "fault-injection = true\n"
                                       "threads = 2\n"
                                       "log-level = \"warn\"\n");
  StatusOr<NodeOptions> o = ParseServeArgs({"--config", config});
  ASSERT_OK(o);
  EXPECT_EQ(o->threads, 2);
  EXPECT_EQ(o->data_dir, "/srv/n1");
  EXPECT_EQ(o->name, "n1");
  EXPECT_EQ(o->bind, "0.0.0.0");
  EXPECT_EQ(o->port, 7001);
  EXPECT_EQ(o->peer_port, 17101);
  EXPECT_EQ(o->seeds, (std::vector<std::string>{"127.0.0.1:17002", "127.0.0.1:17003"}));
  EXPECT_EQ(o->cluster_secret, "from-file");
  EXPECT_EQ(o->requirepass, "pw");
  EXPECT_EQ(o->http_port, 9100);
  EXPECT_EQ(o->fsync, FsyncMode::kBatch);
  EXPECT_EQ(o->gossip_interval_ms, 75u);
  EXPECT_EQ(o->max_clock_offset_ms, 1000u);
  EXPECT_TRUE(o->fault_injection);
  EXPECT_EQ(o->log_level, "warn");
}

TEST(ServeOptionsTest, SeedsInTheFileMayBeOneCommaString) {
  TempDir dir;
  const std::string config = dir.Write("c.toml", "data-dir = \"d\"\nseeds = \"a:1,b:2\"\n");
  StatusOr<NodeOptions> o = ParseServeArgs({"--config", config});
  ASSERT_OK(o);
  EXPECT_EQ(o->seeds, (std::vector<std::string>{"a:1", "b:2"}));
}

TEST(ServeOptionsTest, FlagsWinOverTheFile) {
  TempDir dir;
  const std::string file_secret = dir.Write("file-secret", "from-file");
  const std::string flag_secret = dir.Write("flag-secret", "from-flag\n");
  const std::string config = dir.Write("c.toml",
                                       "data-dir = \"file-dir\"\n"
                                       "port = 7001\n"
                                       "fsync = \"always\"\n"
                                       "seeds = [\"a:1\"]\n"
                                       "log-level = \"error\"\n"
                                       "gossip-interval-ms = 10\n"
                                       "cluster-secret-file = \"" + file_secret + "\"\n");
  StatusOr<NodeOptions> o =
      ParseServeArgs({"--port", "7005", "--config", config, "--seeds", "b:2", "--log-level", "trace",
                      "--cluster-secret-file", flag_secret});
  ASSERT_OK(o);
  EXPECT_EQ(o->port, 7005);  // flag, though given before --config
  EXPECT_EQ(o->seeds, (std::vector<std::string>{"b:2"}));
  EXPECT_EQ(o->log_level, "trace");
  EXPECT_EQ(o->cluster_secret, "from-flag");
  // Keys without a flag come from the file.
  EXPECT_EQ(o->data_dir, "file-dir");
  EXPECT_EQ(o->fsync, FsyncMode::kAlways);
  EXPECT_EQ(o->gossip_interval_ms, 10u);
}

TEST(ServeOptionsTest, AFlagCanTurnOffFaultInjectionFromTheFile) {
  TempDir dir;
  const std::string config = dir.Write("c.toml", "data-dir = \"d\"\nfault-injection = true\n");
  StatusOr<NodeOptions> o = ParseServeArgs({"--config", config});
  ASSERT_OK(o);
  EXPECT_TRUE(o->fault_injection);
  o = ParseServeArgs({"--config", config, "--fault-injection=false"});
  ASSERT_OK(o);
  EXPECT_FALSE(o->fault_injection);
}

TEST(ServeOptionsTest, FileMessagesNameFileLineAndKey) {
  TempDir dir;
  const std::string config = dir.Write("c.toml", "data-dir = \"d\"\nport = \"7001\"\n");
  StatusOr<NodeOptions> o = ParseServeArgs({"--config", config});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(),
            config + ":2: port: must be an integer in 1..65535, not a string (got \"7001\")");
  const std::string unknown = dir.Write("u.toml", "\nprot = 7001\n");
  o = ParseServeArgs({"--config", unknown, "--data-dir", "d"});
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().message(),
            unknown + ":2: unknown key \"prot\" (keys are the serve options without dashes)");
}

TEST(ServeOptionsTest, OverriddenSecretFileIsNotRead) {
  TempDir dir;
  const std::string flag_secret = dir.Write("flag-secret", "ok");
  const std::string config = dir.Write(
      "c.toml", "data-dir = \"d\"\ncluster-secret-file = \"/nonexistent/only-on-the-other-host\"\n");
  StatusOr<NodeOptions> o = ParseServeArgs({"--config", config, "--cluster-secret-file", flag_secret});
  ASSERT_OK(o);
  EXPECT_EQ(o->cluster_secret, "ok");
}

TEST(ServeOptionsTest, InvalidConfigFilesAreRefusedNamingTheKey) {
  struct Case {
    std::string toml;
    std::string names;
  };
  const std::vector<Case> cases = {
      {"port = \"7001\"\n", "port"},
      {"port = 1.5\n", "port"},
      {"port = 0\n", "port"},
      {"http-port = -1\n", "http-port"},
      {"prot = 7001\n", "prot"},
      {"fault-injection = \"yes\"\n", "fault-injection"},
      {"seeds = [1, 2]\n", "seeds"},
      {"seeds = \"nohost\"\n", "seeds"},
      {"fsync = \"sometimes\"\n", "fsync"},
      {"fsync = 1\n", "fsync"},
      {"log-level = true\n", "log-level"},
      {"gossip-interval-ms = 0\n", "gossip-interval-ms"},
      {"max-clock-offset-ms = \"500\"\n", "max-clock-offset-ms"},
      {"name = 1\n", "name"},
      {"requirepass = \"\"\n", "requirepass"},
      {"cluster-secret-file = \"/nonexistent\"\n", "cluster-secret-file"},
      {"[node]\nport = 7001\n", "node"},
      {"port = \n", "c.toml:1"},  // TOML syntax error: file and line
      {"data-dir = \"d\"\ndata-dir = \"e\"\n", "c.toml:2"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.toml);
    TempDir dir;
    const std::string config = dir.Write("c.toml", c.toml);
    ExpectRefused(ParseServeArgs({"--data-dir", "d", "--config", config}), c.names);
  }
}

TEST(ServeOptionsTest, ABrokenFileIsReportedEvenWhenAFlagOverridesTheKey) {
  TempDir dir;
  const std::string config = dir.Write("c.toml", "fsync = \"sometimes\"\n");
  ExpectRefused(ParseServeArgs({"--data-dir", "d", "--config", config, "--fsync", "always"}), "fsync");
}

TEST(ServeOptionsTest, MissingConfigFile) {
  ExpectRefused(ParseServeArgs({"--data-dir", "d", "--config", "/nonexistent/c.toml"}), "--config");
}

TEST(ServeOptionsTest, SecretFileStripsOneTrailingNewline) {
  TempDir dir;
  StatusOr<std::string> s = ReadSecretFile(dir.Write("a", "abc"), "--cluster-secret-file");
  ASSERT_OK(s);
  EXPECT_EQ(*s, "abc");
  s = ReadSecretFile(dir.Write("b", "abc\n"), "--cluster-secret-file");
  ASSERT_OK(s);
  EXPECT_EQ(*s, "abc");
  s = ReadSecretFile(dir.Write("c", "abc\r\n"), "--cluster-secret-file");
  ASSERT_OK(s);
  EXPECT_EQ(*s, "abc");
  s = ReadSecretFile(dir.Write("d", "abc\n\n"), "--cluster-secret-file");
  ASSERT_OK(s);
  EXPECT_EQ(*s, "abc\n");
  s = ReadSecretFile(dir.Write("e", std::string("a\0b", 3)), "--cluster-secret-file");
  ASSERT_OK(s);
  EXPECT_EQ(*s, std::string("a\0b", 3));
}

TEST(ServeOptionsTest, SecretFileEmptyOrUnreadableIsRefused) {
  TempDir dir;
  for (const char* content : {"", "\n", "\r\n"}) {
    StatusOr<std::string> s = ReadSecretFile(dir.Write("empty", content), "--cluster-secret-file");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find("is empty"), std::string::npos) << s.status().message();
  }
  StatusOr<std::string> missing = ReadSecretFile(dir.path() + "/missing", "--cluster-secret-file");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("No such file"), std::string::npos)
      << missing.status().message();
  StatusOr<std::string> directory = ReadSecretFile(dir.path(), "--cluster-secret-file");
  ASSERT_FALSE(directory.ok());
  EXPECT_EQ(directory.status().message().rfind("--cluster-secret-file: ", 0), 0u);
}

TEST(ServeOptionsTest, UsageListsEveryOption) {
  const std::string usage = ServeUsage();
  for (const char* flag : {"--config", "--data-dir", "--name", "--bind", "--port", "--peer-port", "--seeds",
                           "--cluster-secret-file", "--requirepass", "--http-port", "--fsync",
                           "--gossip-interval-ms", "--max-clock-offset-ms", "--fault-injection",
                           "--threads", "--log-level"}) {
    EXPECT_NE(usage.find(flag), std::string::npos) << flag;
  }
}

TEST(ServeOptionsTest, TlsFilesComeAsASetAndMustBeReadable) {
  TempDir dir;
  const std::string cert = dir.Write("n.crt", "pem"), key = dir.Write("n.key", "pem"),
                    ca = dir.Write("ca.crt", "pem");
  StatusOr<NodeOptions> o = ParseServeArgs(
      {"--data-dir", "d", "--tls-cert", cert, "--tls-key", key, "--tls-ca", ca, "--tls-auth-clients"});
  ASSERT_OK(o);
  EXPECT_TRUE(o->tls());
  EXPECT_EQ(o->tls_cert_file, cert);
  EXPECT_EQ(o->tls_key_file, key);
  EXPECT_EQ(o->tls_ca_file, ca);
  EXPECT_TRUE(o->tls_auth_clients);
  o = ParseServeArgs({"--data-dir", "d"});
  ASSERT_OK(o);
  EXPECT_FALSE(o->tls());
  EXPECT_FALSE(o->tls_auth_clients);

  const std::string toml = dir.Write("node.toml", "data-dir = \"d\"\ntls-cert = \"" + cert +
                                                      "\"\ntls-key = \"" + key + "\"\ntls-ca = \"" +
                                                      ca + "\"\ntls-auth-clients = true\n");
  o = ParseServeArgs({"--config", toml});
  ASSERT_OK(o);
  EXPECT_EQ(o->tls_ca_file, ca);
  EXPECT_TRUE(o->tls_auth_clients);

  ExpectRefused(ParseServeArgs({"--data-dir", "d", "--tls-cert", cert}), "--tls-key");
  ExpectRefused(ParseServeArgs({"--data-dir", "d", "--tls-cert", cert, "--tls-key", key}), "--tls-ca");
  ExpectRefused(ParseServeArgs({"--data-dir", "d", "--tls-auth-clients"}), "--tls-auth-clients");
  ExpectRefused(ParseServeArgs({"--data-dir", "d", "--tls-cert", dir.path() + "/missing.crt",
                                "--tls-key", key, "--tls-ca", ca}),
                "missing.crt");
  ExpectRefused(ParseServeArgs({"--data-dir", "d", "--tls-cert", cert, "--tls-key", key, "--tls-ca",
                                dir.Write("empty.crt", "")}),
                "empty.crt");
}

}  // namespace
}  // namespace converge
