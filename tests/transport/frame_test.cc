#include "transport/frame.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

#include "tests/testing/seed.h"
#include "transport/crc32c.h"

namespace converge::transport {
namespace {

// Feeds `bytes` in chunks of `chunk`, collecting frames until bad or the end.
struct FeedResult {
  std::vector<Frame> frames;
  FrameDecoder::Result last = FrameDecoder::Result::kNeedMore;
  std::string error;
};
FeedResult FeedAll(FrameDecoder& decoder, std::string_view bytes, std::size_t chunk) {
  FeedResult out;
  while (!bytes.empty()) {
    std::string_view piece = bytes.substr(0, chunk);
    bytes.remove_prefix(piece.size());
    while (!piece.empty()) {
      std::size_t consumed = 0;
      out.last = decoder.Feed(piece, &consumed);
      piece.remove_prefix(consumed);
      if (out.last == FrameDecoder::Result::kBad) {
        out.error = decoder.error();
        return out;
      }
      if (out.last == FrameDecoder::Result::kGood) out.frames.push_back(decoder.TakeFrame());
      if (out.last == FrameDecoder::Result::kNeedMore) break;
    }
  }
  return out;
}

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  EXPECT_EQ(Crc32cExtend(Crc32c("1234"), "56789"), Crc32c("123456789"));
}

TEST(Crc32cTest, KnownVectorsPortable) {
  EXPECT_EQ(internal::Crc32cExtendPortable(0, "123456789"), 0xE3069283u);
  EXPECT_EQ(internal::Crc32cExtendPortable(0, ""), 0u);
}

// Whatever Crc32cExtend runs on this CPU agrees with the table loop at every
// length and alignment, also when extended piecewise.
TEST(Crc32cTest, AgreesWithPortableAtAnyLengthAndAlignment) {
  const uint64_t seed = testing::AnnounceSeed("Crc32cTest.AgreesWithPortableAtAnyLengthAndAlignment");
  SCOPED_TRACE(seed);
  std::printf("crc32c accelerated: %s\n", internal::Crc32cAccelerated() ? "yes" : "no");
  std::mt19937_64 rng(seed);
  std::string buffer(5000, '\0');
  for (char& c : buffer) c = static_cast<char>(rng());
  for (int i = 0; i < 2000; ++i) {
    const size_t offset = rng() % 16;
    const size_t length = i < 64 ? static_cast<size_t>(i) : rng() % (buffer.size() - offset);
    const std::string_view data(buffer.data() + offset, length);
    const uint32_t start = i % 2 == 0 ? 0 : static_cast<uint32_t>(rng());
    ASSERT_EQ(Crc32cExtend(start, data), internal::Crc32cExtendPortable(start, data))
        << "offset " << offset << " length " << length;
    const size_t cut = length == 0 ? 0 : rng() % length;
    ASSERT_EQ(Crc32cExtend(Crc32cExtend(start, data.substr(0, cut)), data.substr(cut)),
              internal::Crc32cExtendPortable(start, data));
  }
}

TEST(FrameTest, HeaderIsDocumentedLayout) {
  const std::string f = EncodeFrame(40, "abc");
  ASSERT_EQ(f.size(), kFrameHeaderSize + 3);
  EXPECT_EQ(f.substr(0, 4), "CVGF");
  EXPECT_EQ(static_cast<uint8_t>(f[4]), kProtocolVersion);
  EXPECT_EQ(static_cast<uint8_t>(f[5]), 40);
  EXPECT_EQ(f[6], 0);
  EXPECT_EQ(f[7], 0);
  EXPECT_EQ(static_cast<uint8_t>(f[8]), 3);  // length, little-endian
  EXPECT_EQ(f[9] | f[10] | f[11], 0);
  uint32_t crc;
  std::memcpy(&crc, f.data() + 12, 4);
  EXPECT_EQ(crc, Crc32c("abc"));
  EXPECT_EQ(f.substr(16), "abc");
}

TEST(FrameTest, RoundTripInAnyChunking) {
  const uint64_t seed = testing::AnnounceSeed("FrameTest.RoundTripInAnyChunking");
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  std::vector<Frame> sent;
  std::string stream;
  for (int i = 0; i < 50; ++i) {
    Frame f;
    f.type = static_cast<uint8_t>(rng() % 256);
    f.body.resize(rng() % 3000);
    for (char& c : f.body) c = static_cast<char>(rng());
    stream += EncodeFrame(f.type, f.body);
    sent.push_back(std::move(f));
  }
  stream += EncodeFrame(33, "");  // empty bodies are frames too
  sent.push_back(Frame{33, ""});
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{16}, std::size_t{4096},
                            stream.size()}) {
    FrameDecoder decoder;
    FeedResult r = FeedAll(decoder, stream, chunk);
    ASSERT_NE(r.last, FrameDecoder::Result::kBad) << r.error;
    ASSERT_EQ(r.frames.size(), sent.size()) << "chunk " << chunk;
    for (std::size_t i = 0; i < sent.size(); ++i) {
      EXPECT_EQ(r.frames[i].type, sent[i].type);
      EXPECT_EQ(r.frames[i].body, sent[i].body);
    }
  }
}

TEST(FrameTest, TruncatedInputNeedsMore) {
  const std::string f = EncodeFrame(40, std::string(100, 'x'));
  for (std::size_t n = 0; n < f.size(); ++n) {
    FrameDecoder decoder;
    FeedResult r = FeedAll(decoder, std::string_view(f).substr(0, n), 3);
    EXPECT_TRUE(r.frames.empty());
    EXPECT_EQ(r.last, FrameDecoder::Result::kNeedMore) << n;
    EXPECT_EQ(decoder.BytesWanted(), n < kFrameHeaderSize ? kFrameHeaderSize - n : f.size() - n);
  }
}

TEST(FrameTest, RefusesBadMagicVersionFlagsAndChecksum) {
  const std::string good = EncodeFrame(40, "hello");
  auto expect_bad = [&good](std::string bytes, std::string_view why) {
    FrameDecoder decoder;
    FeedResult r = FeedAll(decoder, bytes, bytes.size());
    EXPECT_EQ(r.last, FrameDecoder::Result::kBad) << why;
    EXPECT_NE(r.error.find(why), std::string::npos) << r.error;
    // Stays bad: a broken stream cannot resynchronize.
    std::size_t consumed;
    EXPECT_EQ(decoder.Feed(good, &consumed), FrameDecoder::Result::kBad);
  };
  std::string b = good;
  b[0] = 'X';
  expect_bad(b, "magic");
  b = good;
  b[4] = 2;
  expect_bad(b, "protocol version 2");
  b = good;
  b[6] = 1;
  expect_bad(b, "flags");
  b = good;
  b[16] ^= 1;
  expect_bad(b, "checksum");
  b = good;
  b[12] ^= 1;
  expect_bad(b, "checksum");
  expect_bad("*1\r\n$4\r\nPING\r\n\r\n\r\n", "magic");  // RESP on the peer port
}

TEST(FrameTest, OversizedLengthRefusedBeforeAllocating) {
  std::string header = EncodeFrame(40, "").substr(0, kFrameHeaderSize);
  const uint32_t huge = 0xFFFFFFF0u;
  std::memcpy(header.data() + 8, &huge, 4);
  FrameDecoder decoder(1024);
  std::size_t consumed = 0;
  EXPECT_EQ(decoder.Feed(header, &consumed), FrameDecoder::Result::kBad);
  EXPECT_NE(decoder.error().find("exceeds the maximum of 1024"), std::string::npos);
  // Exactly at the bound is fine; one above is not.
  FrameDecoder at(5);
  FeedResult ok = FeedAll(at, EncodeFrame(40, "12345"), 64);
  EXPECT_EQ(ok.frames.size(), 1u);
  FrameDecoder above(4);
  FeedResult bad = FeedAll(above, EncodeFrame(40, "12345"), 64);
  EXPECT_EQ(bad.last, FrameDecoder::Result::kBad);
}

TEST(FrameTest, RandomBytesNeverCrashOrOverallocate) {
  const uint64_t seed = testing::AnnounceSeed("FrameTest.RandomBytesNeverCrashOrOverallocate");
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  constexpr uint32_t kMax = 4096;
  for (int iter = 0; iter < 2000; ++iter) {
    std::string bytes(rng() % 200, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (iter % 2 == 0 && bytes.size() >= 6) {
      // Half the time start like a real frame, so the length and checksum
      // paths are reached, not just the magic check.
      std::memcpy(bytes.data(), "CVGF\x01", 5);
      if (bytes.size() >= 8) bytes[6] = bytes[7] = 0;
    }
    FrameDecoder decoder(kMax);
    FeedResult r = FeedAll(decoder, bytes, 1 + rng() % 32);
    for (const Frame& f : r.frames) EXPECT_LE(f.body.size(), kMax);
    EXPECT_LE(decoder.BytesWanted(), kMax + kFrameHeaderSize);
  }
}

}  // namespace
}  // namespace converge::transport
