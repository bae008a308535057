#include "crdt/internal/sha1.h"

#include <gtest/gtest.h>

#include <string>

namespace converge::internal {
namespace {

std::string Hash(const std::string& s) {
  Sha1 sha;
  sha.Update(s);
  return Sha1::Hex(sha.Final());
}

TEST(Sha1Test, FipsVectors) {
  EXPECT_EQ(Hash(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(Hash("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(Hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  EXPECT_EQ(Hash(std::string(1000000, 'a')), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1Test, ChunkingDoesNotMatter) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 7);
  for (size_t chunk : {1u, 3u, 63u, 64u, 65u, 500u}) {
    Sha1 sha;
    for (size_t i = 0; i < data.size(); i += chunk) sha.Update(std::string_view(data).substr(i, chunk));
    EXPECT_EQ(Sha1::Hex(sha.Final()), Hash(data)) << "chunk " << chunk;
  }
}

}  // namespace
}  // namespace converge::internal
