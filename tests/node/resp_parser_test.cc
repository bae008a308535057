#include "node/resp/request_parser.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/testing/seed.h"

namespace converge::resp {
namespace {

using Command = std::vector<std::string>;
using Result = RequestParser::Result;

// What a connection would see: the commands in order, then either an error
// or "need more" with some bytes left over.
struct Outcome {
  std::vector<Command> commands;
  bool bad = false;
  std::string error;
  size_t buffered = 0;

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << o.commands.size() << " commands [";
  for (const Command& c : o.commands) {
    os << "(";
    for (const std::string& a : c) os << '"' << a << "\" ";
    os << ")";
  }
  return os << "] bad=" << o.bad << " error='" << o.error << "' buffered=" << o.buffered;
}

// Drains `parser` into `out`; false once it has failed.
bool Drain(RequestParser& parser, Outcome* out) {
  for (;;) {
    switch (parser.Parse()) {
      case Result::kGood:
        out->commands.emplace_back(parser.args().begin(), parser.args().end());
        continue;
      case Result::kBad:
        out->bad = true;
        out->error = parser.error();
        return false;
      case Result::kNeedMore:
        return true;
    }
  }
}

// Feeds `input` in pieces of the given sizes (the last piece takes the rest).
Outcome FeedChunks(std::string_view input, const std::vector<size_t>& sizes,
                   const RequestParserOptions& options = {}) {
  RequestParser parser(options);
  Outcome out;
  size_t i = 0;
  for (size_t k = 0; i < input.size(); ++k) {
    const size_t n = k < sizes.size() ? std::min(sizes[k], input.size() - i) : input.size() - i;
    parser.Append(input.substr(i, n));
    i += n;
    if (!Drain(parser, &out)) return out;
  }
  Drain(parser, &out);
  out.buffered = parser.buffered();
  return out;
}

Outcome FeedWhole(std::string_view input, const RequestParserOptions& options = {}) {
  return FeedChunks(input, {input.size()}, options);
}

Outcome FeedBytewise(std::string_view input, const RequestParserOptions& options = {}) {
  return FeedChunks(input, std::vector<size_t>(input.size(), 1), options);
}

// Parses `input` whole and byte by byte, checks both agree, returns it.
Outcome Parse(std::string_view input, const RequestParserOptions& options = {}) {
  Outcome whole = FeedWhole(input, options);
  EXPECT_EQ(whole, FeedBytewise(input, options)) << "input: " << input;
  return whole;
}

std::string ErrorOf(std::string_view input, const RequestParserOptions& options = {}) {
  Outcome o = Parse(input, options);
  EXPECT_TRUE(o.bad) << o;
  return o.error;
}

std::string MultiBulk(const Command& args) {
  // Appends one piece at a time: GCC 12 at -O3 warns falsely (-Wrestrict,
  // GCC bug 105651) on "literal" + std::string.
  std::string s;
  s.append("*").append(std::to_string(args.size())).append("\r\n");
  for (const std::string& a : args) {
    s.append("$").append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
  }
  return s;
}

std::string Bytes(std::string_view s) { return std::string(s); }

// --- multibulk ---------------------------------------------------------------

TEST(RespParserTest, MultiBulkCommand) {
  Outcome o = Parse("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n");
  EXPECT_FALSE(o.bad);
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0], (Command{"SET", "k", "value"}));
  EXPECT_EQ(o.buffered, 0u);
}

TEST(RespParserTest, MultiBulkArgumentsAreBinarySafe) {
  const Command cmd = {"SET", Bytes(std::string_view("a\0b", 3)), "line\r\nbreak", "", "$3\r\n*1"};
  Outcome o = Parse(MultiBulk(cmd));
  ASSERT_EQ(o.commands.size(), 1u) << o;
  EXPECT_EQ(o.commands[0], cmd);
}

TEST(RespParserTest, EmptyMultiBulkIsSkipped) {
  Outcome o = Parse("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(o.commands.size(), 1u) << o;
  EXPECT_EQ(o.commands[0], (Command{"PING"}));
}

TEST(RespParserTest, IncompleteRequestWaits) {
  const std::string full = "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
  for (size_t n = 0; n < full.size(); ++n) {
    Outcome o = FeedWhole(full.substr(0, n));
    EXPECT_FALSE(o.bad) << n;
    EXPECT_TRUE(o.commands.empty()) << n;
    EXPECT_EQ(o.buffered, n);
  }
}

TEST(RespParserTest, ArgsAreViewsIntoTheBuffer) {
  RequestParser parser;
  parser.Append("*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(parser.Parse(), Result::kGood);
  ASSERT_EQ(parser.args().size(), 1u);
  EXPECT_EQ(parser.args()[0], "PING");
  EXPECT_EQ(parser.buffered(), 0u);
  EXPECT_EQ(parser.Parse(), Result::kNeedMore);
  EXPECT_TRUE(parser.args().empty());
}

// --- pipelining --------------------------------------------------------------

TEST(RespParserTest, PipelinedCommandsInOneBuffer) {
  std::string input;
  std::vector<Command> expected;
  for (int i = 0; i < 1000; ++i) {
    expected.push_back({"INCR", "counter:" + std::to_string(i)});
    input += MultiBulk(expected.back());
  }
  input += "PING\r\n";
  expected.push_back({"PING"});
  input += "*2\r\n$3\r\nGET\r\n$1\r\n";  // incomplete tail stays buffered
  Outcome o = Parse(input);
  EXPECT_FALSE(o.bad);
  EXPECT_EQ(o.commands, expected);
  EXPECT_EQ(o.buffered, std::string_view("*2\r\n$3\r\nGET\r\n$1\r\n").size());
}

TEST(RespParserTest, CommandAfterPartialReadCompletes) {
  RequestParser parser;
  parser.Append("*2\r\n$3\r\nGET\r\n$3\r\nk");
  EXPECT_EQ(parser.Parse(), Result::kNeedMore);
  parser.Append("ey\r\n*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(parser.Parse(), Result::kGood);
  EXPECT_EQ(Command(parser.args().begin(), parser.args().end()), (Command{"GET", "key"}));
  ASSERT_EQ(parser.Parse(), Result::kGood);
  EXPECT_EQ(parser.args()[0], "PING");
  EXPECT_EQ(parser.Parse(), Result::kNeedMore);
}

// --- inline ------------------------------------------------------------------

TEST(RespParserTest, InlineWords) {
  Outcome o = Parse("SET  k\tv\r\nPING\nGET k   \r\n");
  EXPECT_FALSE(o.bad);
  EXPECT_EQ(o.commands, (std::vector<Command>{{"SET", "k", "v"}, {"PING"}, {"GET", "k"}}));
}

TEST(RespParserTest, EmptyInlineLinesAreSkipped) {
  Outcome o = Parse("\r\n\n   \r\n\t\nPING\r\n");
  EXPECT_EQ(o.commands, (std::vector<Command>{{"PING"}}));
}

TEST(RespParserTest, InlineNeedsTheLineFeed) {
  Outcome o = Parse("PING\r");
  EXPECT_TRUE(o.commands.empty());
  EXPECT_EQ(o.buffered, 5u);
}

TEST(RespParserTest, InlineQuotesAndEscapesAsSdssplitargs) {
  struct Case {
    std::string line;
    Command args;
  };
  const std::vector<Case> cases = {
      {R"(SET "a b" 'c d')", {"SET", "a b", "c d"}},
      {R"(ECHO "\n\r\t\b\a\"\\\q")", {"ECHO", "\n\r\t\b\a\"\\q"}},
      {R"(ECHO "\x41\x7a\x00\xff")", {"ECHO", Bytes(std::string_view("Az\0\xff", 4))}},
      {R"(ECHO "\x4" "\xzz")", {"ECHO", "x4", "xzz"}},           // not two hex digits
      {R"(ECHO 'it\'s' 'a\nb')", {"ECHO", "it's", "a\\nb"}},    // single quotes: only \'
      {R"(ECHO "" '')", {"ECHO", "", ""}},
      {R"(ECHO ab"c d")", {"ECHO", "abc d"}},                   // quote inside a word
      {"ECHO a\vb", {"ECHO", "a\vb"}},                          // \v only separates leading blanks
      {"  \v ECHO x", {"ECHO", "x"}},
      {"ECHO \"a\"\t\"b\"", {"ECHO", "a", "b"}},
      {std::string("ECHO a\0 b c", 11), {"ECHO", "a"}},         // the line ends at NUL, as in Redis
  };
  for (const Case& c : cases) {
    Outcome o = Parse(c.line + "\r\n");
    EXPECT_FALSE(o.bad) << c.line << ": " << o.error;
    ASSERT_EQ(o.commands.size(), 1u) << c.line;
    EXPECT_EQ(o.commands[0], c.args) << c.line;
  }
}

TEST(RespParserTest, UnbalancedQuotes) {
  for (std::string line : {R"(SET "abc)", R"(SET 'abc)", R"(SET "a"b)", R"(SET 'a'b)",
                           R"(SET "abc\")", R"(SET "abc\)"}) {
    EXPECT_EQ(ErrorOf(line + "\r\n"), "unbalanced quotes in request") << line;
  }
  // The CR before the LF is not part of the line, so it cannot close anything.
  EXPECT_EQ(ErrorOf("SET \"abc\r\n"), "unbalanced quotes in request");
}

TEST(RespParserTest, PipelinedInlineWithEscapesKeepsEarlierArgs) {
  // Unescaping happens in place; later commands must not disturb earlier bytes.
  RequestParser parser;
  parser.Append("ECHO \"\\x41\\x42\"\r\nECHO \"c\\td\"\r\n");
  ASSERT_EQ(parser.Parse(), Result::kGood);
  EXPECT_EQ(parser.args()[1], "AB");
  ASSERT_EQ(parser.Parse(), Result::kGood);
  EXPECT_EQ(parser.args()[1], "c\td");
}

// --- errors, with Redis's words ------------------------------------------------

TEST(RespParserTest, InvalidMultibulkLength) {
  for (std::string in : {"*abc\r\n", "*\r\n", "*-2\r\n", "*01\r\n", "*+1\r\n", "*1 \r\n", "*1\rX",
                         "*99999999999999999999\r\n", "*-0\r\n", "*1048577\r\n"}) {
    EXPECT_EQ(ErrorOf(in), "invalid multibulk length") << in;
  }
  RequestParserOptions small;
  small.max_arguments = 4;
  EXPECT_EQ(ErrorOf("*5\r\n", small), "invalid multibulk length");
  EXPECT_FALSE(Parse("*4\r\n", small).bad);
  EXPECT_FALSE(Parse("*1048576\r\n").bad);  // the default limit itself is allowed
}

TEST(RespParserTest, InvalidBulkLength) {
  for (std::string in : {"$-1\r\n", "$abc\r\n", "$\r\n", "$01\r\n", "$1\rX", "$536870913\r\n",
                         "$999999999999\r\n", "$-9223372036854775808\r\n",
                         "$9223372036854775808\r\n"}) {
    EXPECT_EQ(ErrorOf("*1\r\n" + in), "invalid bulk length") << in;
  }
  RequestParserOptions small;
  small.max_bulk_length = 10;
  EXPECT_EQ(ErrorOf("*1\r\n$11\r\n", small), "invalid bulk length");
  EXPECT_FALSE(Parse("*1\r\n$10\r\n0123456789\r\n", small).bad);
}

TEST(RespParserTest, ExpectedDollar) {
  EXPECT_EQ(ErrorOf("*2\r\n$1\r\na\r\n*1\r\n"), "expected '$', got '*'");  // no nesting
  EXPECT_EQ(ErrorOf("*1\r\n:1\r\n"), "expected '$', got ':'");
  EXPECT_EQ(ErrorOf("*1\r\nPING\r\n"), "expected '$', got 'P'");
  EXPECT_EQ(ErrorOf(std::string("*1\r\n\0", 5)), "expected '$', got '\\x00'");
  EXPECT_EQ(ErrorOf("*1\r\n\r\n"), "expected '$', got '\\x0d'");
}

TEST(RespParserTest, ExpectedCrlfAfterBulk) {
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nfooXY"), "expected CRLF after bulk data");
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nfoo\rX"), "expected CRLF after bulk data");
  EXPECT_EQ(ErrorOf("*1\r\n$3\r\nfoo\n\r"), "expected CRLF after bulk data");
}

TEST(RespParserTest, TooBigHeaderAndInlineLines) {
  const std::string digits(64 * 1024 + 1, '1');
  EXPECT_EQ(ErrorOf("*" + digits), "too big mbulk count string");
  EXPECT_EQ(ErrorOf("*" + digits + "\r\n"), "too big mbulk count string");
  EXPECT_EQ(ErrorOf("*1\r\n$" + digits), "too big bulk count string");
  const std::string line(64 * 1024 + 1, 'a');
  EXPECT_EQ(ErrorOf(line), "too big inline request");
  EXPECT_EQ(ErrorOf(line + "\n"), "too big inline request");  // also when the LF is there
  // Exactly the limit is allowed.
  Outcome o = Parse(std::string(64 * 1024, 'a') + "\n");
  ASSERT_EQ(o.commands.size(), 1u) << o.error;
  EXPECT_EQ(o.commands[0][0].size(), 64u * 1024);
}

TEST(RespParserTest, TooManyInlineArguments) {
  RequestParserOptions small;
  small.max_arguments = 2;
  EXPECT_EQ(ErrorOf("a b c\r\n", small), "too many arguments in inline request");
  EXPECT_EQ(Parse("a b\r\n", small).commands.size(), 1u);
}

TEST(RespParserTest, ErrorIsFinal) {
  RequestParser parser;
  parser.Append("*x\r\n");
  EXPECT_EQ(parser.Parse(), Result::kBad);
  parser.Append("*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(parser.Parse(), Result::kBad);
  EXPECT_EQ(parser.error(), "invalid multibulk length");
}

// --- limits refused before the body is buffered ---------------------------------

TEST(RespParserTest, HugeBulkLengthRefusedAtTheHeader) {
  RequestParser parser;
  parser.Append("*1\r\n$999999999999\r\n");
  EXPECT_EQ(parser.Parse(), Result::kBad);
  EXPECT_EQ(parser.error(), "invalid bulk length");
  EXPECT_LT(parser.capacity(), 4096u);
}

TEST(RespParserTest, RequestSizeRefusedAtTheHeader) {
  RequestParserOptions options;
  options.max_request_size = 64;
  // Headers up to the body take 18 bytes: "$44" needs 18 + 44 + 2 = 64 and
  // fits; "$45" cannot, and is refused before any of its body arrives.
  EXPECT_FALSE(Parse("*2\r\n$3\r\nSET\r\n$44\r\n", options).bad);
  EXPECT_EQ(ErrorOf("*2\r\n$3\r\nSET\r\n$45\r\n", options), "too big request");
  // Arguments still to come count at their smallest (6 bytes each).
  EXPECT_EQ(ErrorOf("*11\r\n", options), "too big request");
  EXPECT_FALSE(Parse("*3\r\n$3\r\nSET\r\n$38\r\n", options).bad);
  EXPECT_EQ(ErrorOf("*3\r\n$3\r\nSET\r\n$39\r\n", options), "too big request");
  // Inline lines are bounded by it too.
  EXPECT_EQ(ErrorOf(std::string(65, 'a'), options), "too big inline request");
}

TEST(RespParserTest, DefaultMaxBulkIsAcceptedAndNotPreallocated) {
  RequestParser parser;
  parser.Append("*1\r\n$536870912\r\n");  // exactly 512 MiB: allowed, waits for the body
  EXPECT_EQ(parser.Parse(), Result::kNeedMore);
  EXPECT_LT(parser.capacity(), 4096u);
}

TEST(RespParserTest, BufferHoldsWhatWasReceivedPlusBoundedReserve) {
  RequestParser parser;
  const size_t body = 8 * 1024 * 1024;
  parser.Append("*1\r\n$" + std::to_string(body) + "\r\n");
  size_t received = 0;
  const std::string chunk(16 * 1024, 'x');
  while (received < body) {
    const size_t n = std::min(chunk.size(), body - received);
    parser.Append(std::string_view(chunk).substr(0, n));
    received += n;
    ASSERT_LE(parser.capacity(), 2 * parser.buffered() + chunk.size());
  }
  EXPECT_EQ(parser.Parse(), Result::kNeedMore);
  parser.Append("\r\n");
  ASSERT_EQ(parser.Parse(), Result::kGood);
  EXPECT_EQ(parser.args()[0].size(), body);
  EXPECT_EQ(parser.Parse(), Result::kNeedMore);
  // Once consumed, the big buffer is given back.
  parser.PrepareBuffer(16 * 1024);
  EXPECT_LE(parser.capacity(), 16u * 1024);
}

TEST(RespParserTest, PrepareAndCommitBuffer) {
  RequestParser parser;
  const std::string_view req = "*1\r\n$4\r\nPING\r\n";
  std::span<char> space = parser.PrepareBuffer(1024);
  ASSERT_EQ(space.size(), 1024u);
  std::copy(req.begin(), req.end(), space.begin());
  parser.CommitBuffer(req.size());
  ASSERT_EQ(parser.Parse(), Result::kGood);
  EXPECT_EQ(parser.args()[0], "PING");
}

// --- properties over random input -------------------------------------------------

std::string RandomArg(std::mt19937_64& rng) {
  static constexpr std::string_view kAlphabet = "ab \r\n\t\"'\\$*:x0";
  std::string s(std::uniform_int_distribution<size_t>(0, 12)(rng), '\0');
  for (char& c : s) {
    c = rng() % 3 == 0 ? static_cast<char>(rng())
                       : kAlphabet[rng() % kAlphabet.size()];
  }
  return s;
}

// An inline line that sdssplitargs reads back as `words`: every word quoted,
// every byte escaped as \xHH.
std::string InlineLine(const Command& words) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string line;
  for (const std::string& w : words) {
    line += "\"";
    for (unsigned char c : w) {
      line += "\\x";
      line += kHex[c >> 4];
      line += kHex[c & 0xf];
    }
    line += "\" ";
  }
  return line + "\r\n";
}

TEST(RespParserPropertyTest, ChunkingNeverChangesTheResult) {
  const uint64_t seed = testing::AnnounceSeed("ChunkingNeverChangesTheResult");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 300; ++round) {
    std::string input;
    std::vector<Command> expected;
    const int commands = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < commands; ++i) {
      Command cmd;
      const size_t argc = 1 + rng() % 5;
      for (size_t a = 0; a < argc; ++a) cmd.push_back(RandomArg(rng));
      if (rng() % 3 == 0) {
        input += InlineLine(cmd);
      } else {
        input += MultiBulk(cmd);
      }
      expected.push_back(cmd);
    }
    const Outcome whole = FeedWhole(input);
    ASSERT_FALSE(whole.bad) << whole.error;
    ASSERT_EQ(whole.commands, expected);
    ASSERT_EQ(whole.buffered, 0u);
    ASSERT_EQ(FeedBytewise(input), whole);
    std::vector<size_t> sizes;
    for (size_t n = 0; n < input.size(); n += sizes.back()) sizes.push_back(1 + rng() % 40);
    ASSERT_EQ(FeedChunks(input, sizes), whole);
  }
}

TEST(RespParserPropertyTest, GarbageNeverCrashesAndChunkingAgrees) {
  const uint64_t seed = testing::AnnounceSeed("GarbageNeverCrashesAndChunkingAgrees");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  static constexpr std::string_view kTokens[] = {"*", "$", "\r\n", "\r", "\n", "1", "2", "0",
                                                 "-1", "-", "\"", "'", "\\", "x", " ", "a",
                                                 "3\r\nSET\r\n", "99999999999999"};
  RequestParserOptions small;
  small.max_arguments = 4;
  small.max_bulk_length = 16;
  small.max_inline_length = 24;
  small.max_request_size = 48;
  for (int round = 0; round < 2000; ++round) {
    std::string input;
    const size_t pieces = rng() % 40;
    for (size_t i = 0; i < pieces; ++i) {
      if (rng() % 5 == 0) {
        input += static_cast<char>(rng());
      } else {
        input += kTokens[rng() % std::size(kTokens)];
      }
    }
    for (const RequestParserOptions& options : {RequestParserOptions{}, small}) {
      const Outcome whole = FeedWhole(input, options);
      ASSERT_EQ(FeedBytewise(input, options), whole) << "input: " << input;
      for (const Command& c : whole.commands) {
        ASSERT_FALSE(c.empty());
        ASSERT_LE(c.size(), options.max_arguments);
      }
    }
  }
}

// --- what hiredis sends --------------------------------------------------------------

std::string HiredisFormat(const Command& args) {
  std::vector<const char*> argv;
  std::vector<size_t> argvlen;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    argvlen.push_back(a.size());
  }
  char* cmd = nullptr;
  const int len = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(),
                                         argvlen.data());
  EXPECT_GT(len, 0);
  std::string s(cmd, static_cast<size_t>(len));
  redisFreeCommand(cmd);
  return s;
}

TEST(RespParserHiredisTest, ParsesWhatHiredisFormats) {
  const std::vector<Command> commands = {
      {"SET", "key", "value"},
      {"SET", Bytes(std::string_view("k\0ey", 4)), Bytes(std::string_view("\0\r\n\0", 4))},
      {"HSET", "h", "field with spaces", "\r\n$5\r\n*3\r\n"},
      {"ECHO", ""},
      {"ECHO", std::string(100000, '\n')},
  };
  std::string pipeline;
  for (const Command& c : commands) {
    const std::string wire = HiredisFormat(c);
    Outcome o = Parse(wire);
    ASSERT_EQ(o.commands.size(), 1u) << o;
    EXPECT_EQ(o.commands[0], c);
    pipeline += wire;
  }
  EXPECT_EQ(Parse(pipeline).commands, commands);
}

TEST(RespParserHiredisTest, RandomBinaryArgumentsRoundTrip) {
  const uint64_t seed = testing::AnnounceSeed("RandomBinaryArgumentsRoundTrip");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::string pipeline;
  std::vector<Command> expected;
  for (int i = 0; i < 200; ++i) {
    Command cmd;
    const size_t argc = 1 + rng() % 6;
    for (size_t a = 0; a < argc; ++a) {
      std::string arg(rng() % 64, '\0');
      for (char& c : arg) c = static_cast<char>(rng());
      cmd.push_back(arg);
    }
    pipeline += HiredisFormat(cmd);
    expected.push_back(cmd);
  }
  std::vector<size_t> sizes;
  for (size_t n = 0; n < pipeline.size(); n += sizes.back()) sizes.push_back(1 + rng() % 300);
  const Outcome chunked = FeedChunks(pipeline, sizes);
  EXPECT_FALSE(chunked.bad) << chunked.error;
  EXPECT_EQ(chunked.commands, expected);
  EXPECT_EQ(FeedWhole(pipeline), chunked);
}

}  // namespace
}  // namespace converge::resp
