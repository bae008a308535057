// The handshake that admits a peer connection, and its messages.
//
// Sequence on a new TCP connection (each message is one frame, frame.h):
//
//   dialer                                   acceptor
//     Hello{challenge_d}             --->
//                                    <---    Hello{challenge_a}
//                                    <---    Proof{mac_a}
//     Proof{mac_d}                   --->
//                                    <---    Welcome        (or Refuse{reason})
//
// Each side checks the other's Hello (Handshake::OnHello): protocol version,
// cluster id, that it is not talking to itself, and that the peer's physical
// clock reading is within max_clock_offset_ms of its own (a fast clock would
// otherwise win LWW races: DESIGN.md, Hybrid logical clock). With a cluster
// secret, each side proves it knows the secret by answering the other's fresh
// 32-byte random challenge with
//
//   mac = HMAC-SHA256(secret, "converge-transport-proof-v1" || role ||
//                     verifier's challenge || prover's challenge ||
//                     prover replica id (u64 LE) || verifier replica id (u64 LE) ||
//                     cluster id)
//
// where role is 'D' for the dialer's proof and 'A' for the acceptor's. Binding
// the role and both ids means a proof obtained from one connection cannot be
// replayed or reflected onto another: an attacker who dials node A claiming to
// be B gets only an acceptor-role proof from A, which no dialer check accepts.
// The secret itself never crosses the wire; macs are compared with
// CRYPTO_memcmp. Either side refuses a peer whose proof fails.
//
// Only the acceptor decides admission (Welcome/Refuse), after both proofs, so
// a connection is "up" on both ends from the same message on: nothing sent on
// a connection that is later refused is ever delivered. The acceptor is also
// where duplicate connections between the same two nodes are resolved
// (transport.h).
//
// Limitation (stated, not hidden): the handshake authenticates; it does not
// encrypt or MAC later frames. A party that can rewrite TCP between two nodes
// can inject frames after the handshake. Run the peer port on a trusted
// network, or add TLS (see the report of issue 4).
#ifndef CONVERGE_TRANSPORT_HANDSHAKE_H_
#define CONVERGE_TRANSPORT_HANDSHAKE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/status.h"

namespace converge::transport {

inline constexpr std::size_t kChallengeSize = 32;
inline constexpr std::size_t kProofSize = 32;  // SHA-256
// Handshake bodies are tiny; until a peer is authenticated the frame decoder
// accepts bodies only up to this size, so a stranger cannot make us allocate
// the full 16 MiB frame bound.
inline constexpr uint32_t kMaxHandshakeBody = 4096;
inline constexpr std::size_t kMaxNameLength = 255;

// Who this node is, as told to peers.
struct LocalIdentity {
  std::string cluster_id;      // peers with another cluster id are refused
  uint64_t replica_id = 0;     // REQUIRES: non-zero, unique in the cluster
  std::string node_name;       // human name, for logs and DEBUG commands
  std::string client_address;  // "host:port" of the RESP listener, for redirects
  std::string peer_address;    // "host:port" of the peer listener
};

// Hello: first message from each side. Encoded with crdt/codec.h.
struct Hello {
  uint32_t protocol_version = 0;
  std::string cluster_id;
  uint64_t replica_id = 0;
  std::string node_name;
  std::string client_address;
  std::string peer_address;
  int64_t clock_ms = 0;   // sender's physical clock (Unix ms) when it sent this
  std::string challenge;  // kChallengeSize random bytes, or empty without a secret

  template <class Archive>
  void serialize(Archive& ar) {
    ar(protocol_version, cluster_id, replica_id, node_name, client_address, peer_address,
       clock_ms, challenge);
  }
  bool WellFormed() const;
};

// Proof: the HMAC answer to the other side's challenge; empty without a secret.
struct Proof {
  std::string mac;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(mac);
  }
  bool WellFormed() const { return mac.empty() || mac.size() == kProofSize; }
};

// Refuse: why a connection is refused, so the refused side can log it.
struct Refusal {
  std::string reason;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(reason);
  }
  bool WellFormed() const { return reason.size() <= 1024; }
};

struct HandshakeOptions {
  // Shared secret; peers must prove they know it. Empty: no authentication
  // (then peers configured with a secret refuse us, and we refuse them).
  // Default: empty.
  std::string cluster_secret;
  // Largest accepted |peer clock - our clock| in the Hello, in ms. Default: 500.
  int64_t max_clock_offset_ms = 500;
};

// The handshake state of one connection: builds our messages and checks the
// peer's. Pure logic with no I/O, so it can be tested byte by byte;
// PeerConnection drives it. Thread-compatible (one per connection, on its strand).
class Handshake {
 public:
  enum class Role : uint8_t { kDialer = 'D', kAcceptor = 'A' };

  Handshake(Role role, LocalIdentity local, HandshakeOptions options);

  // The body of our Hello, stamped with `now_ms`; draws our challenge
  // (RAND_bytes) when a secret is configured. Call once.
  // Fails only if the system RNG fails.
  StatusOr<std::string> MakeHello(int64_t now_ms);

  // Checks the peer's Hello body, received at our clock reading `now_ms`.
  // Errors: Corruption (undecodable), FailedPrecondition (protocol version,
  // cluster id, talking to ourselves, clock offset beyond the bound),
  // PermissionDenied (one side has a secret and the other does not).
  // REQUIRES: MakeHello was called (the acceptor calls it right after this
  // succeeds: then call MakeProof after MakeHello).
  Status OnHello(std::string_view body, int64_t now_ms);

  // The body of our Proof (answers the peer's challenge).
  // REQUIRES: OnHello succeeded and MakeHello was called.
  std::string MakeProof() const;

  // Verifies the peer's Proof body. PermissionDenied when it does not match.
  Status OnProof(std::string_view body) const;

  // The peer's Hello. REQUIRES: OnHello succeeded.
  const Hello& peer() const { return peer_; }
  // Peer clock minus ours at receipt, ms (positive: the peer is ahead).
  int64_t clock_offset_ms() const { return clock_offset_ms_; }
  Role role() const { return role_; }

  // The mac defined in the file comment. Exposed for tests.
  static std::string ComputeMac(std::string_view secret, Role prover_role,
                                std::string_view verifier_challenge,
                                std::string_view prover_challenge, uint64_t prover_id,
                                uint64_t verifier_id, std::string_view cluster_id);

 private:
  Role role_;
  LocalIdentity local_;
  HandshakeOptions options_;
  std::string own_challenge_;
  Hello peer_;
  int64_t clock_offset_ms_ = 0;
};

// Encodes / decodes the small transport messages (codec.h, so decoding never
// throws and never trusts an unbounded length).
std::string EncodeRefusal(std::string_view reason);
StatusOr<std::string> DecodeRefusal(std::string_view body);

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_HANDSHAKE_H_
