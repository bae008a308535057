// Fuzz body for the peer handshake (transport/handshake.h): one side, the
// node under test, runs the handshake state machine of PeerConnection
// (transport/peer_connection.cc, HandleHandshakeFrame) over a FrameDecoder
// bounded by kMaxHandshakeBody; the other side is an honest Handshake whose
// messages the input delivers as they are, tampers with, retypes, or
// replaces with raw bytes.
//
// Input layout: byte 0 is the configuration:
//   bit 0  role under test (0 dialer, 1 acceptor)
//   bit 1  the node under test has a cluster secret
//   bit 2  the honest peer has a cluster secret
//   bit 3  the peer's secret differs (when both have one)
//   bit 4  the peer is in another cluster
//   bits 5-6  the peer's clock offset: 0, +499, -500 or +501 ms (bound 500)
//   bit 7  the peer claims the node's own replica id
// then steps, each one byte op (op % 4): 0 deliver the peer's next message;
// 1 deliver it with body byte [next byte] xored with [next byte] | 1;
// 2 deliver its body under frame type [next byte]; 3 append [next byte]
// raw bytes to the stream.
//
// Checked (FUZZ_CHECK):
//   - an accepted Hello is well formed, canonical, in our cluster, from
//     another non-zero replica, within the clock bound, and carries a
//     challenge exactly when we have a secret;
//   - with a secret, an accepted Proof is byte-equal to one the honest peer
//     made: no other bytes pass (no forgery, no reflection of our own proof);
//   - with a secret, the connection is established only with a peer that
//     knows the same secret;
//   - when every step is honest and the configurations agree, delivering the
//     peer's remaining messages establishes the connection.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/codec.h"
#include "fuzz/fuzz_check.h"
#include "transport/frame.h"
#include "transport/handshake.h"

namespace converge::fuzz {
namespace {

using transport::EncodeFrame;
using transport::FrameDecoder;
using transport::Handshake;
using transport::MessageType;

constexpr int64_t kNowMs = 1'700'000'000'000;
constexpr int64_t kMaxOffsetMs = 500;
constexpr uint64_t kLocalId = 0x1111;

struct Config {
  Handshake::Role role;
  std::string secret;
  std::string peer_secret;
  std::string peer_cluster;
  int64_t peer_offset_ms;
  uint64_t peer_id;

  bool Compatible() const {
    return secret == peer_secret && peer_cluster == "fuzz-cluster" && peer_id != kLocalId &&
           std::llabs(peer_offset_ms) <= kMaxOffsetMs;
  }
};

Config ParseConfig(uint8_t b) {
  Config c;
  c.role = (b & 1) ? Handshake::Role::kAcceptor : Handshake::Role::kDialer;
  if (b & 2) c.secret = "s3cret";
  if (b & 4) c.peer_secret = (b & 8) ? "0ther" : "s3cret";
  c.peer_cluster = (b & 16) ? "other-cluster" : "fuzz-cluster";
  static constexpr int64_t kOffsets[] = {0, 499, -500, 501};
  c.peer_offset_ms = kOffsets[(b >> 5) & 3];
  c.peer_id = (b & 128) ? kLocalId : 0x2222;
  return c;
}

transport::LocalIdentity Identity(std::string cluster, uint64_t id, std::string name) {
  return {std::move(cluster), id, std::move(name), "127.0.0.1:7001", "127.0.0.1:17001"};
}

struct Message {
  uint8_t type;
  std::string body;
};

// The honest other side: answers what the node under test sends, in the
// order of handshake.h, and queues its messages for the input to deliver.
class HonestPeer {
 public:
  explicit HonestPeer(const Config& c)
      : hs_(c.role == Handshake::Role::kDialer ? Handshake::Role::kAcceptor
                                               : Handshake::Role::kDialer,
            Identity(c.peer_cluster, c.peer_id, "peer"),
            transport::HandshakeOptions{c.peer_secret, kMaxOffsetMs}),
        now_ms_(kNowMs + c.peer_offset_ms) {
    if (hs_.role() == Handshake::Role::kDialer) SendHello();
  }

  void OnHello(std::string_view body) {
    if (done_) return;
    if (Status st = hs_.OnHello(body, now_ms_); !st.ok()) return Refuse(st);
    if (hs_.role() == Handshake::Role::kAcceptor) {
      SendHello();
      Send(MessageType::kProof, hs_.MakeProof());
    }
  }
  void OnProof(std::string_view body) {
    if (done_) return;
    if (Status st = hs_.OnProof(body); !st.ok()) return Refuse(st);
    if (hs_.role() == Handshake::Role::kAcceptor) {
      Send(MessageType::kWelcome, "");
    } else {
      Send(MessageType::kProof, hs_.MakeProof());
    }
    done_ = true;
  }

  std::deque<Message>& outbox() { return outbox_; }
  // Every Proof body this peer made (with a secret, the only ones that pass).
  const std::vector<std::string>& proofs() const { return proofs_; }

 private:
  void SendHello() {
    StatusOr<std::string> hello = hs_.MakeHello(now_ms_);
    FUZZ_CHECK(hello.ok());
    Send(MessageType::kHello, *hello);
  }
  void Send(MessageType t, std::string body) {
    if (t == MessageType::kProof) proofs_.push_back(body);
    outbox_.push_back({static_cast<uint8_t>(t), std::move(body)});
  }
  void Refuse(const Status& why) {
    Send(MessageType::kRefuse, transport::EncodeRefusal(why.message()));
    done_ = true;
  }

  Handshake hs_;
  int64_t now_ms_;
  bool done_ = false;
  std::deque<Message> outbox_;
  std::vector<std::string> proofs_;
};

// The node under test: PeerConnection's handshake states, without I/O.
class NodeUnderTest {
 public:
  enum class State { kAwaitHello, kAwaitProof, kAwaitWelcome, kEstablished, kClosed };

  NodeUnderTest(const Config& c, HonestPeer* peer)
      : config_(c),
        hs_(c.role, Identity("fuzz-cluster", kLocalId, "sut"),
            transport::HandshakeOptions{c.secret, kMaxOffsetMs}),
        peer_(peer),
        decoder_(transport::kMaxHandshakeBody) {
    if (c.role == Handshake::Role::kDialer) {
      StatusOr<std::string> hello = hs_.MakeHello(kNowMs);
      FUZZ_CHECK(hello.ok());
      peer_->OnHello(*hello);
    }
  }

  void Receive(std::string_view bytes) {
    while (!bytes.empty() && state_ != State::kClosed) {
      size_t consumed = 0;
      const FrameDecoder::Result r = decoder_.Feed(bytes, &consumed);
      bytes.remove_prefix(consumed);
      if (r == FrameDecoder::Result::kNeedMore) break;
      if (r == FrameDecoder::Result::kBad) {
        state_ = State::kClosed;
        break;
      }
      const transport::Frame frame = decoder_.TakeFrame();
      FUZZ_CHECK(frame.body.size() <= transport::kMaxHandshakeBody);
      HandleFrame(frame);
    }
  }

  State state() const { return state_; }

 private:
  void HandleFrame(const transport::Frame& frame) {
    const auto type = static_cast<MessageType>(frame.type);
    if (state_ == State::kEstablished) {
      if (frame.type < transport::kFirstApplicationType && type != MessageType::kHeartbeat) {
        state_ = State::kClosed;
      }
      return;
    }
    if (type == MessageType::kRefuse) {
      StatusOr<std::string> reason = transport::DecodeRefusal(frame.body);
      if (reason.ok()) FUZZ_CHECK(reason->size() <= 1024);
      state_ = State::kClosed;
      return;
    }
    const bool dialer = config_.role == Handshake::Role::kDialer;
    if (state_ == State::kAwaitHello && type == MessageType::kHello) {
      if (!hs_.OnHello(frame.body, kNowMs).ok()) {
        state_ = State::kClosed;
        return;
      }
      CheckAcceptedHello(frame.body);
      if (!dialer) {
        StatusOr<std::string> hello = hs_.MakeHello(kNowMs);
        FUZZ_CHECK(hello.ok());
        peer_->OnHello(*hello);
        peer_->OnProof(hs_.MakeProof());
      }
      state_ = State::kAwaitProof;
      return;
    }
    if (state_ == State::kAwaitProof && type == MessageType::kProof) {
      if (!hs_.OnProof(frame.body).ok()) {
        state_ = State::kClosed;
        return;
      }
      if (!config_.secret.empty()) {
        bool made_by_peer = false;
        for (const std::string& p : peer_->proofs()) made_by_peer |= p == frame.body;
        FUZZ_CHECK(made_by_peer);
      }
      if (dialer) {
        peer_->OnProof(hs_.MakeProof());
        state_ = State::kAwaitWelcome;
      } else {
        Establish();
      }
      return;
    }
    if (state_ == State::kAwaitWelcome && type == MessageType::kWelcome) {
      Establish();
      return;
    }
    state_ = State::kClosed;  // out of order
  }

  void CheckAcceptedHello(std::string_view body) {
    const transport::Hello& p = hs_.peer();
    FUZZ_CHECK(p.WellFormed());
    FUZZ_CHECK(Encode(p) == body);
    FUZZ_CHECK(p.protocol_version == transport::kProtocolVersion);
    FUZZ_CHECK(p.cluster_id == "fuzz-cluster");
    FUZZ_CHECK(p.replica_id != 0 && p.replica_id != kLocalId);
    FUZZ_CHECK(std::llabs(hs_.clock_offset_ms()) <= kMaxOffsetMs);
    FUZZ_CHECK(p.challenge.empty() == config_.secret.empty());
  }

  void Establish() {
    if (!config_.secret.empty()) FUZZ_CHECK(config_.peer_secret == config_.secret);
    state_ = State::kEstablished;
  }

  Config config_;
  Handshake hs_;
  HonestPeer* peer_;
  FrameDecoder decoder_;
  State state_ = State::kAwaitHello;
};

}  // namespace

int FuzzHandshake(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Config config = ParseConfig(data[0]);
  HonestPeer peer(config);
  NodeUnderTest node(config, &peer);
  bool all_honest = true;

  size_t i = 1;
  auto next = [&]() -> uint8_t { return i < size ? data[i++] : 0; };
  while (i < size && node.state() != NodeUnderTest::State::kClosed) {
    const uint8_t op = next() % 4;
    if (op == 3) {
      const size_t n = std::min<size_t>(next(), size - i);
      node.Receive(std::string_view(reinterpret_cast<const char*>(data) + i, n));
      i += n;
      all_honest = false;
      continue;
    }
    if (peer.outbox().empty()) continue;
    Message m = std::move(peer.outbox().front());
    peer.outbox().pop_front();
    if (op == 1) {
      const uint8_t at = next();
      const uint8_t mask = next() | 1;
      if (!m.body.empty()) {
        m.body[at % m.body.size()] = static_cast<char>(m.body[at % m.body.size()] ^ mask);
        all_honest = false;
      }
    } else if (op == 2) {
      const uint8_t type = next();
      all_honest &= type == m.type;
      m.type = type;
    }
    node.Receive(EncodeFrame(m.type, m.body));
  }

  if (all_honest && config.Compatible()) {
    while (!peer.outbox().empty() && node.state() != NodeUnderTest::State::kClosed) {
      const Message m = std::move(peer.outbox().front());
      peer.outbox().pop_front();
      node.Receive(EncodeFrame(m.type, m.body));
    }
    FUZZ_CHECK(node.state() == NodeUnderTest::State::kEstablished);
  }
  return 0;
}

}  // namespace converge::fuzz
