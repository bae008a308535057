// Fuzz body for the peer stream: transport::FrameDecoder (header checks, the
// body bound, CRC32C) and the decoding of each frame's body into the message
// its type names, through the same Decode<> calls the receivers use
// (cluster/replicator.cc for types 32..37, transport/handshake.cc for 1..4).
//
// Input layout: byte 0 picks the body bound (bits 0-1: 64 bytes, the
// handshake bound, the default 16 MiB, or 0) and seeds the chunk sizes
// (bits 2-7); the rest is the byte stream a peer sends. Checked (FUZZ_CHECK):
//   - feeding the stream in random-sized chunks gives exactly the frames and
//     the verdict of feeding it whole;
//   - a frame's body is within the bound and re-encodes (EncodeFrame) to
//     exactly the bytes it was read from;
//   - ParseFrameHeader agrees with the decoder on the first header;
//   - BytesWanted() is never 0, kBad is final and consumes nothing more;
//   - a body that decodes is well formed, canonical, and its CRDT states
//     join with themselves to themselves (decoded_value.h).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/messages.h"
#include "fuzz/decoded_value.h"
#include "fuzz/fuzz_check.h"
#include "transport/frame.h"
#include "transport/handshake.h"

namespace converge::fuzz {
namespace {

using transport::FrameDecoder;

struct Outcome {
  std::vector<transport::Frame> frames;
  std::vector<std::string_view> frame_bytes;  // whole feed only
  bool bad = false;
  std::string error;
};

bool SameFrames(const std::vector<transport::Frame>& a, const std::vector<transport::Frame>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const transport::Frame& x, const transport::Frame& y) {
                      return x.type == y.type && x.body == y.body;
                    });
}

uint64_t Next(uint64_t* s) {  // xorshift64*
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

Outcome Feed(std::string_view stream, uint32_t max_body, uint8_t chunk_seed, bool whole) {
  FrameDecoder decoder(max_body);
  Outcome out;
  uint64_t rng = 0x9e3779b97f4a7c15ULL ^ chunk_seed;
  size_t pos = 0;
  size_t frame_start = 0;
  while (pos < stream.size()) {
    size_t n = stream.size() - pos;
    if (!whole) {
      const uint64_t r = Next(&rng);
      n = std::min<size_t>(n, (r & 3) == 0 ? 1 + (r >> 8) % 256 : 1 + (r >> 8) % 8);
    }
    std::string_view chunk = stream.substr(pos, n);
    while (!chunk.empty()) {
      FUZZ_CHECK(decoder.BytesWanted() > 0);
      size_t consumed = 0;
      const FrameDecoder::Result r = decoder.Feed(chunk, &consumed);
      FUZZ_CHECK(consumed <= chunk.size());
      chunk.remove_prefix(consumed);
      pos += consumed;
      if (r == FrameDecoder::Result::kBad) {
        FUZZ_CHECK(!decoder.error().empty());
        FUZZ_CHECK(decoder.Feed(stream.substr(pos), &consumed) == FrameDecoder::Result::kBad);
        FUZZ_CHECK(consumed == 0);
        out.bad = true;
        out.error = decoder.error();
        return out;
      }
      if (r == FrameDecoder::Result::kNeedMore) {
        FUZZ_CHECK(chunk.empty());
        break;
      }
      // kGood until taken, consuming nothing more.
      FUZZ_CHECK(decoder.Feed(chunk, &consumed) == FrameDecoder::Result::kGood);
      FUZZ_CHECK(consumed == 0);
      out.frames.push_back(decoder.TakeFrame());
      if (whole) out.frame_bytes.push_back(stream.substr(frame_start, pos - frame_start));
      frame_start = pos;
    }
    if (whole) FUZZ_CHECK(pos == stream.size());
  }
  return out;
}

// The receivers' decode of a body, by frame type.
void DecodeBody(const transport::Frame& frame) {
  const std::string_view body = frame.body;
  switch (frame.type) {
    case static_cast<uint8_t>(transport::MessageType::kHello): {
      transport::Hello hello;
      if (DecodesCanonically(body, &hello)) FUZZ_CHECK(hello.cluster_id.size() <= 255);
      break;
    }
    case static_cast<uint8_t>(transport::MessageType::kProof):
      DecodesCanonically<transport::Proof>(body);
      break;
    case static_cast<uint8_t>(transport::MessageType::kRefuse): {
      transport::Refusal refusal;
      if (DecodesCanonically(body, &refusal)) {
        FUZZ_CHECK(transport::DecodeRefusal(body).value() == refusal.reason);
      }
      break;
    }
    case static_cast<uint8_t>(ClusterMessage::kPush): {
      PushMessage m;
      if (DecodesCanonically(body, &m)) {
        for (const DeltaInterval& d : m.intervals) CheckIntervalObjects(d);
      }
      break;
    }
    case static_cast<uint8_t>(ClusterMessage::kDigest):
      DecodesCanonically<DigestMessage>(body);
      break;
    case static_cast<uint8_t>(ClusterMessage::kDeltas): {
      DeltasMessage m;
      if (DecodesCanonically(body, &m)) {
        for (const DeltaInterval& d : m.intervals) CheckIntervalObjects(d);
      }
      break;
    }
    case static_cast<uint8_t>(ClusterMessage::kSnapshot): {
      SnapshotMessage m;
      if (DecodesCanonically(body, &m)) {
        for (const auto& [key, object] : m.objects) CheckSelfJoin(object);
      }
      break;
    }
    case static_cast<uint8_t>(ClusterMessage::kRights):
      DecodesCanonically<RightsMessage>(body);
      break;
    case static_cast<uint8_t>(ClusterMessage::kAck):
      DecodesCanonically<AckMessage>(body);
      break;
    default:
      break;  // kWelcome, kHeartbeat (bodies ignored) and unknown types
  }
}

}  // namespace

int FuzzFrame(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr uint32_t kBounds[] = {64, transport::kMaxHandshakeBody,
                                         transport::kDefaultMaxFrameBody, 0};
  const uint32_t max_body = kBounds[data[0] & 3];
  const uint8_t chunk_seed = data[0] >> 2;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);

  const Outcome whole = Feed(stream, max_body, chunk_seed, /*whole=*/true);
  const Outcome chunked = Feed(stream, max_body, chunk_seed, /*whole=*/false);
  FUZZ_CHECK(SameFrames(whole.frames, chunked.frames));
  FUZZ_CHECK(whole.bad == chunked.bad);
  FUZZ_CHECK(whole.error == chunked.error);

  if (stream.size() >= transport::kFrameHeaderSize) {
    transport::FrameHeader header;
    std::string error;
    const bool ok = transport::ParseFrameHeader(stream.substr(0, transport::kFrameHeaderSize),
                                                max_body, &header, &error);
    if (!ok) FUZZ_CHECK(whole.bad && whole.frames.empty() && error == whole.error);
  }

  FUZZ_CHECK(whole.frames.size() == whole.frame_bytes.size());
  for (size_t i = 0; i < whole.frames.size(); ++i) {
    const transport::Frame& frame = whole.frames[i];
    FUZZ_CHECK(frame.body.size() <= max_body);
    FUZZ_CHECK(transport::EncodeFrame(frame.type, frame.body) == whole.frame_bytes[i]);
    DecodeBody(frame);
  }
  return 0;
}

}  // namespace converge::fuzz
