#include "transport/handshake.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <utility>

#include "crdt/codec.h"
#include "transport/frame.h"

namespace converge::transport {
namespace {

constexpr std::string_view kMacLabel = "converge-transport-proof-v1";

void AppendLe64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::string Hex(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = kDigits[v & 0xF];
  return s;
}

}  // namespace

bool Hello::WellFormed() const {
  return cluster_id.size() <= kMaxNameLength && node_name.size() <= kMaxNameLength &&
         client_address.size() <= kMaxNameLength && peer_address.size() <= kMaxNameLength &&
         (challenge.empty() || challenge.size() == kChallengeSize);
}

Handshake::Handshake(Role role, LocalIdentity local, HandshakeOptions options)
    : role_(role), local_(std::move(local)), options_(std::move(options)) {}

StatusOr<std::string> Handshake::MakeHello(int64_t now_ms) {
  Hello hello;
  hello.protocol_version = kProtocolVersion;
  hello.cluster_id = local_.cluster_id;
  hello.replica_id = local_.replica_id;
  hello.node_name = local_.node_name;
  hello.client_address = local_.client_address;
  hello.peer_address = local_.peer_address;
  hello.clock_ms = now_ms;
  if (!options_.cluster_secret.empty()) {
    own_challenge_.assign(kChallengeSize, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(own_challenge_.data()),
                   static_cast<int>(kChallengeSize)) != 1) {
      return InternalError("RAND_bytes failed: cannot draw a handshake challenge");
    }
    hello.challenge = own_challenge_;
  }
  return Encode(hello);
}

Status Handshake::OnHello(std::string_view body, int64_t now_ms) {
  StatusOr<Hello> hello = Decode<Hello>(body);
  if (!hello.ok()) return CorruptionError("malformed Hello: " + hello.status().message());
  peer_ = std::move(hello).value();
  if (peer_.protocol_version != kProtocolVersion) {
    return FailedPreconditionError("protocol version mismatch: peer speaks " +
                                   std::to_string(peer_.protocol_version) + ", this node " +
                                   std::to_string(kProtocolVersion));
  }
  if (peer_.cluster_id != local_.cluster_id) {
    return FailedPreconditionError("wrong cluster id: peer is in '" + peer_.cluster_id +
                                   "', this node in '" + local_.cluster_id + "'");
  }
  if (peer_.replica_id == local_.replica_id) {
    return FailedPreconditionError("connected to itself (replica id " + Hex(peer_.replica_id) +
                                   ")");
  }
  if (peer_.replica_id == 0) return FailedPreconditionError("peer has replica id 0");
  clock_offset_ms_ = peer_.clock_ms - now_ms;
  if (std::llabs(clock_offset_ms_) > options_.max_clock_offset_ms) {
    return FailedPreconditionError(
        "clock offset with peer '" + peer_.node_name + "' is " +
        (clock_offset_ms_ > 0 ? "+" : "") + std::to_string(clock_offset_ms_) +
        " ms, beyond the bound of " + std::to_string(options_.max_clock_offset_ms) +
        " ms (max-clock-offset-ms); fix the clocks (NTP) before joining");
  }
  const bool we_auth = !options_.cluster_secret.empty();
  const bool they_auth = !peer_.challenge.empty();
  if (we_auth && !they_auth) {
    return PermissionDeniedError("peer '" + peer_.node_name +
                                 "' offers no authentication but a cluster secret is configured");
  }
  if (!we_auth && they_auth) {
    return PermissionDeniedError("peer '" + peer_.node_name +
                                 "' requires a cluster secret but none is configured here");
  }
  return Status::Ok();
}

std::string Handshake::ComputeMac(std::string_view secret, Role prover_role,
                                  std::string_view verifier_challenge,
                                  std::string_view prover_challenge, uint64_t prover_id,
                                  uint64_t verifier_id, std::string_view cluster_id) {
  std::string msg(kMacLabel);
  msg.push_back(static_cast<char>(prover_role));
  msg.append(verifier_challenge);
  msg.append(prover_challenge);
  AppendLe64(&msg, prover_id);
  AppendLe64(&msg, verifier_id);
  msg.append(cluster_id);
  std::string mac(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
       reinterpret_cast<unsigned char*>(mac.data()), &len);
  mac.resize(len);
  return mac;
}

std::string Handshake::MakeProof() const {
  Proof proof;
  if (!options_.cluster_secret.empty()) {
    proof.mac = ComputeMac(options_.cluster_secret, role_, peer_.challenge, own_challenge_,
                           local_.replica_id, peer_.replica_id, local_.cluster_id);
  }
  return Encode(proof);
}

Status Handshake::OnProof(std::string_view body) const {
  StatusOr<Proof> proof = Decode<Proof>(body);
  if (!proof.ok()) return CorruptionError("malformed Proof: " + proof.status().message());
  if (options_.cluster_secret.empty()) {
    if (!proof->mac.empty()) return PermissionDeniedError("unexpected proof without a secret");
    return Status::Ok();
  }
  const Role peer_role = role_ == Role::kDialer ? Role::kAcceptor : Role::kDialer;
  const std::string expected =
      ComputeMac(options_.cluster_secret, peer_role, own_challenge_, peer_.challenge,
                 peer_.replica_id, local_.replica_id, local_.cluster_id);
  if (proof->mac.size() != expected.size() ||
      CRYPTO_memcmp(proof->mac.data(), expected.data(), expected.size()) != 0) {
    return PermissionDeniedError("peer '" + peer_.node_name +
                                 "' failed the cluster secret challenge (wrong secret?)");
  }
  return Status::Ok();
}

std::string EncodeRefusal(std::string_view reason) {
  Refusal r;
  r.reason = std::string(reason.substr(0, 1024));
  return Encode(r);
}

StatusOr<std::string> DecodeRefusal(std::string_view body) {
  CONVERGE_ASSIGN_OR_RETURN(Refusal r, Decode<Refusal>(body));
  return r.reason;
}

}  // namespace converge::transport
