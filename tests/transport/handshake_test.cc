#include "transport/handshake.h"

#include <gtest/gtest.h>

#include <string>

#include "crdt/codec.h"
#include "tests/testing/status_matchers.h"
#include "transport/frame.h"

namespace converge::transport {
namespace {

LocalIdentity Identity(uint64_t id, std::string name, std::string cluster = "c1") {
  return LocalIdentity{std::move(cluster), id, std::move(name), "127.0.0.1:7001",
                       "127.0.0.1:17001"};
}

// Runs the full exchange of handshake.h between a dialer and an acceptor and
// returns the first failure, recording every byte either side put on the wire.
struct Exchange {
  Status dialer_status;
  Status acceptor_status;
  std::string wire;
};
Exchange RunExchange(Handshake& d, Handshake& a, int64_t dialer_now, int64_t acceptor_now) {
  Exchange ex;
  auto wire = [&](MessageType t, const std::string& body) {
    ex.wire += EncodeFrame(static_cast<uint8_t>(t), body);
  };
  StatusOr<std::string> hello_d = d.MakeHello(dialer_now);
  if (!hello_d.ok()) return ex.dialer_status = hello_d.status(), ex;
  wire(MessageType::kHello, *hello_d);
  if (ex.acceptor_status = a.OnHello(*hello_d, acceptor_now); !ex.acceptor_status.ok()) return ex;
  StatusOr<std::string> hello_a = a.MakeHello(acceptor_now);
  if (!hello_a.ok()) return ex.acceptor_status = hello_a.status(), ex;
  const std::string proof_a = a.MakeProof();
  wire(MessageType::kHello, *hello_a);
  wire(MessageType::kProof, proof_a);
  if (ex.dialer_status = d.OnHello(*hello_a, dialer_now); !ex.dialer_status.ok()) return ex;
  if (ex.dialer_status = d.OnProof(proof_a); !ex.dialer_status.ok()) return ex;
  const std::string proof_d = d.MakeProof();
  wire(MessageType::kProof, proof_d);
  ex.acceptor_status = a.OnProof(proof_d);
  return ex;
}

TEST(HandshakeTest, SucceedsWithSharedSecretAndSecretNeverOnWire) {
  const std::string secret = "correct horse battery staple, 32+ bytes of secret";
  Handshake d(Handshake::Role::kDialer, Identity(1, "n1"), {secret, 500});
  Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2"), {secret, 500});
  Exchange ex = RunExchange(d, a, 1'000'000, 1'000'100);
  ASSERT_OK(ex.dialer_status);
  ASSERT_OK(ex.acceptor_status);
  EXPECT_EQ(d.peer().replica_id, 2u);
  EXPECT_EQ(a.peer().node_name, "n1");
  EXPECT_EQ(d.clock_offset_ms(), 100);
  EXPECT_EQ(a.clock_offset_ms(), -100);
  EXPECT_EQ(ex.wire.find(secret), std::string::npos);
  EXPECT_EQ(ex.wire.find(secret.substr(0, 8)), std::string::npos);
}

TEST(HandshakeTest, SucceedsWithoutSecret) {
  Handshake d(Handshake::Role::kDialer, Identity(1, "n1"), {});
  Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2"), {});
  Exchange ex = RunExchange(d, a, 5, 5);
  EXPECT_OK(ex.dialer_status);
  EXPECT_OK(ex.acceptor_status);
}

TEST(HandshakeTest, WrongSecretRefusedBothWays) {
  Handshake d(Handshake::Role::kDialer, Identity(1, "n1"), {"secret-one", 500});
  Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2"), {"secret-two", 500});
  Exchange ex = RunExchange(d, a, 0, 0);
  // The dialer checks the acceptor's proof first and refuses it.
  EXPECT_EQ(ex.dialer_status.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(ex.dialer_status.message().find("failed the cluster secret challenge"),
            std::string::npos);
  // And an acceptor refuses a dialer with the wrong secret.
  Handshake d2(Handshake::Role::kDialer, Identity(1, "n1"), {"secret-one", 500});
  Handshake a2(Handshake::Role::kAcceptor, Identity(2, "n2"), {"secret-two", 500});
  ASSERT_OK(a2.OnHello(*d2.MakeHello(0), 0));
  ASSERT_TRUE(a2.MakeHello(0).ok());
  ASSERT_OK(d2.OnHello(*Handshake(Handshake::Role::kAcceptor, Identity(2, "n2"), {"secret-one", 500})
                            .MakeHello(0),
                       0));
  EXPECT_EQ(a2.OnProof(d2.MakeProof()).code(), StatusCode::kPermissionDenied);
}

TEST(HandshakeTest, SecretOnOneSideOnlyRefused) {
  Handshake d(Handshake::Role::kDialer, Identity(1, "n1"), {"s", 500});
  Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2"), {});
  Exchange ex = RunExchange(d, a, 0, 0);
  EXPECT_EQ(ex.acceptor_status.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(ex.acceptor_status.message().find("none is configured here"), std::string::npos);
}

TEST(HandshakeTest, ReflectedProofIsRejected) {
  // A proof is bound to its role: the acceptor's answer to a challenge cannot
  // be replayed as a dialer's answer to the same challenge.
  const std::string c1(kChallengeSize, 'a'), c2(kChallengeSize, 'b');
  EXPECT_NE(Handshake::ComputeMac("s", Handshake::Role::kAcceptor, c1, c2, 1, 2, "c"),
            Handshake::ComputeMac("s", Handshake::Role::kDialer, c1, c2, 1, 2, "c"));
  EXPECT_NE(Handshake::ComputeMac("s", Handshake::Role::kDialer, c1, c2, 1, 2, "c"),
            Handshake::ComputeMac("s", Handshake::Role::kDialer, c1, c2, 2, 1, "c"));
  EXPECT_EQ(Handshake::ComputeMac("s", Handshake::Role::kDialer, c1, c2, 1, 2, "c").size(),
            kProofSize);
}

TEST(HandshakeTest, ClockOffsetBeyondBoundRefusedWithTheNumbers) {
  Handshake d(Handshake::Role::kDialer, Identity(1, "n1"), {"", 500});
  Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2"), {"", 500});
  Exchange ex = RunExchange(d, a, 10'000, 8'800);  // dialer 1200 ms ahead
  EXPECT_EQ(ex.acceptor_status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(ex.acceptor_status.message().find("clock offset with peer 'n1' is +1200 ms"),
            std::string::npos)
      << ex.acceptor_status.ToString();
  EXPECT_NE(ex.acceptor_status.message().find("bound of 500 ms"), std::string::npos);
  // At the bound it is accepted.
  Handshake d2(Handshake::Role::kDialer, Identity(1, "n1"), {"", 500});
  Handshake a2(Handshake::Role::kAcceptor, Identity(2, "n2"), {"", 500});
  Exchange ok = RunExchange(d2, a2, 10'000, 9'500);
  EXPECT_OK(ok.acceptor_status);
  EXPECT_OK(ok.dialer_status);
}

TEST(HandshakeTest, WrongClusterSelfAndVersionRefused) {
  {
    Handshake d(Handshake::Role::kDialer, Identity(1, "n1", "blue"), {});
    Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2", "green"), {});
    Exchange ex = RunExchange(d, a, 0, 0);
    EXPECT_EQ(ex.acceptor_status.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(ex.acceptor_status.message().find("wrong cluster id"), std::string::npos);
  }
  {
    Handshake d(Handshake::Role::kDialer, Identity(7, "n1"), {});
    Handshake a(Handshake::Role::kAcceptor, Identity(7, "n1"), {});
    Exchange ex = RunExchange(d, a, 0, 0);
    EXPECT_NE(ex.acceptor_status.message().find("connected to itself"), std::string::npos);
  }
  {
    Hello hello;
    hello.protocol_version = 9;
    hello.cluster_id = "c1";
    hello.replica_id = 3;
    Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2"), {});
    Status st = a.OnHello(Encode(hello), 0);
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(st.message().find("protocol version mismatch: peer speaks 9"), std::string::npos);
  }
}

TEST(HandshakeTest, MalformedMessagesAreCorruption) {
  Handshake a(Handshake::Role::kAcceptor, Identity(2, "n2"), {"s", 500});
  EXPECT_EQ(a.OnHello("", 0).code(), StatusCode::kCorruption);
  EXPECT_EQ(a.OnHello(std::string("\x01\xff\xff\xff\xff\xff\xff\xff\xff", 9), 0).code(),
            StatusCode::kCorruption);
  Hello h;
  h.protocol_version = kProtocolVersion;
  h.challenge = "short";  // not kChallengeSize
  EXPECT_EQ(a.OnHello(Encode(h), 0).code(), StatusCode::kCorruption);
  EXPECT_EQ(a.OnProof("junk").code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace converge::transport
