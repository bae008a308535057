#include "transport/frame.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#include "transport/crc32c.h"

namespace converge::transport {
namespace {

static_assert(std::endian::native == std::endian::little,
              "frame headers are written as little-endian memory images");

template <class T>
void PutLe(char* out, T value) {
  std::memcpy(out, &value, sizeof(value));
}
template <class T>
T GetLe(const char* in) {
  T value;
  std::memcpy(&value, in, sizeof(value));
  return value;
}

}  // namespace

std::string EncodeFrame(uint8_t type, std::string_view body) {
  std::string out(kFrameHeaderSize + body.size(), '\0');
  char* h = out.data();
  std::memcpy(h, kFrameMagic.data(), kFrameMagic.size());
  h[4] = static_cast<char>(kProtocolVersion);
  h[5] = static_cast<char>(type);
  PutLe<uint16_t>(h + 6, 0);
  PutLe<uint32_t>(h + 8, static_cast<uint32_t>(body.size()));
  PutLe<uint32_t>(h + 12, Crc32c(body));
  if (!body.empty()) std::memcpy(h + kFrameHeaderSize, body.data(), body.size());
  return out;
}

bool ParseFrameHeader(std::string_view bytes, uint32_t max_body, FrameHeader* header,
                      std::string* error) {
  if (bytes.size() < kFrameHeaderSize) {
    *error = "short frame header";
    return false;
  }
  const char* h = bytes.data();
  if (std::memcmp(h, kFrameMagic.data(), kFrameMagic.size()) != 0) {
    *error = "bad magic (not a Converge peer stream)";
    return false;
  }
  header->version = static_cast<uint8_t>(h[4]);
  if (header->version != kProtocolVersion) {
    *error = "unsupported protocol version " + std::to_string(header->version) + " (this node speaks " +
             std::to_string(kProtocolVersion) + ")";
    return false;
  }
  header->type = static_cast<uint8_t>(h[5]);
  header->flags = GetLe<uint16_t>(h + 6);
  if (header->flags != 0) {
    *error = "reserved flags set: " + std::to_string(header->flags);
    return false;
  }
  header->body_length = GetLe<uint32_t>(h + 8);
  if (header->body_length > max_body) {
    *error = "frame body of " + std::to_string(header->body_length) +
             " bytes exceeds the maximum of " + std::to_string(max_body);
    return false;
  }
  header->body_crc = GetLe<uint32_t>(h + 12);
  return true;
}

FrameDecoder::Result FrameDecoder::Feed(std::string_view data, std::size_t* consumed) {
  *consumed = 0;
  if (!error_.empty()) return Result::kBad;
  if (frame_ready_) return Result::kGood;  // the caller has not taken it yet
  if (!have_header_) {
    const std::size_t n = std::min(kFrameHeaderSize - header_filled_, data.size());
    std::memcpy(header_bytes_.data() + header_filled_, data.data(), n);
    header_filled_ += n;
    *consumed += n;
    data.remove_prefix(n);
    if (header_filled_ < kFrameHeaderSize) return Result::kNeedMore;
    if (!ParseFrameHeader(std::string_view(header_bytes_.data(), kFrameHeaderSize), max_body_,
                          &header_, &error_)) {
      return Result::kBad;
    }
    have_header_ = true;
    body_.clear();
    // Bounded by max_body_ above: the only allocation the stream controls.
    body_.reserve(header_.body_length);
  }
  const std::size_t n = std::min<std::size_t>(header_.body_length - body_.size(), data.size());
  body_.append(data.data(), n);
  *consumed += n;
  if (body_.size() < header_.body_length) return Result::kNeedMore;
  if (Crc32c(body_) != header_.body_crc) {
    error_ = "body checksum mismatch";
    return Result::kBad;
  }
  frame_ready_ = true;
  return Result::kGood;
}

Frame FrameDecoder::TakeFrame() {
  Frame frame{header_.type, std::move(body_)};
  body_ = std::string();
  header_filled_ = 0;
  have_header_ = false;
  frame_ready_ = false;
  return frame;
}

std::size_t FrameDecoder::BytesWanted() const {
  if (!have_header_) return kFrameHeaderSize - header_filled_;
  const std::size_t left = header_.body_length - body_.size();
  return left == 0 ? kFrameHeaderSize : left;
}

}  // namespace converge::transport
