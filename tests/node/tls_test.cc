// Nodes with TLS on both ports, in-process: a 3-node cluster replicating over
// mutual TLS, a node from another CA refused (and INFO saying why), and the
// client port speaking TLS to a TLS client while plain clients and garbage are
// turned away without harm. Certificates are made at test time.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tests/node/test_node.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace converge::testing {
namespace {

using namespace std::chrono_literals;

// A RESP client over TLS (hiredis in Debian is built without TLS). Every
// operation runs with a deadline on a private io_context.
class TlsClient {
 public:
  TlsClient(uint16_t port, const std::string& ca, const std::string& cert = "",
            const std::string& key = "")
      : ctx_(asio::ssl::context::tls_client) {
    asio::error_code ec;
    ctx_.load_verify_file(ca, ec);
    if (!ec && !cert.empty()) ctx_.use_certificate_chain_file(cert, ec);
    if (!ec && !key.empty()) ctx_.use_private_key_file(key, asio::ssl::context::pem, ec);
    if (!ec) ctx_.set_verify_mode(asio::ssl::verify_peer, ec);
    if (ec) {
      error_ = "context: " + ec.message();
      return;
    }
    // After the context is complete: SSL_new copies the certificate from it.
    stream_.emplace(io_, ctx_);
    stream_->lowest_layer().connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) {
      ec = Wait([&](auto done) {
        stream_->async_handshake(asio::ssl::stream_base::client, [done](auto e) { done(e); });
      });
    }
    if (ec) error_ = "handshake: " + ec.message();
  }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // The common name of the certificate the server presented; "" if none.
  std::string ServerName() {
    if (!ok()) return "";
    X509* cert = SSL_get1_peer_certificate(stream_->native_handle());
    if (cert == nullptr) return "";
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
    X509_free(cert);
    return cn;
  }

  // One command; the reply as "+OK", ":1", "-ERR ...", the bulk's bytes, or
  // "(nil)"; "<io error: ...>" when the connection failed.
  std::string Run(const std::vector<std::string>& args) {
    if (!ok()) return "<io error: " + error_ + ">";
    std::string req = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    asio::error_code ec = Wait([&](auto done) {
      asio::async_write(*stream_, asio::buffer(req), [done](auto e, size_t) { done(e); });
    });
    std::string line;
    if (!ec) ec = ReadLine(&line);
    if (ec) return "<io error: " + ec.message() + ">";
    if (line[0] != '$') return line;
    const long len = std::stol(line.substr(1));
    if (len < 0) return "(nil)";
    const size_t need = static_cast<size_t>(len) + 2;
    if (buf_.size() < need) {
      ec = Wait([&](auto done) {
        asio::async_read(*stream_, asio::dynamic_buffer(buf_), asio::transfer_exactly(need - buf_.size()),
                         [done](auto e, size_t) { done(e); });
      });
      if (ec) return "<io error: " + ec.message() + ">";
    }
    std::string body = buf_.substr(0, static_cast<size_t>(len));
    buf_.erase(0, need);
    return body;
  }

 private:
  asio::error_code ReadLine(std::string* line) {
    asio::error_code ec;
    if (buf_.find("\r\n") == std::string::npos) {
      ec = Wait([&](auto done) {
        asio::async_read_until(*stream_, asio::dynamic_buffer(buf_), "\r\n",
                               [done](auto e, size_t) { done(e); });
      });
    }
    if (ec) return ec;
    const size_t end = buf_.find("\r\n");
    *line = buf_.substr(0, end);
    buf_.erase(0, end + 2);
    return ec;
  }
  // Starts op(done) and runs it for at most 5 s.
  template <typename Op>
  asio::error_code Wait(Op op) {
    asio::error_code result = asio::error::timed_out;
    bool finished = false;
    op([&](const asio::error_code& ec) {
      result = ec;
      finished = true;
    });
    io_.restart();
    io_.run_for(5s);
    if (!finished) {
      asio::error_code ignored;  // timed out: abandon the connection
      stream_->lowest_layer().close(ignored);
      io_.restart();
      io_.run();
    }
    return result;
  }

  asio::io_context io_;
  asio::ssl::context ctx_;
  std::optional<asio::ssl::stream<asio::ip::tcp::socket>> stream_;
  std::string buf_;
  std::string error_;
};

std::string InfoField(const std::string& info, const std::string& field) {
  const size_t at = info.find(field + ":");
  if (at == std::string::npos) return "";
  const size_t start = at + field.size() + 1;
  return info.substr(start, info.find("\r\n", start) - start);
}

class NodeTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.MakeCa("ca")) << "openssl failed";
    ASSERT_TRUE(pki_.MakeCa("other-ca"));
    ASSERT_TRUE(pki_.MakeCert("client", "ca"));
  }
  // Node options with TLS: certificate `name` signed by `ca`, trusting `ca`.
  std::function<void(NodeOptions&)> Tls(const std::string& name, const std::string& ca = "ca",
                                        bool auth_clients = false) {
    EXPECT_TRUE(pki_.MakeCert(name, ca));
    return [this, name, ca, auth_clients](NodeOptions& o) {
      o.tls_cert_file = pki_.Cert(name);
      o.tls_key_file = pki_.Key(name);
      o.tls_ca_file = pki_.Cert(ca);
      o.tls_auth_clients = auth_clients;
    };
  }
  static std::string Run(TestNode& n, std::vector<std::string> args) {
    return n.node->Execute(args);
  }
  TestPki pki_;
};

TEST_F(NodeTlsTest, ThreeNodeClusterReplicatesOverTls) {
  std::vector<uint16_t> peer_ports = {PickFreePort(), PickFreePort(), PickFreePort()};
  std::vector<std::unique_ptr<TestNode>> nodes;
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> seeds;
    for (int j = 0; j < 3; ++j) {
      if (j != i) seeds.push_back("127.0.0.1:" + std::to_string(peer_ports[j]));
    }
    const std::string name = "t" + std::to_string(i + 1);
    auto tls = Tls(name);
    nodes.push_back(TestNode::Start(name, seeds, [&](NodeOptions& o) {
      tls(o);
      o.peer_port = peer_ports[i];
    }));
    ASSERT_NE(nodes.back(), nullptr);
  }
  ASSERT_TRUE(WaitFor([&] {
    for (auto& n : nodes) {
      if (Run(*n, {"INFO", "replication"}).find("peers_connected:2") == std::string::npos) {
        return false;
      }
    }
    return true;
  }));
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 50; ++k) {
      Run(*nodes[i], {"INCRBY", "hits", "1"});
      Run(*nodes[i], {"SET", "s" + std::to_string(i) + "-" + std::to_string(k), "v"});
    }
    Run(*nodes[i], {"HSET", "h", "f" + std::to_string(i), "x"});
  }
  ASSERT_TRUE(WaitFor([&] {
    const std::string d = Run(*nodes[0], {"DEBUG", "DIGEST"});
    return Run(*nodes[1], {"DEBUG", "DIGEST"}) == d && Run(*nodes[2], {"DEBUG", "DIGEST"}) == d;
  }));
  EXPECT_EQ(Run(*nodes[2], {"GET", "hits"}), "$3\r\n150\r\n");
  EXPECT_EQ(Run(*nodes[0], {"HLEN", "h"}), ":3\r\n");
  EXPECT_EQ(Run(*nodes[1], {"DBSIZE"}), ":152\r\n");
  const std::string info = Run(*nodes[0], {"INFO", "replication"});
  EXPECT_EQ(InfoField(info, "peers_refused"), "0") << info;
}

TEST_F(NodeTlsTest, NodeWithCertificateFromAnotherCaIsRefusedAndInfoSaysWhy) {
  auto a = TestNode::Start("a", {}, Tls("a"));
  ASSERT_NE(a, nullptr);
  auto x = TestNode::Start("x", {a->peer_address()}, Tls("x", "other-ca"));
  ASSERT_NE(x, nullptr);
  auto b = TestNode::Start("b", {a->peer_address()}, Tls("b"));
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return Run(*b, {"INFO", "replication"}).find("peers_connected:1") != std::string::npos;
  }));
  // b may count a as connected a moment before a counts b (a sanitizer run
  // under load saw a's INFO with the refusal and no peer yet): wait on a
  // for both the refusal and b.
  std::string info;
  ASSERT_TRUE(WaitFor([&] {
    info = Run(*a, {"INFO", "replication"});
    return InfoField(info, "peers_last_refusal").find("TLS handshake failed") != std::string::npos &&
           InfoField(info, "peers_connected") == "1";  // b only
  })) << info;
  EXPECT_NE(InfoField(info, "peers_last_refusal").find("CA"), std::string::npos) << info;
  EXPECT_NE(InfoField(info, "peers_refused"), "0");
  const std::string xinfo = Run(*x, {"INFO", "replication"});
  EXPECT_EQ(InfoField(xinfo, "peers_connected"), "0") << xinfo;
  EXPECT_NE(InfoField(xinfo, "peers_last_refusal").find("certificate"), std::string::npos) << xinfo;
}

TEST_F(NodeTlsTest, ClientPortSpeaksTlsAndTurnsAwayPlainClientsAndGarbage) {
  auto n = TestNode::Start("c", {}, Tls("c"));
  ASSERT_NE(n, nullptr);
  const uint16_t port = n->options.port;
  TlsClient good(port, pki_.Cert("ca"));  // no client certificate: not asked for
  ASSERT_TRUE(good.ok()) << good.error();
  EXPECT_EQ(good.Run({"PING"}), "+PONG");
  EXPECT_EQ(good.Run({"SET", "k", std::string(100000, 'v')}), "+OK");
  EXPECT_EQ(good.Run({"GET", "k"}), std::string(100000, 'v'));

  {
    Client plain(port);  // hiredis, plain TCP
    if (plain.ok()) {
      EXPECT_EQ(plain.Run({"PING"}).rfind("<io error", 0), 0u);
    }
  }
  {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    const char kGarbage[] = "\x16\x03\x01\x00\x05\xff\xff\xff\xff\xff\x00garbage\r\n";
    asio::write(s, asio::buffer(kGarbage, sizeof(kGarbage) - 1));
    char buf[256];
    asio::error_code ec;
    while (!ec) s.read_some(asio::buffer(buf), ec);  // until the node closes it
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  }
  // The node kept serving the TLS client all along, and counts the failures.
  EXPECT_EQ(good.Run({"INCR", "n"}), ":1");
  TlsClient again(port, pki_.Cert("ca"));
  EXPECT_EQ(again.Run({"INCR", "n"}), ":2");
  const std::string info = good.Run({"INFO", "clients"});
  EXPECT_EQ(InfoField(info, "tls"), "on") << info;
  EXPECT_EQ(InfoField(info, "tls_handshake_failures"), "2") << info;
}

TEST_F(NodeTlsTest, AuthClientsRequiresAClientCertificateFromTheCa) {
  ASSERT_TRUE(pki_.MakeCert("stranger", "other-ca"));
  auto n = TestNode::Start("c", {}, Tls("c", "ca", /*auth_clients=*/true));
  ASSERT_NE(n, nullptr);
  const uint16_t port = n->options.port;
  TlsClient with_cert(port, pki_.Cert("ca"), pki_.Cert("client"), pki_.Key("client"));
  EXPECT_EQ(with_cert.Run({"PING"}), "+PONG");
  // Under TLS 1.3 the client's handshake may finish before the server checks
  // its certificate: the refusal then shows on the first read.
  TlsClient without(port, pki_.Cert("ca"));
  EXPECT_EQ(without.Run({"PING"}).rfind("<io error", 0), 0u);
  TlsClient foreign(port, pki_.Cert("ca"), pki_.Cert("stranger"), pki_.Key("stranger"));
  EXPECT_EQ(foreign.Run({"PING"}).rfind("<io error", 0), 0u);
  EXPECT_EQ(with_cert.Run({"PING"}), "+PONG");
}

TEST_F(NodeTlsTest, BadTlsFilesFailOpenWithTheFileNamed) {
  const std::string junk = pki_.Write("junk.pem", "-----BEGIN CERTIFICATE-----\nnope\n");
  NodeOptions o;
  o.data_dir = TempDir("badtls");
  o.port = PickFreePort();
  o.tls_cert_file = junk;
  o.tls_key_file = pki_.Key("client");
  o.tls_ca_file = pki_.Cert("ca");
  StatusOr<std::unique_ptr<Node>> n = Node::Open(o);
  ASSERT_FALSE(n.ok());
  EXPECT_NE(n.status().message().find(junk), std::string::npos) << n.status().message();
  std::error_code ec;
  std::filesystem::remove_all(o.data_dir, ec);
}

TEST_F(NodeTlsTest, ReloadTlsServesARotatedCertificateToNewConnectionsOnly) {
  auto a = TestNode::Start("a", {}, Tls("a"));
  ASSERT_NE(a, nullptr);
  const uint16_t port = a->options.port;
  TlsClient before(port, pki_.Cert("ca"));
  ASSERT_TRUE(before.ok()) << before.error();
  EXPECT_EQ(before.ServerName(), "a");

  // Rotation: a new key and certificate (CN a-next) written over the files
  // the node was started with. Nothing changes until the reload.
  ASSERT_TRUE(pki_.MakeCert("a-next", "ca"));
  const auto overwrite = std::filesystem::copy_options::overwrite_existing;
  std::filesystem::copy_file(pki_.Cert("a-next"), pki_.Cert("a"), overwrite);
  std::filesystem::copy_file(pki_.Key("a-next"), pki_.Key("a"), overwrite);
  EXPECT_EQ(TlsClient(port, pki_.Cert("ca")).ServerName(), "a");
  ASSERT_OK(a->node->ReloadTls());
  TlsClient after(port, pki_.Cert("ca"));
  ASSERT_TRUE(after.ok()) << after.error();
  EXPECT_EQ(after.ServerName(), "a-next");
  EXPECT_EQ(after.Run({"INCR", "n"}), ":1");
  EXPECT_EQ(before.Run({"INCR", "n"}), ":2");  // the open connection was not cut

  // The peer port rotated too: a node that joins now completes mutual TLS
  // with the new certificate and replicates both ways.
  auto b = TestNode::Start("b", {a->peer_address()}, Tls("b"));
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] {
    return InfoField(Run(*a, {"INFO", "replication"}), "peers_connected") == "1" &&
           InfoField(Run(*b, {"INFO", "replication"}), "peers_connected") == "1";
  }));
  Run(*b, {"INCR", "n"});
  ASSERT_TRUE(WaitFor([&] { return Run(*a, {"GET", "n"}) == "$1\r\n3\r\n"; }));

  // A file that does not load: the error names it, and every port keeps the
  // certificate it had.
  const std::string broken = pki_.Write("a.crt", "-----BEGIN CERTIFICATE-----\nnope\n");
  const Status s = a->node->ReloadTls();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(broken), std::string::npos) << s.message();
  TlsClient later(port, pki_.Cert("ca"));
  EXPECT_EQ(later.ServerName(), "a-next");
  EXPECT_EQ(later.Run({"GET", "n"}), "3");
}

TEST_F(NodeTlsTest, ReloadTlsWithoutTlsIsAFailedPrecondition) {
  auto n = TestNode::Start("plain", {});
  ASSERT_NE(n, nullptr);
  const Status s = n->node->ReloadTls();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.message();
}

}  // namespace
}  // namespace converge::testing
