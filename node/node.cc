#include "node/node.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "cluster/replica.h"
#include "cluster/replicator.h"
#include "node/internal/apply_loop.h"
#include "node/internal/change_feed.h"
#include "node/internal/command_path.h"
#include "node/internal/client_server.h"
#include "node/internal/commands.h"
#include "node/internal/http_server.h"
#include "node/internal/node_status.h"
#include "node/internal/system_clock.h"
#include "storage/store.h"
#include "transport/tls.h"
#include "transport/transport.h"

namespace converge {
namespace {

// The Replicator's view of the peer transport.
class TransportNetwork : public PeerNetwork {
 public:
  void Send(ReplicaId peer, uint8_t type, std::string body) override {
    // A refused send (queue full, partition, link down) is repaired by
    // anti-entropy; nothing to do here.
    transport_->Send(peer, type, body).IgnoreError();
  }
  std::vector<ReplicaId> ConnectedPeers() const override { return transport_->ConnectedPeers(); }
  void Dial(const std::string& address) override { transport_->AddSeed(address); }
  void set_transport(transport::Transport* t) { transport_ = t; }

 private:
  transport::Transport* transport_ = nullptr;
};

Durability ToDurability(FsyncMode m) {
  switch (m) {
    case FsyncMode::kAlways: return Durability::kAlways;
    case FsyncMode::kBatch: return Durability::kBatch;
    case FsyncMode::kEverySec: return Durability::kEverySec;
  }
  return Durability::kEverySec;
}

}  // namespace

class Node::Impl {
 public:
  explicit Impl(NodeOptions options) : options_(std::move(options)) {
    if (options_.name.empty()) options_.name = options_.bind + ":" + std::to_string(options_.port);
  }

  Status Open() {
    StoreOptions so;
    so.durability = ToDurability(options_.fsync);
    StatusOr<std::unique_ptr<Store>> store = Store::Open(options_.data_dir, so);
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    if (!store_->replica_id_change().empty()) {
      spdlog::warn("[{}] new replica id {:016x} (was {:016x}): {}; the old id's deltas stay, and "
                   "peers send back any this node lost",
                   options_.name, store_->replica_id(), store_->retired_replica_ids().back(),
                   store_->replica_id_change());
    }
    ReplicaOptions ro;
    ro.max_clock_offset_ms = options_.max_clock_offset_ms;
    replica_ = std::make_unique<Replica>(store_.get(), &clock_, ro);

    const std::string client_addr = options_.bind + ":" + std::to_string(options_.port);
    const std::string peer_addr =
        options_.bind + ":" + std::to_string(options_.effective_peer_port());
    ReplicatorOptions rep;
    rep.gossip_interval_ms = options_.gossip_interval_ms;
    rep.rights_policy.enabled = options_.rights_policy;
    replicator_ = std::make_unique<Replicator>(
        replica_.get(), store_.get(), &network_,
        MemberRecord{replica_->id(), options_.name, client_addr, peer_addr, false}, rep);
    loop_ = std::make_unique<ApplyLoop>(io_, replica_.get(), replicator_.get(), options_.fsync,
                                        options_.gossip_interval_ms);
    loop_->set_tick_observer([this] {
      ReportClockSkew();
      // Holds that ran out give their units back, in one batch with their
      // removal; expired IDEM records go every 10 s.
      commands_->ReleaseExpiredHolds();
      loop_->CommitNow();
      const uint64_t now = clock_.NowMillis();
      if (now - last_idem_sweep_ms_ >= 10'000) {
        last_idem_sweep_ms_ = now;
        commands_->SweepIdempotency();
      }
    });

    if (options_.tls() || !options_.tls_key_file.empty() || !options_.tls_ca_file.empty()) {
      const transport::TlsFiles files{options_.tls_cert_file, options_.tls_key_file,
                                      options_.tls_ca_file};
      StatusOr<std::shared_ptr<transport::TlsContextSlot>> p =
          transport::TlsContextSlot::Open(files, transport::TlsVerify::kRequire);
      if (!p.ok()) return p.status();
      StatusOr<std::shared_ptr<transport::TlsContextSlot>> c = transport::TlsContextSlot::Open(
          files, options_.tls_auth_clients ? transport::TlsVerify::kRequire
                                           : transport::TlsVerify::kNone);
      if (!c.ok()) return c.status();
      peer_tls_ = std::move(*p);
      client_tls_ = std::move(*c);
    } else if (options_.tls_auth_clients) {
      return InvalidArgumentError("tls-auth-clients needs TLS (--tls-cert, --tls-key, --tls-ca)");
    }

    transport::TransportOptions to;
    to.identity.cluster_id = "converge";
    to.identity.replica_id = replica_->id();
    to.identity.node_name = options_.name;
    to.identity.client_address = client_addr;
    to.identity.peer_address = peer_addr;
    to.bind_address = options_.bind;
    to.port = options_.effective_peer_port();
    to.seeds = options_.seeds;
    to.cluster_secret = options_.cluster_secret;
    to.max_clock_offset_ms = static_cast<int64_t>(options_.max_clock_offset_ms);
    to.clock_ms = [this] { return static_cast<int64_t>(clock_.NowMillis()); };
    to.rng_seed = replica_->id();
    to.tls = peer_tls_;
    transport_ = std::make_unique<transport::Transport>(
        io_, to,
        [this](uint64_t peer, uint8_t type, std::string body) {
          loop_->Post([this, peer, type, body = std::move(body)] {
            Status st = replicator_->OnFrame(peer, type, body);
            if (!st.ok()) {
              spdlog::warn("[{}] refused a message from peer {:016x}: {}", options_.name, peer,
                           st.ToString());
            }
          });
        },
        [this](const transport::PeerEvent& e) { OnPeerEvent(e); });
    network_.set_transport(transport_.get());

    CommandServices cs;
    cs.options = &options_;
    cs.store = store_.get();
    cs.replica = replica_.get();
    cs.replicator = replicator_.get();
    cs.transport = transport_.get();
    cs.clock = &clock_;
    cs.commit_now = [this] { loop_->CommitNow(); };
    cs.connected_clients = [this] { return server_ ? server_->connections() : size_t{0}; };
    cs.client_tls_failures = [this] { return server_ ? server_->tls_handshake_failures() : 0; };
    cs.start_ms = clock_.NowMillis();
    start_ms_ = cs.start_ms;
    commands_ = std::make_unique<CommandTable>(cs);
    ClientServerOptions co;
    co.bind = options_.bind;
    co.port = options_.port;
    co.tls = client_tls_;
    server_ = std::make_unique<ClientServer>(io_, loop_.get(), commands_.get(), co);
    if (options_.http_port != 0) {
      HttpServerOptions ho;
      ho.bind = options_.bind;
      ho.port = options_.http_port;
      ho.node_name = options_.name;
      http_ = std::make_unique<HttpServer>(
          ho, [this] { return CollectStatus(); },
          [this] { return serving_.load(std::memory_order_acquire); });
    }
    path_ = std::make_shared<CommandPath>(loop_.get(), commands_.get(), replica_.get(), &gate_,
                                          nullptr);
    loop_->add_commit_observer([this](const CommitResult& c) { PublishChanges(c); });
    return Status::Ok();
  }

  // For HttpServer: the strand's part is copied on the strand (it owns the
  // replica, the replicator and the command counters), behind whatever is
  // queued there; the rest is read here. Bounded wait: a strand stuck for
  // seconds answers 503 rather than piling up scrapers.
  std::optional<NodeStatus> CollectStatus() {
    if (!serving_.load(std::memory_order_acquire)) return std::nullopt;
    auto promise = std::make_shared<std::promise<NodeStatus>>();
    std::future<NodeStatus> future = promise->get_future();
    asio::post(loop_->strand(), [this, promise] {
      NodeStatus s;
      FillFromStrand(&s);
      promise->set_value(std::move(s));
    });
    if (future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return std::nullopt;
    NodeStatus s = future.get();
    for (transport::PeerStats& p : transport_->AllStats()) {
      const uint64_t id = p.replica_id;
      s.links.emplace(id, std::move(p));
    }
    s.rejected_connections = transport_->rejected_connections();
    s.operations = &commands_->operations();
    s.apply_latency = commands_->apply_latency().Read();
    s.commit_latency = loop_->commit_latency().Read();
    std::vector<ReplicaId> ids;
    for (const MemberView& m : s.members) ids.push_back(m.record.id);
    s.scan = CachedScan(ids, s.vv, s.now_ms);
    return s;
  }

  void FillFromStrand(NodeStatus* s) {
    s->id = replica_->id();
    s->name = options_.name;
    s->version = CONVERGE_VERSION;
    s->fsync = options_.fsync == FsyncMode::kAlways  ? "always"
               : options_.fsync == FsyncMode::kBatch ? "batch"
                                                     : "everysec";
    s->now_ms = clock_.NowMillis();
    s->uptime_s = (s->now_ms - std::min(s->now_ms, start_ms_)) / 1000;
    s->members = replicator_->Members();
    s->vv = replica_->committed_version_vector();
    s->stable_vv = replicator_->StableVector();
    s->log_floor = store_->log_floor();
    s->log_bytes = store_->log_bytes();
    s->damaged_merge_inputs = store_->Stats().damaged_merge_inputs;
    s->keys = replica_->live_keys();
    s->holds = replica_->holds();
    s->holds_expired = commands_->holds_expired();
    s->held_intervals = replica_->held_intervals();
    s->clock_ahead_ms = replica_->HeldForClock();
    s->injected_clock_offset_ms = clock_.offset_ms();
    s->tombstones_purged = replicator_->tombstones_purged();
    s->rejected_messages = replicator_->rejected_messages();
    s->snapshots_received = replicator_->snapshots_received();
    s->commits = loop_->commits();
    s->failed_commits = loop_->failed_commits();
    s->commands_processed = commands_->commands_processed();
    s->rights_moved_by_policy = replicator_->rights_moved_by_policy();
    s->connected_clients = server_->connections();
  }

  // The object scan reads every object, from a store snapshot on the HTTP
  // thread. It is redone when the state moved (the committed vector changed)
  // but at most once a second, since the status page polls every second; and
  // every 10 s regardless, for tombstones purged without a new delta.
  StateScan CachedScan(const std::vector<ReplicaId>& members, const VersionVector& vv,
                       uint64_t now_ms) {
    std::lock_guard<std::mutex> lock(scan_mu_);
    const uint64_t age = scan_ ? now_ms - std::min(now_ms, scan_->scanned_at_ms) : 0;
    if (!scan_ || scan_members_ != members || (scan_vv_ != vv && age >= 1'000) || age >= 10'000) {
      scan_ = ScanState(*store_, members, now_ms);
      scan_members_ = members;
      scan_vv_ = vv;
    }
    return *scan_;
  }

  // On the strand, after a commit: one Change per key of each remote interval.
  void PublishChanges(const CommitResult& commit) {
    if (commit.remote.empty() || !feed_->active()) return;
    std::map<ReplicaId, std::string> names;
    for (const MemberView& m : replicator_->Members()) names[m.record.id] = m.record.name;
    std::vector<Change> changes;
    for (const DeltaInterval& interval : commit.remote) {
      const auto name = names.find(interval.origin());
      for (const auto& [key, object] : interval.objects()) {
        const std::optional<ObjectType> type = object.Type();
        if (!type) continue;  // carries no slot: nothing a reader could see
        changes.push_back(Change{key, ToValueType(*type), interval.origin(),
                                 name == names.end() ? std::string() : name->second});
      }
    }
    feed_->Publish(std::move(changes));
  }

  static ValueType ToValueType(ObjectType t) {
    switch (t) {
      case ObjectType::kCounter: return ValueType::kCounter;
      case ObjectType::kString: return ValueType::kString;
      case ObjectType::kHash: return ValueType::kRecord;
      case ObjectType::kReservation: return ValueType::kReservationCounter;
    }
    return ValueType::kString;
  }

  void OnPeerEvent(const transport::PeerEvent& e) {
    switch (e.kind) {
      case transport::PeerEvent::Kind::kUp: {
        MemberRecord r{e.replica_id, e.node_name, "", e.address, false};
        if (auto stats = transport_->Stats(e.replica_id)) {
          r.client_address = stats->client_address;
          if (!stats->peer_address.empty()) r.peer_address = stats->peer_address;
        }
        spdlog::info("[{}] peer {} ({:016x}) up", options_.name, e.node_name, e.replica_id);
        loop_->Post([this, r] { replicator_->OnPeerUp(r); });
        break;
      }
      case transport::PeerEvent::Kind::kDown:
        spdlog::info("[{}] peer {} ({:016x}) down: {}", options_.name, e.node_name, e.replica_id,
                     e.reason.ToString());
        loop_->Post([this, id = e.replica_id] { replicator_->OnPeerDown(id); });
        break;
      case transport::PeerEvent::Kind::kRefused:
        spdlog::warn("[{}] peer {} at {} refused: {}", options_.name, e.node_name, e.address,
                     e.reason.ToString());
        break;
    }
  }

  // Logs, at most once a minute per origin, deltas held because their origin's
  // clock runs ahead of ours by more than the bound.
  void ReportClockSkew() {
    const uint64_t now = clock_.NowMillis();
    for (const auto& [origin, ahead_ms] : replica_->HeldForClock()) {
      uint64_t& last = skew_reported_ms_[origin];
      if (now - last < 60'000) continue;
      last = now;
      spdlog::warn("[{}] holding deltas of origin {:016x}: stamped {} ms ahead of local time, "
                   "beyond --max-clock-offset-ms {}; they apply when local time catches up",
                   options_.name, origin, ahead_ms, options_.max_clock_offset_ms);
    }
  }

  Status Start() {
    CONVERGE_RETURN_IF_ERROR(transport_->Start());
    CONVERGE_RETURN_IF_ERROR(server_->Start());
    if (http_) CONVERGE_RETURN_IF_ERROR(http_->Start());
    loop_->Start();
    guard_.emplace(io_.get_executor());
    for (int i = 0; i < options_.effective_threads(); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
    started_ = true;
    serving_.store(true, std::memory_order_release);
    gate_.Open();
    spdlog::info("[{}] serving clients on {}:{}, peers on {}:{}{}, replica {:016x}", options_.name,
                 options_.bind, server_->port(), options_.bind, transport_->port(),
                 options_.tls() ? (options_.tls_auth_clients ? " (TLS, client certificates required)"
                                                             : " (TLS)")
                                : "",
                 replica_->id());
    return Status::Ok();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
    // /healthz answers 503 from here on; requests in flight finish first.
    serving_.store(false, std::memory_order_release);
    if (http_) http_->Stop();
    if (server_) server_->Stop();
    gate_.Close();  // embedded calls in flight return first
    feed_->Stop();
    if (started_) loop_->Stop();  // commits what is staged
    if (transport_) transport_->Stop();
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    spdlog::info("[{}] stopped", options_.name);
  }

  // Both ports change together or not at all: both contexts are built
  // before either is put in place.
  Status ReloadTls() {
    if (!peer_tls_) return FailedPreconditionError("TLS is off on this node (no --tls-cert)");
    StatusOr<std::shared_ptr<asio::ssl::context>> p = peer_tls_->Load();
    StatusOr<std::shared_ptr<asio::ssl::context>> c =
        p.ok() ? client_tls_->Load() : StatusOr<std::shared_ptr<asio::ssl::context>>(p.status());
    if (!c.ok()) {
      spdlog::warn("[{}] TLS files not reloaded, connections keep the previous ones: {}",
                   options_.name, c.status().message());
      return c.status();
    }
    peer_tls_->Set(std::move(*p));
    client_tls_->Set(std::move(*c));
    spdlog::info("[{}] TLS certificate, key and CA reloaded from {}, {}, {}; new connections use them",
                 options_.name, options_.tls_cert_file, options_.tls_key_file, options_.tls_ca_file);
    return Status::Ok();
  }

  std::string Execute(const std::vector<std::string>& args) {
    StatusOr<std::string> reply = path_->RunRaw({args});
    if (!reply.ok()) return "-ERR " + reply.status().message() + "\r\n";
    return std::move(*reply);
  }

  NodeOptions options_;
  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::vector<std::thread> threads_;
  SystemClock clock_;
  TransportNetwork network_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<Replicator> replicator_;
  std::unique_ptr<ApplyLoop> loop_;
  std::unique_ptr<transport::Transport> transport_;
  // TLS contexts of the peer and client ports; null when TLS is off.
  std::shared_ptr<transport::TlsContextSlot> peer_tls_, client_tls_;
  std::unique_ptr<CommandTable> commands_;
  std::unique_ptr<ClientServer> server_;
  std::unique_ptr<HttpServer> http_;  // null without --http-port
  std::atomic<bool> serving_{false};  // Start() done, Stop() not begun
  std::mutex scan_mu_;
  std::optional<StateScan> scan_;               // guarded by scan_mu_
  std::vector<ReplicaId> scan_members_;         // guarded by scan_mu_
  VersionVector scan_vv_;                       // guarded by scan_mu_
  uint64_t start_ms_ = 0;
  CallGate gate_;                            // embedded calls: open while serving
  std::shared_ptr<const CommandPath> path_;  // handles and Execute outside sessions
  std::shared_ptr<ChangeFeed> feed_ = std::make_shared<ChangeFeed>();
  std::map<ReplicaId, uint64_t> skew_reported_ms_;  // apply strand only
  uint64_t last_idem_sweep_ms_ = 0;                  // apply strand only
  bool started_ = false;
  bool stopped_ = false;
};

std::unique_ptr<NodeSession> Node::NewSession() {
  return std::unique_ptr<NodeSession>(new NodeSession(impl_->path_->WithNewSession()));
}
Counter Node::counter(std::string key) const { return Counter(impl_->path_, std::move(key)); }
String Node::string(std::string key) const { return String(impl_->path_, std::move(key)); }
Record Node::record(std::string key) const { return Record(impl_->path_, std::move(key)); }
RCounter Node::reservation_counter(std::string key) const {
  return RCounter(impl_->path_, std::move(key));
}
Subscription Node::Subscribe(ChangeCallback callback) {
  return Subscription(impl_->feed_, impl_->feed_->Add(std::move(callback)));
}

StatusOr<std::unique_ptr<Node>> Node::Open(const NodeOptions& options) {
  if (options.data_dir.empty()) return InvalidArgumentError("--data-dir is required");
  auto impl = std::make_unique<Impl>(options);
  CONVERGE_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() { Stop(); }
Status Node::Start() { return impl_->Start(); }
void Node::Stop() { impl_->Stop(); }
std::string Node::Execute(const std::vector<std::string>& args) { return impl_->Execute(args); }
Status Node::ReloadTls() { return impl_->ReloadTls(); }
uint16_t Node::client_port() const { return impl_->server_->port(); }
uint16_t Node::peer_port() const { return impl_->transport_->port(); }
uint16_t Node::http_port() const { return impl_->http_ ? impl_->http_->port() : 0; }
uint64_t Node::id() const { return impl_->replica_->id(); }
const std::string& Node::name() const { return impl_->options_.name; }

}  // namespace converge
