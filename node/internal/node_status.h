// NodeStatus: a copy of what /metrics, /status.json and the status page show,
// and the renderers that turn it into Prometheus text and JSON.
//
// The node fills it in three parts, each where it is safe to read:
//   * on the apply strand: members, version vectors, log, keys, holds and the
//     counters the strand owns (the same sources INFO reads);
//   * from the transport (safe from any thread): per-peer link stats;
//   * from a store snapshot, on the caller's thread: a scan of the objects
//     for the reservation counters and the tombstones waiting to be purged.
// Rendering then runs on the HTTP thread from the copy, so a scrape holds
// the apply strand only for the copy.
//
// Thread-compatible.
#ifndef CONVERGE_NODE_INTERNAL_NODE_STATUS_H_
#define CONVERGE_NODE_INTERNAL_NODE_STATUS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "cluster/replicator.h"
#include "crdt/version_vector.h"
#include "node/internal/metrics.h"
#include "storage/store.h"
#include "transport/transport.h"

namespace converge {

// One reservation counter: its value and every member's rights, as this
// node knows them.
struct RcStatus {
  std::string key;
  int64_t value = 0;
  std::map<ReplicaId, int64_t> rights;  // per member (self included)
};

// What a scan of the committed objects found.
struct StateScan {
  uint64_t objects = 0;     // objects examined (live or not)
  uint64_t tombstones = 0;  // field/key tombstones not yet purged
  std::vector<RcStatus> rcounters;  // the first kMaxRcounters, in key order
  bool rcounters_truncated = false;
  uint64_t scanned_at_ms = 0;
  bool ok = false;  // false: the snapshot could not be read (store error)

  static constexpr size_t kMaxRcounters = 100;
};

// Scans a snapshot of the store's objects. `members` are the ids rights are
// reported for. Safe from any thread (Store is); cost: one pass over every
// object, so callers cache it (see HttpServer).
StateScan ScanState(const Store& store, const std::vector<ReplicaId>& members, uint64_t now_ms);

struct NodeStatus {
  // Apply strand.
  ReplicaId id = 0;
  std::string name;
  std::string version;
  std::string fsync;
  uint64_t now_ms = 0;
  uint64_t uptime_s = 0;
  std::vector<MemberView> members;  // self included (self == true)
  VersionVector vv;                 // committed
  VersionVector stable_vv;
  VersionVector log_floor;
  uint64_t log_bytes = 0;
  // Stored objects or merge operands that failed to decode in a merge
  // (storage/internal/object_merge.h): damage on disk, worked around.
  uint64_t damaged_merge_inputs = 0;
  uint64_t keys = 0;
  uint64_t holds = 0;
  uint64_t holds_expired = 0;
  uint64_t held_intervals = 0;
  std::map<ReplicaId, uint64_t> clock_ahead_ms;  // origins held for the clock bound
  int64_t injected_clock_offset_ms = 0;           // DEBUG CLOCK-OFFSET
  uint64_t tombstones_purged = 0;
  uint64_t rejected_messages = 0;
  uint64_t snapshots_received = 0;
  uint64_t commits = 0;
  uint64_t failed_commits = 0;
  uint64_t commands_processed = 0;
  uint64_t rights_moved_by_policy = 0;
  uint64_t connected_clients = 0;
  // Any thread: the hot-path instruments, read at collection time.
  const OperationCounters* operations = nullptr;  // REQUIRES: outlives the status
  LatencyHistogram::Counts apply_latency;
  LatencyHistogram::Counts commit_latency;
  // Transport.
  std::map<ReplicaId, transport::PeerStats> links;
  uint64_t rejected_connections = 0;
  // Store snapshot scan (possibly cached, see scan.scanned_at_ms).
  StateScan scan;

  // A member's name, or its hex id when it has none.
  std::string NameOf(ReplicaId id) const;
};

// Prometheus text format 0.0.4; every family prefixed converge_.
std::string RenderMetrics(const NodeStatus& status);
// The document /status.json serves and the status page polls.
std::string RenderStatusJson(const NodeStatus& status);

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_NODE_STATUS_H_
