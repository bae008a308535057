#include "node/resp/request_parser.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace converge::resp {
namespace {

// Growth never reserves more than this beyond what a read needs; big enough
// that a 512 MiB bulk arriving in small reads costs few reallocations
// (and glibc grows blocks this large with mremap, without copying).
constexpr size_t kMaxGrowthReserve = size_t{16} * 1024 * 1024;
// An empty buffer larger than this is given back rather than kept for the
// next read: one big request must not pin memory for the connection's life.
constexpr size_t kMaxIdleCapacity = size_t{1024} * 1024;
// The smallest encoding of one multibulk argument: "$0\r\n\r\n".
constexpr size_t kMinBulkSize = 6;
// spans_ is reserved for at most this many arguments up front, whatever the
// count header says: the header is not trusted with memory.
constexpr size_t kMaxArgumentReserve = 1024;

size_t SaturatingAdd(size_t a, size_t b) {
  size_t r;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<size_t>::max() : r;
}

size_t SaturatingMul(size_t a, size_t b) {
  size_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<size_t>::max() : r;
}

// Redis's string2ll: optional '-', then "0" or a digit 1-9 followed by
// digits; no '+', no blanks, no leading zeros, no overflow.
bool ParseInteger(const char* s, size_t n, int64_t* out) {
  if (n == 0 || n > 20) return false;
  if (n == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  const bool negative = s[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i == n || s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  const uint64_t limit = uint64_t{1} << 63;  // |INT64_MIN|
  if (negative) {
    if (v > limit) return false;
    *out = v == limit ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(v);
  } else {
    if (v >= limit) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// isspace() in the C locale, which is what sdssplitargs uses between words.
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// sdssplitargs over [line, line + size), unescaping in place: every word is
// written at or before the bytes it is read from (an escape reads 2-4 bytes
// and writes 1), so the words can stay views into the input buffer. Calls
// emit(offset from line, size) for each word. Returns false where sdssplitargs returns
// NULL (an unterminated quote, or a closing quote not followed by a blank).
template <typename Emit>
bool SplitInline(char* line, size_t size, Emit emit) {
  char* p = line;
  char* const end = line + size;
  char* w = line;
  for (;;) {
    while (p < end && IsBlank(*p)) ++p;
    if (p == end) return true;
    char* const word = w;
    bool in_double = false;
    bool in_single = false;
    bool done = false;
    while (!done) {
      if (in_double) {
        if (p == end) return false;
        if (*p == '\\' && end - p >= 4 && p[1] == 'x' && IsHexDigit(p[2]) && IsHexDigit(p[3])) {
          *w++ = static_cast<char>(HexValue(p[2]) * 16 + HexValue(p[3]));
          p += 4;
        } else if (*p == '\\' && end - p >= 2) {
          char c;
          switch (p[1]) {
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case 'b': c = '\b'; break;
            case 'a': c = '\a'; break;
            default: c = p[1]; break;
          }
          *w++ = c;
          p += 2;
        } else if (*p == '"') {
          if (end - p >= 2 && !IsBlank(p[1])) return false;
          ++p;
          done = true;
        } else {
          *w++ = *p++;
        }
      } else if (in_single) {
        if (p == end) return false;
        if (*p == '\\' && end - p >= 2 && p[1] == '\'') {
          *w++ = '\'';
          p += 2;
        } else if (*p == '\'') {
          if (end - p >= 2 && !IsBlank(p[1])) return false;
          ++p;
          done = true;
        } else {
          *w++ = *p++;
        }
      } else if (p == end) {
        done = true;
      } else {
        // Unquoted: sdssplitargs ends a word only on these four (and NUL,
        // which the caller has cut off); \v and \f are part of the word.
        switch (*p) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
            ++p;
            done = true;
            break;
          case '"':
            in_double = true;
            ++p;
            break;
          case '\'':
            in_single = true;
            ++p;
            break;
          default:
            *w++ = *p++;
            break;
        }
      }
    }
    emit(static_cast<size_t>(word - line), static_cast<size_t>(w - word));
  }
}

std::string ExpectedDollar(char got) {
  std::string reason = "expected '$', got '";
  const auto c = static_cast<unsigned char>(got);
  if (c >= 0x20 && c < 0x7f) {
    reason += got;
  } else {
    // Redis prints the raw byte; a CR, LF or NUL would break the one-line
    // error reply, so non-printable bytes are shown escaped.
    static constexpr char kHex[] = "0123456789abcdef";
    reason += "\\x";
    reason += kHex[c >> 4];
    reason += kHex[c & 0xf];
  }
  reason += '\'';
  return reason;
}

}  // namespace

RequestParser::RequestParser(const RequestParserOptions& options) : options_(options) {}

RequestParser::~RequestParser() { std::free(data_); }

std::span<char> RequestParser::PrepareBuffer(size_t size) {
  args_.clear();  // their bytes may move below
  prepared_ = size;
  const size_t live = end_ - begin_;
  if (live == 0 && capacity_ > kMaxIdleCapacity && capacity_ > size) {
    std::free(data_);
    data_ = nullptr;
    capacity_ = 0;
  }
  if (capacity_ - end_ >= size) return {data_ + end_, size};
  if (begin_ > 0) {
    // Drop consumed bytes. Spans are relative to begin_ and need no fixing.
    if (live > 0) std::memmove(data_, data_ + begin_, live);
    pos_ -= begin_;
    scan_ -= begin_;
    end_ = live;
    begin_ = 0;
    if (capacity_ - end_ >= size) return {data_ + end_, size};
  }
  const size_t needed = SaturatingAdd(end_, size);
  const size_t new_capacity = SaturatingAdd(needed, std::min(end_, kMaxGrowthReserve));
  char* grown = static_cast<char*>(std::realloc(data_, new_capacity));
  if (grown == nullptr) throw std::bad_alloc();
  data_ = grown;
  capacity_ = new_capacity;
  return {data_ + end_, size};
}

void RequestParser::CommitBuffer(size_t n) {
  if (n > prepared_) std::abort();  // a caller bug; would expose uninitialized bytes
  end_ += n;
  prepared_ = 0;
}

void RequestParser::Append(std::string_view bytes) {
  if (bytes.empty()) return;
  std::span<char> space = PrepareBuffer(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  CommitBuffer(bytes.size());
}

RequestParser::Result RequestParser::Fail(std::string reason) {
  state_ = State::kBad;
  error_ = std::move(reason);
  spans_.clear();
  return Result::kBad;
}

RequestParser::Result RequestParser::FindLineEnd(size_t line_start, char c, size_t limit,
                                                 const char* too_big, size_t* at) {
  // Look at no more than limit + 1 bytes of the line: whether `c` is among
  // them decides the outcome the same way however the bytes arrived.
  const size_t available = end_ - line_start;
  const size_t window = available <= limit ? available : limit + 1;
  const size_t stop = line_start + window;
  if (scan_ < stop) {
    // Header lines ("$3\r\n") are a few bytes long: a plain loop finds
    // their CR faster than a call to memchr, which pays off on long lines.
    const size_t quick = std::min(stop, scan_ + 24);
    for (size_t i = scan_; i < quick; ++i) {
      if (data_[i] == c) {
        *at = i;
        return Result::kGood;
      }
    }
    if (quick < stop) {
      const void* found = std::memchr(data_ + quick, c, stop - quick);
      if (found != nullptr) {
        *at = static_cast<size_t>(static_cast<const char*>(found) - data_);
        return Result::kGood;
      }
    }
    scan_ = stop;
  }
  if (available > limit) return Fail(too_big);
  return Result::kNeedMore;
}

RequestParser::Result RequestParser::ParseInline(bool* skipped) {
  const size_t limit = std::min(options_.max_inline_length, options_.max_request_size);
  size_t lf;
  if (Result r = FindLineEnd(begin_, '\n', limit, "too big inline request", &lf);
      r != Result::kGood) {
    return r;
  }
  size_t content_end = lf;
  if (content_end > begin_ && data_[content_end - 1] == '\r') --content_end;
  // The line is a C string in Redis: it ends at the first NUL.
  if (const void* nul = std::memchr(data_ + begin_, '\0', content_end - begin_)) {
    content_end = static_cast<size_t>(static_cast<const char*>(nul) - data_);
  }
  spans_.clear();
  // The line starts at begin_, so offsets from the line are Span offsets.
  if (!SplitInline(data_ + begin_, content_end - begin_,
                   [this](size_t offset, size_t size) { spans_.push_back({offset, size}); })) {
    return Fail("unbalanced quotes in request");
  }
  if (spans_.size() > options_.max_arguments) {
    return Fail("too many arguments in inline request");
  }
  pos_ = lf + 1;
  *skipped = spans_.empty();
  if (*skipped) {
    begin_ = pos_;
    state_ = State::kIdle;
  }
  return Result::kGood;
}

RequestParser::Result RequestParser::ParseCount(bool* skipped) {
  size_t cr;
  if (Result r = FindLineEnd(begin_, '\r', options_.max_inline_length, "too big mbulk count string",
                             &cr);
      r != Result::kGood) {
    return r;
  }
  if (cr + 1 == end_) return Result::kNeedMore;  // the LF has not arrived
  int64_t count;
  if (data_[cr + 1] != '\n' || !ParseInteger(data_ + begin_ + 1, cr - begin_ - 1, &count) ||
      count < -1 || (count > 0 && static_cast<uint64_t>(count) > options_.max_arguments)) {
    return Fail("invalid multibulk length");
  }
  pos_ = cr + 2;
  scan_ = pos_;
  *skipped = count <= 0;
  if (*skipped) {  // "*0" and "*-1": empty requests, skipped as Redis does
    begin_ = pos_;
    state_ = State::kIdle;
    return Result::kGood;
  }
  const size_t args = static_cast<size_t>(count);
  if (SaturatingAdd(pos_ - begin_, SaturatingMul(args, kMinBulkSize)) > options_.max_request_size) {
    return Fail("too big request");
  }
  args_left_ = count;
  spans_.clear();
  if (spans_.capacity() < std::min(args, kMaxArgumentReserve)) {
    spans_.reserve(std::min(args, kMaxArgumentReserve));
  }
  state_ = State::kBulkHeader;
  return Result::kGood;
}

RequestParser::Result RequestParser::ParseBulkHeader() {
  if (pos_ == end_) return Result::kNeedMore;
  // Checked on the first byte, before the line is complete: a nested array or
  // an inline word here is refused at once.
  if (data_[pos_] != '$') return Fail(ExpectedDollar(data_[pos_]));
  size_t cr;
  if (Result r = FindLineEnd(pos_, '\r', options_.max_inline_length, "too big bulk count string",
                             &cr);
      r != Result::kGood) {
    return r;
  }
  if (cr + 1 == end_) return Result::kNeedMore;
  int64_t length;
  if (data_[cr + 1] != '\n' || !ParseInteger(data_ + pos_ + 1, cr - pos_ - 1, &length) ||
      length < 0 || static_cast<uint64_t>(length) > options_.max_bulk_length) {
    return Fail("invalid bulk length");
  }
  const size_t body = cr + 2;
  const size_t bulk = static_cast<size_t>(length);
  // What this request needs at the least: everything up to this body, the
  // body and its CRLF, and the smallest encoding of each argument to come.
  const size_t at_least =
      SaturatingAdd(SaturatingAdd(body - begin_, SaturatingAdd(bulk, 2)),
                    SaturatingMul(static_cast<size_t>(args_left_ - 1), kMinBulkSize));
  if (at_least > options_.max_request_size) return Fail("too big request");
  bulk_length_ = bulk;
  pos_ = body;
  state_ = State::kBulkBody;
  return Result::kGood;
}

RequestParser::Result RequestParser::ParseBulkBody() {
  // bulk_length_ + 2 cannot overflow: bulk_length_ <= max_request_size - 2.
  if (end_ - pos_ < bulk_length_ + 2) return Result::kNeedMore;
  if (data_[pos_ + bulk_length_] != '\r' || data_[pos_ + bulk_length_ + 1] != '\n') {
    return Fail("expected CRLF after bulk data");
  }
  spans_.push_back({pos_ - begin_, bulk_length_});
  pos_ += bulk_length_ + 2;
  scan_ = pos_;
  --args_left_;
  state_ = State::kBulkHeader;
  return Result::kGood;
}

RequestParser::Result RequestParser::Parse() {
  args_.clear();
  for (;;) {
    Result r = Result::kGood;
    bool skipped = false;
    switch (state_) {
      case State::kBad:
        return Result::kBad;
      case State::kIdle:
        if (begin_ == end_) return Result::kNeedMore;
        pos_ = begin_;
        scan_ = begin_;
        state_ = data_[begin_] == '*' ? State::kCount : State::kInline;
        continue;
      case State::kInline:
        r = ParseInline(&skipped);
        if (r != Result::kGood || skipped) break;
        return Complete();
      case State::kCount:
        r = ParseCount(&skipped);
        break;
      case State::kBulkHeader:
        r = ParseBulkHeader();
        break;
      case State::kBulkBody:
        r = ParseBulkBody();
        if (r == Result::kGood && args_left_ == 0) return Complete();
        break;
    }
    if (r != Result::kGood) return r;
  }
}

RequestParser::Result RequestParser::Complete() {
  args_.clear();
  const char* base = data_ + begin_;
  for (const Span& s : spans_) args_.emplace_back(base + s.offset, s.size);
  spans_.clear();
  begin_ = pos_;
  scan_ = pos_;
  state_ = State::kIdle;
  return Result::kGood;
}

}  // namespace converge::resp
