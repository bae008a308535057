// Every client command of PROTOCOL.md through hiredis against a real node,
// with Redis's replies and error texts.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "tests/node/test_node.h"

namespace converge::testing {
namespace {

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = TestNode::Start("cmd");
    ASSERT_NE(node_, nullptr);
    client_ = std::make_unique<Client>(node_->options.port);
    ASSERT_TRUE(client_->ok());
  }
  std::string Run(const std::vector<std::string>& args) { return client_->Run(args); }

  std::unique_ptr<TestNode> node_;
  std::unique_ptr<Client> client_;
};

TEST_F(CommandsTest, StringsAndCounters) {
  EXPECT_EQ(Run({"SET", "s", "v"}), "OK");
  EXPECT_EQ(Run({"GET", "s"}), "v");
  EXPECT_EQ(Run({"GET", "missing"}), "(nil)");
  EXPECT_EQ(Run({"SET", "s", "v", "NX"}).rfind("-ERR", 0), 0u);
  EXPECT_NE(Run({"SET", "s", "v", "EX", "10"}).find("not supported"), std::string::npos);
  EXPECT_EQ(Run({"INCR", "c"}), ":1");
  EXPECT_EQ(Run({"INCRBY", "c", "10"}), ":11");
  EXPECT_EQ(Run({"DECR", "c"}), ":10");
  EXPECT_EQ(Run({"DECRBY", "c", "15"}), ":-5");
  EXPECT_EQ(Run({"GET", "c"}), "-5");
  EXPECT_EQ(Run({"INCRBY", "c", "x"}), "-ERR value is not an integer or out of range");
  EXPECT_EQ(Run({"INCRBY", "big", "9223372036854775807"}), ":9223372036854775807");
  EXPECT_EQ(Run({"INCR", "big"}), "-ERR increment or decrement would overflow");
  EXPECT_EQ(Run({"MGET", "s", "c", "missing"}), "[v,-5,(nil)]");
  EXPECT_EQ(Run({"INCR", "s"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value");
}

TEST_F(CommandsTest, Hashes) {
  EXPECT_EQ(Run({"HSET", "h", "f1", "a", "f2", "b"}), ":2");
  EXPECT_EQ(Run({"HSET", "h", "f1", "c", "f3", "d"}), ":1");
  EXPECT_EQ(Run({"HSET", "h", "f1"}), "-ERR wrong number of arguments for 'hset' command");
  EXPECT_EQ(Run({"HGET", "h", "f1"}), "c");
  EXPECT_EQ(Run({"HGET", "h", "nope"}), "(nil)");
  EXPECT_EQ(Run({"HMGET", "h", "f2", "nope"}), "[b,(nil)]");
  EXPECT_EQ(Run({"HGETALL", "h"}), "[f1,c,f2,b,f3,d]");
  EXPECT_EQ(Run({"HKEYS", "h"}), "[f1,f2,f3]");
  EXPECT_EQ(Run({"HVALS", "h"}), "[c,b,d]");
  EXPECT_EQ(Run({"HLEN", "h"}), ":3");
  EXPECT_EQ(Run({"HEXISTS", "h", "f2"}), ":1");
  EXPECT_EQ(Run({"HDEL", "h", "f2", "nope"}), ":1");
  EXPECT_EQ(Run({"HDEL", "h", "f2"}), ":0");
  EXPECT_EQ(Run({"HEXISTS", "h", "f2"}), ":0");
  EXPECT_EQ(Run({"HGETALL", "missing"}), "[]");
  EXPECT_EQ(Run({"SET", "s", "v"}), "OK");
  EXPECT_EQ(Run({"HGET", "s", "f"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(Run({"GET", "h"}),
            "-WRONGTYPE Operation against a key holding the wrong kind of value");
}

TEST_F(CommandsTest, Keys) {
  Run({"SET", "a1", "x"});
  Run({"INCR", "a2"});
  Run({"HSET", "b1", "f", "v"});
  EXPECT_EQ(Run({"DBSIZE"}), ":3");
  EXPECT_EQ(Run({"EXISTS", "a1", "a2", "zz", "a1"}), ":3");
  EXPECT_EQ(Run({"TYPE", "a1"}), "string");
  EXPECT_EQ(Run({"TYPE", "a2"}), "string");
  EXPECT_EQ(Run({"TYPE", "b1"}), "hash");
  EXPECT_EQ(Run({"TYPE", "zz"}), "none");
  EXPECT_EQ(Run({"KEYS", "a*"}), "[a1,a2]");
  EXPECT_EQ(Run({"KEYS", "?1"}), "[a1,b1]");
  // SCAN until the cursor comes back to 0 sees every key once.
  std::string cursor = "0", seen;
  do {
    auto* r =
        static_cast<redisReply*>(redisCommand(client_->raw(), "SCAN %s COUNT 1", cursor.c_str()));
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
    cursor = r->element[0]->str;
    for (size_t i = 0; i < r->element[1]->elements; ++i) seen += r->element[1]->element[i]->str;
    freeReplyObject(r);
  } while (cursor != "0");
  EXPECT_EQ(seen, "a1a2b1");
  EXPECT_EQ(Run({"SCAN", "0", "MATCH", "b*", "COUNT", "100"}), "[0,[b1]]");
  EXPECT_EQ(Run({"DEL", "a1", "b1", "zz"}), ":2");
  EXPECT_EQ(Run({"DBSIZE"}), ":1");
  EXPECT_EQ(Run({"GET", "a1"}), "(nil)");
  EXPECT_EQ(Run({"DEL", "a2"}), ":1");
  EXPECT_EQ(Run({"INCR", "a2"}), ":1") << "a deleted counter starts again from zero";
}

// A full SCAN sees every live key exactly once and no deleted one, whatever
// COUNT; a cursor can be retried; a cursor this node did not hand out is
// refused, not taken for a position.
TEST_F(CommandsTest, ScanVisitsEveryLiveKeyOnceAndRefusesUnknownCursors) {
  constexpr int kKeys = 3000;
  std::set<std::string> live;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_EQ(Run({"SET", key, "v"}), "OK");
    live.insert(key);
  }
  for (int i = 0; i < kKeys; i += 7) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_EQ(Run({"DEL", key}), ":1");
    live.erase(key);
  }
  for (const char* count : {"1", "10", "1000"}) {
    SCOPED_TRACE(std::string("COUNT ") + count);
    std::multiset<std::string> seen;
    std::string cursor = "0";
    int calls = 0;
    do {
      auto* r = static_cast<redisReply*>(
          redisCommand(client_->raw(), "SCAN %s COUNT %s", cursor.c_str(), count));
      ASSERT_NE(r, nullptr);
      ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << (r->str != nullptr ? r->str : "");
      const std::string next = r->element[0]->str;
      std::vector<std::string> page;
      for (size_t i = 0; i < r->element[1]->elements; ++i)
        page.push_back(r->element[1]->element[i]->str);
      freeReplyObject(r);
      if (next != "0" && calls % 50 == 0) {
        // Retrying the same cursor gives the same page.
        auto* again = static_cast<redisReply*>(
            redisCommand(client_->raw(), "SCAN %s COUNT %s", cursor.c_str(), count));
        ASSERT_NE(again, nullptr);
        ASSERT_EQ(again->type, REDIS_REPLY_ARRAY);
        ASSERT_EQ(again->element[1]->elements, page.size());
        for (size_t i = 0; i < page.size(); ++i)
          EXPECT_EQ(again->element[1]->element[i]->str, page[i]);
        freeReplyObject(again);
      }
      seen.insert(page.begin(), page.end());
      cursor = next;
      ASSERT_LT(++calls, 2 * kKeys);
    } while (cursor != "0");
    EXPECT_EQ(seen.size(), live.size());
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), live);
  }
  EXPECT_EQ(Run({"SCAN", "12345"}).rfind("-ERR invalid cursor", 0), 0u);
  EXPECT_EQ(Run({"SCAN", "-1"}), "-ERR invalid cursor");
}

TEST_F(CommandsTest, ServerCommands) {
  EXPECT_EQ(Run({"PING"}), "PONG");
  EXPECT_EQ(Run({"PING", "hi"}), "hi");
  EXPECT_EQ(Run({"ECHO", "x y"}), "x y");
  EXPECT_EQ(Run({"SELECT", "0"}), "OK");
  EXPECT_EQ(Run({"SELECT", "1"}), "-ERR DB index is out of range");
  EXPECT_EQ(Run({"HELLO", "3"}), "-NOPROTO sorry, this protocol version is not supported");
  EXPECT_EQ(Run({"HELLO", "2"}).substr(0, 17), "[server,converge,");
  EXPECT_EQ(Run({"CLIENT", "SETNAME", "me"}), "OK");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "me");
  EXPECT_EQ(Run({"CLIENT", "ID"}).substr(0, 1), ":");
  EXPECT_EQ(Run({"COMMAND", "DOCS"}), "[]");
  EXPECT_EQ(Run({"CONFIG", "GET", "appendonly"}), "[appendonly,yes]");
  EXPECT_EQ(Run({"CONFIG", "GET", "no-such-parameter"}), "[]");
  EXPECT_EQ(Run({"NOSUCH", "a"}), "-ERR unknown command 'NOSUCH', with args beginning with: 'a' ");
  EXPECT_EQ(Run({"GET"}), "-ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(Run({"AUTH", "pw"}).rfind("-ERR AUTH <password> called without any password", 0), 0u);
  const std::string info = Run({"INFO", "replication"});
  for (const char* field :
       {"node_id:", "node_name:cmd", "peers_connected:", "peers_known:", "vv:"}) {
    EXPECT_NE(info.find(field), std::string::npos) << field << " in " << info;
  }
  const std::string all = Run({"INFO"});
  for (const char* section :
       {"# Server", "# Clients", "# Persistence", "# Replication", "# Stats", "# Crdt"}) {
    EXPECT_NE(all.find(section), std::string::npos) << section;
  }
  // The test binary runs on glibc's malloc (only the executable links jemalloc).
  EXPECT_NE(all.find("\r\nmem_allocator:libc\r\n"), std::string::npos) << all;
  EXPECT_NE(all.find("\r\nio_threads:"), std::string::npos) << all;
  const std::string digest = Run({"DEBUG", "DIGEST"});
  EXPECT_EQ(digest.size(), 40u) << digest;
  EXPECT_EQ(Run({"QUIT"}), "OK");
}

// The embedding entry point runs a command as a client would; clients of the
// same node see its writes.
TEST(EmbeddingTest, ExecuteRunsACommandInProcess) {
  auto node = TestNode::Start("embed");
  ASSERT_NE(node, nullptr);
  EXPECT_EQ(node->node->Execute({"INCRBY", "sold:42", "1"}), ":1\r\n");
  EXPECT_EQ(node->node->Execute({"HSET", "item:42", "price", "4"}), ":1\r\n");
  EXPECT_EQ(node->node->Execute({"NOPE"}).rfind("-ERR unknown command", 0), 0u);
  Client c(node->options.port);
  EXPECT_EQ(c.Run({"GET", "sold:42"}), "1");
  EXPECT_EQ(c.Run({"HGET", "item:42", "price"}), "4");
}

TEST(AuthTest, RequirePassGatesEveryCommandButAuth) {
  auto node = TestNode::Start("auth", {}, [](NodeOptions& o) { o.requirepass = "sesame"; });
  ASSERT_NE(node, nullptr);
  Client c(node->options.port);
  EXPECT_EQ(c.Run({"GET", "k"}), "-NOAUTH Authentication required.");
  EXPECT_EQ(c.Run({"AUTH", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(c.Run({"AUTH", "sesame"}), "OK");
  EXPECT_EQ(c.Run({"SET", "k", "v"}), "OK");
  EXPECT_EQ(c.Run({"AUTH", "default", "sesame"}), "OK");
}

TEST(FaultInjectionTest, DisabledWithoutTheFlag) {
  auto node = TestNode::Start("nofault", {}, [](NodeOptions& o) { o.fault_injection = false; });
  ASSERT_NE(node, nullptr);
  Client c(node->options.port);
  EXPECT_EQ(c.Run({"DEBUG", "HEAL"}), "-ERR fault injection disabled");
  EXPECT_EQ(c.Run({"DEBUG", "DIGEST"}).size(), 40u);
}

// Writes raw bytes and reads whatever comes back until the server closes.
std::string RawExchange(uint16_t port, const std::string& bytes) {
  Client c(port);
  if (!c.ok()) return "<connect failed>";
  const int fd = c.raw()->fd;
  if (::send(fd, bytes.data(), bytes.size(), 0) < 0) return "<send failed>";
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

TEST(ProtocolErrorTest, BadRequestsGetAnErrorAndCloseWhileOthersKeepWorking) {
  auto node = TestNode::Start("proto");
  ASSERT_NE(node, nullptr);
  Client bystander(node->options.port);
  EXPECT_EQ(bystander.Run({"SET", "k", "v"}), "OK");

  EXPECT_EQ(RawExchange(node->options.port, "*2\r\n$3\r\nGET\r\n:1\r\n"),
            "-ERR Protocol error: expected '$', got ':'\r\n");
  EXPECT_EQ(RawExchange(node->options.port, "*1\r\n*1\r\n"),
            "-ERR Protocol error: expected '$', got '*'\r\n")
      << "nesting is refused";
  // A bulk larger than the limit is refused from its header alone.
  EXPECT_EQ(RawExchange(node->options.port, "*2\r\n$3\r\nSET\r\n$99999999999\r\n"),
            "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_EQ(RawExchange(node->options.port, "*x\r\n"),
            "-ERR Protocol error: invalid multibulk length\r\n");
  // Pipelined good commands before a bad one are answered first.
  EXPECT_EQ(
      RawExchange(node->options.port, "PING\r\nECHO hi\r\n*1\r\n$4\r\nPING\r\n\"unbalanced\r\n"),
      "+PONG\r\n$2\r\nhi\r\n+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n");
  {  // A client that disconnects mid-request costs nothing.
    Client quitter(node->options.port);
    const std::string half = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc";
    ASSERT_GT(::send(quitter.raw()->fd, half.data(), half.size(), 0), 0);
  }
  EXPECT_EQ(bystander.Run({"GET", "k"}), "v");
  EXPECT_EQ(bystander.Run({"PING"}), "PONG");
}

// A connection reuses the argument slots of its previous requests (no
// allocation per request); a slot must never show a later command anything
// of the command it held before: fewer arguments, more, and a long argument
// released after its request.
TEST(PipelineTest, RequestsOfDifferentShapesOnOneConnectionSeeOnlyTheirOwnArguments) {
  auto node = TestNode::Start("pipe");
  ASSERT_NE(node, nullptr);
  Client c(node->options.port);
  ASSERT_TRUE(c.ok());
  auto pipeline = [&](const std::vector<std::vector<std::string>>& commands) {
    for (const auto& args : commands) {
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const auto& a : args) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      redisAppendCommandArgv(c.raw(), static_cast<int>(args.size()), argv.data(), lens.data());
    }
    std::vector<std::string> replies;
    for (size_t i = 0; i < commands.size(); ++i) {
      void* r = nullptr;
      if (redisGetReply(c.raw(), &r) != REDIS_OK || r == nullptr) return replies;
      replies.push_back(Client::Render(static_cast<redisReply*>(r)));
      freeReplyObject(r);
    }
    return replies;
  };
  const std::string big(10000, 'x');
  using Replies = std::vector<std::string>;
  EXPECT_EQ(pipeline({{"SET", "a", big}, {"SET", "b", "2"}, {"INCRBY", "n", "5"}}),
            (Replies{"OK", "OK", ":5"}));
  EXPECT_EQ(pipeline({{"GET", "b"}, {"INCR", "n"}}), (Replies{"2", ":6"}))
      << "three-argument slots now hold two-argument commands";
  EXPECT_EQ(pipeline({{"INCR", "n"}, {"GET", "a"}, {"ECHO", "e"}, {"PING"}}),
            (Replies{":7", big, "e", "PONG"}));
  EXPECT_EQ(pipeline({{"GET"}}), (Replies{"-ERR wrong number of arguments for 'get' command"}));
  EXPECT_EQ(pipeline({{"SET", "c", "3", "EX"}, {"GET", "c"}}),
            (Replies{"-ERR SET option 'EX' is not supported", "(nil)"}));
  EXPECT_EQ(pipeline({{"MGET", "a", "b", "c", "n"}}), (Replies{"[" + big + ",2,(nil),7]"}));
}

}  // namespace
}  // namespace converge::testing
