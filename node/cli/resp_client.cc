#include "node/cli/resp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <csignal>
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

// OpenSSL writes to the socket with write(2), which raises SIGPIPE when the
// server has closed it; a launcher must not die of a node that did. For
// its life a guard blocks SIGPIPE on this thread, and takes the one a call
// raised (if none was pending before) before putting the mask back.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    ::pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigemptyset(&pending);
    ::sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{};
      ::sigtimedwait(&pipe_, nullptr, &zero);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_;
  sigset_t old_;
  bool was_pending_ = false;
};

// OpenSSL's reason for the last failure on this thread, and the verify
// result when the server's certificate was refused; `fallback` when OpenSSL
// has none (the peer closed the connection).
std::string TlsErrorText(SSL* ssl, const char* fallback) {
  std::string text;
  if (const unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text = buf;
  }
  ERR_clear_error();
  if (ssl != nullptr) {
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      text += std::string(text.empty() ? "" : ": ") + "server certificate refused: " +
              X509_verify_cert_error_string(verify);
    }
  }
  return text.empty() ? fallback : text;
}

// Runs `op` (one SSL_connect, SSL_read or SSL_write on `ssl`) until it
// returns more than 0, waiting on `fd` for what OpenSSL asks for until the
// deadline, with SIGPIPE held off. Errors are Unavailable, prefixed `what`.
template <class Op>
StatusOr<int> RunTls(SSL* ssl, int fd, Op op, Clock::time_point deadline, const std::string& what) {
  const SigpipeGuard guard;
  while (true) {
    ERR_clear_error();
    errno = 0;
    const int n = op();
    if (n > 0) return n;
    const int err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      CONVERGE_RETURN_IF_ERROR(
          WaitFor(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, what.c_str()));
      continue;
    }
    if (err == SSL_ERROR_SYSCALL && errno == EINTR) continue;
    if (err == SSL_ERROR_SYSCALL && errno != 0) {
      return UnavailableError(what + ": " + std::strerror(errno));
    }
    return UnavailableError(what + ": " +
                            (err == SSL_ERROR_ZERO_RETURN
                                 ? "connection closed by the server"
                                 : TlsErrorText(ssl, "connection closed by the server")));
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
                                         std::chrono::milliseconds timeout, const RespTls* tls) {
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
  if (tls != nullptr) CONVERGE_RETURN_IF_ERROR(client.StartTls(*tls, deadline, where));
  return client;
}

Status RespClient::StartTls(const RespTls& tls, Clock::time_point deadline, const std::string& where) {
  ERR_clear_error();
  tls_ctx_ = SSL_CTX_new(TLS_client_method());
  if (tls_ctx_ == nullptr) return InternalError("TLS: " + TlsErrorText(nullptr, "no reason given"));
  SSL_CTX_set_min_proto_version(tls_ctx_, TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(tls_ctx_, tls.ca_file.c_str(), nullptr) != 1) {
    return InvalidArgumentError("cannot load the TLS CA '" + tls.ca_file +
                                "': " + TlsErrorText(nullptr, "no reason given"));
  }
  if (!tls.cert_file.empty() &&
      SSL_CTX_use_certificate_chain_file(tls_ctx_, tls.cert_file.c_str()) != 1) {
    return InvalidArgumentError("cannot load the TLS certificate '" + tls.cert_file +
                                "': " + TlsErrorText(nullptr, "no reason given"));
  }
  if (!tls.key_file.empty() &&
      SSL_CTX_use_PrivateKey_file(tls_ctx_, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return InvalidArgumentError("cannot load the TLS key '" + tls.key_file + "': " +
                                TlsErrorText(nullptr, "no reason given"));
  }
  SSL_CTX_set_verify(tls_ctx_, SSL_VERIFY_PEER, nullptr);
  tls_ = SSL_new(tls_ctx_);
  if (tls_ == nullptr || SSL_set_fd(tls_, fd_) != 1) {
    return InternalError("TLS: " + TlsErrorText(nullptr, "no reason given"));
  }
  return RunTls(tls_, fd_, [this] { return SSL_connect(tls_); }, deadline,
                "TLS handshake with " + where)
      .status();
}

StatusOr<size_t> RespClient::Send(const char* data, size_t len, Clock::time_point deadline) {
  if (tls_ != nullptr) {
    CONVERGE_ASSIGN_OR_RETURN(
        const int n,
        RunTls(tls_, fd_, [&] { return SSL_write(tls_, data, static_cast<int>(len)); }, deadline, "send"));
    return static_cast<size_t>(n);
  }
  while (true) {
    const ssize_t n = ::send(fd_, data, len, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return UnavailableError(std::string("send: ") + std::strerror(errno));
    }
    CONVERGE_RETURN_IF_ERROR(WaitFor(fd_, POLLOUT, deadline, "send"));
  }
}

StatusOr<size_t> RespClient::Receive(char* data, size_t len, Clock::time_point deadline) {
  if (tls_ != nullptr) {
    // SSL_read before any poll(): a record may already sit decrypted in
    // OpenSSL's buffer, where poll() cannot see it.
    CONVERGE_ASSIGN_OR_RETURN(
        const int n,
        RunTls(tls_, fd_, [&] { return SSL_read(tls_, data, static_cast<int>(len)); }, deadline, "read"));
    return static_cast<size_t>(n);
  }
  while (true) {
    const ssize_t n = ::recv(fd_, data, len, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return UnavailableError("connection closed by the server");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return UnavailableError(std::string("read: ") + std::strerror(errno));
    }
    CONVERGE_RETURN_IF_ERROR(WaitFor(fd_, POLLIN, deadline, "read"));
  }
}

RespClient::RespClient(RespClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      tls_ctx_(std::exchange(other.tls_ctx_, nullptr)),
      tls_(std::exchange(other.tls_, nullptr)),
      timeout_(other.timeout_),
      buffer_(std::move(other.buffer_)),
      read_pos_(other.read_pos_) {}

RespClient& RespClient::operator=(RespClient&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = std::exchange(other.fd_, -1);
    tls_ctx_ = std::exchange(other.tls_ctx_, nullptr);
    tls_ = std::exchange(other.tls_, nullptr);
    timeout_ = other.timeout_;
    buffer_ = std::move(other.buffer_);
    read_pos_ = other.read_pos_;
  }
  return *this;
}

RespClient::~RespClient() { Close(); }

void RespClient::Close() {
  SSL_free(tls_);  // no close_notify: the node takes a closed socket as the end
  SSL_CTX_free(tls_ctx_);
  tls_ = nullptr;
  tls_ctx_ = nullptr;
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
    StatusOr<size_t> n = Send(out.data() + sent, out.size() - sent, deadline);
    if (!n.ok()) {
      Close();
      return n.status();
    }
    sent += *n;
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
    CONVERGE_ASSIGN_OR_RETURN(const size_t got, Receive(chunk, sizeof chunk, deadline));
    buffer_.append(chunk, got);
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
