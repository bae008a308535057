// The HTTP endpoint (--http-port): /metrics is valid Prometheus text whose
// values follow what clients and faults do; /healthz; /status.json on a
// three-node cluster with a partition; the status page is served whole.
#include <httplib.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "node/internal/http_server.h"
#include "node/internal/metrics.h"
#include "tests/node/test_node.h"

namespace converge {
namespace {

using testing::Client;
using testing::LoopbackCluster;
using testing::PickFreePort;
using testing::TestNode;
using testing::WaitFor;
using Json = nlohmann::json;

// ---- a Prometheus text-format reader, strict enough to catch mistakes ----

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> type
  std::vector<Sample> samples;
  std::string error;  // empty when the text is valid

  // The value of the sample with exactly these labels, or `missing`.
  double Value(const std::string& name, const std::map<std::string, std::string>& labels,
               double missing = 0) const {
    for (const Sample& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return missing;
  }
};

bool ValidName(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
  }
  return true;
}

// The family a sample belongs to: itself, or a histogram's minus its suffix.
std::string FamilyOf(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string sfx = suffix;
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      const std::string base = name.substr(0, name.size() - sfx.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return "";
}

Exposition Parse(const std::string& text) {
  Exposition e;
  std::set<std::string> helped;
  std::set<std::string> series;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  auto fail = [&](const std::string& why) {
    if (e.error.empty()) e.error = "line " + std::to_string(n) + ": " + why + ": " + line;
  };
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream c(line);
      std::string hash, kind, name, rest;
      c >> hash >> kind >> name;
      std::getline(c, rest);
      if (kind == "HELP") {
        if (!ValidName(name) || rest.size() < 2) fail("bad HELP");
        if (!helped.insert(name).second) fail("HELP twice");
      } else if (kind == "TYPE") {
        const std::string type = rest.substr(rest.find_first_not_of(' '));
        if (type != "counter" && type != "gauge" && type != "histogram") fail("bad TYPE");
        if (e.types.count(name)) fail("TYPE twice");
        e.types[name] = type;
      } else {
        fail("unknown comment");
      }
      continue;
    }
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!ValidName(s.name)) fail("bad metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        const size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          fail("bad label");
          break;
        }
        const std::string key = line.substr(i, eq - i);
        if (!ValidName(key)) fail("bad label name");
        std::string value;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) {
          fail("unterminated label value");
          break;
        }
        if (!s.labels.emplace(key, value).second) fail("label twice");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      fail("no value");
      continue;
    }
    const std::string v = line.substr(i + 1);
    if (v == "+Inf") {
      s.value = INFINITY;
    } else {
      char* end = nullptr;
      s.value = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0') fail("bad value");
    }
    const std::string family = FamilyOf(s.name, e.types);
    if (family.empty()) fail("sample of an undeclared family");
    if (!helped.count(family)) fail("family without HELP");
    if (s.name.rfind("converge_", 0) != 0) fail("not prefixed converge_");
    std::string id = s.name;
    for (const auto& [k, val] : s.labels) id += "|" + k + "=" + val;
    if (!series.insert(id).second) fail("series twice");
    e.samples.push_back(std::move(s));
  }
  // Histograms: buckets cumulative with increasing le, ending in +Inf == _count.
  for (const auto& [family, type] : e.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    for (const Sample& s : e.samples) {
      if (s.name != family + "_bucket") continue;
      auto labels = s.labels;
      const std::string le = labels["le"];
      labels.erase("le");
      buckets[labels].emplace_back(le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr),
                                   s.value);
    }
    if (buckets.empty() && e.error.empty()) e.error = family + ": histogram without buckets";
    for (const auto& [labels, bs] : buckets) {
      for (size_t k = 1; k < bs.size(); ++k) {
        if (!(bs[k].first > bs[k - 1].first) && e.error.empty()) e.error = family + ": le not increasing";
        if (bs[k].second < bs[k - 1].second && e.error.empty()) e.error = family + ": buckets not cumulative";
      }
      if (!std::isinf(bs.back().first) && e.error.empty()) e.error = family + ": no +Inf bucket";
      const double count = e.Value(family + "_count", labels, -1);
      if (count != bs.back().second && e.error.empty()) e.error = family + ": +Inf != _count";
      if (e.Value(family + "_sum", labels, -1) < 0 && e.error.empty()) e.error = family + ": no _sum";
    }
  }
  return e;
}

// ---- HTTP helpers ----------------------------------------------------------

struct Got {
  int status = -1;  // -1: no answer
  std::string body;
  std::string content_type;
};

Got HttpGet(uint16_t port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(5, 0);
  c.set_read_timeout(10, 0);
  auto r = c.Get(path);
  if (!r) return {};
  return {r->status, r->body, r->get_header_value("Content-Type")};
}

Exposition Scrape(uint16_t port) {
  Got g = HttpGet(port, "/metrics");
  EXPECT_EQ(g.status, 200);
  Exposition e = Parse(g.body);
  EXPECT_EQ(e.error, "") << g.body;
  return e;
}

std::unique_ptr<TestNode> NodeWithHttp(const std::string& name) {
  return TestNode::Start(name, {}, [](NodeOptions& o) { o.http_port = PickFreePort(); });
}

// ---- the parser itself catches what it should -----------------------------

TEST(PrometheusParse, CatchesBrokenText) {
  EXPECT_EQ(Parse("# HELP converge_x x\n# TYPE converge_x gauge\nconverge_x 1\n").error, "");
  EXPECT_NE(Parse("converge_x 1\n").error, "");  // undeclared
  EXPECT_NE(Parse("# HELP converge_x x\n# TYPE converge_x gauge\nconverge_x{a=\"1} 1\n").error, "");
  const std::string h = "# HELP converge_h h\n# TYPE converge_h histogram\n";
  EXPECT_EQ(Parse(h + "converge_h_bucket{le=\"1\"} 1\nconverge_h_bucket{le=\"+Inf\"} 2\n"
                      "converge_h_sum 3\nconverge_h_count 2\n").error, "");
  EXPECT_NE(Parse(h + "converge_h_bucket{le=\"1\"} 3\nconverge_h_bucket{le=\"+Inf\"} 2\n"
                      "converge_h_sum 3\nconverge_h_count 2\n").error, "");  // not cumulative
  EXPECT_NE(Parse(h + "converge_h_bucket{le=\"1\"} 1\nconverge_h_bucket{le=\"+Inf\"} 2\n"
                      "converge_h_sum 3\nconverge_h_count 5\n").error, "");  // +Inf != count
}

TEST(PrometheusText, EscapesLabelValues) {
  PrometheusText p;
  p.Family("converge_rc_value", "gauge", "a \\ help\nline");
  p.Sample("converge_rc_value", {{"key", "a\"b\\c\nd"}}, 7);
  Exposition e = Parse(p.text());
  ASSERT_EQ(e.error, "") << p.text();
  EXPECT_EQ(e.Value("converge_rc_value", {{"key", "a\"b\\c\nd"}}, -1), 7);
}

TEST(ClassifyReply, ByErrorWord) {
  EXPECT_EQ(ClassifyReply("+OK\r\n"), OpResult::kOk);
  EXPECT_EQ(ClassifyReply(":5\r\n"), OpResult::kOk);
  EXPECT_EQ(ClassifyReply("-ERR syntax error\r\n"), OpResult::kErr);
  EXPECT_EQ(ClassifyReply("-WRONGTYPE Operation\r\n"), OpResult::kWrongType);
  EXPECT_EQ(ClassifyReply("-TRYAGAIN x\r\n"), OpResult::kTryAgain);
  EXPECT_EQ(ClassifyReply("-INSUFFICIENT value is 7\r\n"), OpResult::kInsufficient);
  EXPECT_EQ(ClassifyReply("-NOHOLD\r\n"), OpResult::kOther);
}

// ---- one node --------------------------------------------------------------

TEST(HttpNode, MetricsAreValidAndFollowTheCommands) {
  auto n = NodeWithHttp("m1");
  ASSERT_NE(n, nullptr);
  ASSERT_NE(n->node->http_port(), 0);
  const uint16_t port = n->node->http_port();
  Client c(n->node->client_port());
  ASSERT_TRUE(c.ok());

  Exposition before = Scrape(port);
  const std::map<std::string, std::string> incr_ok = {{"command", "incr"}, {"result", "ok"}};
  const double incrs = before.Value("converge_operations_total", incr_ok);
  const double applies = before.Value("converge_apply_latency_seconds_count", {});
  const double commits = before.Value("converge_commit_latency_seconds_count", {});
  constexpr int kIncrs = 37;
  for (int i = 0; i < kIncrs; ++i) ASSERT_EQ(c.Run({"INCR", "visits"}), ":" + std::to_string(i + 1));
  ASSERT_EQ(c.Run({"HSET", "visits", "f", "v"}).rfind("-WRONGTYPE", 0), 0u);
  ASSERT_EQ(c.Run({"RC.ADD", "stock", "10"}), ":10");
  ASSERT_EQ(c.Run({"NOSUCHCMD"}).rfind("-ERR unknown command", 0), 0u);

  Exposition after = Scrape(port);
  EXPECT_EQ(after.Value("converge_operations_total", incr_ok) - incrs, kIncrs);
  EXPECT_EQ(after.Value("converge_operations_total", {{"command", "hset"}, {"result", "wrongtype"}}), 1);
  EXPECT_EQ(after.Value("converge_operations_total", {{"command", "unknown"}, {"result", "err"}}), 1);
  EXPECT_GE(after.Value("converge_apply_latency_seconds_count", {}) - applies, kIncrs + 2);
  // fsync everysec with one client: each INCR is its own group commit.
  EXPECT_GE(after.Value("converge_commit_latency_seconds_count", {}) - commits, kIncrs);
  EXPECT_EQ(after.Value("converge_keys", {}), 2);
  // Reservation counters come from an object scan redone at most once a
  // second when the state moved.
  EXPECT_TRUE(WaitFor([&] {
    Exposition e = Scrape(port);
    return e.Value("converge_rc_rights", {{"key", "stock"}, {"node", "m1"}}, -1) == 10 &&
           e.Value("converge_rc_value", {{"key", "stock"}}, -1) == 10;
  })) << HttpGet(port, "/metrics").body;
  // The version vector's own entry counts every write (37 INCRs + RC.ADD).
  double own_seq = -1;
  for (const Sample& s : after.samples) {
    if (s.name == "converge_version_vector" && s.labels.at("origin") == "m1") own_seq = s.value;
  }
  EXPECT_EQ(own_seq, kIncrs + 1);
  EXPECT_EQ(after.types.at("converge_operations_total"), "counter");
  EXPECT_EQ(after.types.at("converge_commit_latency_seconds"), "histogram");
}

TEST(HttpNode, HealthzAndPage) {
  auto n = NodeWithHttp("h1");
  ASSERT_NE(n, nullptr);
  const uint16_t port = n->node->http_port();
  Got health = HttpGet(port, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  Got page = HttpGet(port, "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type.rfind("text/html", 0), 0u);
  EXPECT_NE(page.body.find("/status.json"), std::string::npos);
  // Self-contained: nothing is loaded from elsewhere.
  EXPECT_EQ(page.body.find("<script src"), std::string::npos);
  EXPECT_EQ(page.body.find("<link"), std::string::npos);
  EXPECT_EQ(HttpGet(port, "/nope").status, 404);
  n->node->Stop();
  EXPECT_EQ(HttpGet(port, "/healthz").status, -1);  // the listener is gone
}

// While the node is not serving (starting, or in Stop) the endpoint says so.
TEST(HttpServer, NotServingAnswers503) {
  HttpServerOptions o;
  o.port = 0;
  HttpServer http(o, [] { return std::optional<NodeStatus>(); }, [] { return false; });
  ASSERT_TRUE(http.Start().ok());
  EXPECT_EQ(HttpGet(http.port(), "/healthz").status, 503);
  EXPECT_EQ(HttpGet(http.port(), "/metrics").status, 503);
  EXPECT_EQ(HttpGet(http.port(), "/status.json").status, 503);
  http.Stop();
}

TEST(HttpServer, PortInUseIsAnError) {
  HttpServerOptions o;
  o.port = 0;
  HttpServer first(o, [] { return std::optional<NodeStatus>(); }, [] { return true; });
  ASSERT_TRUE(first.Start().ok());
  o.port = first.port();
  HttpServer second(o, [] { return std::optional<NodeStatus>(); }, [] { return true; });
  Status st = second.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("cannot bind"), std::string::npos) << st.ToString();
}

// ---- three nodes and a partition --------------------------------------------

const Json* Member(const Json& status, const std::string& name) {
  for (const Json& m : status["members"]) {
    if (m["name"] == name) return &m;
  }
  return nullptr;
}

Json Status(uint16_t port) {
  Got g = HttpGet(port, "/status.json");
  if (g.status != 200) return Json();
  return Json::parse(g.body, nullptr, /*allow_exceptions=*/false);
}

TEST(HttpCluster, StatusAndMetricsFollowAPartition) {
  LoopbackCluster cluster(3, [](NodeOptions& o) { o.http_port = PickFreePort(); });
  for (const auto& n : cluster.nodes) ASSERT_NE(n, nullptr);
  const uint16_t h1 = cluster.nodes[0]->node->http_port();
  const uint16_t h2 = cluster.nodes[1]->node->http_port();
  ASSERT_TRUE(WaitFor([&] {
    Json s = Status(h1);
    if (!s.is_object() || s["members"].size() != 3) return false;
    for (const char* n : {"n2", "n3"}) {
      const Json* m = Member(s, n);
      if (m == nullptr || !(*m)["connected"].get<bool>() || (*m)["state"] != "alive") return false;
    }
    return true;
  })) << Status(h1).dump(2);
  ASSERT_EQ(cluster.clients[0]->Run({"RC.ADD", "stock", "10"}), ":10");
  ASSERT_EQ(cluster.clients[1]->Run({"SET", "k", "v"}), "OK");
  // Everyone sees both keys and the counter's rights, n1 holding all 10.
  ASSERT_TRUE(WaitFor([&] {
    Json s = Status(h2);
    return s.is_object() && s["node"]["keys"] == 2 && s["rcounters"].size() == 1 &&
           s["rcounters"][0]["rights"]["n1"] == 10 && s["rcounters"][0]["rights"]["n2"] == 0;
  })) << Status(h2).dump(2);

  ASSERT_EQ(cluster.clients[0]->Run({"DEBUG", "PARTITION", "n2", "n3"}), "OK");
  // n1 knows at once that it cut the links.
  Json s1 = Status(h1);
  ASSERT_TRUE(s1.is_object());
  EXPECT_TRUE((*Member(s1, "n2"))["partitioned"].get<bool>()) << s1.dump(2);
  EXPECT_TRUE((*Member(s1, "n3"))["partitioned"].get<bool>());
  Exposition m1 = Scrape(h1);
  EXPECT_EQ(m1.Value("converge_peer_partitioned", {{"peer", "n2"}}, -1), 1);
  EXPECT_EQ(m1.Value("converge_peer_partitioned", {{"peer", "n3"}}, -1), 1);
  EXPECT_EQ(m1.Value("converge_peer_state", {{"peer", "n2"}, {"state", "alive"}}, -1), 1);

  // Writes on n1 no longer reach n2: the lag on n1's link to n2 grows.
  for (int i = 0; i < 5; ++i) ASSERT_EQ(cluster.clients[0]->Run({"INCR", "c"}), ":" + std::to_string(i + 1));
  ASSERT_TRUE(WaitFor([&] {
    Json s = Status(h1);
    return s.is_object() && (*Member(s, "n2"))["lag_deltas"].get<uint64_t>() >= 5;
  })) << Status(h1).dump(2);
  // Both sides stop hearing each other: suspect (3 s without a frame), then dead.
  ASSERT_TRUE(WaitFor([&] {
    Exposition e = Scrape(h1);
    return e.Value("converge_peer_state", {{"peer", "n2"}, {"state", "alive"}}, -1) == 0;
  }));
  ASSERT_TRUE(WaitFor([&] {
    Json s = Status(h2);
    const Json* n1 = s.is_object() ? Member(s, "n1") : nullptr;
    const Json* n3 = s.is_object() ? Member(s, "n3") : nullptr;
    return n1 != nullptr && n3 != nullptr && (*n1)["state"] != "alive" && (*n3)["state"] == "alive";
  })) << Status(h2).dump(2);

  ASSERT_EQ(cluster.clients[0]->Run({"DEBUG", "HEAL"}), "OK");
  ASSERT_TRUE(WaitFor([&] {
    Json s = Status(h1);
    if (!s.is_object()) return false;
    for (const char* n : {"n2", "n3"}) {
      const Json* m = Member(s, n);
      if ((*m)["partitioned"].get<bool>() || (*m)["state"] != "alive" || (*m)["lag_deltas"] != 0) {
        return false;
      }
    }
    return true;
  }, std::chrono::seconds(20))) << Status(h1).dump(2);
  Exposition healed = Scrape(h1);
  EXPECT_EQ(healed.Value("converge_peer_partitioned", {{"peer", "n2"}}, -1), 0);
  EXPECT_EQ(healed.Value("converge_replication_lag_deltas", {{"peer", "n2"}}, -1), 0);
}

}  // namespace
}  // namespace converge
