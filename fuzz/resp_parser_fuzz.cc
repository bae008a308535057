// Fuzz body for resp::RequestParser (fuzz_check.h says how it is run).
//
// Input layout: byte 0 picks the limits (bit 0: tiny limits so the limit
// paths are reachable), byte 1 seeds the chunk sizes, the rest is the byte
// stream a client sends. Checked on every input (FUZZ_CHECK):
//   - feeding the stream in random-sized chunks gives exactly the commands,
//     error and leftover of feeding it whole;
//   - every command has 1..max_arguments arguments, none longer than the limits;
//   - an error reason is non-empty and one line;
//   - the buffer never holds more than twice what was received plus one read;
//   - each command, re-encoded as multibulk, parses back to itself.
// Out-of-bounds reads are ASan's job.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "node/resp/request_parser.h"

namespace converge::fuzz {
namespace {

using converge::resp::RequestParser;
using converge::resp::RequestParserOptions;

struct Outcome {
  std::vector<std::vector<std::string>> commands;
  bool bad = false;
  std::string error;
  size_t buffered = 0;
  bool operator==(const Outcome&) const = default;
};

void CheckCommand(const RequestParserOptions& o, std::span<const std::string_view> args) {
  FUZZ_CHECK(!args.empty());
  FUZZ_CHECK(args.size() <= o.max_arguments);
  for (std::string_view a : args) {
    FUZZ_CHECK(a.size() <= o.max_bulk_length || a.size() <= o.max_inline_length);
  }
}

bool Drain(RequestParser& parser, Outcome* out) {
  for (;;) {
    switch (parser.Parse()) {
      case RequestParser::Result::kGood:
        CheckCommand(parser.options(), parser.args());
        out->commands.emplace_back(parser.args().begin(), parser.args().end());
        continue;
      case RequestParser::Result::kBad:
        FUZZ_CHECK(!parser.error().empty());
        FUZZ_CHECK(parser.error().find_first_of("\r\n") == std::string::npos);
        FUZZ_CHECK(parser.Parse() == RequestParser::Result::kBad);  // final
        out->bad = true;
        out->error = parser.error();
        return false;
      case RequestParser::Result::kNeedMore:
        FUZZ_CHECK(parser.args().empty());
        return true;
    }
  }
}

// xorshift64*: chunk sizes reproducible from the input's byte 1.
uint64_t Next(uint64_t* s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return *s * 2685821657736338717ULL;
}

Outcome Feed(std::string_view input, const RequestParserOptions& options, uint8_t chunk_seed,
             bool whole) {
  RequestParser parser(options);
  Outcome out;
  uint64_t rng = 0x9e3779b97f4a7c15ULL ^ chunk_seed;
  size_t received = 0;
  while (received < input.size()) {
    size_t n = input.size() - received;
    if (!whole) {
      // Mostly tiny chunks (they split headers and CRLFs), sometimes big ones.
      const uint64_t r = Next(&rng);
      n = std::min<size_t>(n, (r & 3) == 0 ? 1 + (r >> 8) % 4096 : 1 + (r >> 8) % 8);
    }
    parser.Append(input.substr(received, n));
    received += n;
    FUZZ_CHECK(parser.buffered() <= received);
    FUZZ_CHECK(parser.capacity() <= 2 * received + n);
    if (!Drain(parser, &out)) return out;
  }
  Drain(parser, &out);
  out.buffered = parser.buffered();
  return out;
}

std::string MultiBulk(const std::vector<std::string>& args) {
  std::string s;
  s.append("*").append(std::to_string(args.size())).append("\r\n");
  for (const std::string& a : args) {
    s.append("$").append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
  }
  return s;
}

}  // namespace

int FuzzRespParser(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  RequestParserOptions options;
  if (data[0] & 1) {
    options.max_arguments = 1 + (data[0] >> 1 & 7);
    options.max_bulk_length = 16;
    options.max_inline_length = 32;
    options.max_request_size = 64 + (data[0] >> 4) * 8;
  }
  const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = Feed(input, options, data[1], /*whole=*/true);
  const Outcome chunked = Feed(input, options, data[1], /*whole=*/false);
  FUZZ_CHECK(whole == chunked);

  for (const std::vector<std::string>& command : whole.commands) {
    RequestParser again;
    again.Append(MultiBulk(command));
    FUZZ_CHECK(again.Parse() == RequestParser::Result::kGood);
    FUZZ_CHECK(again.args().size() == command.size());
    for (size_t i = 0; i < command.size(); ++i) FUZZ_CHECK(again.args()[i] == command[i]);
    FUZZ_CHECK(again.Parse() == RequestParser::Result::kNeedMore);
    FUZZ_CHECK(again.buffered() == 0);
  }
  return 0;
}

}  // namespace converge::fuzz
