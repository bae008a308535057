// Properties every decoded value must have, shared by the fuzz bodies that
// decode (frame_fuzz.cc, storage_fuzz.cc).
#ifndef CONVERGE_FUZZ_DECODED_VALUE_H_
#define CONVERGE_FUZZ_DECODED_VALUE_H_

#include <string>
#include <string_view>

#include "crdt/codec.h"
#include "crdt/delta.h"
#include "crdt/object.h"
#include "fuzz/fuzz_check.h"

namespace converge::fuzz {

// A joined-with-itself state is unchanged (the join is idempotent); checked on
// every CRDT the decoders let through.
template <class T>
void CheckSelfJoin(const T& value) {
  if constexpr (requires(T& a, const T& b) { a.Join(b); }) {
    T joined = value;
    joined.Join(value);
    FUZZ_CHECK(joined == value);
  }
}

inline void CheckIntervalObjects(const DeltaInterval& interval) {
  FUZZ_CHECK(interval.first() <= interval.last());
  for (const auto& [key, object] : interval.objects()) CheckSelfJoin(object);
}

// Decodes `bytes` as T through crdt/codec.h. What is refused is refused as
// Corruption; what is accepted is well formed and canonical (it encodes back
// to exactly `bytes`, so one value has one encoding and digests of encodings
// cannot disagree). Returns whether it decoded; *out gets the value.
template <class T>
bool DecodesCanonically(std::string_view bytes, T* out = nullptr) {
  StatusOr<T> decoded = Decode<T>(bytes);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == StatusCode::kCorruption);
    FUZZ_CHECK(!decoded.status().message().empty());
    return false;
  }
  FUZZ_CHECK(decoded->WellFormed());
  FUZZ_CHECK(Encode(*decoded) == bytes);
  CheckSelfJoin(*decoded);
  if (out != nullptr) *out = std::move(decoded).value();
  return true;
}

}  // namespace converge::fuzz

#endif  // CONVERGE_FUZZ_DECODED_VALUE_H_
