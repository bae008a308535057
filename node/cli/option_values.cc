#include "node/cli/option_values.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace converge::option_values {

std::string Quote(std::string_view s) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

std::string Describe(const RawValue& v) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return Quote(s); }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::vector<std::string>&) const { return "an array"; }
    std::string operator()(const Unsupported& u) const { return u.what; }
  };
  return std::visit(Visitor{}, v);
}

Status Invalid(std::string_view label, std::string_view what, const RawValue& got) {
  return InvalidArgumentError(std::string(label) + ": " + std::string(what) + " (got " +
                              Describe(got) + ")");
}

std::optional<int64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s[0] == '-') return std::nullopt;
  return v;
}

StatusOr<int64_t> CheckInteger(const RawValue& raw, int64_t lo, int64_t hi, std::string_view label,
                               bool from_command_line) {
  const std::string what = "must be an integer in " + std::to_string(lo) + ".." + std::to_string(hi);
  std::optional<int64_t> v;
  if (const auto* s = std::get_if<std::string>(&raw)) {
    if (!from_command_line) return Invalid(label, what + ", not a string", raw);
    v = ParseDecimal(*s);
  }
  if (const auto* i = std::get_if<int64_t>(&raw)) v = *i;
  if (!v || *v < lo || *v > hi) return Invalid(label, what, raw);
  return *v;
}

StatusOr<std::string> CheckText(const RawValue& raw, std::string_view label) {
  const auto* s = std::get_if<std::string>(&raw);
  if (s == nullptr) return Invalid(label, "must be a string", raw);
  if (s->empty()) return InvalidArgumentError(std::string(label) + ": must not be empty");
  return *s;
}

Status CheckSeed(std::string_view seed, std::string_view label) {
  const std::string what = "each seed must be host:port with a port in 1..65535";
  const size_t colon = seed.rfind(':');
  if (colon == std::string_view::npos) return Invalid(label, what, std::string(seed));
  std::string_view host = seed.substr(0, colon);
  const std::string_view port = seed.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    // An IPv6 address without brackets: which colon starts the port is a guess.
    return Invalid(label, "an IPv6 seed must be written [addr]:port", std::string(seed));
  }
  const bool host_ok = !host.empty() && std::none_of(host.begin(), host.end(), [](char c) {
    return c <= ' ' || c == 0x7f || c == ',' || c == '[' || c == ']';
  });
  const std::optional<int64_t> p = ParseDecimal(port);
  if (!host_ok || !p || *p < 1 || *p > 65535) return Invalid(label, what, std::string(seed));
  return Status::Ok();
}

}  // namespace converge::option_values
