// The frame: the unit every byte on a Converge peer connection belongs to.
//
// Layout (in the style of leveldb's db/log_format.h). All integers are
// little-endian; the header is exactly kFrameHeaderSize = 16 bytes:
//
//   offset  size  field
//   0       4     magic: the bytes 'C' 'V' 'G' 'F' (0x43 0x56 0x47 0x46)
//   4       1     protocol version: kProtocolVersion (1)
//   5       1     message type (MessageType below; cluster/ owns types >= 32)
//   6       2     flags: reserved, must be 0 (a receiver refuses other values,
//                 so a future use cannot be misread by an old node)
//   8       4     body length N in bytes (uint32), at most the receiver's
//                 configured maximum (default 16 MiB, kDefaultMaxFrameBody)
//   12      4     CRC32C (transport/crc32c.h) of the N body bytes
//   16      N     body: for transport's own messages the canonical Cereal
//                 encoding of crdt/codec.h (Encode/Decode); for cluster/
//                 messages opaque bytes handed up unchanged
//
// Why the fields are where they are: the magic catches a client speaking the
// wrong protocol (e.g. RESP on the peer port) at the first bytes; the version
// is checked before anything else is interpreted; the length is checked against
// the maximum BEFORE any body buffer is allocated, so a hostile or broken
// peer cannot make us allocate 4 GiB by sending 16 bytes; the checksum covers
// the body because TCP's 16-bit checksum lets corrupted segments through at
// scale. The header has no checksum of its own: every header field is
// validated (magic, version, flags, bounded length), and a corrupted length
// that passes the bound still fails the body checksum.
#ifndef CONVERGE_TRANSPORT_FRAME_H_
#define CONVERGE_TRANSPORT_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace converge::transport {

inline constexpr std::array<char, 4> kFrameMagic = {'C', 'V', 'G', 'F'};
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr std::size_t kFrameHeaderSize = 16;
inline constexpr uint32_t kDefaultMaxFrameBody = 16u << 20;  // 16 MiB

// Message types owned by transport/. Values below kFirstApplicationType are
// reserved for transport; cluster/ numbers its own messages from there up.
enum class MessageType : uint8_t {
  kHello = 1,      // handshake: identity, clock reading, challenge (handshake.h)
  kProof = 2,      // handshake: HMAC answer to the other side's challenge
  kWelcome = 3,    // handshake: acceptor admits the dialer; empty body
  kRefuse = 4,     // handshake: why the connection is refused; then closed
  kHeartbeat = 5,  // keeps an idle link inside the peer's read deadline
};
inline constexpr uint8_t kFirstApplicationType = 32;

struct Frame {
  uint8_t type = 0;
  std::string body;
};

// The header fields, parsed.
struct FrameHeader {
  uint8_t version = 0;
  uint8_t type = 0;
  uint16_t flags = 0;
  uint32_t body_length = 0;
  uint32_t body_crc = 0;
};

// Header followed by body, ready to write.
// REQUIRES: body.size() <= UINT32_MAX (callers bound it far lower).
std::string EncodeFrame(uint8_t type, std::string_view body);

// Parses and validates the kFrameHeaderSize bytes at `bytes`: magic, version,
// flags == 0 and body_length <= max_body. Returns false and sets *error when
// any of them is wrong. Allocates nothing.
bool ParseFrameHeader(std::string_view bytes, uint32_t max_body, FrameHeader* header,
                      std::string* error);

// Incremental parser for a byte stream of frames (asio's http request_parser
// pattern): feed whatever arrived; it answers kGood (a frame is ready),
// kBad (the stream is broken; error() says why; the connection must close) or
// kNeedMore. The body buffer is allocated only after the header passed
// ParseFrameHeader, and never larger than max_body, so memory per decoder is
// bounded by kFrameHeaderSize + max_body whatever the input.
//
// Thread-compatible: one decoder per connection, used on its strand.
class FrameDecoder {
 public:
  enum class Result { kGood, kBad, kNeedMore };

  explicit FrameDecoder(uint32_t max_body = kDefaultMaxFrameBody) : max_body_(max_body) {}

  // Consumes bytes from the front of `data` up to the end of at most one frame
  // and sets *consumed to how many. On kGood, TakeFrame() returns the frame; the
  // caller feeds the rest of `data` again. After kBad every Feed returns kBad.
  Result Feed(std::string_view data, std::size_t* consumed);

  // REQUIRES: the last Feed returned kGood. Resets for the next frame.
  Frame TakeFrame();

  // Bytes still needed to finish the current header or body (never 0).
  std::size_t BytesWanted() const;

  // Changes the bound for frames whose header has not been read yet. Used to
  // raise it from the small handshake bound once the peer is authenticated.
  void set_max_body(uint32_t max_body) { max_body_ = max_body; }
  uint32_t max_body() const { return max_body_; }

  const std::string& error() const { return error_; }

 private:
  uint32_t max_body_;
  std::array<char, kFrameHeaderSize> header_bytes_{};
  std::size_t header_filled_ = 0;
  bool have_header_ = false;
  FrameHeader header_;
  std::string body_;
  bool frame_ready_ = false;
  std::string error_;
};

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_FRAME_H_
