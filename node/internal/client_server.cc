#include "node/internal/client_server.h"

#include <spdlog/spdlog.h>

#include <vector>

#include "node/resp/reply.h"

namespace converge {

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
 public:
  ClientConnection(ClientServer* server, asio::ip::tcp::socket socket, uint64_t id)
      : server_(server),
        socket_(std::move(socket)),
        strand_(asio::make_strand(socket_.get_executor())),
        parser_(resp::RequestParserOptions{
            .max_bulk_length = server->options_.max_bulk_bytes,
            .max_request_size = server->options_.max_request_bytes}) {
    state_.id = id;
    asio::error_code ec;
    auto ep = socket_.remote_endpoint(ec);
    if (!ec) state_.address = ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  }

  void Start() {
    asio::dispatch(strand_, [self = shared_from_this()] { self->Read(); });
  }

  void Close() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      asio::error_code ec;
      self->socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      self->socket_.close(ec);
    });
  }

 private:
  void Read() {
    std::span<char> buf = parser_.PrepareBuffer(16 * 1024);
    socket_.async_read_some(
        asio::buffer(buf.data(), buf.size()),
        asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& ec,
                                                                 size_t n) {
          if (ec) return self->Finish();
          self->parser_.CommitBuffer(n);
          self->Dispatch();
        }));
  }

  // Takes every complete command in the buffer and submits them together.
  void Dispatch() {
    auto batch = std::make_shared<std::vector<std::vector<std::string>>>();
    std::string protocol_error;
    for (;;) {
      resp::RequestParser::Result r = parser_.Parse();
      if (r == resp::RequestParser::Result::kGood) {
        auto args = parser_.args();
        batch->emplace_back(args.begin(), args.end());
        continue;
      }
      if (r == resp::RequestParser::Result::kBad) protocol_error = parser_.error();
      break;
    }
    if (batch->empty() && protocol_error.empty()) return Read();
    auto self = shared_from_this();
    const size_t commands = batch->size();
    server_->loop_->Submit(
        commands,
        [self, batch](size_t i, std::string* out) -> std::optional<Wait> {
          // After QUIT the rest of the pipeline is not run (its replies
          // would never be read).
          if (self->state_.close_after_reply) return std::nullopt;
          return self->server_->commands_->Execute(self->state_, (*batch)[i], out);
        },
        [self, protocol_error](std::string out) {
          if (!protocol_error.empty()) resp::AppendProtocolError(&out, protocol_error);
          const bool close = !protocol_error.empty() || self->state_.close_after_reply;
          asio::dispatch(self->strand_, [self, out = std::move(out), close]() mutable {
            self->Write(std::move(out), close);
          });
        });
  }

  void Write(std::string out, bool close) {
    out_ = std::move(out);
    asio::async_write(socket_, asio::buffer(out_),
                      asio::bind_executor(strand_, [self = shared_from_this(), close](
                                                       const asio::error_code& ec, size_t) {
                        if (ec || close) return self->Finish();
                        // More commands may already be buffered (pipelining).
                        self->Dispatch();
                      }));
  }

  void Finish() {
    asio::error_code ec;
    socket_.close(ec);
    server_->Forget(this);
  }

  ClientServer* server_;
  asio::ip::tcp::socket socket_;
  asio::strand<asio::any_io_executor> strand_;
  resp::RequestParser parser_;
  ClientState state_;  // touched only inside work run on the apply strand
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
