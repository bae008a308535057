#include "cluster/replicator.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "crdt/codec.h"

namespace converge {

std::string_view MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kAlive: return "alive";
    case MemberState::kSuspect: return "suspect";
    case MemberState::kDead: return "dead";
    case MemberState::kRemoved: return "removed";
  }
  return "unknown";
}

Replicator::Replicator(Replica* replica, Store* store, PeerNetwork* network, MemberRecord self,
                       ReplicatorOptions options)
    : replica_(replica),
      store_(store),
      network_(network),
      self_(std::move(self)),
      options_(options),
      rng_(options.seed != 0 ? options.seed : replica->id()),
      rights_policy_(options.rights_policy) {
  // Ids this node wrote under before (Store, on the replica id): members
  // removed for good, so that they leave stability computations everywhere.
  // Their deltas stay, and anti-entropy still spreads them.
  for (ReplicaId retired : store_->retired_replica_ids()) {
    Peer& p = PeerFor(retired);
    p.record.name = self_.name;
    p.record.removed = true;
  }
}

uint64_t Replicator::NowMs() const { return replica_->physical_clock().NowMillis(); }

Replicator::Peer& Replicator::PeerFor(ReplicaId id) {
  Peer& p = peers_[id];
  p.record.id = id;
  return p;
}

void Replicator::Send(Peer& peer, ClusterMessage type, std::string body) {
  peer.bytes_sent += body.size();
  network_->Send(peer.record.id, static_cast<uint8_t>(type), std::move(body));
}

DigestMessage Replicator::MakeDigest(const Peer& to) const {
  DigestMessage d;
  d.vv = replica_->committed_version_vector();
  d.hlc = replica_->clock().Last();
  d.members.push_back(self_);
  for (const auto& [id, p] : peers_) {
    if (!p.record.peer_address.empty() || p.record.removed) d.members.push_back(p.record);
  }
  d.snapshot_resume = to.snapshot_resume;
  return d;
}

void Replicator::SendDigest(Peer& peer) {
  const uint64_t now = NowMs();
  // Unanswered for longer than a pull counts as outstanding: lost, not slow.
  if (now - peer.last_digest_ms >= PullExpiryMs()) peer.digests_unanswered = 0;
  ++peer.digests_unanswered;
  peer.last_digest_ms = now;
  peer.pull_started_ms = now;
  Send(peer, ClusterMessage::kDigest, Encode(MakeDigest(peer)));
}

uint64_t Replicator::PullExpiryMs() const {
  // An answer lost on the way must not stop pulling for long; a slow one
  // must not start a second chain. Ten seconds at most, whatever the RTT.
  const uint64_t expiry = std::max(2 * options_.gossip_interval_ms, 4 * pull_rtt_ms_);
  return std::min<uint64_t>(expiry, 10'000);
}

uint64_t Replicator::LostAfterMs() const {
  // At least a gossip interval: under steady load a peer's digest arrives
  // while its pushes are in flight, and each pull-back it starts is answered
  // with deltas those pushes bring anyway.
  return std::max<uint64_t>(2 * pull_rtt_ms_, options_.gossip_interval_ms);
}

bool Replicator::PullOutstanding(ReplicaId except) const {
  const uint64_t expiry = PullExpiryMs();
  const uint64_t now = NowMs();
  for (const auto& [id, p] : peers_) {
    if (id == except) continue;
    if (p.pull_started_ms != 0 && p.connected && now - p.pull_started_ms < expiry) return true;
  }
  return false;
}

void Replicator::OnPullAnswered(Peer& peer) {
  const bool alone = peer.digests_unanswered == 1;
  if (peer.digests_unanswered > 0) --peer.digests_unanswered;
  // With two digests unanswered the answer may be to the earlier one, and
  // timing it from the later would shorten the expiry that keeps a second
  // chain from starting, and take a slow pull for a lost one (HandleDigest).
  if (!alone) return;
  const uint64_t now = NowMs();
  const uint64_t rtt = now > peer.last_digest_ms ? now - peer.last_digest_ms : 0;
  // Up at once, down by an eighth per answer: one quick answer on a link
  // whose round trips vary does not halve the expiry.
  pull_rtt_ms_ = std::max(rtt, pull_rtt_ms_ - pull_rtt_ms_ / 8);
}

void Replicator::StartPull(Peer& peer) {
  if (!PullOutstanding()) SendDigest(peer);
}

void Replicator::PullFrom(ReplicaId peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end() && it->second.connected) SendDigest(it->second);
}

void Replicator::PullFromAll() {
  // Asks every peer at once (HandleDeltas lets one chain go on: the first
  // answer with news, from a peer no other chain runs to), also one whose
  // pull is outstanding but may have been lost (DEBUG HEAL: sent into the
  // partition); not one asked a moment ago (say, as its connection came up).
  const uint64_t now = NowMs();
  for (auto& [id, p] : peers_) {
    if (!p.connected || p.record.removed) continue;
    if (p.pull_started_ms != 0 && now - p.pull_started_ms <= LostAfterMs()) continue;
    SendDigest(p);
  }
}

void Replicator::OnCommitted(const CommitResult& commit) {
  const bool anyone = std::any_of(peers_.begin(), peers_.end(), [](const auto& entry) {
    return entry.second.connected && !entry.second.record.removed;
  });
  if (commit.local && anyone) {  // a node on its own encodes nothing
    PushMessage push;
    push.intervals.push_back(*commit.local);
    const std::string body = Encode(push);
    for (auto& [id, p] : peers_) {
      if (p.connected && !p.record.removed) Send(p, ClusterMessage::kPush, body);
    }
  }
  // Digests go out after the commit, so that they report what was just
  // applied: one sent before would ask for the same deltas again.
  for (auto& [id, p] : peers_) {
    if (p.pull_after_commit) {  // a chain going on
      p.pull_after_commit = false;
      p.pull_wanted = false;
      if (p.connected) {
        SendDigest(p);
      } else {
        p.pull_started_ms = 0;
      }
    }
  }
  for (auto& [id, p] : peers_) {
    if (p.pull_wanted) {
      p.pull_wanted = false;
      if (p.connected && !p.record.removed) StartPull(p);
    }
    if (p.ack_after_commit) {
      p.ack_after_commit = false;
      if (p.connected) {
        Send(p, ClusterMessage::kAck, Encode(AckMessage{replica_->committed_version_vector()}));
      }
    }
  }
}

void Replicator::OnPeerUp(const MemberRecord& record) {
  Peer& p = PeerFor(record.id);
  if (!record.name.empty()) p.record.name = record.name;
  if (!record.client_address.empty()) p.record.client_address = record.client_address;
  if (!record.peer_address.empty()) p.record.peer_address = record.peer_address;
  p.connected = true;
  p.last_contact_ms = NowMs();
  if (!p.record.removed) StartPull(p);  // catch up at once rather than on the next tick
}

void Replicator::OnPeerDown(ReplicaId id) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  it->second.connected = false;
  it->second.digests_unanswered = 0;  // their answers went with the connection
}

Status Replicator::OnFrame(ReplicaId from, uint8_t type, std::string_view body) {
  Peer& peer = PeerFor(from);
  peer.last_contact_ms = NowMs();
  peer.bytes_received += body.size();
  if (peer.record.removed) return Status::Ok();  // forgotten: its messages are ignored
  Status st;
  switch (static_cast<ClusterMessage>(type)) {
    case ClusterMessage::kPush: st = HandlePush(peer, body); break;
    case ClusterMessage::kDigest: st = HandleDigest(peer, body); break;
    case ClusterMessage::kDeltas: st = HandleDeltas(peer, body); break;
    case ClusterMessage::kSnapshot: st = HandleSnapshot(peer, body); break;
    case ClusterMessage::kRights: st = HandleRights(peer, body); break;
    case ClusterMessage::kAck: st = HandleAck(peer, body); break;
    default:
      st = InvalidArgumentError("unknown replication message type " + std::to_string(type));
  }
  if (!st.ok()) ++rejected_messages_;
  return st;
}

Status Replicator::HandlePush(Peer& peer, std::string_view body) {
  StatusOr<PushMessage> push = Decode<PushMessage>(body);
  if (!push.ok()) return push.status();
  peer.ack_after_commit = true;
  for (auto& interval : push->intervals) {
    if (replica_->ApplyRemote(std::move(interval)) == Replica::RemoteResult::kHeldForGap) {
      peer.pull_after_commit = true;  // something before it was lost: ask now
    }
  }
  return Status::Ok();
}

Status Replicator::HandleDigest(Peer& peer, std::string_view body) {
  StatusOr<DigestMessage> digest = Decode<DigestMessage>(body);
  if (!digest.ok()) return digest.status();
  peer.vv = digest->vv;
  peer.reported_vv = digest->vv;
  if (digest->vv.Dominates(replica_->committed_version_vector())) {
    peer.behind_since_ms = 0;
  } else if (peer.behind_since_ms == 0) {
    peer.behind_since_ms = NowMs();
  }
  peer.reported_hlc = digest->hlc;
  MergeMembers(digest->members);
  if (digest->snapshot_resume) return AnswerWithSnapshot(peer, *digest->snapshot_resume);

  const VersionVector& mine = replica_->committed_version_vector();
  const VersionVector floor = store_->log_floor();
  const VersionVector& theirs = digest->vv;
  for (const auto& [origin, seq] : mine.entries()) {
    // They need (theirs + 1 ..] and part of that range was trimmed here.
    if (seq > theirs.Get(origin) && theirs.Get(origin) < floor.Get(origin)) {
      return AnswerWithSnapshot(peer, "");
    }
  }

  DeltasMessage answer;
  size_t bytes = 0;
  for (const auto& [origin, seq] : mine.entries()) {
    const uint64_t from = theirs.Get(origin) + 1;
    if (seq < from) continue;
    if (bytes >= options_.max_batch_bytes) {
      answer.more = true;
      break;
    }
    uint64_t entry_bytes = 0;
    StatusOr<std::vector<DeltaInterval>> entries =
        store_->ReadLog(origin, from, seq, options_.max_batch_bytes - bytes, &entry_bytes);
    if (!entries.ok()) {
      if (entries.status().code() == StatusCode::kFailedPrecondition) {
        return AnswerWithSnapshot(peer, "");  // trimmed since we read the floor
      }
      return entries.status();
    }
    if (entries->empty()) continue;
    // Join this origin's entries into one interval while they are contiguous.
    DeltaInterval joined = std::move(entries->front());
    for (size_t i = 1; i < entries->size(); ++i) {
      if (!joined.Append(std::move((*entries)[i])).ok()) break;  // a hole: the rest next time
    }
    if (joined.first() > from) continue;  // the log lacks `from`: never send a gap
    if (joined.last() < seq) answer.more = true;
    // The entries' own encodings bound the joined one's (joining shares keys)
    // without encoding it a second time.
    bytes += entry_bytes;
    answer.intervals.push_back(std::move(joined));
  }
  // Answered even when empty: the answer ends the asker's pull.
  Send(peer, ClusterMessage::kDeltas, Encode(answer));
  // The asker has deltas we lack: pull them back after the commit rather
  // than when a tick happens to pick this peer, unless a chain is running.
  if (!mine.Dominates(theirs)) {
    peer.pull_wanted = true;
    // Our pull to it, if older than LostAfterMs (two round trips, at least a
    // gossip interval), would have been answered before this digest left it
    // (one connection keeps order): it was lost (say, sent into a partition
    // that has just healed on our side only), and does not hold this one back.
    if (peer.pull_started_ms != 0 && NowMs() - peer.pull_started_ms > LostAfterMs()) {
      peer.pull_started_ms = 0;
    }
  }
  return Status::Ok();
}

Status Replicator::AnswerWithSnapshot(Peer& peer, const std::string& from_key) {
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store_->SnapshotObjects();
  if (!snap.ok()) return snap.status();
  ObjectSnapshot& it = **snap;
  SnapshotMessage msg;
  msg.vv = it.version_vector();
  size_t bytes = 0;
  for (it.Seek(from_key); it.Valid(); it.Next()) {
    if (bytes >= options_.max_batch_bytes) break;
    StatusOr<Object> object = it.object();
    if (!object.ok()) return object.status();
    bytes += it.key().size() + Encode(*object).size();
    msg.objects.emplace_back(std::string(it.key()), std::move(*object));
  }
  if (!it.status().ok()) return it.status();
  msg.last = !it.Valid();
  if (!msg.last) msg.next_key = std::string(it.key());
  Send(peer, ClusterMessage::kSnapshot, Encode(msg));
  return Status::Ok();
}

Status Replicator::HandleDeltas(Peer& peer, std::string_view body) {
  StatusOr<DeltasMessage> msg = Decode<DeltasMessage>(body);
  if (!msg.ok()) return msg.status();
  bool news = false;
  for (auto& interval : msg->intervals) {
    news |= replica_->ApplyRemote(std::move(interval)) != Replica::RemoteResult::kDuplicate;
  }
  OnPullAnswered(peer);
  // The chain goes on after the commit, still outstanding meanwhile, unless
  // another peer's chain runs (PullFromAll asks all; one chain is enough) or
  // the answer brought nothing new: it answered a digest sent twice, and the
  // chain the other answer continues is enough.
  if (msg->more && news && peer.pull_started_ms != 0 && !PullOutstanding(peer.record.id)) {
    peer.pull_after_commit = true;
  } else {
    peer.pull_started_ms = 0;
    if (msg->more) peer.pull_wanted = true;  // taken up if that other chain ends
  }
  return Status::Ok();
}

Status Replicator::HandleSnapshot(Peer& peer, std::string_view body) {
  StatusOr<SnapshotMessage> msg = Decode<SnapshotMessage>(body);
  if (!msg.ok()) return msg.status();
  CONVERGE_RETURN_IF_ERROR(replica_->JoinSnapshotChunk(msg->objects));
  OnPullAnswered(peer);
  peer.snapshot_vv = peer.snapshot_vv ? VersionVector::Meet(*peer.snapshot_vv, msg->vv) : msg->vv;
  if (msg->last) {
    replica_->FinishSnapshot(*peer.snapshot_vv);
    peer.snapshot_vv.reset();
    peer.snapshot_resume.reset();
    ++snapshots_received_;
  } else {
    peer.snapshot_resume = msg->next_key;
  }
  peer.pull_after_commit = true;
  return Status::Ok();
}

Status Replicator::HandleRights(Peer& peer, std::string_view body) {
  StatusOr<RightsMessage> msg = Decode<RightsMessage>(body);
  if (!msg.ok()) return msg.status();
  rights_policy_.OnRequest(msg->key, peer.record.id, msg->units, NowMs());
  StatusOr<const Object*> object = replica_->Read(msg->key);
  if (!object.ok()) return object.status();
  const ReservationCounter* rc = (*object)->As<ReservationCounter>();
  if (rc == nullptr) return Status::Ok();  // nothing to give
  const int64_t have = rc->Rights(replica_->id());
  if (have <= 0) return Status::Ok();
  const uint64_t give = std::min<uint64_t>(msg->units, static_cast<uint64_t>(have));
  const ReplicaId to = peer.record.id;
  // An ordinary delta of this node's own row: it replicates like any write.
  return replica_->Mutate(msg->key, [&](Object& o, Stamp now) { return o.RcTransfer(now, to, give); });
}

Status Replicator::HandleAck(Peer& peer, std::string_view body) {
  StatusOr<AckMessage> msg = Decode<AckMessage>(body);
  if (!msg.ok()) return msg.status();
  peer.vv.Join(msg->vv);
  return Status::Ok();
}

uint64_t Replicator::RequestRights(const std::string& key, uint64_t units) {
  StatusOr<const Object*> object = replica_->Read(key);
  if (!object.ok()) return 0;
  const ReservationCounter* rc = (*object)->As<ReservationCounter>();
  if (rc == nullptr) return 0;
  uint64_t asked = 0;
  for (const auto& [holder, rights] : rc->Holders()) {  // largest first
    if (asked >= units) break;
    if (holder == replica_->id()) continue;
    auto it = peers_.find(holder);
    if (it == peers_.end() || !it->second.connected || it->second.record.removed) continue;
    const uint64_t ask = std::min(rights, units - asked);
    Send(it->second, ClusterMessage::kRights, Encode(RightsMessage{key, ask}));
    asked += ask;
  }
  return asked;
}

VersionVector Replicator::PeerVersionVector(ReplicaId peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? VersionVector() : it->second.vv;
}

std::vector<ReplicaId> Replicator::ConnectedPeers() const {
  std::vector<ReplicaId> out;
  for (const auto& [id, p] : peers_) {
    if (p.connected && !p.record.removed) out.push_back(id);
  }
  return out;
}

void Replicator::MergeMembers(const std::vector<MemberRecord>& members) {
  for (const MemberRecord& m : members) {
    if (m.id == self_.id) continue;
    const bool known = peers_.count(m.id) != 0;
    Peer& p = PeerFor(m.id);
    if (!m.name.empty()) p.record.name = m.name;
    if (!m.client_address.empty()) p.record.client_address = m.client_address;
    if (!m.peer_address.empty()) p.record.peer_address = m.peer_address;
    p.record.removed = p.record.removed || m.removed;  // removal is for good
    if (!known && !p.record.removed && !p.record.peer_address.empty()) {
      network_->Dial(p.record.peer_address);
    }
  }
}

VersionVector Replicator::StableVector() const {
  VersionVector stable = replica_->committed_version_vector();
  for (const auto& [id, p] : peers_) {
    if (!p.record.removed) stable = VersionVector::Meet(stable, p.vv);
  }
  return stable;
}

void Replicator::UpdateSafeTimestamps() {
  const VersionVector stable = StableVector();
  for (auto& [id, p] : peers_) {
    if (p.record.removed || p.reported_hlc.IsZero()) continue;
    if (stable.Get(id) >= p.reported_vv.Get(id)) p.safe_ts = std::max(p.safe_ts, p.reported_hlc);
  }
  const ReplicaId self = replica_->id();
  if (stable.Get(self) >= replica_->committed_version_vector().Get(self)) {
    self_safe_ts_ = std::max(self_safe_ts_, replica_->clock().Last());
  }
}

Stamp Replicator::PurgeBound() const {
  // Every origin that may still have deltas in flight bounds it: an unstable
  // delta of origin o is stamped above o's safe timestamp. An origin we know
  // only from a version vector (not as a member) blocks purging altogether.
  Timestamp bound = self_safe_ts_;
  for (const auto& [id, p] : peers_) {
    if (!p.record.removed) bound = std::min(bound, p.safe_ts);
  }
  for (const auto& [origin, seq] : replica_->committed_version_vector().entries()) {
    if (origin == replica_->id()) continue;
    auto it = peers_.find(origin);
    if (it == peers_.end()) return Stamp();
  }
  return Stamp{bound, 0};
}

void Replicator::OnLocalTake(const std::string& key, uint64_t units) {
  rights_policy_.OnLocalTake(key, units, NowMs());
}

void Replicator::Tick() {
  UpdateSafeTimestamps();
  const VersionVector stable = StableVector();
  store_->TrimLog(stable).IgnoreError();  // a failed trim is retried next tick
  const Stamp bound = PurgeBound();
  if (!bound.IsZero()) {
    StatusOr<size_t> purged = replica_->PurgeStep(bound, options_.purge_keys_per_tick);
    if (purged.ok()) tombstones_purged_ += *purged;
  }
  replica_->RetryHeld();
  // After PurgeStep, which commits what is staged itself: these transfers
  // are staged for the caller's commit, so they are pushed at once.
  // Surplus rights toward the peers that have been asking for them.
  const ReplicaId self = replica_->id();
  for (const RightsPolicy::Move& m : rights_policy_.Decide(NowMs(), [&](const std::string& key) {
         StatusOr<const Object*> o = replica_->Read(key);
         if (!o.ok() || (*o)->As<ReservationCounter>() == nullptr) return int64_t{0};
         return (*o)->As<ReservationCounter>()->Rights(self);
       })) {
    auto peer = peers_.find(m.to);
    if (peer == peers_.end() || !peer->second.connected || peer->second.record.removed) continue;
    Status st = replica_->Mutate(m.key, [&](Object& o, Stamp now) { return o.RcTransfer(now, m.to, m.units); });
    if (st.ok()) rights_moved_by_policy_ += m.units;
  }

  std::vector<Peer*> connected;
  for (auto& [id, p] : peers_) {
    if (p.connected && !p.record.removed) connected.push_back(&p);
  }
  if (!connected.empty()) StartPull(*connected[rng_() % connected.size()]);
}

Status Replicator::Forget(ReplicaId member) {
  auto it = peers_.find(member);
  if (it == peers_.end()) return NotFoundError("no such member");
  it->second.record.removed = true;
  return Status::Ok();
}

std::vector<MemberView> Replicator::Members() const {
  std::vector<MemberView> out;
  MemberView me;
  me.record = self_;
  me.self = true;
  me.connected = true;
  me.last_contact_ms = NowMs();
  me.vv = replica_->committed_version_vector();
  out.push_back(me);
  const uint64_t now = NowMs();
  for (const auto& [id, p] : peers_) {
    MemberView v;
    v.record = p.record;
    v.connected = p.connected;
    v.last_contact_ms = p.last_contact_ms;
    v.vv = p.vv;
    v.lag_deltas = replica_->committed_version_vector().CountAhead(p.vv);
    v.lag_ms = p.behind_since_ms != 0 && now > p.behind_since_ms ? now - p.behind_since_ms : 0;
    v.bytes_sent = p.bytes_sent;
    v.bytes_received = p.bytes_received;
    const uint64_t silent = now > p.last_contact_ms ? now - p.last_contact_ms : 0;
    if (p.record.removed) {
      v.state = MemberState::kRemoved;
    } else if (p.connected) {
      v.state = MemberState::kAlive;
    } else if (silent < options_.dead_after_ms) {
      v.state = MemberState::kSuspect;
    } else {
      v.state = MemberState::kDead;
    }
    out.push_back(v);
  }
  return out;
}

std::optional<ReplicaId> Replicator::FindMember(std::string_view name_or_id) const {
  // A node that changed its replica id leaves a removed member under its old
  // id with the same name: by name, the one not removed wins.
  std::optional<ReplicaId> removed;
  for (const auto& [id, p] : peers_) {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016" PRIx64, id);
    if (hex == name_or_id || std::to_string(id) == name_or_id) return id;
    if (p.record.name != name_or_id) continue;
    if (!p.record.removed) return id;
    removed = id;
  }
  return removed;
}

}  // namespace converge
