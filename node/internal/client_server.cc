#include "node/internal/client_server.h"

#include <spdlog/spdlog.h>

#include <span>
#include <string_view>
#include <vector>

#include "node/resp/reply.h"
#include "transport/stream.h"

namespace converge {

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(ClientServer* server, asio::ip::tcp::socket socket, uint64_t id)
      : server_(server),
        stream_(std::move(socket), server->options_.tls ? server->options_.tls->Get() : nullptr),
        strand_(asio::make_strand(server->io_)),
        handshake_deadline_(strand_),
        parser_(resp::RequestParserOptions{
            .max_bulk_length = server->options_.max_bulk_bytes,
            .max_request_size = server->options_.max_request_bytes}) {
    state_.id = id;
    asio::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) state_.address = ep.address().to_string() + ":" + std::to_string(ep.port());
    stream_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
  }

  void Start() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->stream_.tls()) return self->Handshake();
      self->Read();
    });
  }

  void Close() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->stream_.Close(); });
  }

 private:
  void Handshake() {
    // A client that connects and sends nothing must not hold the socket.
    handshake_deadline_.expires_after(server_->options_.tls_handshake_timeout);
    handshake_deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->stream_.Close();  // the handshake then fails with operation_aborted
    });
    stream_.AsyncHandshake(
        transport::Stream::Role::kServer,
        asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& ec) {
          self->handshake_deadline_.cancel();
          if (ec) {
            ++self->server_->tls_failures_;
            const std::string why = ec == asio::error::operation_aborted
                                        ? std::string("timed out")
                                        : transport::DescribeTlsError(ec, self->stream_);
            spdlog::info("client {}: TLS handshake failed, closing: {}", self->state_.address,
                         why);
            return self->Finish();
          }
          self->Read();
        }));
  }

  void Read() {
    std::span<char> buf = parser_.PrepareBuffer(16 * 1024);
    stream_.AsyncReadSome(
        asio::buffer(buf.data(), buf.size()),
        asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& ec,
                                                                 size_t n) {
          if (ec) return self->Finish();
          self->parser_.CommitBuffer(n);
          self->Dispatch();
        }));
  }

  // Takes every complete command in the buffer and submits them together:
  // a pipeline costs one hop to the apply strand and one write, however
  // many commands it holds.
  void Dispatch() {
    size_t commands = 0;
    protocol_error_.clear();
    for (;;) {
      resp::RequestParser::Result r = parser_.Parse();
      if (r == resp::RequestParser::Result::kGood) {
        CopyArgs(commands++, parser_.args());
        continue;
      }
      if (r == resp::RequestParser::Result::kBad) protocol_error_ = parser_.error();
      break;
    }
    if (commands == 0 && protocol_error_.empty()) return Read();
    // The lambdas hold only `self`, so std::function keeps them inline (no
    // allocation per request); the batch and the error live in the
    // connection, which has one request in flight at a time.
    server_->loop_->Submit(
        commands,
        [self = shared_from_this()](size_t i, std::string* out) -> std::optional<Wait> {
          // After QUIT the rest of the pipeline is not run (its replies
          // would never be read).
          if (self->state_.close_after_reply) return std::nullopt;
          return self->server_->commands_->Execute(self->state_, self->batch_[i], out);
        },
        [self = shared_from_this()](std::string out) {
          if (!self->protocol_error_.empty()) resp::AppendProtocolError(&out, self->protocol_error_);
          const bool close = !self->protocol_error_.empty() || self->state_.close_after_reply;
          // Posted, not dispatched: the write then runs on another thread
          // while the apply strand goes on with the other replies of its
          // commit, instead of making one send after another itself.
          asio::post(self->strand_, [self, out = std::move(out), close]() mutable {
            self->Write(std::move(out), close);
          });
        });
  }

  // Puts the parsed command into slot `i` of batch_, reusing the strings a
  // previous request left there: in steady state a connection parses its
  // requests without allocating.
  void CopyArgs(size_t i, std::span<const std::string_view> args) {
    if (batch_.size() <= i) batch_.resize(i + 1);
    std::vector<std::string>& slot = batch_[i];
    slot.resize(args.size());
    for (size_t a = 0; a < args.size(); ++a) slot[a].assign(args[a]);
    batch_used_ = i + 1;
  }

  void Write(std::string out, bool close) {
    out_ = std::move(out);
    ShrinkBatch();
    stream_.AsyncWrite(asio::buffer(out_),
                       asio::bind_executor(strand_, [self = shared_from_this(), close](
                                                        const asio::error_code& ec, size_t) {
                         if (ec || close) return self->Finish();
                         // More commands may already be buffered (pipelining).
                         self->Dispatch();
                       }));
  }

  // A connection that once sent a huge pipeline must not keep its memory:
  // past a bound the reused argument strings are released.
  void ShrinkBatch() {
    constexpr size_t kKeptSlots = 1024;
    if (batch_.size() > kKeptSlots) batch_.resize(kKeptSlots);
    for (size_t i = 0; i < batch_used_ && i < batch_.size(); ++i) {
      for (std::string& arg : batch_[i]) {
        if (arg.capacity() > kKeptArgBytes) std::string().swap(arg);
      }
    }
    batch_used_ = 0;
  }
  static constexpr size_t kKeptArgBytes = 4096;

  void Finish() {
    stream_.Close();
    server_->Forget(this);
  }

  ClientServer* server_;
  transport::Stream stream_;
  // Typed on the io_context's executor, not any_io_executor: every handler
  // of the connection is bound to it, and the type-erased one is copied
  // through a table of function pointers each time.
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer handshake_deadline_;  // TLS only
  resp::RequestParser parser_;
  ClientState state_;  // touched only inside work run on the apply strand
  // The commands of the request in flight (the first batch_used_ slots) and
  // the protocol error that ended it, if any. Written on the connection's
  // strand before Submit, read on the apply strand until its reply comes
  // back: one request is in flight at a time, so they never race.
  std::vector<std::vector<std::string>> batch_;
  size_t batch_used_ = 0;
  std::string protocol_error_;
  std::string out_;
};

ClientServer::ClientServer(asio::io_context& io, ApplyLoop* loop, CommandTable* commands,
                           ClientServerOptions options)
    : io_(io), loop_(loop), commands_(commands), options_(std::move(options)), acceptor_(io) {}

ClientServer::~ClientServer() { Stop(); }

Status ClientServer::Start() {
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(options_.bind, ec);
  if (ec) return InvalidArgumentError("bad bind address '" + options_.bind + "': " + ec.message());
  asio::ip::tcp::endpoint ep(addr, options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return UnavailableError("cannot listen for clients on " + options_.bind + ":" +
                            std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  Accept();
  return Status::Ok();
}

void ClientServer::Accept() {
  acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      spdlog::warn("accept failed: {}", ec.message());
    } else {
      auto c = std::make_shared<ClientConnection>(this, std::move(socket), next_id_++);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopped_) return;
        live_.insert(c);
      }
      ++connections_;
      c->Start();
    }
    Accept();
  });
}

void ClientServer::Forget(ClientConnection* c) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = live_.begin(); it != live_.end(); ++it) {
    if (it->get() == c) {
      live_.erase(it);
      --connections_;
      return;
    }
  }
}

void ClientServer::Stop() {
  std::set<std::shared_ptr<ClientConnection>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    live.swap(live_);
  }
  asio::error_code ec;
  acceptor_.close(ec);
  for (auto& c : live) c->Close();
}

}  // namespace converge
