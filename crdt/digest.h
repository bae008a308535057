// StateDigest: the 160-bit digest of a replica's live state (DEBUG DIGEST).
//
// Feed it every key in increasing key order with its object; objects that are
// not live are skipped, and each live object contributes its DigestBytes()
// (the canonical encoding of its live view, tombstones excluded). Replicas with
// equal live state produce equal digests whatever order history arrived in.
//
// Bytes hashed per live key: uint64 key length, key bytes, uint64 body
// length, body (so no two sequences of keys can hash the same bytes).
//
// Thread-compatible.
#ifndef CONVERGE_CRDT_DIGEST_H_
#define CONVERGE_CRDT_DIGEST_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/internal/sha1.h"
#include "crdt/object.h"

namespace converge {

class StateDigest {
 public:
  // REQUIRES: keys strictly increasing across calls.
  void Add(std::string_view key, const Object& object);
  uint64_t live_keys() const { return live_keys_; }
  // 40 lowercase hex characters. REQUIRES: called once.
  std::string HexDigest();

 private:
  internal::Sha1 sha_;
  uint64_t live_keys_ = 0;
};

}  // namespace converge

#endif  // CONVERGE_CRDT_DIGEST_H_
