#include "node/internal/node_status.h"

#include <cinttypes>
#include <cstdio>

#include "crdt/object.h"
#include "crdt/reservation_counter.h"

namespace converge {
namespace {

std::string Hex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, id);
  return buf;
}

// ---- JSON -----------------------------------------------------------------

void JsonString(std::string* out, std::string_view s) {
  *out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20 || c == '<' || c == '>' || c == '&') {
          // Control characters must be escaped; <, > and & too, so a key
          // name can never close a <script> element it is embedded in.
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          *out += buf;
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
  *out += '"';
}

// Appends `"key":` after a comma when the object already has members.
class JsonObject {
 public:
  explicit JsonObject(std::string* out) : out_(out) { *out_ += '{'; }
  void Key(std::string_view k) {
    if (!first_) *out_ += ',';
    first_ = false;
    JsonString(out_, k);
    *out_ += ':';
  }
  void Field(std::string_view k, std::string_view v) {
    Key(k);
    JsonString(out_, v);
  }
  void Field(std::string_view k, const char* v) { Field(k, std::string_view(v)); }
  void Field(std::string_view k, const std::string& v) { Field(k, std::string_view(v)); }
  void Field(std::string_view k, uint64_t v) {
    Key(k);
    *out_ += std::to_string(v);
  }
  void Field(std::string_view k, int64_t v) {
    Key(k);
    *out_ += std::to_string(v);
  }
  void Field(std::string_view k, bool v) {
    Key(k);
    *out_ += v ? "true" : "false";
  }
  void Close() { *out_ += '}'; }

 private:
  std::string* out_;
  bool first_ = true;
};

// A version vector as {"<origin name>": seq, ...}.
void JsonVector(std::string* out, const NodeStatus& s, const VersionVector& vv) {
  JsonObject o(out);
  for (const auto& [origin, seq] : vv.entries()) o.Field(s.NameOf(origin), seq);
  o.Close();
}

}  // namespace

std::string NodeStatus::NameOf(ReplicaId member) const {
  for (const MemberView& m : members) {
    if (m.record.id == member && !m.record.name.empty()) return m.record.name;
  }
  return Hex(member);
}

StateScan ScanState(const Store& store, const std::vector<ReplicaId>& members, uint64_t now_ms) {
  StateScan scan;
  scan.scanned_at_ms = now_ms;
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = store.SnapshotObjects();
  if (!snap.ok()) return scan;
  ObjectSnapshot& it = **snap;
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    ++scan.objects;
    StatusOr<Object> o = it.object();
    if (!o.ok()) continue;  // a damaged value: INFO and reads report it
    scan.tombstones += o->Tombstones();
    const ReservationCounter* rc = o->As<ReservationCounter>();
    if (rc == nullptr) continue;
    if (scan.rcounters.size() >= StateScan::kMaxRcounters) {
      scan.rcounters_truncated = true;
      continue;
    }
    RcStatus r;
    r.key = std::string(it.key());
    r.value = rc->Value();
    for (ReplicaId m : members) r.rights[m] = rc->Rights(m);
    scan.rcounters.push_back(std::move(r));
  }
  scan.ok = it.status().ok();
  return scan;
}

std::string RenderMetrics(const NodeStatus& s) {
  PrometheusText p;
  using L = PrometheusText::Labels;
  const std::string self = s.name;

  p.Family("converge_node_info", "gauge", "This node: name, replica id, version (always 1).");
  p.Sample("converge_node_info", L{{"node", self}, {"id", Hex(s.id)}, {"version", s.version},
                                   {"fsync", s.fsync}},
           1);
  p.Single("converge_uptime_seconds", "gauge", "Seconds since the node started.",
           static_cast<double>(s.uptime_s));
  p.Single("converge_connected_clients", "gauge", "Open client (RESP) connections.",
           static_cast<double>(s.connected_clients));

  // Operations and latencies.
  p.Family("converge_operations_total", "counter",
           "Client commands executed, by command and result (ok or the error class).");
  if (s.operations != nullptr) {
    const auto& names = s.operations->commands();
    for (size_t i = 0; i < names.size(); ++i) {
      for (size_t r = 0; r < kOpResults; ++r) {
        const uint64_t n = s.operations->Read(i, static_cast<OpResult>(r));
        if (n == 0) continue;  // 45 commands x 7 results: only what happened
        p.Sample("converge_operations_total",
                 L{{"command", names[i]}, {"result", std::string(OpResultName(static_cast<OpResult>(r)))}},
                 static_cast<double>(n));
      }
    }
  }
  p.Family("converge_apply_latency_seconds", "histogram",
           "Time a command ran on the apply strand (execution, before its commit).");
  p.Histogram("converge_apply_latency_seconds", {}, s.apply_latency);
  p.Family("converge_commit_latency_seconds", "histogram",
           "Time a group commit took: one RocksDB batch, with its fsync in fsync always/batch.");
  p.Histogram("converge_commit_latency_seconds", {}, s.commit_latency);
  p.Single("converge_commits_total", "counter", "Group commits with writes in them (one RocksDB batch each).",
           static_cast<double>(s.commits));
  p.Single("converge_commit_failures_total", "counter",
           "Group commits that failed (their writes were answered with the error).",
           static_cast<double>(s.failed_commits));

  // Replication.
  p.Family("converge_version_vector", "gauge",
           "Committed version vector: per origin, the highest contiguous delta seq applied here.");
  for (const auto& [origin, seq] : s.vv.entries()) {
    p.Sample("converge_version_vector", L{{"origin", s.NameOf(origin)}, {"origin_id", Hex(origin)}},
             static_cast<double>(seq));
  }
  p.Family("converge_stable_version_vector", "gauge",
           "Causally stable vector (every member has these deltas); the log is trimmed below it.");
  for (const auto& [origin, seq] : s.stable_vv.entries()) {
    p.Sample("converge_stable_version_vector",
             L{{"origin", s.NameOf(origin)}, {"origin_id", Hex(origin)}}, static_cast<double>(seq));
  }
  p.Family("converge_peer_state", "gauge",
           "Each peer's membership state as this node sees it (1 for the current state).");
  static constexpr const char* kStates[] = {"alive", "suspect", "dead", "removed"};
  for (const MemberView& m : s.members) {
    if (m.self) continue;
    for (const char* state : kStates) {
      p.Sample("converge_peer_state", L{{"peer", s.NameOf(m.record.id)}, {"state", state}},
               MemberStateName(m.state) == state ? 1 : 0);
    }
  }
  p.Family("converge_peer_connected", "gauge", "1 while a peer connection is up.");
  for (const MemberView& m : s.members) {
    if (!m.self) p.Sample("converge_peer_connected", L{{"peer", s.NameOf(m.record.id)}}, m.connected ? 1 : 0);
  }
  p.Family("converge_peer_partitioned", "gauge",
           "1 while DEBUG PARTITION cuts the link to this peer (fault injection).");
  for (const MemberView& m : s.members) {
    if (m.self) continue;
    auto it = s.links.find(m.record.id);
    p.Sample("converge_peer_partitioned", L{{"peer", s.NameOf(m.record.id)}},
             it != s.links.end() && it->second.partitioned ? 1 : 0);
  }
  p.Family("converge_replication_lag_deltas", "gauge",
           "Deltas this node has that the peer (last we heard) lacks.");
  for (const MemberView& m : s.members) {
    if (!m.self) {
      p.Sample("converge_replication_lag_deltas", L{{"peer", s.NameOf(m.record.id)}},
               static_cast<double>(m.lag_deltas));
    }
  }
  p.Family("converge_replication_lag_seconds", "gauge",
           "How long the peer has been lacking some delta this node has (0 when caught up).");
  for (const MemberView& m : s.members) {
    if (!m.self) {
      p.Sample("converge_replication_lag_seconds", L{{"peer", s.NameOf(m.record.id)}},
               static_cast<double>(m.lag_ms) / 1000.0);
    }
  }
  p.Family("converge_peer_clock_offset_seconds", "gauge",
           "Peer clock minus this node's, measured in the last handshake.");
  for (const auto& [id, link] : s.links) {
    p.Sample("converge_peer_clock_offset_seconds", L{{"peer", s.NameOf(id)}},
             static_cast<double>(link.clock_offset_ms) / 1000.0);
  }
  p.Family("converge_peer_sent_bytes_total", "counter", "Bytes sent to a peer (frames).");
  for (const auto& [id, link] : s.links) {
    p.Sample("converge_peer_sent_bytes_total", L{{"peer", s.NameOf(id)}},
             static_cast<double>(link.bytes_sent));
  }
  p.Family("converge_peer_received_bytes_total", "counter", "Bytes received from a peer (frames).");
  for (const auto& [id, link] : s.links) {
    p.Sample("converge_peer_received_bytes_total", L{{"peer", s.NameOf(id)}},
             static_cast<double>(link.bytes_received));
  }
  p.Family("converge_peer_dropped_frames_total", "counter",
           "Frames to a peer dropped: send queue full, partition or injected loss.");
  for (const auto& [id, link] : s.links) {
    p.Sample("converge_peer_dropped_frames_total", L{{"peer", s.NameOf(id)}},
             static_cast<double>(link.frames_dropped));
  }
  p.Family("converge_rejected_frames_total", "counter",
           "Malformed frames from a peer (each closed its connection).");
  for (const auto& [id, link] : s.links) {
    p.Sample("converge_rejected_frames_total", L{{"peer", s.NameOf(id)}},
             static_cast<double>(link.frames_rejected));
  }
  p.Single("converge_rejected_connections_total", "counter",
           "Peer connections closed before their handshake completed (garbage, bad auth, clock).",
           static_cast<double>(s.rejected_connections));
  p.Single("converge_rejected_messages_total", "counter",
           "Well-framed replication messages refused by the replicator (bad bodies).",
           static_cast<double>(s.rejected_messages));
  p.Single("converge_full_state_transfers_received_total", "counter",
           "Full-state transfers this node completed (it was behind the peers' log floor).",
           static_cast<double>(s.snapshots_received));
  p.Single("converge_held_intervals", "gauge",
           "Remote delta intervals held: waiting for a gap to close or for the clock bound.",
           static_cast<double>(s.held_intervals));
  p.Family("converge_clock_ahead_seconds", "gauge",
           "Per origin whose deltas are held for the clock bound: how far ahead they are stamped.");
  for (const auto& [origin, ms] : s.clock_ahead_ms) {
    p.Sample("converge_clock_ahead_seconds", L{{"origin", s.NameOf(origin)}},
             static_cast<double>(ms) / 1000.0);
  }

  // Storage and state.
  p.Single("converge_log_bytes", "gauge", "Approximate bytes in the delta log (keys plus values).",
           static_cast<double>(s.log_bytes));
  p.Single("converge_keys", "gauge", "Live keys.", static_cast<double>(s.keys));
  p.Single("converge_damaged_merge_inputs_total", "counter",
           "Stored objects or merge operands that did not decode during a merge (damage on "
           "disk: a damaged value is rebuilt from its operands, a damaged operand is left out).",
           static_cast<double>(s.damaged_merge_inputs));
  p.Single("converge_tombstones_pending", "gauge",
           "Tombstones not yet purged (waiting for causal stability), at the last state scan.",
           static_cast<double>(s.scan.tombstones));
  p.Single("converge_tombstones_purged_total", "counter", "Tombstones purged since start.",
           static_cast<double>(s.tombstones_purged));
  p.Single("converge_holds", "gauge", "Open reservation holds (RC.RESERVE) on this node.",
           static_cast<double>(s.holds));
  p.Single("converge_holds_expired_total", "counter",
           "Holds that ran out and gave their units back.", static_cast<double>(s.holds_expired));
  p.Family("converge_rc_value", "gauge", "Reservation counter value as this node knows it.");
  for (const RcStatus& rc : s.scan.rcounters) {
    p.Sample("converge_rc_value", L{{"key", rc.key}}, static_cast<double>(rc.value));
  }
  p.Family("converge_rc_rights", "gauge",
           "Rights per reservation counter and member, as this node knows them "
           "(node=this node's name is what it may take without asking).");
  for (const RcStatus& rc : s.scan.rcounters) {
    for (const auto& [member, rights] : rc.rights) {
      p.Sample("converge_rc_rights", L{{"key", rc.key}, {"node", s.NameOf(member)}},
               static_cast<double>(rights));
    }
  }
  p.Single("converge_rights_moved_by_policy_total", "counter",
           "Reservation rights this node moved to peers ahead of demand.",
           static_cast<double>(s.rights_moved_by_policy));
  p.Family("converge_state_scan_age_seconds", "gauge",
           "Age of the object scan behind the tombstone and reservation counter figures.");
  p.Sample("converge_state_scan_age_seconds",
           static_cast<double>(s.now_ms - std::min(s.now_ms, s.scan.scanned_at_ms)) / 1000.0);
  return p.text();
}

std::string RenderStatusJson(const NodeStatus& s) {
  std::string out;
  JsonObject doc(&out);
  doc.Field("now_ms", s.now_ms);
  doc.Key("node");
  {
    JsonObject n(&out);
    n.Field("id", Hex(s.id));
    n.Field("name", s.name);
    n.Field("version", s.version);
    n.Field("fsync", s.fsync);
    n.Field("uptime_s", s.uptime_s);
    n.Field("keys", s.keys);
    n.Field("log_bytes", s.log_bytes);
    n.Field("holds", s.holds);
    n.Field("tombstones_pending", s.scan.tombstones);
    n.Field("held_intervals", s.held_intervals);
    n.Field("connected_clients", s.connected_clients);
    n.Field("commands_processed", s.commands_processed);
    n.Field("injected_clock_offset_ms", s.injected_clock_offset_ms);
    n.Key("vv");
    JsonVector(&out, s, s.vv);
    n.Key("stable_vv");
    JsonVector(&out, s, s.stable_vv);
    n.Close();
  }
  doc.Key("members");
  out += '[';
  bool first = true;
  for (const MemberView& m : s.members) {
    if (!first) out += ',';
    first = false;
    JsonObject o(&out);
    o.Field("id", Hex(m.record.id));
    o.Field("name", m.record.name.empty() ? Hex(m.record.id) : m.record.name);
    o.Field("self", m.self);
    o.Field("state", m.self ? std::string("self") : std::string(MemberStateName(m.state)));
    o.Field("connected", m.self || m.connected);
    o.Field("client_address", m.record.client_address);
    o.Field("peer_address", m.record.peer_address);
    o.Field("lag_deltas", m.lag_deltas);
    o.Field("lag_ms", m.lag_ms);
    o.Field("last_contact_ms_ago",
            m.self || m.last_contact_ms == 0 ? uint64_t{0} : s.now_ms - std::min(s.now_ms, m.last_contact_ms));
    auto link = s.links.find(m.record.id);
    const bool have = !m.self && link != s.links.end();
    o.Field("partitioned", have && link->second.partitioned);
    o.Field("link_faults", have && link->second.link_faults);
    o.Field("clock_offset_ms", have ? link->second.clock_offset_ms : int64_t{0});
    o.Field("frames_rejected", have ? link->second.frames_rejected : uint64_t{0});
    o.Key("vv");
    JsonVector(&out, s, m.vv);
    o.Close();
  }
  out += ']';
  doc.Key("rcounters");
  out += '[';
  first = true;
  for (const RcStatus& rc : s.scan.rcounters) {
    if (!first) out += ',';
    first = false;
    JsonObject o(&out);
    o.Field("key", rc.key);
    o.Field("value", rc.value);
    o.Key("rights");
    JsonObject r(&out);
    for (const auto& [member, rights] : rc.rights) r.Field(s.NameOf(member), rights);
    r.Close();
    o.Close();
  }
  out += ']';
  doc.Field("rcounters_truncated", s.scan.rcounters_truncated);
  doc.Close();
  return out;
}

}  // namespace converge
