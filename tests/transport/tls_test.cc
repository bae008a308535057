// Transport with mutual TLS over loopback: certificates made at test time
// (tests/testing/test_pki.h). Checks that good peers connect and exchange
// frames, and that every kind of bad peer is refused with a reason while the
// good connections carry on.
#include <gtest/gtest.h>

#include <string>

#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/transport/test_bus.h"
#include "transport/tls.h"
#include "transport/transport.h"

namespace converge::transport {
namespace {

using namespace bus_testing;  // NOLINT: the helpers of test_bus.h
using converge::testing::TestPki;

class TlsBusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(pki_.dir().empty());
    ASSERT_TRUE(pki_.MakeCa("ca")) << "openssl failed";
    ASSERT_TRUE(pki_.MakeCa("other-ca"));
  }

  // Options of a node whose certificate `cert` is signed by `ca`, trusting `trust`.
  TransportOptions TlsOptions(const std::string& name, uint64_t id, const std::string& ca = "ca",
                              int days = 2, const std::string& trust = "ca") {
    EXPECT_TRUE(pki_.MakeCert(name, ca, days));
    TransportOptions o = FastOptions(name, id);
    StatusOr<std::shared_ptr<TlsContextSlot>> slot = TlsContextSlot::Open(
        TlsFiles{pki_.Cert(name), pki_.Key(name), pki_.Cert(trust)}, TlsVerify::kRequire);
    EXPECT_OK(slot.status());
    if (slot.ok()) o.tls = *slot;
    return o;
  }

  // a and b connect over TLS and exchange a frame each way.
  static void ExpectExchange(TestNode& a, TestNode& b) {
    ASSERT_TRUE(a.WaitConnected(b.id()));
    ASSERT_TRUE(b.WaitConnected(a.id()));
    ASSERT_OK(a.bus().Send(b.id(), kData, "from-a"));
    ASSERT_OK(b.bus().Send(a.id(), kData, "from-b"));
    EXPECT_TRUE(b.WaitFor([&] { return b.CountLocked(a.id(), "from-a") >= 1; }));
    EXPECT_TRUE(a.WaitFor([&] { return a.CountLocked(b.id(), "from-b") >= 1; }));
  }

  TestPki pki_;
};

TEST_F(TlsBusTest, ThreePeersConnectOverMutualTls) {
  TestNode a(TlsOptions("a", 1)), b(TlsOptions("b", 2)), c(TlsOptions("c", 3));
  ASSERT_OK(a.Start());
  b.options().seeds = {a.address()};
  ASSERT_OK(b.Start());
  c.options().seeds = {a.address(), b.address()};
  ASSERT_OK(c.Start());
  ExpectExchange(a, b);
  ExpectExchange(a, c);
  ExpectExchange(b, c);
  const std::optional<PeerStats> s = a.bus().Stats(2);
  ASSERT_TRUE(s.has_value());
  EXPECT_NE(s->link.find("(tls)"), std::string::npos) << s->link;
  EXPECT_EQ(a.bus().rejected_connections(), 0u);
}

TEST_F(TlsBusTest, LargeFramesAndBurstsCrossTls) {
  // Bursts are joined into one buffer per write under TLS; frames above the
  // 16 KiB TLS record size span records. Order and content must survive.
  TestNode a(TlsOptions("a", 1)), b(TlsOptions("b", 2));
  ASSERT_OK(b.Start());
  a.options().seeds = {b.address()};
  ASSERT_OK(a.Start());
  ASSERT_TRUE(a.WaitConnected(2));
  const std::string big(1 << 20, 'x');
  constexpr int kFrames = 500;
  for (int i = 0; i < kFrames; ++i) {
    ASSERT_OK(a.bus().Send(2, kData, i % 100 == 0 ? Numbered("big", i) + big : Numbered("f", i)));
  }
  ASSERT_TRUE(b.WaitFor([&] { return b.CountLocked(1, "") >= kFrames; }));
  const std::vector<Received> got = b.FramesFrom(1);
  ASSERT_EQ(got.size(), static_cast<size_t>(kFrames));
  for (int i = 0; i < kFrames; ++i) {
    if (i % 100 == 0) {
      EXPECT_EQ(got[i].body, Numbered("big", i) + big) << i;
    } else {
      EXPECT_EQ(got[i].body, Numbered("f", i));
    }
  }
}

TEST_F(TlsBusTest, PeerWithCertificateFromAnotherCaIsRefusedWithReason) {
  TestNode a(TlsOptions("a", 1)), b(TlsOptions("b", 2));
  // Signed by another CA, and trusting only that one.
  TestNode x(TlsOptions("x", 9, "other-ca", 2, "other-ca"));
  ASSERT_OK(a.Start());
  x.options().seeds = {a.address()};
  ASSERT_OK(x.Start());
  b.options().seeds = {a.address()};
  ASSERT_OK(b.Start());
  ASSERT_TRUE(a.WaitEvent(PeerEvent::Kind::kRefused, "TLS handshake failed"));
  ExpectExchange(a, b);  // the bad peer does not block good ones
  EXPECT_FALSE(a.bus().IsConnected(9));
  EXPECT_FALSE(x.bus().IsConnected(1));
  EXPECT_GE(a.bus().rejected_connections(), 1u);
  // The acceptor names OpenSSL's reason for refusing x's certificate.
  const std::string why = a.bus().last_refusal();
  EXPECT_NE(why.find("TLS handshake failed"), std::string::npos) << why;
  EXPECT_NE(why.find("certificate"), std::string::npos) << why;
}

TEST_F(TlsBusTest, ExpiredCertificateIsRefused) {
  TestNode a(TlsOptions("a", 1));
  TestNode old(TlsOptions("old", 5, "ca", /*days=*/-1));
  ASSERT_OK(a.Start());
  old.options().seeds = {a.address()};
  ASSERT_OK(old.Start());
  ASSERT_TRUE(a.WaitEvent(PeerEvent::Kind::kRefused, "certificate has expired"));
  EXPECT_FALSE(a.bus().IsConnected(5));
}

TEST_F(TlsBusTest, ClusterSecretIsStillProvedInsideTls) {
  TransportOptions ao = TlsOptions("a", 1), bo = TlsOptions("b", 2);
  ao.cluster_secret = "right";
  bo.cluster_secret = "wrong";
  TestNode a(ao), b(bo);
  ASSERT_OK(a.Start());
  b.options().seeds = {a.address()};
  ASSERT_OK(b.Start());
  ASSERT_TRUE(a.WaitEvent(PeerEvent::Kind::kRefused));
  EXPECT_FALSE(a.bus().IsConnected(2));
  EXPECT_EQ(a.bus().last_refusal().find("TLS"), std::string::npos) << a.bus().last_refusal();
}

TEST_F(TlsBusTest, PlainPeerGarbageAndSilentClientsDoNotHarmTlsPeers) {
  TestNode a(TlsOptions("a", 1)), b(TlsOptions("b", 2));
  TestNode plain(FastOptions("plain", 7));
  ASSERT_OK(a.Start());
  plain.options().seeds = {a.address()};
  ASSERT_OK(plain.Start());
  ASSERT_TRUE(a.WaitEvent(PeerEvent::Kind::kRefused, "not TLS"));
  {
    RawClient silent(a.bus().port());  // holds a handshake open until the deadline
    RawClient garbage(a.bus().port());
    const char kGarbage[] = "\x16\x03\x01\xff\xff garbage that claims to be a TLS record";
    garbage.Write(std::string_view(kGarbage, sizeof(kGarbage) - 1));
    std::string got;
    EXPECT_TRUE(garbage.ReadUntilClosed(&got));
    b.options().seeds = {a.address()};
    ASSERT_OK(b.Start());
    ExpectExchange(a, b);
    EXPECT_TRUE(silent.ReadUntilClosed(&got));  // the handshake deadline closed it
  }
  EXPECT_FALSE(a.bus().IsConnected(7));
  EXPECT_FALSE(plain.bus().IsConnected(1));
  EXPECT_TRUE(a.bus().IsConnected(2));
  EXPECT_GE(a.bus().rejected_connections(), 3u);
}

TEST_F(TlsBusTest, BadFilesGiveClearErrors) {
  ASSERT_TRUE(pki_.MakeCert("n", "ca"));
  const std::string junk = pki_.Write("junk.pem", "not a certificate\n");
  auto make = [](std::string cert, std::string key, std::string ca) {
    return MakeTlsContext(TlsFiles{std::move(cert), std::move(key), std::move(ca)},
                          TlsVerify::kRequire)
        .status();
  };
  EXPECT_OK(make(pki_.Cert("n"), pki_.Key("n"), pki_.Cert("ca")));
  Status st = make(junk, pki_.Key("n"), pki_.Cert("ca"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("certificate '" + junk + "'"), std::string::npos) << st.message();
  st = make(pki_.Cert("n"), junk, pki_.Cert("ca"));
  EXPECT_NE(st.message().find("key '" + junk + "'"), std::string::npos) << st.message();
  st = make(pki_.Cert("n"), pki_.Key("ca"), pki_.Cert("ca"));  // someone else's key
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("does not match"), std::string::npos) << st.message();
  st = make(pki_.Cert("n"), pki_.Key("n"), pki_.dir() + "/missing.pem");
  EXPECT_NE(st.message().find("CA"), std::string::npos) << st.message();
  st = make(pki_.Cert("n"), pki_.Key("n"), "");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}


// The suite a client gets: a handshake over a memory BIO pair between the
// node's server context and a plain OpenSSL client offering `tls13` /
// `tls12` suites in its own order. Returns the suite's name, or "" if the
// handshake failed.
std::string NegotiatedSuite(asio::ssl::context& server, int version, const char* tls13,
                            const char* tls12) {
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(cctx, version);
  SSL_CTX_set_max_proto_version(cctx, version);
  SSL_CTX_set_ciphersuites(cctx, tls13);
  SSL_CTX_set_cipher_list(cctx, tls12);
  SSL* client = SSL_new(cctx);
  SSL* srv = SSL_new(server.native_handle());
  BIO *client_bio = nullptr, *server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(client, client_bio, client_bio);
  SSL_set_bio(srv, server_bio, server_bio);
  SSL_set_connect_state(client);
  SSL_set_accept_state(srv);
  bool done = false;
  for (int i = 0; i < 20 && !done; ++i) {
    const int c = SSL_do_handshake(client);
    const int s = SSL_do_handshake(srv);
    done = c == 1 && s == 1;
    if ((c != 1 && SSL_get_error(client, c) == SSL_ERROR_SSL) ||
        (s != 1 && SSL_get_error(srv, s) == SSL_ERROR_SSL)) {
      break;
    }
  }
  std::string suite = done ? SSL_get_cipher_name(srv) : "";
  SSL_free(client);
  SSL_free(srv);
  SSL_CTX_free(cctx);
  ERR_clear_error();
  return suite;
}

TEST(TlsContextTest, PrefersAes128AndOffersOnlyForwardSecretAead) {
  TestPki pki;
  ASSERT_TRUE(pki.MakeCa("ca"));
  ASSERT_TRUE(pki.MakeCert("n", "ca"));
  StatusOr<std::shared_ptr<asio::ssl::context>> ctx = MakeTlsContext(
      TlsFiles{pki.Cert("n"), pki.Key("n"), pki.Cert("ca")}, TlsVerify::kNone);
  ASSERT_OK(ctx.status());
  const char* all13 = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
  const char* all12 = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:AES128-SHA";
  // The client lists AES-256 first; the node's order wins.
  EXPECT_EQ(NegotiatedSuite(**ctx, TLS1_3_VERSION, all13, all12), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(NegotiatedSuite(**ctx, TLS1_2_VERSION, all13, all12), "ECDHE-ECDSA-AES128-GCM-SHA256");
  // A TLS 1.3 client that takes only AES-256 still gets it.
  EXPECT_EQ(NegotiatedSuite(**ctx, TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", all12),
            "TLS_AES_256_GCM_SHA384");
  // No CBC suite without forward secrecy.
  EXPECT_EQ(NegotiatedSuite(**ctx, TLS1_2_VERSION, all13, "AES128-SHA"), "");
}

TEST(TlsContextSlotTest, ReloadReplacesTheContextOnlyWhenTheFilesLoad) {
  TestPki pki;
  ASSERT_TRUE(pki.MakeCa("ca"));
  ASSERT_TRUE(pki.MakeCert("n", "ca"));
  StatusOr<std::shared_ptr<TlsContextSlot>> slot =
      TlsContextSlot::Open(TlsFiles{pki.Cert("n"), pki.Key("n"), pki.Cert("ca")}, TlsVerify::kRequire);
  ASSERT_OK(slot.status());
  const std::shared_ptr<asio::ssl::context> first = (*slot)->Get();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ((*slot)->Get(), first);

  ASSERT_TRUE(pki.MakeCert("n", "ca"));  // a new key and certificate at the same paths
  ASSERT_OK((*slot)->Reload());
  const std::shared_ptr<asio::ssl::context> second = (*slot)->Get();
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
  EXPECT_EQ(SSL_CTX_check_private_key(second->native_handle()), 1);

  // A key that does not match the certificate: refused, the context stays.
  ASSERT_TRUE(pki.MakeCert("other", "ca"));
  std::filesystem::copy_file(pki.Key("other"), pki.Key("n"),
                             std::filesystem::copy_options::overwrite_existing);
  const Status s = (*slot)->Reload();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.message();
  EXPECT_EQ((*slot)->Get(), second);
  // Load() alone builds without putting it in place.
  EXPECT_FALSE((*slot)->Load().ok());
  EXPECT_EQ((*slot)->Get(), second);
}

}  // namespace
}  // namespace converge::transport
