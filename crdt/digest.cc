#include "crdt/digest.h"

namespace converge {
namespace {
void PutLength(internal::Sha1& sha, uint64_t n) {
  sha.Update(std::string_view(reinterpret_cast<const char*>(&n), sizeof(n)));
}
}  // namespace

void StateDigest::Add(std::string_view key, const Object& object) {
  if (!object.Live()) return;
  const std::string body = object.DigestBytes();
  PutLength(sha_, key.size());
  sha_.Update(key);
  PutLength(sha_, body.size());
  sha_.Update(body);
  ++live_keys_;
}

std::string StateDigest::HexDigest() { return internal::Sha1::Hex(sha_.Final()); }

}  // namespace converge
