// Cereal archives for Converge's canonical binary encoding.
//
// CanonicalOutputArchive appends to a std::string: integers little-endian in
// their declared width, bool as one byte 0/1, a container as its element count
// (uint64) then its elements in order (std::map iterates sorted, so equal
// states give equal bytes), a string as its length (uint64) then its bytes.
//
// BoundedInputArchive reads the same from a byte span and never trusts a
// length it has not bounded: a container or string count larger than the
// bytes left is refused before anything is allocated (each element takes at
// least one byte), a bool byte other than 0/1 is refused, and reading past the
// end is refused, and so are map keys that are not strictly increasing:
// the encoder writes them sorted and once, so any other order is not an
// encoding of any value, and accepting it would give one value several
// encodings (found by fuzz/storage_fuzz.cc). Refusals throw cereal::Exception; crdt/codec.h catches them
// and returns Corruption, so no exception leaves the module.
#ifndef CONVERGE_CRDT_INTERNAL_ARCHIVE_H_
#define CONVERGE_CRDT_INTERNAL_ARCHIVE_H_

#include <bit>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>

#include <cereal/cereal.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "crdt/internal/flat_map.h"

static_assert(std::endian::native == std::endian::little,
              "the canonical encoding is written as little-endian memory images");

namespace converge::internal {

class CanonicalOutputArchive
    : public cereal::OutputArchive<CanonicalOutputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit CanonicalOutputArchive(std::string* out)
      : cereal::OutputArchive<CanonicalOutputArchive, cereal::AllowEmptyClassElision>(this),
        out_(out) {}
  void saveBinary(const void* data, std::size_t size) {
    if (size == 0) return;  // data may be null (an empty vector of numbers)
    out_->append(static_cast<const char*>(data), size);
  }

 private:
  std::string* out_;
};

class BoundedInputArchive
    : public cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit BoundedInputArchive(std::string_view in)
      : cereal::InputArchive<BoundedInputArchive, cereal::AllowEmptyClassElision>(this),
        in_(in) {}
  void loadBinary(void* data, std::size_t size) {
    if (size > remaining()) throw cereal::Exception("truncated input");
    // An empty vector of numbers comes as (nullptr, 0): memcpy must not see
    // a null pointer even for no bytes.
    if (size == 0) return;
    std::memcpy(data, in_.data() + pos_, size);
    pos_ += size;
  }
  std::size_t remaining() const { return in_.size() - pos_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(CanonicalOutputArchive& ar, const T& t) {
  ar.saveBinary(std::addressof(t), sizeof(t));
}

template <class T>
  requires std::is_arithmetic_v<T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, T& t) {
  if constexpr (std::is_same_v<T, bool>) {
    uint8_t b;
    ar.loadBinary(&b, 1);
    if (b > 1) throw cereal::Exception("bool byte is neither 0 nor 1");
    t = b == 1;
  } else {
    ar.loadBinary(std::addressof(t), sizeof(t));
  }
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CanonicalOutputArchive& ar, const cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CanonicalOutputArchive& ar, const cereal::SizeTag<T>& t) {
  const uint64_t size = static_cast<uint64_t>(t.size);
  ar.saveBinary(&size, sizeof(size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::SizeTag<T>& t) {
  uint64_t size;
  ar.loadBinary(&size, sizeof(size));
  if (size > ar.remaining()) throw cereal::Exception("length beyond the end of the input");
  t.size = static_cast<std::remove_reference_t<T>>(size);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CanonicalOutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}

// A map's count and entries, each handed to `append`, which returns false
// when the key is not above the one before: decoding then fails. Used for
// std::map and FlatMap in place of cereal's generic map load, which sorts
// what it reads and silently drops repeated keys.
template <class K, class V, class Append>
void LoadEntriesInOrder(BoundedInputArchive& ar, Append append) {
  cereal::size_type size;
  ar(cereal::make_size_tag(size));
  for (cereal::size_type i = 0; i < size; ++i) {
    K key{};
    V value{};
    ar(key, value);
    if (!append(std::move(key), std::move(value))) {
      throw cereal::Exception("map keys out of order or repeated");
    }
  }
}

template <class K, class V, class C, class A>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, std::map<K, V, C, A>& map) {
  map.clear();
  LoadEntriesInOrder<K, V>(ar, [&map](K&& key, V&& value) {
    if (!map.empty() && !map.key_comp()(std::prev(map.end())->first, key)) return false;
    map.emplace_hint(map.end(), std::move(key), std::move(value));
    return true;
  });
}

// A FlatMap is encoded as a std::map is: the count, then each key and value
// in key order; decoding refuses the same inputs.
template <class K, class V>
void CEREAL_SAVE_FUNCTION_NAME(CanonicalOutputArchive& ar, const FlatMap<K, V>& map) {
  ar(cereal::make_size_tag(static_cast<cereal::size_type>(map.size())));
  for (const auto& [key, value] : map) ar(cereal::make_map_item(key, value));
}
template <class K, class V>
void CEREAL_LOAD_FUNCTION_NAME(BoundedInputArchive& ar, FlatMap<K, V>& map) {
  map.clear();
  LoadEntriesInOrder<K, V>(ar, [&map](K&& key, V&& value) {
    return map.AppendInOrder(std::move(key), std::move(value));
  });
}

}  // namespace converge::internal

CEREAL_REGISTER_ARCHIVE(converge::internal::CanonicalOutputArchive)
CEREAL_REGISTER_ARCHIVE(converge::internal::BoundedInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(converge::internal::BoundedInputArchive,
                            converge::internal::CanonicalOutputArchive)

#endif  // CONVERGE_CRDT_INTERNAL_ARCHIVE_H_
