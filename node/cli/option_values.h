// Option values as the command line and the TOML file give them, and the
// checks both share (serve_options.cc), so a refusal reads the same from
// either source: "<where>: <what is wanted> (got <the value, quoted>)".
//
// Thread-safe: the functions keep no state.
#ifndef CONVERGE_NODE_CLI_OPTION_VALUES_H_
#define CONVERGE_NODE_CLI_OPTION_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crdt/status.h"

namespace converge::option_values {

// A TOML value of a type no option takes (float, date, table, ...): kept
// only to say what was found.
struct Unsupported {
  std::string what;
};

// A raw value before it is checked: from the command line always a string
// (or a bool for the flag); from TOML whatever type the file holds.
using RawValue = std::variant<std::string, int64_t, bool, std::vector<std::string>, Unsupported>;

// Quotes a user's value for a one-line message: escapes what would break the
// line or hide characters, and bounds the length.
std::string Quote(std::string_view s);
// The value as a message shows it: quoted text, a number, "an array", ...
std::string Describe(const RawValue& v);
// InvalidArgument "<label>: <what> (got <value>)".
Status Invalid(std::string_view label, std::string_view what, const RawValue& got);

// Decimal digits only: no sign, no spaces, no "0x", so "7001 " or "+1" are
// refused rather than half-read.
std::optional<int64_t> ParseDecimal(std::string_view s);

// An integer in [lo, hi] from a string (command line) or an integer (TOML).
// Command-line words are text to be read as a number; in TOML a number is
// written as one, and port = "7001" is a type error worth pointing out.
StatusOr<int64_t> CheckInteger(const RawValue& raw, int64_t lo, int64_t hi, std::string_view label,
                               bool from_command_line);
// A non-empty string.
StatusOr<std::string> CheckText(const RawValue& raw, std::string_view label);
// "host:port" or "[v6]:port"; returns an error naming the entry.
Status CheckSeed(std::string_view seed, std::string_view label);

// The index of the string `raw` in `names`.
template <size_t N>
StatusOr<size_t> CheckOneOf(const RawValue& raw, const std::string_view (&names)[N],
                            std::string_view label) {
  std::string what = "must be one of ";
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) what += ", ";
    what += names[i];
  }
  const auto* s = std::get_if<std::string>(&raw);
  if (s != nullptr) {
    for (size_t i = 0; i < N; ++i) {
      if (*s == names[i]) return i;
    }
  }
  return Invalid(label, what, raw);
}

}  // namespace converge::option_values

#endif  // CONVERGE_NODE_CLI_OPTION_VALUES_H_
