#include "transport/transport.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <random>
#include <utility>

#include "transport/internal/transport_core.h"
#include "transport/peer_connection.h"

namespace converge::transport {
namespace {

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::shared_ptr<spdlog::logger> TransportLogger() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (auto log = spdlog::get("transport")) return log;
  return spdlog::stderr_color_mt("transport");
}

Transport::Core::Core(asio::io_context& io, TransportOptions options, FrameHandler on_frame,
                      PeerEventHandler on_event)
    : io_(io),
      strand_(asio::make_strand(io)),
      acceptor_(strand_),
      options_(std::move(options)),
      on_frame_(std::move(on_frame)),
      on_event_(std::move(on_event)),
      log_(TransportLogger()) {
  if (!options_.clock_ms) options_.clock_ms = SystemClockMs;
  uint64_t seed = options_.rng_seed;
  if (seed == 0) seed = (uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  rng_.seed(seed);
}

Status Transport::Core::Start() {
  asio::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options_.bind_address, ec);
  if (ec) return InvalidArgumentError("bad bind address '" + options_.bind_address + "'");
  const asio::ip::tcp::endpoint endpoint(address, options_.port);
  if (acceptor_.open(endpoint.protocol(), ec); ec) {
    return UnavailableError("open peer listener: " + ec.message());
  }
  // Lets a restarted node bind its port while old connections sit in TIME_WAIT.
  if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return UnavailableError("set SO_REUSEADDR: " + ec.message());
  }
  if (acceptor_.bind(endpoint, ec); ec) {
    return UnavailableError("bind peer port " + options_.bind_address + ":" +
                            std::to_string(options_.port) + ": " + ec.message());
  }
  if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return UnavailableError("listen on the peer port: " + ec.message());
  }
  port_ = acceptor_.local_endpoint(ec).port();
  if (options_.identity.peer_address.empty()) {
    options_.identity.peer_address = options_.bind_address + ":" + std::to_string(port_.load());
  }
  auto co = std::make_shared<ConnectionOptions>();
  co->identity = options_.identity;
  co->handshake.cluster_secret = options_.cluster_secret;
  co->handshake.max_clock_offset_ms = options_.max_clock_offset_ms;
  co->clock_ms = options_.clock_ms;
  co->max_frame_body = options_.max_frame_body;
  co->max_send_queue_bytes = options_.max_send_queue_bytes;
  co->max_send_queue_frames = options_.max_send_queue_frames;
  co->connect_timeout = options_.connect_timeout;
  co->handshake_timeout = options_.handshake_timeout;
  co->idle_timeout = options_.idle_timeout;
  co->heartbeat_interval = options_.heartbeat_interval;
  co->write_timeout = options_.write_timeout;
  co->tls = options_.tls;
  conn_options_ = std::move(co);
  log_->info("[{}] peer bus listening on {}:{} (replica {}, {})", options_.identity.node_name,
             options_.bind_address, port_.load(), Hex(options_.identity.replica_id),
             options_.tls ? "mutual TLS" : "plain TCP");
  asio::post(strand_, [self = shared_from_this()] { self->DoAccept(); });
  for (const std::string& seed : options_.seeds) AddSeed(seed);
  return Status::Ok();
}

void Transport::Core::DoAccept() {
  acceptor_.async_accept(
      asio::make_strand(io_),
      asio::bind_executor(strand_, [self = shared_from_this()](const asio::error_code& ec,
                                                                asio::ip::tcp::socket socket) {
        if (self->stopped_ || !self->acceptor_.is_open()) return;
        if (!ec) {
          auto conn = PeerConnection::Accepted(std::move(socket), self->conn_options_, self,
                                               self->log_);
          {
            // Checked under mu_ so that Stop() either sees this connection
            // in connections_ or we see stopped_ here.
            std::lock_guard<std::mutex> lock(self->mu_);
            if (self->stopped_) return;
            self->connections_.insert(conn);
          }
          conn->Start();
        } else {
          // E.g. EMFILE: keep accepting; the listener itself is still fine.
          self->log_->warn("[{}] accept on the peer port: {}", self->options_.identity.node_name,
                           ec.message());
        }
        self->DoAccept();
      }));
}

void Transport::Core::AddSeed(std::string address) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopped_) return;
  for (const auto& t : targets_) {
    if (t->address == address) return;
  }
  auto target = std::make_shared<DialTarget>(strand_, std::move(address));
  target->backoff = options_.reconnect_initial_backoff;
  targets_.push_back(target);
  MaybeDialLocked(target);
}

void Transport::Core::MaybeDialLocked(const std::shared_ptr<DialTarget>& target) {
  if (stopped_ || target->is_self || target->conn || conn_options_ == nullptr) return;
  if (target->peer_id != 0) {
    auto it = peers_.find(target->peer_id);
    // Already connected (through our dial or theirs): dial again when it drops.
    if (it != peers_.end() && it->second.conn) return;
  }
  auto conn = PeerConnection::Dialed(io_, target->address, conn_options_, weak_from_this(), log_);
  target->conn = conn;
  connections_.insert(conn);
  conn->Start();
}

std::chrono::milliseconds Transport::Core::JitteredLocked(std::chrono::milliseconds d) {
  // "Equal jitter": half fixed, half random, so nodes restarted together do
  // not redial in lockstep yet the delay still grows with the backoff.
  const auto half = d.count() / 2;
  std::uniform_int_distribution<int64_t> dist(0, std::max<int64_t>(half, 0));
  return std::chrono::milliseconds(d.count() - half + dist(rng_));
}

void Transport::Core::ScheduleDialLocked(const std::shared_ptr<DialTarget>& target,
                                         std::chrono::milliseconds delay) {
  if (stopped_ || target->is_self || target->timer_armed) return;
  target->timer_armed = true;
  const auto wait = JitteredLocked(delay);
  asio::post(strand_, [self = shared_from_this(), target, wait] {
    {
      // Stop() may have run (and cancelled timers) since this was posted.
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->stopped_) {
        target->timer_armed = false;
        return;
      }
    }
    target->timer.expires_after(wait);
    target->timer.async_wait([self, target](const asio::error_code& ec) {
      std::lock_guard<std::mutex> lock(self->mu_);
      target->timer_armed = false;
      if (ec) return;
      self->MaybeDialLocked(target);
    });
  });
}

Status Transport::Core::OnPeerIdentified(const std::shared_ptr<PeerConnection>& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = conn->peer_id();
  for (const auto& t : targets_) {
    if (t->conn == conn) t->peer_id = id;
  }
  auto it = peers_.find(id);
  if (it != peers_.end() && it->second.conn) {
    return FailedPreconditionError("already connected to " + conn->PeerLabel());
  }
  return Status::Ok();
}

Status Transport::Core::Register(const std::shared_ptr<PeerConnection>& conn,
                                 std::shared_ptr<PeerCounters>* counters) {
  std::vector<std::shared_ptr<PeerConnection>> to_close;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return UnavailableError("transport stopped");
    const uint64_t id = conn->peer_id();
    const uint64_t self_id = options_.identity.replica_id;
    if (!conn->outbound()) {
      // Simultaneous dials: our own dial to the same peer is still in its
      // handshake. Keep the connection dialed by the smaller replica id; both
      // nodes apply the same rule, and at least one of them sees both dials
      // here (see handshake.h: a dialer proves only after learning the peer id).
      for (const auto& c : connections_) {
        if (c == conn || !c->outbound() || c->established() || c->peer_id() != id) continue;
        if (self_id < id) {
          return FailedPreconditionError(
              "simultaneous dial; keeping the connection dialed by the smaller replica id");
        }
        to_close.push_back(c);
      }
    }
    Peer& peer = peers_[id];
    if (peer.conn) {
      // The peer dialed again (or acceptor decided for its dial): it no longer
      // uses the old connection. Replace without a down/up pair.
      log_->info("[{}] peer {}: new connection replaces the previous one",
                 options_.identity.node_name, conn->PeerLabel());
      to_close.push_back(peer.conn);
    }
    peer.conn = conn;
    const Hello& hello = conn->peer_hello();
    peer.node_name = hello.node_name;
    peer.client_address = hello.client_address;
    peer.peer_address = hello.peer_address;
    peer.counters->clock_offset_ms = conn->clock_offset_ms();
    peer.counters->connected_since_ms = options_.clock_ms();
    peer.counters->last_contact_ms = options_.clock_ms();
    *counters = peer.counters;
    for (const auto& t : targets_) {
      if (t->conn == conn) t->backoff = options_.reconnect_initial_backoff;
    }
  }
  for (const auto& c : to_close) c->Close(UnavailableError("superseded by another connection"));
  return Status::Ok();
}

void Transport::Core::OnEstablished(const std::shared_ptr<PeerConnection>& conn) {
  log_->info("[{}] peer {} up ({} via {}, clock offset {} ms)", options_.identity.node_name,
             conn->PeerLabel(), conn->outbound() ? "dialed" : "accepted", conn->address(),
             conn->clock_offset_ms());
  Emit(PeerEvent{PeerEvent::Kind::kUp, conn->peer_id(), conn->peer_hello().node_name,
                 conn->address(), Status::Ok()});
}

void Transport::Core::OnClosed(const std::shared_ptr<PeerConnection>& conn, const Status& why) {
  std::optional<PeerEvent> event;
  {
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(conn);
    const uint64_t id = conn->peer_id();
    auto it = peers_.find(id);
    const bool was_current = id != 0 && it != peers_.end() && it->second.conn == conn;
    if (was_current) {
      it->second.conn = nullptr;
      it->second.counters->connected_since_ms = 0;
      event = PeerEvent{PeerEvent::Kind::kDown, id, it->second.node_name, conn->address(), why};
    } else if (conn->refused()) {
      ++rejected_connections_;
      last_refusal_ = conn->address() + ": " + why.message();
      event = PeerEvent{PeerEvent::Kind::kRefused, id,
                        id != 0 ? conn->peer_hello().node_name : std::string(), conn->address(),
                        why};
    } else if (!conn->established() && !conn->outbound() && id == 0) {
      ++rejected_connections_;  // garbage or a timeout before any Hello
    }
    for (const auto& t : targets_) {
      if (t->conn == conn) {
        t->conn = nullptr;
        if (id != 0 && id == options_.identity.replica_id) {
          t->is_self = true;
          continue;
        }
        if (conn->established()) {
          ScheduleDialLocked(t, options_.reconnect_initial_backoff);
        } else {
          ScheduleDialLocked(t, t->backoff);
          t->backoff = std::min(t->backoff * 2, options_.reconnect_max_backoff);
        }
      } else if (was_current && t->peer_id == id && !t->conn) {
        // The peer's connection (perhaps one it dialed) is gone: we dial now.
        ScheduleDialLocked(t, options_.reconnect_initial_backoff);
      }
    }
  }
  if (event && event->kind == PeerEvent::Kind::kDown) {
    log_->info("[{}] peer {} down: {}", options_.identity.node_name, conn->PeerLabel(),
               why.ToString());
  }
  if (event) Emit(*event);
}

void Transport::Core::Deliver(uint64_t peer, uint8_t type, std::string body) {
  if (on_frame_ && !stopped_.load()) on_frame_(peer, type, std::move(body));
}

Status Transport::Core::Send(uint64_t peer, uint8_t type, std::string_view body) {
  if (stopped_) return UnavailableError("transport stopped");
  if (type < kFirstApplicationType) {
    return InvalidArgumentError("message type " + std::to_string(type) +
                                " is reserved for transport");
  }
  if (body.size() > options_.max_frame_body) {
    return InvalidArgumentError("frame body of " + std::to_string(body.size()) +
                                " bytes exceeds max_frame_body");
  }
  std::shared_ptr<PeerConnection> conn;
  std::shared_ptr<PeerCounters> counters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = peers_.find(peer);
    if (it == peers_.end() || !it->second.conn) {
      return UnavailableError("peer " + Hex(peer) + " is not connected");
    }
    conn = it->second.conn;
    counters = it->second.counters;
  }
  const FaultDecision d = DecideFault(peer, /*outgoing=*/true);
  if (d.drop) {
    ++counters->frames_dropped;
    return Status::Ok();
  }
  Status st =
      conn->Send(std::make_shared<const std::string>(EncodeFrame(type, body)), d.copies, d.delay);
  if (!st.ok()) ++counters->frames_dropped;
  return st;
}

std::size_t Transport::Core::Broadcast(uint8_t type, std::string_view body) {
  if (type < kFirstApplicationType || body.size() > options_.max_frame_body) return 0;
  std::vector<std::pair<uint64_t, std::pair<std::shared_ptr<PeerConnection>,
                                            std::shared_ptr<PeerCounters>>>>
      targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, p] : peers_) {
      if (p.conn) targets.push_back({id, {p.conn, p.counters}});
    }
  }
  if (targets.empty()) return 0;
  auto frame = std::make_shared<const std::string>(EncodeFrame(type, body));
  std::size_t queued = 0;
  for (auto& [id, cc] : targets) {
    const FaultDecision d = DecideFault(id, /*outgoing=*/true);
    if (d.drop || !cc.first->Send(frame, d.copies, d.delay).ok()) {
      ++cc.second->frames_dropped;
      continue;
    }
    ++queued;
  }
  return queued;
}

void Transport::Core::Stop() {
  std::vector<std::shared_ptr<PeerConnection>> conns;
  std::vector<std::shared_ptr<DialTarget>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_.exchange(true)) return;
    conns.assign(connections_.begin(), connections_.end());
    targets = targets_;
  }
  asio::post(strand_, [self = shared_from_this(), targets] {
    asio::error_code ignored;  // closing the listener on shutdown; nothing to do on error
    self->acceptor_.close(ignored);
    for (const auto& t : targets) t->timer.cancel();
  });
  for (const auto& c : conns) c->Close(UnavailableError("transport stopped"));
  log_->info("[{}] peer bus stopped", options_.identity.node_name);
}

Transport::Transport(asio::io_context& io, TransportOptions options, FrameHandler on_frame,
                     PeerEventHandler on_event)
    : core_(std::make_shared<Core>(io, std::move(options), std::move(on_frame),
                                   std::move(on_event))) {}
Transport::~Transport() { core_->Stop(); }
Status Transport::Start() { return core_->Start(); }
uint16_t Transport::port() const { return core_->port(); }
void Transport::AddSeed(std::string address) { core_->AddSeed(std::move(address)); }
Status Transport::Send(uint64_t peer, uint8_t type, std::string_view body) {
  return core_->Send(peer, type, body);
}
std::size_t Transport::Broadcast(uint8_t type, std::string_view body) {
  return core_->Broadcast(type, body);
}
std::vector<uint64_t> Transport::ConnectedPeers() const { return core_->ConnectedPeers(); }
bool Transport::IsConnected(uint64_t peer) const { return core_->IsConnected(peer); }
std::optional<PeerStats> Transport::Stats(uint64_t peer) const { return core_->Stats(peer); }
std::vector<PeerStats> Transport::AllStats() const { return core_->AllStats(); }
std::optional<uint64_t> Transport::FindPeerByName(std::string_view node_name) const {
  return core_->FindPeerByName(node_name);
}
std::size_t Transport::connection_count() const { return core_->connection_count(); }
uint64_t Transport::rejected_connections() const { return core_->rejected_connections(); }
std::string Transport::last_refusal() const { return core_->last_refusal(); }
void Transport::Partition(uint64_t peer) { core_->Partition(peer); }
void Transport::SetLinkFaults(uint64_t peer, LinkFaults faults) {
  core_->SetLinkFaults(peer, faults);
}
void Transport::Heal() { core_->Heal(); }
void Transport::Stop() { core_->Stop(); }

}  // namespace converge::transport
