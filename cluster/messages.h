// Messages of the replication protocol, carried in transport frames (the
// frame header is transport/frame.h; these are the bodies, in the canonical
// encoding of crdt/codec.h, so a peer's bytes are decoded as strictly as the
// disk's).
//
//   type 32 kPush      PushMessage     a commit's local deltas, sent at once
//   type 33 kDigest    DigestMessage   "here is what I have": VV, HLC, members;
//                                      asks the receiver for what is missing
//   type 34 kDeltas    DeltasMessage   intervals the asker lacks, joined by key,
//                                      at most max_batch_bytes; more = true asks
//                                      the asker to pull again at once
//   type 35 kSnapshot  SnapshotMessage a chunk of the full state, from
//                                      resume_key on; vv of the snapshot read
//   type 36 kRights    RightsMessage   "move me up to `units` rights of `key`":
//                                      the donor answers with an ordinary
//                                      delta of its own row (RcTransfer)
//   type 37 kAck       AckMessage      the sender's committed VV after it
//                                      applied a push (WAIT counts on it)
#ifndef CONVERGE_CLUSTER_MESSAGES_H_
#define CONVERGE_CLUSTER_MESSAGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crdt/delta.h"
#include "crdt/object.h"
#include "crdt/timestamp.h"
#include "crdt/version_vector.h"

namespace converge {

// True when every element of `items` (or every .second, for pairs) is well formed.
template <class Range>
bool AllWellFormed(const Range& items) {
  for (const auto& item : items) {
    if constexpr (requires { item.second.WellFormed(); }) {
      if (!item.second.WellFormed()) return false;
    } else {
      if (!item.WellFormed()) return false;
    }
  }
  return true;
}

enum class ClusterMessage : uint8_t {
  kPush = 32,
  kDigest = 33,
  kDeltas = 34,
  kSnapshot = 35,
  kRights = 36,
  kAck = 37,
};

// A member as gossiped: who it is and where to reach it.
struct MemberRecord {
  ReplicaId id = 0;
  std::string name;
  std::string client_address;
  std::string peer_address;
  bool removed = false;  // CLUSTER FORGET: out of stability, never re-added

  bool WellFormed() const { return id != 0; }
  bool operator==(const MemberRecord&) const = default;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(id, name, client_address, peer_address, removed);
  }
};

struct PushMessage {
  std::vector<DeltaInterval> intervals;

  bool WellFormed() const { return AllWellFormed(intervals); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(intervals);
  }
};

struct DigestMessage {
  VersionVector vv;  // committed state of the sender
  Timestamp hlc;     // the sender's clock when vv was read
  std::vector<MemberRecord> members;
  // Set while the sender is pulling a full-state transfer from the receiver:
  // the key to resume after ("" = from the start).
  std::optional<std::string> snapshot_resume;

  bool WellFormed() const { return AllWellFormed(members) && vv.WellFormed(); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv, hlc, members, snapshot_resume);
  }
};

struct DeltasMessage {
  std::vector<DeltaInterval> intervals;
  bool more = false;

  bool WellFormed() const { return AllWellFormed(intervals); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(intervals, more);
  }
};

struct SnapshotMessage {
  VersionVector vv;  // of the snapshot these objects were read from
  std::vector<std::pair<std::string, Object>> objects;
  std::string next_key;  // resume after this key; "" with last = true
  bool last = false;

  bool WellFormed() const { return AllWellFormed(objects) && vv.WellFormed(); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv, objects, next_key, last);
  }
};

struct RightsMessage {
  std::string key;
  uint64_t units = 0;

  bool WellFormed() const { return units > 0; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(key, units);
  }
};

struct AckMessage {
  VersionVector vv;

  bool WellFormed() const { return vv.WellFormed(); }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(vv);
  }
};

}  // namespace converge

#endif  // CONVERGE_CLUSTER_MESSAGES_H_
