// Helpers shared by the command files (commands.cc, commands_server.cc,
// commands_rc.cc). Internal to node/.
#ifndef CONVERGE_NODE_INTERNAL_COMMAND_UTIL_H_
#define CONVERGE_NODE_INTERNAL_COMMAND_UTIL_H_

#include <cctype>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "crdt/object.h"
#include "crdt/status.h"
#include "node/resp/reply.h"

namespace converge::command_util {

inline std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// WRONGTYPE as Redis words it; any other error as "ERR <message>".
inline void ErrorFromStatus(const Status& st, std::string* out) {
  if (Object::IsWrongType(st)) {
    resp::AppendError(out, st.message());
  } else {
    resp::AppendError(out, "ERR " + st.message());
  }
}

// A replica id as 16 lowercase hex digits.
inline std::string Hex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, id);
  return buf;
}

inline constexpr const char* kNotInteger = "ERR value is not an integer or out of range";
inline constexpr const char* kSyntax = "ERR syntax error";

}  // namespace converge::command_util

#endif  // CONVERGE_NODE_INTERNAL_COMMAND_UTIL_H_
