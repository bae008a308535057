// The canonical, versioned binary encoding of CRDT states and deltas.
//
// Format of an encoded value (what storage/ writes to disk and cluster/ puts
// in frame bodies):
//
//   byte 0      format version (kFormatVersion)
//   bytes 1..   the value's fields in declaration order, per
//               crdt/internal/archive.h: fixed-width little-endian integers,
//               bool as 0/1, uint64 counts before containers and strings
//
// Equal states give byte-equal encodings (maps are sorted, no zero entries are
// stored, no padding). Decode refuses, with Corruption: an unknown version,
// truncation, lengths beyond the input, invalid bools, map keys out of order
// or repeated, trailing bytes and a decoded value that fails its WellFormed()
// check; so every value has exactly one accepted encoding. It never allocates
// more than the input's size per container and never throws.
#ifndef CONVERGE_CRDT_CODEC_H_
#define CONVERGE_CRDT_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/internal/archive.h"
#include "crdt/status.h"

namespace converge {

inline constexpr uint8_t kFormatVersion = 1;

// The body alone (no version byte): for digests and for composing larger
// encodings. Cannot fail.
template <class... Ts>
std::string EncodeBody(const Ts&... values) {
  std::string out;
  internal::CanonicalOutputArchive ar(&out);
  ar(values...);
  return out;
}

template <class T>
std::string Encode(const T& value) {
  std::string out(1, static_cast<char>(kFormatVersion));
  internal::CanonicalOutputArchive ar(&out);
  ar(value);
  return out;
}

// T must be default-constructible and have `bool WellFormed() const`.
template <class T>
StatusOr<T> Decode(std::string_view bytes) {
  if (bytes.empty()) return CorruptionError("empty encoding");
  if (static_cast<uint8_t>(bytes[0]) != kFormatVersion) {
    return CorruptionError("unknown format version " +
                           std::to_string(static_cast<uint8_t>(bytes[0])));
  }
  T value;
  try {
    internal::BoundedInputArchive ar(bytes.substr(1));
    ar(value);
    if (ar.remaining() != 0) {
      return CorruptionError(std::to_string(ar.remaining()) + " trailing bytes");
    }
  } catch (const std::exception& e) {  // cereal::Exception, or bad_alloc
    return CorruptionError(std::string("malformed encoding: ") + e.what());
  }
  if (!value.WellFormed()) return CorruptionError("decoded state breaks its invariants");
  return value;
}

}  // namespace converge

#endif  // CONVERGE_CRDT_CODEC_H_
