#include "node/resp/reply_reader.h"

#include <charconv>

namespace converge::resp {
namespace {

// The line at *pos up to CR LF (exclusive); *pos moves past the CR LF.
bool ReadLine(std::string_view bytes, size_t* pos, std::string_view* line) {
  const size_t cr = bytes.find("\r\n", *pos);
  if (cr == std::string_view::npos) return false;
  *line = bytes.substr(*pos, cr - *pos);
  *pos = cr + 2;
  return true;
}

bool ParseDecimal(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

StatusOr<ReplyValue> Read(std::string_view bytes, size_t* pos, int depth) {
  if (depth > kMaxReplyDepth) return CorruptionError("reply nested too deeply");
  if (*pos >= bytes.size()) return CorruptionError("reply truncated");
  const char type = bytes[*pos];
  ++*pos;
  std::string_view line;
  if (!ReadLine(bytes, pos, &line)) return CorruptionError("reply line without CR LF");
  ReplyValue v;
  switch (type) {
    case '+':
      v.kind = ReplyValue::Kind::kSimpleString;
      v.text = line;
      return v;
    case '-':
      v.kind = ReplyValue::Kind::kError;
      v.text = line;
      return v;
    case ':':
      v.kind = ReplyValue::Kind::kInteger;
      if (!ParseDecimal(line, &v.integer)) return CorruptionError("bad integer reply");
      return v;
    case '$': {
      int64_t len;
      if (!ParseDecimal(line, &len) || len < -1) return CorruptionError("bad bulk length");
      if (len == -1) return v;  // nil
      const auto n = static_cast<size_t>(len);
      if (bytes.size() - *pos < n + 2 || bytes.substr(*pos + n, 2) != "\r\n") {
        return CorruptionError("bulk reply truncated");
      }
      v.kind = ReplyValue::Kind::kBulk;
      v.text = bytes.substr(*pos, n);
      *pos += n + 2;
      return v;
    }
    case '*': {
      int64_t count;
      if (!ParseDecimal(line, &count) || count < -1) return CorruptionError("bad array length");
      if (count == -1) return v;  // nil array
      // Every element takes at least 3 bytes: a bound before reserving.
      if (static_cast<uint64_t>(count) > (bytes.size() - *pos) / 3) {
        return CorruptionError("array reply truncated");
      }
      v.kind = ReplyValue::Kind::kArray;
      v.elements.reserve(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) {
        StatusOr<ReplyValue> e = Read(bytes, pos, depth + 1);
        if (!e.ok()) return e.status();
        v.elements.push_back(std::move(*e));
      }
      return v;
    }
    default:
      return CorruptionError(std::string("unknown reply type byte '") + type + "'");
  }
}

}  // namespace

StatusOr<ReplyValue> ReadReply(std::string_view bytes, size_t* pos) {
  return Read(bytes, pos, 0);
}

}  // namespace converge::resp
