// SHA-1 (FIPS 180-4), for the 160-bit state digest only; not for security.
// crdt/ links nothing but Cereal, so it carries this small implementation
// rather than OpenSSL. Checked against the FIPS test vectors.
#ifndef CONVERGE_CRDT_INTERNAL_SHA1_H_
#define CONVERGE_CRDT_INTERNAL_SHA1_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace converge::internal {

class Sha1 {
 public:
  Sha1();
  void Update(std::string_view data);
  std::array<uint8_t, 20> Final();  // REQUIRES: called once
  static std::string Hex(const std::array<uint8_t, 20>& digest);

 private:
  void Block(const uint8_t* p);

  uint32_t h_[5];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace converge::internal

#endif  // CONVERGE_CRDT_INTERNAL_SHA1_H_
