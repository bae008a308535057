// ReadReply: decodes RESP2 replies (the formats of node/resp/reply.h).
//
// The embedding API (node/handles.h) runs commands in-process through the same
// command table clients use and reads their replies back with this, so a
// handle and a client connection can never disagree about what a command did.
// The bytes come from this node, but they are still decoded defensively:
// every length is bounded by the bytes present and nesting by kMaxDepth, and
// anything malformed is a Corruption status, never a crash.
//
// Pure bytes in, values out. Thread-compatible.
#ifndef CONVERGE_NODE_RESP_REPLY_READER_H_
#define CONVERGE_NODE_RESP_REPLY_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/status.h"

namespace converge::resp {

struct ReplyValue {
  enum class Kind { kSimpleString, kError, kInteger, kBulk, kNil, kArray };
  Kind kind = Kind::kNil;
  std::string text;                 // simple string, error (without '-'), bulk
  int64_t integer = 0;              // integer
  std::vector<ReplyValue> elements;  // array

  bool is_error() const { return kind == Kind::kError; }
};

inline constexpr int kMaxReplyDepth = 8;

// Decodes the one reply that starts at bytes[*pos] and advances *pos past it.
// Corruption when the bytes there are not one whole well-formed reply.
StatusOr<ReplyValue> ReadReply(std::string_view bytes, size_t* pos);

}  // namespace converge::resp

#endif  // CONVERGE_NODE_RESP_REPLY_READER_H_
