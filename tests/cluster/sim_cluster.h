// SimCluster: N replicas in one process over a simulated network, driven by
// simulated time, so multi-node runs are deterministic for a seed.
//
// Each node is a real Store (in a temporary directory), a Replica and a
// Replicator; only the network and the clocks are simulated. Messages get a
// random delay (so they reorder), and per-link loss and duplication;
// partitions cut pairs of nodes both ways. Every step delivers the messages
// that are due, runs each node's gossip tick when it is due, and commits.
#ifndef CONVERGE_TESTS_CLUSTER_SIM_CLUSTER_H_
#define CONVERGE_TESTS_CLUSTER_SIM_CLUSTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/replica.h"
#include "cluster/replicator.h"
#include "crdt/hybrid_clock.h"
#include "storage/store.h"

namespace converge::testing {

struct SimOptions {
  int nodes = 3;
  uint64_t seed = 1;
  uint64_t gossip_interval_ms = 50;
  uint64_t min_delay_ms = 1;
  uint64_t max_delay_ms = 5;
  double drop = 0;       // per message, every link
  double duplicate = 0;  // per message, every link
  uint64_t log_cap_bytes = uint64_t{256} << 20;
  size_t max_batch_bytes = 64 << 10;
};

class SimCluster {
 public:
  explicit SimCluster(SimOptions options);
  ~SimCluster();

  int size() const { return static_cast<int>(nodes_.size()); }
  uint64_t now_ms() const { return now_ms_; }
  ReplicaId id(int node) const;

  // A client write on `node`, committed at once. Returns the mutation's status
  // (ok = acknowledged).
  Status Write(int node, const std::string& key, const Replica::Mutation& m);
  StatusOr<Object> Read(int node, const std::string& key);

  // Advances simulated time by `ms`, one millisecond at a time.
  void Run(uint64_t ms);
  // Runs until every pair of live nodes has equal digests and nothing is in
  // flight, or `max_ms` passes. Returns whether it converged.
  bool RunUntilConverged(uint64_t max_ms);
  std::string Digest(int node);
  bool Converged();

  void Partition(const std::vector<int>& side_a, const std::vector<int>& side_b);
  void Cut(int a, int b);
  void HealAll();
  // Physical clock of `node` = simulated time + offset.
  void SetClockOffset(int node, int64_t offset_ms);

  // Stops a node (closing its store as a process exit would after its last
  // commit) and later starts it again from the same directory.
  void Stop(int node);
  void Start(int node);
  bool running(int node) const;
  // Adds a node that knows only `seed`; it learns the rest through gossip.
  int AddNode(int seed);

  Replica& replica(int node);
  Replicator& replicator(int node);
  Store& store(int node);
  uint64_t bytes_on_wire() const { return bytes_on_wire_; }
  uint64_t messages_dropped() const { return messages_dropped_; }
  // Bytes and messages enqueued per message type (ClusterMessage), duplicates
  // included, as bytes_on_wire() counts them: benchmarks attribute traffic.
  const std::map<uint8_t, uint64_t>& bytes_by_type() const { return bytes_by_type_; }
  const std::map<uint8_t, uint64_t>& messages_by_type() const { return messages_by_type_; }
  // Called for every message put on the wire (each copy of a duplicate),
  // with the sending and receiving node: benchmarks inspect the traffic.
  using Observer = std::function<void(int from, int to, uint8_t type, const std::string& body)>;
  void set_observer(Observer observer) { observer_ = std::move(observer); }
  // Messages sent but not yet delivered (or dropped on delivery).
  size_t in_flight() const { return in_flight_.size(); }

 private:
  struct Node;
  class Network;
  struct Message {
    uint64_t deliver_at;
    uint64_t order;  // tie-break, keeps the queue deterministic
    int from, to;
    uint8_t type;
    std::string body;
    bool operator<(const Message& o) const {
      return std::tie(deliver_at, order) < std::tie(o.deliver_at, o.order);
    }
  };

  void Enqueue(int from, ReplicaId to, uint8_t type, std::string body);
  bool LinkUp(int a, int b) const;
  void Connect(int a, int b);
  void CommitAndPush(int node);
  void OpenNode(int node);
  int IndexOf(ReplicaId id) const;

  SimOptions options_;
  std::mt19937_64 rng_;
  uint64_t now_ms_ = 1'000'000;
  uint64_t order_ = 0;
  std::string root_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::multiset<Message> in_flight_;
  std::set<std::pair<int, int>> cuts_;
  uint64_t bytes_on_wire_ = 0;
  std::map<uint8_t, uint64_t> bytes_by_type_;
  std::map<uint8_t, uint64_t> messages_by_type_;
  Observer observer_;
  uint64_t messages_dropped_ = 0;
};

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_CLUSTER_SIM_CLUSTER_H_
