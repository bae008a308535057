#include "transport/peer_connection.h"

#include <algorithm>
#include <utility>

namespace converge::transport {
namespace {

constexpr std::size_t kReadBufferSize = 64 * 1024;
// Frames gathered into one async_write: fewer syscalls under load, while a
// single write stays small enough that the write deadline means something.
constexpr std::size_t kMaxFramesPerWrite = 64;

bool SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return true;
}

std::string EndpointString(const asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace

std::shared_ptr<PeerConnection> PeerConnection::Accepted(
    asio::ip::tcp::socket socket, std::shared_ptr<const ConnectionOptions> options,
    std::weak_ptr<ConnectionOwner> owner, std::shared_ptr<spdlog::logger> log) {
  std::string address = EndpointString(socket);
  return std::shared_ptr<PeerConnection>(new PeerConnection(
      std::move(socket), false, std::move(address), std::move(options), std::move(owner),
      std::move(log)));
}

std::shared_ptr<PeerConnection> PeerConnection::Dialed(
    asio::io_context& io, std::string address, std::shared_ptr<const ConnectionOptions> options,
    std::weak_ptr<ConnectionOwner> owner, std::shared_ptr<spdlog::logger> log) {
  return std::shared_ptr<PeerConnection>(
      new PeerConnection(asio::ip::tcp::socket(io), true, std::move(address), std::move(options),
                         std::move(owner), std::move(log)));
}

PeerConnection::PeerConnection(asio::ip::tcp::socket socket, bool outbound, std::string address,
                               std::shared_ptr<const ConnectionOptions> options,
                               std::weak_ptr<ConnectionOwner> owner,
                               std::shared_ptr<spdlog::logger> log)
    : stream_(std::move(socket), options->tls ? options->tls->Get() : nullptr),
      strand_(asio::make_strand(
          static_cast<asio::io_context&>(stream_.socket().get_executor().context()))),
      resolver_(strand_),
      deadline_(strand_),
      write_deadline_(strand_),
      heartbeat_(strand_),
      delay_timer_(strand_),
      outbound_(outbound),
      address_(std::move(address)),
      options_(std::move(options)),
      owner_(std::move(owner)),
      log_(std::move(log)),
      handshake_(outbound ? Handshake::Role::kDialer : Handshake::Role::kAcceptor,
                 options_->identity, options_->handshake),
      decoder_(kMaxHandshakeBody),
      read_buffer_(kReadBufferSize) {}

std::string PeerConnection::PeerLabel() const {
  const uint64_t id = peer_id();
  if (id == 0) return address_;
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(id));
  // peer_hello() is written before peer_id_ is published.
  return handshake_.peer().node_name + " (" + hex + ")";
}

void PeerConnection::Start() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->state_ == State::kClosed) return;
    if (self->outbound_) {
      self->DoConnect();
    } else {
      self->BeginTls();
    }
  });
}

void PeerConnection::DoConnect() {
  std::string host, port;
  if (!SplitHostPort(address_, &host, &port)) {
    CloseOnStrand(InvalidArgumentError("bad peer address '" + address_ + "' (want host:port)"));
    return;
  }
  ArmDeadline(options_->connect_timeout, "connect");
  resolver_.async_resolve(
      host, port,
      asio::bind_executor(strand_, [self = shared_from_this()](
                                       const asio::error_code& ec,
                                       asio::ip::tcp::resolver::results_type results) {
        if (self->state_ == State::kClosed) return;
        if (ec) {
          self->CloseOnStrand(UnavailableError("resolve " + self->address_ + ": " + ec.message()));
          return;
        }
        asio::async_connect(
            self->stream_.socket(), results,
            asio::bind_executor(self->strand_, [self](const asio::error_code& ec2,
                                                      const asio::ip::tcp::endpoint&) {
              if (self->state_ == State::kClosed) return;
              if (ec2) {
                self->CloseOnStrand(
                    UnavailableError("connect " + self->address_ + ": " + ec2.message()));
                return;
              }
              self->BeginTls();
            }));
      }));
}

void PeerConnection::BeginTls() {
  asio::error_code ignored;  // Nagle off: frames are small and latency matters.
  stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  // One deadline for the whole handshake (TLS and HMAC), not reset by bytes: a
  // peer trickling a byte at a time cannot hold a half-open handshake forever.
  ArmDeadline(options_->handshake_timeout, "handshake");
  state_ = State::kTlsHandshake;
  stream_.AsyncHandshake(
      outbound_ ? Stream::Role::kClient : Stream::Role::kServer,
      asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& ec) {
        if (self->state_ == State::kClosed) return;
        if (ec) {
          // Wrong CA, expired or missing certificate, a plain peer on a TLS
          // port or the reverse: a refusal, reported as such (INFO, events).
          const std::string why = DescribeTlsError(ec, self->stream_);
          self->refused_ = true;
          self->log_->warn("[{}] peer {}: TLS handshake failed: {}",
                           self->options_->identity.node_name, self->PeerLabel(), why);
          self->CloseOnStrand(PermissionDeniedError("TLS handshake failed: " + why));
          return;
        }
        self->BeginHandshake();
      }));
}

void PeerConnection::BeginHandshake() {
  state_ = State::kAwaitHello;
  if (outbound_) {
    StatusOr<std::string> hello = handshake_.MakeHello(options_->clock_ms());
    if (!hello.ok()) {
      CloseOnStrand(hello.status());
      return;
    }
    QueueControl(MessageType::kHello, std::move(hello).value());
  }
  DoRead();
}

void PeerConnection::DoRead() {
  stream_.AsyncReadSome(
      asio::buffer(read_buffer_),
      asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& ec,
                                                                std::size_t n) {
        if (self->state_ == State::kClosed) return;
        if (ec) {
          self->CloseOnStrand(ec == asio::error::eof
                                  ? UnavailableError("peer closed the connection")
                                  : UnavailableError("read: " + ec.message()));
          return;
        }
        self->OnRead(n);
      }));
}

void PeerConnection::OnRead(std::size_t n) {
  if (counters_) counters_->bytes_received += n;
  if (state_ == State::kEstablished && !owner_.expired()) {
    // Idle deadline: any progress counts (a 16 MiB frame may take a while),
    // except from a partitioned peer, whose traffic we pretend never arrived.
    auto o = owner();
    if (o && !o->IsPartitioned(peer_id())) ArmDeadline(options_->idle_timeout, "idle read");
  }
  std::string_view data(read_buffer_.data(), n);
  while (!data.empty()) {
    std::size_t consumed = 0;
    const FrameDecoder::Result r = decoder_.Feed(data, &consumed);
    data.remove_prefix(consumed);
    if (r == FrameDecoder::Result::kNeedMore) break;
    if (r == FrameDecoder::Result::kBad) {
      if (counters_) ++counters_->frames_rejected;
      log_->warn("[{}] peer {}: bad frame, closing this connection: {}",
                 options_->identity.node_name, PeerLabel(), decoder_.error());
      CloseOnStrand(CorruptionError("bad frame: " + decoder_.error()));
      return;
    }
    if (!HandleFrame(decoder_.TakeFrame())) return;
  }
  if (state_ != State::kClosed) DoRead();
}

bool PeerConnection::HandleFrame(Frame frame) {
  if (state_ != State::kEstablished) return HandleHandshakeFrame(frame);
  if (frame.type < kFirstApplicationType &&
      frame.type != static_cast<uint8_t>(MessageType::kHeartbeat)) {
    if (counters_) ++counters_->frames_rejected;
    log_->warn("[{}] peer {}: unexpected handshake message type {} after the handshake; closing",
               options_->identity.node_name, PeerLabel(), frame.type);
    CloseOnStrand(CorruptionError("unexpected message type " + std::to_string(frame.type)));
    return false;
  }
  auto o = owner();
  if (!o) return true;
  const FaultDecision d = o->DecideFault(peer_id(), /*outgoing=*/false);
  if (d.drop) {
    if (frame.type >= kFirstApplicationType && counters_) ++counters_->frames_dropped;
    return true;
  }
  if (counters_) {
    ++counters_->frames_received;
    counters_->last_contact_ms = options_->clock_ms();
  }
  if (frame.type == static_cast<uint8_t>(MessageType::kHeartbeat)) return true;
  if (d.delay.count() > 0) {
    const std::size_t size = frame.body.size() + kFrameHeaderSize;
    for (int i = 0; i < d.copies; ++i) {
      if (queued_bytes_ + size > options_->max_send_queue_bytes) {
        if (counters_) ++counters_->frames_dropped;
        continue;
      }
      queued_bytes_ += size;
      delayed_.push_back(Delayed{std::chrono::steady_clock::now() + d.delay, false, nullptr,
                                 i + 1 == d.copies ? std::move(frame) : frame});
    }
    ArmDelayTimer();
    return true;
  }
  for (int i = 1; i < d.copies; ++i) o->Deliver(peer_id(), frame.type, frame.body);
  o->Deliver(peer_id(), frame.type, std::move(frame.body));
  return state_ != State::kClosed;
}

bool PeerConnection::HandleHandshakeFrame(Frame& frame) {
  const auto type = static_cast<MessageType>(frame.type);
  auto o = owner();
  if (!o) {
    CloseOnStrand(UnavailableError("transport stopped"));
    return false;
  }
  if (type == MessageType::kRefuse) {
    StatusOr<std::string> reason = DecodeRefusal(frame.body);
    const std::string text = reason.ok() ? *reason : "(undecodable reason)";
    const bool duplicate = text.rfind("duplicate", 0) == 0;
    if (!duplicate) {
      refused_ = true;
      log_->warn("[{}] peer {} refused us: {}", options_->identity.node_name, PeerLabel(), text);
    }
    CloseOnStrand(PermissionDeniedError("refused by peer: " + text));
    return false;
  }
  switch (state_) {
    case State::kAwaitHello: {
      if (type != MessageType::kHello) break;
      Status st = handshake_.OnHello(frame.body, options_->clock_ms());
      if (handshake_.peer().replica_id != 0) peer_id_ = handshake_.peer().replica_id;
      if (!st.ok()) {
        Refuse(st, false);
        return false;
      }
      if (outbound_) {
        if (Status dup = o->OnPeerIdentified(shared_from_this()); !dup.ok()) {
          Refuse(dup, true);
          return false;
        }
      } else {
        StatusOr<std::string> hello = handshake_.MakeHello(options_->clock_ms());
        if (!hello.ok()) {
          CloseOnStrand(hello.status());
          return false;
        }
        QueueControl(MessageType::kHello, std::move(hello).value());
        QueueControl(MessageType::kProof, handshake_.MakeProof());
      }
      state_ = State::kAwaitProof;
      return true;
    }
    case State::kAwaitProof: {
      if (type != MessageType::kProof) break;
      if (Status st = handshake_.OnProof(frame.body); !st.ok()) {
        Refuse(st, false);
        return false;
      }
      if (outbound_) {
        QueueControl(MessageType::kProof, handshake_.MakeProof());
        state_ = State::kAwaitWelcome;
        return true;
      }
      Establish(/*send_welcome=*/true);
      return state_ != State::kClosed;
    }
    case State::kAwaitWelcome:
      if (type != MessageType::kWelcome) break;
      Establish(/*send_welcome=*/false);
      return state_ != State::kClosed;
    default:
      break;
  }
  if (counters_) ++counters_->frames_rejected;
  log_->warn("[{}] peer {}: message type {} out of order in the handshake; closing",
             options_->identity.node_name, PeerLabel(), frame.type);
  refused_ = true;
  CloseOnStrand(CorruptionError("message type " + std::to_string(frame.type) +
                                " out of order in the handshake"));
  return false;
}

void PeerConnection::Refuse(const Status& why, bool duplicate) {
  if (duplicate) {
    log_->debug("[{}] peer {}: {}", options_->identity.node_name, PeerLabel(), why.message());
  } else {
    refused_ = true;
    log_->warn("[{}] peer {} refused: {}", options_->identity.node_name, PeerLabel(),
               why.message());
  }
  // Tell the other side why, then close once the Refuse is written (the
  // handshake deadline still bounds how long that may take).
  QueueControl(MessageType::kRefuse,
               EncodeRefusal(duplicate ? "duplicate connection: " + why.message()
                                       : why.message()));
  closing_after_flush_ = true;
  asio::error_code ignored;  // stop reading; we only flush the Refuse now
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
  state_ = State::kClosed;  // no more frames are handled
  closed_ = true;
  if (auto o = owner()) o->OnClosed(shared_from_this(), why);
}

void PeerConnection::Establish(bool send_welcome) {
  auto o = owner();
  if (!o) {
    CloseOnStrand(UnavailableError("transport stopped"));
    return;
  }
  {
    asio::error_code ec;
    const auto local = stream_.socket().local_endpoint(ec);
    link_ = local.address().to_string() + ":" + std::to_string(local.port()) + " -> " +
            EndpointString(stream_.socket()) + (stream_.tls() ? " (tls)" : "");
  }
  std::shared_ptr<PeerCounters> counters;
  if (Status st = o->Register(shared_from_this(), &counters); !st.ok()) {
    Refuse(st, /*duplicate=*/true);
    return;
  }
  counters_ = std::move(counters);
  state_ = State::kEstablished;
  established_ = true;
  decoder_.set_max_body(options_->max_frame_body);
  if (send_welcome) QueueControl(MessageType::kWelcome, "");
  deadline_.cancel();
  ArmDeadline(options_->idle_timeout, "idle read");
  ArmHeartbeat();
  o->OnEstablished(shared_from_this());
}

Status PeerConnection::Send(std::shared_ptr<const std::string> frame, int copies,
                            std::chrono::milliseconds delay) {
  if (closed_) return UnavailableError("connection to " + PeerLabel() + " is closed");
  const std::size_t bytes = frame->size() * static_cast<std::size_t>(copies);
  const std::size_t before = queued_bytes_.fetch_add(bytes);
  const std::size_t frames_before = queued_frames_.fetch_add(static_cast<std::size_t>(copies));
  if (before + bytes > options_->max_send_queue_bytes ||
      frames_before + static_cast<std::size_t>(copies) > options_->max_send_queue_frames) {
    queued_bytes_ -= bytes;
    queued_frames_ -= static_cast<std::size_t>(copies);
    return ResourceExhaustedError("send queue to peer " + PeerLabel() + " is full");
  }
  asio::post(strand_, [self = shared_from_this(), frame = std::move(frame), copies, delay] {
    if (self->state_ == State::kClosed) {
      self->queued_bytes_ -= frame->size() * static_cast<std::size_t>(copies);
      self->queued_frames_ -= static_cast<std::size_t>(copies);
      return;
    }
    if (delay.count() > 0) {
      for (int i = 0; i < copies; ++i) {
        self->delayed_.push_back(
            Delayed{std::chrono::steady_clock::now() + delay, true, frame, Frame{}});
      }
      self->ArmDelayTimer();
      return;
    }
    for (int i = 0; i < copies; ++i) self->Enqueue(frame, /*counted=*/true);
  });
  return Status::Ok();
}

void PeerConnection::QueueControl(MessageType type, std::string body) {
  Enqueue(std::make_shared<const std::string>(EncodeFrame(static_cast<uint8_t>(type), body)),
          /*counted=*/false);
}

void PeerConnection::Enqueue(std::shared_ptr<const std::string> frame, bool counted) {
  write_queue_.push_back(Queued{std::move(frame), counted});
  if (in_flight_ == 0) DoWrite();
}

void PeerConnection::DoWrite() {
  if (write_queue_.empty() || state_ == State::kConnecting || state_ == State::kTlsHandshake) {
    return;
  }
  in_flight_ = std::min(write_queue_.size(), kMaxFramesPerWrite);
  std::vector<asio::const_buffer> buffers;
  if (stream_.Gathers() || in_flight_ == 1) {
    buffers.reserve(in_flight_);
    for (std::size_t i = 0; i < in_flight_; ++i) buffers.push_back(asio::buffer(*write_queue_[i].frame));
  } else {
    // TLS encrypts one buffer per record and system call: join the frames so
    // a burst of small deltas leaves in one record, not 64.
    joined_.clear();
    for (std::size_t i = 0; i < in_flight_; ++i) joined_ += *write_queue_[i].frame;
    buffers.push_back(asio::buffer(joined_));
  }
  write_deadline_.expires_after(options_->write_timeout);
  write_deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->in_flight_ == 0 ||
        self->write_deadline_.expiry() > std::chrono::steady_clock::now()) {
      return;
    }
    self->closing_after_flush_ = false;  // a stalled Refuse flush closes too
    self->log_->warn("[{}] peer {}: write stalled beyond {} ms; closing",
                     self->options_->identity.node_name, self->PeerLabel(),
                     self->options_->write_timeout.count());
    self->CloseOnStrand(DeadlineExceededError("write stalled"));
  });
  stream_.AsyncWrite(
      buffers,
      asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& ec,
                                                                std::size_t n) {
        if (self->closed_ && !self->closing_after_flush_) return;
        if (ec) {
          self->closing_after_flush_ = false;
          self->CloseOnStrand(UnavailableError("write: " + ec.message()));
          return;
        }
        std::size_t counted_bytes = 0, counted_frames = 0, frames = self->in_flight_;
        for (std::size_t i = 0; i < frames; ++i) {
          if (self->write_queue_.front().counted) {
            counted_bytes += self->write_queue_.front().frame->size();
            ++counted_frames;
          }
          self->write_queue_.pop_front();
        }
        self->in_flight_ = 0;
        self->queued_bytes_ -= counted_bytes;
        self->queued_frames_ -= counted_frames;
        if (self->counters_) {
          self->counters_->bytes_sent += n;
          self->counters_->frames_sent += frames;
        }
        if (self->write_queue_.empty()) {
          self->write_deadline_.cancel();
          if (self->closing_after_flush_) {
            self->closing_after_flush_ = false;
            self->CloseOnStrand(Status::Ok());
          }
          return;
        }
        self->DoWrite();
      }));
}

void PeerConnection::ArmDeadline(std::chrono::milliseconds after, const char* what) {
  deadline_what_ = what;
  deadline_.expires_after(after);
  deadline_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->closed_) return;
    // Re-armed since this wait began (expires_after cancels, but a completion
    // may already have been queued): only a real expiry closes.
    if (self->deadline_.expiry() > std::chrono::steady_clock::now()) return;
    self->log_->warn("[{}] peer {}: {} deadline expired; closing", self->options_->identity.node_name,
                     self->PeerLabel(), self->deadline_what_);
    if (self->state_ != State::kEstablished && self->state_ != State::kConnecting) {
      self->refused_ = true;  // a peer that never finishes the handshake (TLS or HMAC)
    }
    self->CloseOnStrand(DeadlineExceededError(std::string(self->deadline_what_) + " deadline expired"));
  });
}

void PeerConnection::ArmHeartbeat() {
  heartbeat_.expires_after(options_->heartbeat_interval);
  heartbeat_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->state_ != State::kEstablished) return;
    auto o = self->owner();
    // Only when idle: queued data reaches the peer's read deadline anyway, and a
    // stalled writer must not grow its queue with heartbeats.
    if (o && self->write_queue_.empty() && !o->IsPartitioned(self->peer_id())) {
      self->QueueControl(MessageType::kHeartbeat, "");
    }
    self->ArmHeartbeat();
  });
}

void PeerConnection::ArmDelayTimer() {
  if (delayed_.empty()) return;
  delay_timer_.expires_at(delayed_.front().due);
  delay_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || self->state_ == State::kClosed) return;
    self->OnDelayTimer();
  });
}

void PeerConnection::OnDelayTimer() {
  // Release every due frame in order; later frames never overtake earlier ones
  // (a constant delay keeps the link FIFO, as TCP is).
  const auto now = std::chrono::steady_clock::now();
  while (!delayed_.empty() && delayed_.front().due <= now && state_ == State::kEstablished) {
    Delayed d = std::move(delayed_.front());
    delayed_.pop_front();
    if (d.outgoing) {
      Enqueue(std::move(d.frame), /*counted=*/true);
    } else {
      const std::size_t size = d.incoming.body.size() + kFrameHeaderSize;
      queued_bytes_ -= size;
      DeliverIncoming(std::move(d.incoming));
    }
  }
  ArmDelayTimer();
}

void PeerConnection::DeliverIncoming(Frame frame) {
  if (auto o = owner()) o->Deliver(peer_id(), frame.type, std::move(frame.body));
}

void PeerConnection::Close(Status why) {
  asio::post(strand_, [self = shared_from_this(), why = std::move(why)]() mutable {
    self->closing_after_flush_ = false;
    self->CloseOnStrand(std::move(why));
  });
}

void PeerConnection::CloseOnStrand(Status why) {
  const bool was_closed = closed_.exchange(true);
  if (!was_closed) state_ = State::kClosed;
  if (closing_after_flush_) return;  // the last write completion closes
  stream_.Close();
  resolver_.cancel();
  deadline_.cancel();
  write_deadline_.cancel();
  heartbeat_.cancel();
  delay_timer_.cancel();
  std::size_t bytes = 0, frames = 0;
  for (const Queued& q : write_queue_) {
    if (q.counted) {
      bytes += q.frame->size();
      ++frames;
    }
  }
  for (const Delayed& d : delayed_) {
    if (d.outgoing) {
      bytes += d.frame->size();
      ++frames;
    } else {
      bytes += d.incoming.body.size() + kFrameHeaderSize;
    }
  }
  write_queue_.clear();
  delayed_.clear();
  in_flight_ = 0;
  queued_bytes_ -= bytes;
  queued_frames_ -= frames;
  if (!was_closed) {
    if (auto o = owner()) o->OnClosed(shared_from_this(), why);
  }
}

}  // namespace converge::transport
