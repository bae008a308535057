#include "node/cli/resp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace converge {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits until fd is ready for `events` or the deadline passes.
Status WaitFor(int fd, short events, Clock::time_point deadline, const char* what) {
  while (true) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, RemainingMs(deadline));
    if (n > 0) return Status::Ok();
    if (n == 0) return UnavailableError(std::string(what) + ": timed out");
    if (errno != EINTR) return UnavailableError(std::string(what) + ": " + std::strerror(errno));
  }
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

StatusOr<RespClient> RespClient::Connect(const std::string& host, uint16_t port,
                                         std::chrono::milliseconds timeout) {
  const std::string where = host + ":" + std::to_string(port);
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  const std::string numeric = host == "localhost" ? "127.0.0.1" : host;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, numeric.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addr_len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, numeric.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    return InvalidArgumentError("connect " + where + ": not a numeric address");
  }

  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError("connect " + where + ": socket: " + std::strerror(errno));
  RespClient client(fd, timeout);
  const Clock::time_point deadline = Clock::now() + timeout;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    if (errno != EINPROGRESS) return UnavailableError("connect " + where + ": " + std::strerror(errno));
    CONVERGE_RETURN_IF_ERROR(WaitFor(fd, POLLOUT, deadline, ("connect " + where).c_str()));
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) return UnavailableError("connect " + where + ": " + std::strerror(err));
  }
  const int one = 1;
  // Deliberately unchecked: without TCP_NODELAY the client is only slower.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return client;
}

RespClient::RespClient(RespClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      timeout_(other.timeout_),
      buffer_(std::move(other.buffer_)),
      read_pos_(other.read_pos_) {}

RespClient& RespClient::operator=(RespClient&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    timeout_ = other.timeout_;
    buffer_ = std::move(other.buffer_);
    read_pos_ = other.read_pos_;
  }
  return *this;
}

RespClient::~RespClient() { Close(); }

void RespClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
  read_pos_ = 0;
}

StatusOr<RespValue> RespClient::Command(const std::vector<std::string>& args) {
  if (fd_ < 0) return UnavailableError("connection closed");
  // Appended piece by piece: GCC 12's -Wrestrict misfires on "lit" + string.
  std::string out;
  out.append("*").append(std::to_string(args.size())).append("\r\n");
  for (const std::string& a : args) {
    out.append("$").append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
  }

  const Clock::time_point deadline = Clock::now() + timeout_;
  size_t sent = 0;
  while (sent < out.size()) {
    const ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (Status s = WaitFor(fd_, POLLOUT, deadline, "send"); !s.ok()) {
        Close();
        return s;
      }
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      const std::string reason = std::strerror(errno);
      Close();
      return UnavailableError("send: " + reason);
    }
  }

  StatusOr<RespValue> reply = ReadValue(deadline, 0);
  if (!reply.ok()) {
    Close();
    return reply;
  }
  // The reply is consumed; keep the buffer from growing across commands.
  buffer_.erase(0, read_pos_);
  read_pos_ = 0;
  return reply;
}

Status RespClient::Fill(size_t n, Clock::time_point deadline) {
  while (buffer_.size() - read_pos_ < n) {
    char chunk[16384];
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got > 0) {
      buffer_.append(chunk, static_cast<size_t>(got));
    } else if (got == 0) {
      return UnavailableError("connection closed by the server");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      CONVERGE_RETURN_IF_ERROR(WaitFor(fd_, POLLIN, deadline, "read"));
    } else if (errno != EINTR) {
      return UnavailableError(std::string("read: ") + std::strerror(errno));
    }
  }
  return Status::Ok();
}

StatusOr<std::string> RespClient::ReadLine(Clock::time_point deadline) {
  // A header line is a type byte and a number: anything longer is not RESP
  // (or is a simple string no status reply needs).
  constexpr size_t kMaxLine = 64 * 1024;
  size_t scanned = read_pos_;
  while (true) {
    const size_t crlf = buffer_.find("\r\n", scanned);
    if (crlf != std::string::npos) {
      std::string line = buffer_.substr(read_pos_, crlf - read_pos_);
      read_pos_ = crlf + 2;
      return line;
    }
    if (buffer_.size() - read_pos_ > kMaxLine) return CorruptionError("reply line longer than 64 KiB");
    scanned = buffer_.size() > read_pos_ ? buffer_.size() - 1 : read_pos_;
    CONVERGE_RETURN_IF_ERROR(Fill(buffer_.size() - read_pos_ + 1, deadline));
  }
}

StatusOr<RespValue> RespClient::ReadValue(Clock::time_point deadline, int depth) {
  if (depth > kMaxDepth) return CorruptionError("reply nested deeper than " + std::to_string(kMaxDepth));
  CONVERGE_ASSIGN_OR_RETURN(const std::string line, ReadLine(deadline));
  if (line.empty()) return CorruptionError("empty reply line");
  const std::string_view body = std::string_view(line).substr(1);
  RespValue v;
  switch (line[0]) {
    case '+':
      v.type = RespValue::Type::kSimpleString;
      v.text = std::string(body);
      return v;
    case '-':
      v.type = RespValue::Type::kError;
      v.text = std::string(body);
      return v;
    case ':': {
      const std::optional<int64_t> i = ParseInt(body);
      if (!i) return CorruptionError("bad integer reply");
      v.type = RespValue::Type::kInteger;
      v.integer = *i;
      return v;
    }
    case '$': {
      const std::optional<int64_t> len = ParseInt(body);
      if (!len || *len < -1 || *len > kMaxBulkBytes) return CorruptionError("bad bulk string length");
      if (*len == -1) return v;  // kNull
      const size_t n = static_cast<size_t>(*len);
      CONVERGE_RETURN_IF_ERROR(Fill(n + 2, deadline));
      if (buffer_.compare(read_pos_ + n, 2, "\r\n") != 0) {
        return CorruptionError("bulk string not followed by CRLF");
      }
      v.type = RespValue::Type::kBulkString;
      v.text = buffer_.substr(read_pos_, n);
      read_pos_ += n + 2;
      return v;
    }
    case '*': {
      const std::optional<int64_t> count = ParseInt(body);
      if (!count || *count < -1 || *count > kMaxArrayElements) return CorruptionError("bad array length");
      if (*count == -1) return v;  // kNull
      v.type = RespValue::Type::kArray;
      for (int64_t i = 0; i < *count; ++i) {
        CONVERGE_ASSIGN_OR_RETURN(RespValue element, ReadValue(deadline, depth + 1));
        v.elements.push_back(std::move(element));
      }
      return v;
    }
    default:
      return CorruptionError("unknown reply type byte");
  }
}

std::optional<std::string> InfoField(std::string_view info, std::string_view field) {
  size_t start = 0;
  while (start < info.size()) {
    size_t end = info.find('\n', start);
    if (end == std::string_view::npos) end = info.size();
    std::string_view line = info.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > field.size() && line.substr(0, field.size()) == field &&
        line[field.size()] == ':') {
      return std::string(line.substr(field.size() + 1));
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace converge
