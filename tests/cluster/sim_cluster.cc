#include "tests/cluster/sim_cluster.h"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <tuple>


namespace converge::testing {

struct SimCluster::Node {
  int index = 0;
  std::string dir;
  ManualClock clock;
  int64_t offset_ms = 0;
  ReplicaId id = 0;
  std::unique_ptr<Store> store;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<Network> network;
  std::unique_ptr<Replicator> replicator;
  std::set<int> knows;      // peers whose address it has (seeds or gossip)
  std::set<int> connected;  // peers it has seen come up
  uint64_t next_tick_ms = 0;
  bool running() const { return replicator != nullptr; }
};

class SimCluster::Network : public PeerNetwork {
 public:
  Network(SimCluster* sim, int self) : sim_(sim), self_(self) {}
  void Send(ReplicaId peer, uint8_t type, std::string body) override {
    sim_->Enqueue(self_, peer, type, std::move(body));
  }
  std::vector<ReplicaId> ConnectedPeers() const override {
    std::vector<ReplicaId> out;
    for (int p : sim_->nodes_[self_]->connected) out.push_back(sim_->nodes_[p]->id);
    return out;
  }
  void Dial(const std::string& address) override {
    const int peer = std::atoi(address.c_str() + 4);  // "sim:<index>"
    if (peer >= 0 && peer < sim_->size() && peer != self_) sim_->nodes_[self_]->knows.insert(peer);
  }

 private:
  SimCluster* sim_;
  int self_;
};

SimCluster::SimCluster(SimOptions options) : options_(options), rng_(options.seed) {
  char tmpl[] = "/tmp/converge-sim-XXXXXX";
  root_ = mkdtemp(tmpl);
  for (int i = 0; i < options_.nodes; ++i) {
    nodes_.push_back(std::make_unique<Node>());
    nodes_[i]->index = i;
    nodes_[i]->dir = root_ + "/n" + std::to_string(i);
  }
  for (int i = 0; i < options_.nodes; ++i) {
    for (int j = 0; j < options_.nodes; ++j) {
      if (i != j) nodes_[i]->knows.insert(j);
    }
    OpenNode(i);
  }
}

SimCluster::~SimCluster() {
  for (int i = 0; i < size(); ++i) Stop(i);
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

ReplicaId SimCluster::id(int node) const { return nodes_[node]->id; }
Replica& SimCluster::replica(int node) { return *nodes_[node]->replica; }
Replicator& SimCluster::replicator(int node) { return *nodes_[node]->replicator; }
Store& SimCluster::store(int node) { return *nodes_[node]->store; }
bool SimCluster::running(int node) const { return nodes_[node]->running(); }

void SimCluster::OpenNode(int i) {
  Node& n = *nodes_[i];
  n.clock.Set(now_ms_ + n.offset_ms);
  StoreOptions so;
  so.durability = Durability::kEverySec;
  so.log_cap_bytes = options_.log_cap_bytes;
  so.block_cache_bytes = 1 << 20;
  so.write_buffer_bytes = 1 << 20;
  so.new_replica_id = rng_() | 1;  // seeded: peers iterate in id order
  StatusOr<std::unique_ptr<Store>> store = Store::Open(n.dir, so);
  if (!store.ok()) std::abort();  // a test fixture cannot go on without its store
  n.store = std::move(*store);
  n.id = n.store->replica_id();
  // Nodes differ in how they commit objects (all merged, the default rule,
  // all whole), so every run checks that the forms converge alike.
  ReplicaOptions replica_options;
  const size_t kMergeThresholds[] = {0, ReplicaOptions().merge_above_fields, SIZE_MAX};
  replica_options.merge_above_fields = kMergeThresholds[i % 3];
  replica_options.sort_off_strand = false;  // a seed replays the same run
  n.replica = std::make_unique<Replica>(n.store.get(), &n.clock, replica_options);
  n.network = std::make_unique<Network>(this, i);
  MemberRecord self{n.id, "n" + std::to_string(i), "", "sim:" + std::to_string(i), false};
  ReplicatorOptions ro;
  ro.gossip_interval_ms = options_.gossip_interval_ms;
  ro.max_batch_bytes = options_.max_batch_bytes;
  ro.seed = rng_();
  n.replicator = std::make_unique<Replicator>(n.replica.get(), n.store.get(), n.network.get(),
                                              self, ro);
  n.next_tick_ms = now_ms_ + rng_() % options_.gossip_interval_ms;
  n.connected.clear();
}

void SimCluster::Stop(int i) {
  Node& n = *nodes_[i];
  if (!n.running()) return;
  n.replicator.reset();
  n.network.reset();
  n.replica.reset();
  n.store.reset();
  for (auto& other : nodes_) {
    if (other->connected.erase(i) && other->running()) other->replicator->OnPeerDown(n.id);
  }
  n.connected.clear();
}

void SimCluster::Start(int i) {
  if (!nodes_[i]->running()) OpenNode(i);
}

int SimCluster::AddNode(int seed) {
  const int i = size();
  nodes_.push_back(std::make_unique<Node>());
  nodes_[i]->index = i;
  nodes_[i]->dir = root_ + "/n" + std::to_string(i);
  nodes_[i]->knows.insert(seed);
  OpenNode(i);
  return i;
}

int SimCluster::IndexOf(ReplicaId id) const {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i]->id == id) return i;
  }
  return -1;
}

bool SimCluster::LinkUp(int a, int b) const {
  return nodes_[a]->running() && nodes_[b]->running() &&
         cuts_.count({std::min(a, b), std::max(a, b)}) == 0 &&
         (nodes_[a]->knows.count(b) || nodes_[b]->knows.count(a));
}

void SimCluster::Connect(int a, int b) {
  Node& na = *nodes_[a];
  Node& nb = *nodes_[b];
  na.connected.insert(b);
  nb.connected.insert(a);
  na.knows.insert(b);
  nb.knows.insert(a);
  na.replicator->OnPeerUp(MemberRecord{nb.id, "n" + std::to_string(b), "", "sim:" + std::to_string(b), false});
  CommitAndPush(a);
  nb.replicator->OnPeerUp(MemberRecord{na.id, "n" + std::to_string(a), "", "sim:" + std::to_string(a), false});
  CommitAndPush(b);
}

void SimCluster::Enqueue(int from, ReplicaId to_id, uint8_t type, std::string body) {
  const int to = IndexOf(to_id);
  if (to < 0 || !nodes_[from]->connected.count(to)) {
    ++messages_dropped_;
    return;
  }
  std::uniform_real_distribution<double> coin(0, 1);
  if (coin(rng_) < options_.drop) {
    ++messages_dropped_;
    return;
  }
  const int copies = coin(rng_) < options_.duplicate ? 2 : 1;
  for (int c = 0; c < copies; ++c) {
    const uint64_t delay =
        options_.min_delay_ms + rng_() % (options_.max_delay_ms - options_.min_delay_ms + 1);
    bytes_on_wire_ += body.size();
    bytes_by_type_[type] += body.size();
    ++messages_by_type_[type];
    if (observer_) observer_(from, to, type, body);
    in_flight_.insert(Message{now_ms_ + delay, order_++, from, to, type, body});
  }
}

void SimCluster::CommitAndPush(int i) {
  Node& n = *nodes_[i];
  StatusOr<CommitResult> c = n.replica->Commit();
  n.replicator->OnCommitted(c.ok() ? *c : CommitResult{});
}

Status SimCluster::Write(int i, const std::string& key, const Replica::Mutation& m) {
  Node& n = *nodes_[i];
  if (!n.running()) return UnavailableError("node stopped");
  CONVERGE_RETURN_IF_ERROR(n.replica->Mutate(key, m));
  StatusOr<CommitResult> c = n.replica->Commit();
  if (!c.ok()) return c.status();
  n.replicator->OnCommitted(*c);
  return Status::Ok();
}

StatusOr<Object> SimCluster::Read(int i, const std::string& key) {
  return nodes_[i]->replica->Get(key);
}

void SimCluster::Run(uint64_t ms) {
  for (uint64_t step = 0; step < ms; ++step) {
    ++now_ms_;
    for (auto& n : nodes_) n->clock.Set(now_ms_ + n->offset_ms);
    // Connections follow links: up when both run, know each other and are not cut.
    for (int a = 0; a < size(); ++a) {
      for (int b = a + 1; b < size(); ++b) {
        const bool up = LinkUp(a, b);
        const bool was = nodes_[a]->connected.count(b) != 0;
        if (up && !was) {
          Connect(a, b);
        } else if (!up && was) {
          nodes_[a]->connected.erase(b);
          nodes_[b]->connected.erase(a);
          if (nodes_[a]->running()) nodes_[a]->replicator->OnPeerDown(nodes_[b]->id);
          if (nodes_[b]->running()) nodes_[b]->replicator->OnPeerDown(nodes_[a]->id);
        }
      }
    }
    while (!in_flight_.empty() && in_flight_.begin()->deliver_at <= now_ms_) {
      Message m = *in_flight_.begin();
      in_flight_.erase(in_flight_.begin());
      if (!nodes_[m.to]->connected.count(m.from) || !nodes_[m.to]->running()) {
        ++messages_dropped_;
        continue;
      }
      Node& n = *nodes_[m.to];
      n.replicator->OnFrame(nodes_[m.from]->id, m.type, m.body).IgnoreError();
      CommitAndPush(m.to);
    }
    for (auto& n : nodes_) {
      if (n->running() && now_ms_ >= n->next_tick_ms) {
        n->next_tick_ms = now_ms_ + options_.gossip_interval_ms;
        n->replicator->Tick();
        CommitAndPush(n->index);
      }
    }
  }
}

std::string SimCluster::Digest(int i) {
  StatusOr<std::string> digest = nodes_[i]->replica->Digest();
  return digest.ok() ? *digest : "error: " + digest.status().ToString();
}

bool SimCluster::Converged() {
  int first = -1;
  std::string d0;
  for (int i = 0; i < size(); ++i) {
    if (!running(i)) continue;
    if (first < 0) {
      first = i;
      d0 = Digest(i);
      continue;
    }
    if (Digest(i) != d0) return false;
    if (!(replica(i).committed_version_vector() == replica(first).committed_version_vector())) {
      return false;
    }
  }
  return true;
}

bool SimCluster::RunUntilConverged(uint64_t max_ms) {
  for (uint64_t waited = 0; waited < max_ms; waited += 20) {
    Run(20);
    if (Converged()) return true;
  }
  return Converged();
}

void SimCluster::Partition(const std::vector<int>& a, const std::vector<int>& b) {
  for (int x : a) {
    for (int y : b) Cut(x, y);
  }
}

void SimCluster::Cut(int a, int b) { cuts_.insert({std::min(a, b), std::max(a, b)}); }
void SimCluster::HealAll() { cuts_.clear(); }
void SimCluster::SetClockOffset(int node, int64_t offset_ms) { nodes_[node]->offset_ms = offset_ms; }

}  // namespace converge::testing
