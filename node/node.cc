#include "node/node.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <future>
#include <map>
#include <thread>

#include "cluster/replica.h"
#include "cluster/replicator.h"
#include "node/internal/apply_loop.h"
#include "node/internal/change_feed.h"
#include "node/internal/command_path.h"
#include "node/internal/client_server.h"
#include "node/internal/commands.h"
#include "node/internal/system_clock.h"
#include "storage/store.h"
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
    cs.start_ms = clock_.NowMillis();
    commands_ = std::make_unique<CommandTable>(cs);
    ClientServerOptions co;
    co.bind = options_.bind;
    co.port = options_.port;
    server_ = std::make_unique<ClientServer>(io_, loop_.get(), commands_.get(), co);
    path_ = std::make_shared<CommandPath>(loop_.get(), commands_.get(), replica_.get(), &gate_,
                                          nullptr);
    loop_->add_commit_observer([this](const CommitResult& c) { PublishChanges(c); });
    return Status::Ok();
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
    loop_->Start();
    guard_.emplace(io_.get_executor());
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { io_.run(); });
    }
    started_ = true;
    gate_.Open();
    spdlog::info("[{}] serving clients on {}:{}, peers on {}:{}, replica {:016x}", options_.name,
                 options_.bind, server_->port(), options_.bind, transport_->port(), replica_->id());
    return Status::Ok();
  }

  void Stop() {
    if (stopped_) return;
    stopped_ = true;
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
  std::unique_ptr<CommandTable> commands_;
  std::unique_ptr<ClientServer> server_;
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
uint16_t Node::client_port() const { return impl_->server_->port(); }
uint16_t Node::peer_port() const { return impl_->transport_->port(); }
uint64_t Node::id() const { return impl_->replica_->id(); }
const std::string& Node::name() const { return impl_->options_.name; }

}  // namespace converge
