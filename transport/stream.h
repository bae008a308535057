// Stream: one accepted or dialed TCP connection, read and written either in
// the clear or through TLS, so the connection code above it (PeerConnection,
// the RESP server's connections) is written once for both.
//
// Why one class with a branch rather than a template over the stream type:
// the connection classes are large and live in .cc files; a template would
// pull them into headers and double their code. The branch is one
// predictable test per read or write call, next to a system call.
//
// Usage: construct with the socket (and a TLS context when TLS is on),
// Handshake() before the first read or write (it completes at once without
// TLS), then AsyncReadSome / AsyncWrite. Every operation must be started from
// one strand and its handler bound to that strand (asio's rule for
// ssl::stream: its intermediate handlers run on the final handler's executor).
// Close() may be called from that strand at any time; pending operations then
// complete with an error.
//
// Thread-safety: not thread-safe; owned and used by one connection's strand.
#ifndef CONVERGE_TRANSPORT_STREAM_H_
#define CONVERGE_TRANSPORT_STREAM_H_

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace converge::transport {

class Stream {
 public:
  // Which side of the TLS handshake this end plays; ignored without TLS.
  enum class Role { kClient, kServer };

  // Plain TCP.
  explicit Stream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  // TLS over `socket`; `context` may be null (plain TCP). The context must
  // outlive the Stream: it is shared, hence the shared_ptr.
  Stream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> context)
      : socket_(std::move(socket)), context_(std::move(context)) {
    if (context_) tls_.emplace(socket_, *context_);
  }

  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  bool tls() const { return tls_.has_value(); }
  // The TCP socket under TLS (endpoints, options, connect, close).
  asio::ip::tcp::socket& socket() { return socket_; }
  const asio::ip::tcp::socket& socket() const { return socket_; }

  // Runs the TLS handshake (handler(error_code)); without TLS completes at
  // once with no error, through asio::post so the caller's flow is the same.
  template <typename Handler>
  void AsyncHandshake(Role role, Handler&& handler) {
    if (!tls_) {
      asio::post(asio::get_associated_executor(handler, socket_.get_executor()),
                 [h = std::forward<Handler>(handler)]() mutable { h(asio::error_code()); });
      return;
    }
    tls_->async_handshake(role == Role::kClient ? asio::ssl::stream_base::client
                                                : asio::ssl::stream_base::server,
                          std::forward<Handler>(handler));
  }

  // handler(error_code, bytes read).
  template <typename Buffers, typename Handler>
  void AsyncReadSome(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      tls_->async_read_some(buffers, std::forward<Handler>(handler));
    } else {
      socket_.async_read_some(buffers, std::forward<Handler>(handler));
    }
  }

  // Writes all of `buffers`; handler(error_code, bytes written). Under TLS,
  // asio's ssl::stream encrypts only the first buffer of a sequence per
  // write_some, i.e. one record and one system call per buffer: callers with
  // many small buffers should join them into one first (see Gathers()).
  template <typename Buffers, typename Handler>
  void AsyncWrite(const Buffers& buffers, Handler&& handler) {
    if (tls_) {
      asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
    } else {
      asio::async_write(socket_, buffers, std::forward<Handler>(handler));
    }
  }

  // True when a sequence of buffers is written as cheaply as one buffer (plain
  // TCP: writev). False under TLS.
  bool Gathers() const { return !tls_; }

  // Closes the TCP socket (no TLS close_notify: a peer or client that goes
  // away is handled by the other end's read error either way, and waiting
  // for a close_notify exchange would let a silent peer hold the socket).
  void Close() {
    asio::error_code ignored;  // closing: errors change nothing
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  // After a failed TLS handshake: why the peer's certificate was refused, in
  // OpenSSL's words ("certificate has expired", "unable to get local issuer
  // certificate"), or "" when verification was not the reason.
  std::string VerifyError() const;

 private:
  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> context_;
  // Refers to socket_; declared after it so it is destroyed first.
  std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
};

// Describes a failed TLS handshake for a log line: asio's message plus, when
// the certificate check failed, OpenSSL's reason and a hint for the common
// case of a plain-TCP client on a TLS port.
std::string DescribeTlsError(const asio::error_code& ec, const Stream& stream);

}  // namespace converge::transport

#endif  // CONVERGE_TRANSPORT_STREAM_H_
