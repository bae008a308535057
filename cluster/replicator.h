// Replicator: how this node's state reaches its peers and theirs reaches it
// (DESIGN.md, Replication).
//
//   * Eager push: each commit's local interval goes to every connected peer
//     at once (OnCommitted), so replication lag is one hop.
//   * Anti-entropy pull: every gossip interval (Tick) a digest (VV, HLC,
//     member list) goes to one random peer; the peer answers with the
//     intervals the asker lacks, per origin, joined by key, in batches of at
//     most max_batch_bytes, including origins other than itself (relay). An
//     answer marked `more` makes the asker pull again after its commit: one
//     batch in flight is the flow control. A node runs one such chain at a
//     time, whichever peer it pulls from: two chains would fetch the same
//     deltas twice, and a digest sent before the last answer is committed
//     asks for that answer again.
//   * Full-state fallback: when the asker needs a range the log no longer has
//     (below the log floor), or knows nothing at all, the answer is the
//     object state in chunks read from store snapshots; the asker adopts the
//     meet of the chunks' version vectors at the end (every chunk reflects at
//     least the oldest snapshot, so that is safe).
//   * Causal stability: the meet of every member's last known VV (removed
//     members excepted) is stable; the log is trimmed below it, and
//     tombstones stamped below the purge bound are dropped (see PurgeBound).
//   * Membership: members learned from connections and gossip; alive,
//     suspect and dead from the time since the last frame; CLUSTER FORGET
//     marks a member removed for good.
//
// Thread-compatible: the node calls every method on its apply strand. Calls
// that stage changes in the Replica (OnFrame, Tick) leave the commit to the
// caller, which then passes the CommitResult to OnCommitted.
#ifndef CONVERGE_CLUSTER_REPLICATOR_H_
#define CONVERGE_CLUSTER_REPLICATOR_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/messages.h"
#include "cluster/replica.h"
#include "cluster/rights_policy.h"
#include "crdt/status.h"
#include "storage/store.h"

namespace converge {

// The network as the Replicator sees it. The node adapts transport::Transport
// to it; tests use a simulated network. Send may drop (a full queue, a
// partition): anti-entropy repairs whatever is lost.
class PeerNetwork {
 public:
  virtual ~PeerNetwork() = default;
  virtual void Send(ReplicaId peer, uint8_t type, std::string body) = 0;
  virtual std::vector<ReplicaId> ConnectedPeers() const = 0;
  // Asks the transport to dial a peer address learned from gossip.
  virtual void Dial(const std::string& peer_address) = 0;
};

enum class MemberState { kAlive, kSuspect, kDead, kRemoved };
std::string_view MemberStateName(MemberState state);

// A member as this node sees it, for INFO, CLUSTER NODES and /metrics.
struct MemberView {
  MemberRecord record;
  MemberState state = MemberState::kAlive;
  bool connected = false;
  bool self = false;
  uint64_t last_contact_ms = 0;  // physical ms of the last frame from it
  VersionVector vv;              // last known
  uint64_t lag_deltas = 0;       // deltas we have that it (last we knew) lacks
  uint64_t lag_ms = 0;           // how long it has been lacking some of them
  uint64_t bytes_sent = 0;       // replication bodies sent to it
  uint64_t bytes_received = 0;   // replication bodies received from it
};

struct ReplicatorOptions {
  // Anti-entropy period. Default 200 ms.
  uint64_t gossip_interval_ms = 200;
  // Upper bound on one Deltas or Snapshot answer's body. Default 1 MiB.
  size_t max_batch_bytes = size_t{1} << 20;
  // No frame for this long: suspect; then dead. Defaults 3 s and 10 s.
  uint64_t suspect_after_ms = 3'000;
  uint64_t dead_after_ms = 10'000;
  // Keys examined for tombstone purge per Tick. Default 1000.
  size_t purge_keys_per_tick = 1'000;
  // Seed of the random peer choice (0: from the replica id).
  uint64_t seed = 0;
  // Moving surplus reservation rights toward the nodes that spend them.
  RightsPolicyOptions rights_policy;
};

class Replicator {
 public:
  // REQUIRES: the pointers outlive the replicator.
  Replicator(Replica* replica, Store* store, PeerNetwork* network, MemberRecord self,
             ReplicatorOptions options);

  // Pushes a commit's local interval to every connected peer.
  void OnCommitted(const CommitResult& commit);
  // Handles one replication frame from `peer`. Bad bodies are refused with
  // Corruption (the caller logs it; the connection may be closed). May stage
  // remote state into the Replica: the caller commits afterwards.
  Status OnFrame(ReplicaId peer, uint8_t type, std::string_view body);
  // A connection to `peer` is up (from the transport's handshake).
  void OnPeerUp(const MemberRecord& peer);
  void OnPeerDown(ReplicaId peer);

  // Once per gossip interval: digest to a random peer, failure detection,
  // held intervals retried, log trim and a tombstone purge step.
  void Tick();
  // Sends a digest to `peer` now (a session waiting on a range asks at once).
  void PullFrom(ReplicaId peer);
  // Sends a digest to every connected peer now.
  void PullFromAll();

  // Reservation counters: asks the peers that hold rights on `key` (largest
  // first, as this node knows them) to move `units` of them here. Donors
  // answer with a transfer delta; the caller waits for its rights to grow.
  // Returns how many units were asked for (0: no connected holder).
  uint64_t RequestRights(const std::string& key, uint64_t units);
  // The last version vector `peer` reported (acks and digests).
  VersionVector PeerVersionVector(ReplicaId peer) const;
  // A take of `units` on `key` served from this node's rights (for the policy).
  void OnLocalTake(const std::string& key, uint64_t units);
  uint64_t rights_moved_by_policy() const { return rights_moved_by_policy_; }
  std::vector<ReplicaId> ConnectedPeers() const;

  // CLUSTER FORGET: out of stability computations for good.
  Status Forget(ReplicaId member);
  std::vector<MemberView> Members() const;
  std::optional<ReplicaId> FindMember(std::string_view name_or_hex_id) const;

  // The meet of all known members' version vectors (self included).
  VersionVector StableVector() const;
  // No write stamped at or below this can still arrive anywhere.
  Stamp PurgeBound() const;
  uint64_t tombstones_purged() const { return tombstones_purged_; }
  uint64_t rejected_messages() const { return rejected_messages_; }
  uint64_t snapshots_received() const { return snapshots_received_; }

 private:
  struct Peer {
    MemberRecord record;
    bool connected = false;
    uint64_t last_contact_ms = 0;
    VersionVector vv;           // last reported
    uint64_t behind_since_ms = 0;  // first report that lacked something we had; 0 = none
    Timestamp safe_ts;          // its HLC at a report whose own writes are stable
    VersionVector reported_vv;  // the report safe_ts waits on
    Timestamp reported_hlc;
    // Full-state transfer we pull from this peer, if one is running.
    std::optional<std::string> snapshot_resume;
    std::optional<VersionVector> snapshot_vv;
    uint64_t bytes_sent = 0, bytes_received = 0;
    // Send it a digest after the caller's next commit: it told us there is
    // more, or a push showed a gap.
    bool pull_after_commit = false;
    // Send it our committed VV after the next commit: it pushed to us.
    bool ack_after_commit = false;
    // It has deltas we lack (its digest showed them): pull from it after the
    // next commit, unless a pull is outstanding by then.
    bool pull_wanted = false;
    // Physical ms at which our outstanding pull (a digest sent to it) began;
    // 0 when none. An answer ends it unless the chain goes on (`more`); a
    // lost one times out (PullExpiryMs).
    uint64_t pull_started_ms = 0;
    // Digests sent to it that no answer has matched yet, and when the last
    // one left. A round trip is timed only from an answer that can belong to
    // no other digest (one unanswered): an answer to an earlier digest timed
    // from a later one looks quicker than the link is.
    uint32_t digests_unanswered = 0;
    uint64_t last_digest_ms = 0;
  };

  void Send(Peer& peer, ClusterMessage type, std::string body);
  DigestMessage MakeDigest(const Peer& to) const;
  void SendDigest(Peer& peer);
  // A digest that starts a pull from `peer`, unless a pull is already
  // outstanding (one chain of answers per node at a time: overlapping chains
  // send the same deltas twice).
  void StartPull(Peer& peer);
  // Whether a pull to a connected peer other than `except` awaits its answer.
  bool PullOutstanding(ReplicaId except = 0) const;
  // How long an unanswered pull counts as outstanding: two gossip intervals,
  // or four recent round trips when answers come slower than that (a node
  // busy applying a large answer must not be sent a second chain).
  uint64_t PullExpiryMs() const;
  // How old an unanswered pull to a peer is when a later frame from that
  // peer shows it was lost: two recent round trips, at least a gossip interval.
  uint64_t LostAfterMs() const;
  // An answer from `peer` to its outstanding pull arrived.
  void OnPullAnswered(Peer& peer);
  Status HandlePush(Peer& peer, std::string_view body);
  Status HandleDigest(Peer& peer, std::string_view body);
  Status HandleDeltas(Peer& peer, std::string_view body);
  Status HandleSnapshot(Peer& peer, std::string_view body);
  Status HandleRights(Peer& peer, std::string_view body);
  Status HandleAck(Peer& peer, std::string_view body);
  Status AnswerWithSnapshot(Peer& peer, const std::string& from_key);
  void MergeMembers(const std::vector<MemberRecord>& members);
  void UpdateSafeTimestamps();
  Peer& PeerFor(ReplicaId id);
  uint64_t NowMs() const;

  Replica* replica_;
  Store* store_;
  PeerNetwork* network_;
  MemberRecord self_;
  ReplicatorOptions options_;
  std::mt19937_64 rng_;
  std::map<ReplicaId, Peer> peers_;
  Timestamp self_safe_ts_;
  // Round trip of pulls (digest sent to answer received), in ms: the recent
  // slowest, decaying.
  uint64_t pull_rtt_ms_ = 0;
  uint64_t tombstones_purged_ = 0;
  uint64_t rejected_messages_ = 0;
  uint64_t snapshots_received_ = 0;
  RightsPolicy rights_policy_;
  uint64_t rights_moved_by_policy_ = 0;
};

}  // namespace converge

#endif  // CONVERGE_CLUSTER_REPLICATOR_H_
