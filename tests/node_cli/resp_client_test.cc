#include "node/cli/resp_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace converge {
namespace {

using std::chrono::milliseconds;

// A one-connection TCP server on 127.0.0.1, port 0: accepts one client and,
// for each canned reply, reads one whole request, records it and writes the
// reply (in pieces of `chunk` bytes, to exercise reassembly). With no
// replies left it holds the connection open until the client goes away.
class CannedServer {
 public:
  explicit CannedServer(std::vector<std::string> replies, size_t chunk = 1 << 20, bool close_after = false)
      : replies_(std::move(replies)), chunk_(chunk), close_after_(close_after) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(listener_, 1), 0);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~CannedServer() {
    Join();
    ::close(listener_);
  }

  // Waits for the server's thread (which ends when the client has gone).
  void Join() {
    ::shutdown(listener_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
  }

  uint16_t port() const { return port_; }
  // The raw requests received; read only after Join().
  const std::vector<std::string>& requests() const { return requests_; }

 private:
  // Reads one RESP array of bulk strings; false when the client closed.
  bool ReadRequest(int fd, std::string& buffer, std::string& request) {
    while (true) {
      if (size_t n = CompleteRequestLength(buffer)) {
        request = buffer.substr(0, n);
        buffer.erase(0, n);
        return true;
      }
      char chunk[4096];
      const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
      if (got <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(got));
    }
  }
  static size_t CompleteRequestLength(const std::string& b) {
    size_t pos = b.find("\r\n");
    if (pos == std::string::npos || b[0] != '*') return 0;
    const long count = std::stol(b.substr(1, pos - 1));
    pos += 2;
    for (long i = 0; i < count; ++i) {
      const size_t crlf = b.find("\r\n", pos);
      if (crlf == std::string::npos) return 0;
      const size_t len = std::stoul(b.substr(pos + 1, crlf - pos - 1));
      pos = crlf + 2 + len + 2;
      if (pos > b.size()) return 0;
    }
    return pos;
  }

  void Run() {
    const int fd = ::accept(listener_, nullptr, nullptr);
    if (fd < 0) return;
    std::string buffer;
    for (const std::string& reply : replies_) {
      std::string request;
      if (!ReadRequest(fd, buffer, request)) break;
      requests_.push_back(request);
      for (size_t off = 0; off < reply.size(); off += chunk_) {
        const std::string piece = reply.substr(off, chunk_);
        if (::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) < 0) break;
      }
    }
    if (!close_after_) {
      char sink[256];
      while (::recv(fd, sink, sizeof sink, 0) > 0) {
      }
    }
    ::close(fd);
  }

  std::vector<std::string> replies_;
  size_t chunk_;
  bool close_after_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::string> requests_;
};

TEST(RespClientTest, ReadsEveryReplyType) {
  {
    CannedServer server({"+PONG\r\n", "-ERR unknown command 'NOPE'\r\n", ":42\r\n",
                         "$12\r\nhello\r\nworld\r\n", "$-1\r\n", "*3\r\n$1\r\na\r\n:-7\r\n*1\r\n+ok\r\n",
                         "*0\r\n", "$0\r\n\r\n"});
    StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", server.port(), milliseconds(2000));
    ASSERT_OK(client);

    StatusOr<RespValue> v = client->Command({"PING"});
    ASSERT_OK(v);
    EXPECT_TRUE(v->IsSimple("PONG"));

    v = client->Command({"NOPE"});
    ASSERT_OK(v);  // a server error is a reply, not a failure
    EXPECT_EQ(v->type, RespValue::Type::kError);
    EXPECT_EQ(v->text, "ERR unknown command 'NOPE'");

    v = client->Command({"DBSIZE"});
    ASSERT_OK(v);
    EXPECT_EQ(v->type, RespValue::Type::kInteger);
    EXPECT_EQ(v->integer, 42);

    v = client->Command({"GET", "k"});
    ASSERT_OK(v);
    EXPECT_EQ(v->type, RespValue::Type::kBulkString);
    EXPECT_EQ(v->text, "hello\r\nworld");  // the length, not CRLF, ends a bulk string

    v = client->Command({"GET", "missing"});
    ASSERT_OK(v);
    EXPECT_EQ(v->type, RespValue::Type::kNull);

    v = client->Command({"NESTED"});
    ASSERT_OK(v);
    ASSERT_EQ(v->type, RespValue::Type::kArray);
    ASSERT_EQ(v->elements.size(), 3u);
    EXPECT_EQ(v->elements[0].text, "a");
    EXPECT_EQ(v->elements[1].integer, -7);
    ASSERT_EQ(v->elements[2].elements.size(), 1u);
    EXPECT_TRUE(v->elements[2].elements[0].IsSimple("ok"));

    v = client->Command({"EMPTY"});
    ASSERT_OK(v);
    EXPECT_EQ(v->type, RespValue::Type::kArray);
    EXPECT_TRUE(v->elements.empty());

    v = client->Command({"GET", "empty"});
    ASSERT_OK(v);
    EXPECT_EQ(v->type, RespValue::Type::kBulkString);
    EXPECT_EQ(v->text, "");
  }
}

TEST(RespClientTest, SendsCommandsAsRespArraysOfBulkStrings) {
  CannedServer server({"+OK\r\n"});
  {
    StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", server.port(), milliseconds(2000));
    ASSERT_OK(client);
    ASSERT_OK(client->Command({"INFO", "replication"}));
  }  // the client closes, so the server's thread ends
  server.Join();
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0], "*2\r\n$4\r\nINFO\r\n$11\r\nreplication\r\n");
}

TEST(RespClientTest, ReassemblesRepliesSplitAcrossReads) {
  const std::string info = "# Replication\r\npeers_connected:2\r\npeers_known:2\r\nrepl_lag_deltas:5\r\n";
  std::string bulk = "$";  // appended: GCC 12's -Wrestrict misfires on "$" + string
  bulk.append(std::to_string(info.size())).append("\r\n").append(info).append("\r\n");
  CannedServer server({bulk, ":3\r\n"}, /*chunk=*/1);
  StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", server.port(), milliseconds(2000));
  ASSERT_OK(client);
  StatusOr<RespValue> v = client->Command({"INFO", "replication"});
  ASSERT_OK(v);
  EXPECT_EQ(v->text, info);
  EXPECT_EQ(InfoField(v->text, "peers_connected"), "2");
  EXPECT_EQ(InfoField(v->text, "repl_lag_deltas"), "5");
  v = client->Command({"DBSIZE"});
  ASSERT_OK(v);
  EXPECT_EQ(v->integer, 3);
}

TEST(RespClientTest, RefusedConnectionIsUnavailable) {
  // A port that was just free: bind, read the number, close.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", ntohs(addr.sin_port), milliseconds(500));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kUnavailable);
}

TEST(RespClientTest, SilentServerTimesOut) {
  CannedServer server({});  // accepts, never answers
  StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", server.port(), milliseconds(200));
  ASSERT_OK(client);
  const auto start = std::chrono::steady_clock::now();
  StatusOr<RespValue> v = client->Command({"PING"});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // The client closed itself; it does not wait again.
  EXPECT_EQ(client->Command({"PING"}).status().code(), StatusCode::kUnavailable);
}

TEST(RespClientTest, ServerClosingIsUnavailable) {
  CannedServer server({"+PART"}, 1 << 20, /*close_after=*/true);
  StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", server.port(), milliseconds(2000));
  ASSERT_OK(client);
  StatusOr<RespValue> v = client->Command({"PING"});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable);
}

TEST(RespClientTest, MalformedOrOversizedRepliesAreCorruption) {
  for (const std::string reply : {"?what\r\n", "$99999999999\r\n", ":12x\r\n", "*-5\r\n", "$3\r\nabcde\r\n",
                                  "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"}) {
    SCOPED_TRACE(reply);
    CannedServer server({reply});
    StatusOr<RespClient> client = RespClient::Connect("127.0.0.1", server.port(), milliseconds(2000));
    ASSERT_OK(client);
    StatusOr<RespValue> v = client->Command({"X"});
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), StatusCode::kCorruption);
  }
}

TEST(RespClientTest, NonNumericHostIsRefused) {
  StatusOr<RespClient> client = RespClient::Connect("example.invalid", 7001, milliseconds(100));
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument);
}

TEST(InfoFieldTest, FindsFieldsByExactName) {
  const std::string info = "# Replication\r\npeers_connected:2\r\npeers:9\r\nrepl_lag_deltas:\r\nlast:x";
  EXPECT_EQ(InfoField(info, "peers_connected"), "2");
  EXPECT_EQ(InfoField(info, "peers"), "9");
  EXPECT_EQ(InfoField(info, "repl_lag_deltas"), "");
  EXPECT_EQ(InfoField(info, "last"), "x");
  EXPECT_EQ(InfoField(info, "peers_known"), std::nullopt);
  EXPECT_EQ(InfoField(info, "# Replication"), std::nullopt);
}

}  // namespace
}  // namespace converge
