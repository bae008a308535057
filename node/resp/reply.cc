#include "node/resp/reply.h"

#include <charconv>

namespace converge::resp {
namespace {

// Appends `prefix`, `n` in decimal and CR LF in one append: replies are
// built on the hot path of every command, so no streams and no temporaries.
template <typename Int>
void AppendNumberLine(std::string* out, char prefix, Int n) {
  char line[24];  // prefix + 20 digits (with sign) + CR LF
  line[0] = prefix;
  char* end = std::to_chars(line + 1, line + sizeof(line) - 2, n).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out->append(line, static_cast<size_t>(end - line));
}

// Appends `text` with CR and LF turned into spaces, then CR LF.
void AppendLine(std::string* out, std::string_view text) {
  const size_t start = out->size();
  out->append(text);
  for (size_t i = start; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c == '\r' || c == '\n') c = ' ';
  }
  out->append("\r\n", 2);
}

}  // namespace

void AppendSimpleString(std::string* out, std::string_view text) {
  out->push_back('+');
  AppendLine(out, text);
}

void AppendError(std::string* out, std::string_view message) {
  if (!message.empty() && message.front() == '-') message.remove_prefix(1);
  out->push_back('-');
  AppendLine(out, message);
}

void AppendProtocolError(std::string* out, std::string_view reason) {
  out->append("-ERR Protocol error: ");
  AppendLine(out, reason);
}

void AppendInteger(std::string* out, int64_t n) { AppendNumberLine(out, ':', n); }

void AppendBulk(std::string* out, std::string_view bytes) {
  out->reserve(out->size() + bytes.size() + 32);
  AppendNumberLine(out, '$', bytes.size());
  out->append(bytes);
  out->append("\r\n", 2);
}

void AppendNullBulk(std::string* out) { out->append("$-1\r\n", 5); }

void AppendArrayHeader(std::string* out, size_t count) { AppendNumberLine(out, '*', count); }

void AppendNullArray(std::string* out) { out->append("*-1\r\n", 5); }

}  // namespace converge::resp
