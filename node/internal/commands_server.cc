// Server, cluster and debug commands: PING .. CONFIG, INFO, CLUSTER, DEBUG.
// Part of CommandTable; see commands.h.
#include <unistd.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "node/internal/command_util.h"
#include "node/internal/commands.h"
#include "node/resp/reply.h"
#include "transport/transport.h"

// jemalloc's control interface, when the process runs on jemalloc (the
// `converge` executable links it; an embedding service chooses its own).
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace converge {
namespace {

// INFO's mem_allocator, as redis-server reports it: "jemalloc-5.3.0" or "libc".
std::string AllocatorName() {
  if (mallctl == nullptr) return "libc";
  const char* version = nullptr;
  size_t length = sizeof(version);
  if (mallctl("version", &version, &length, nullptr, 0) != 0 || version == nullptr) {
    return "jemalloc";
  }
  const std::string_view v(version);
  return "jemalloc-" + std::string(v.substr(0, v.find('-')));
}

using command_util::ErrorFromStatus;
using command_util::Hex;
using command_util::kNotInteger;
using command_util::kSyntax;
using command_util::Lower;
using resp::AppendArrayHeader;
using resp::AppendBulk;
using resp::AppendError;
using resp::AppendInteger;
using resp::AppendNullBulk;
using resp::AppendSimpleString;

}  // namespace

// ---- server ---------------------------------------------------------------

void CommandTable::Ping(ClientState&, const Args& a, std::string* out) {
  if (a.size() > 2) return AppendError(out, "ERR wrong number of arguments for 'ping' command");
  if (a.size() == 2) return AppendBulk(out, a[1]);
  AppendSimpleString(out, "PONG");
}

void CommandTable::Echo(ClientState&, const Args& a, std::string* out) { AppendBulk(out, a[1]); }

void CommandTable::Quit(ClientState& client, const Args&, std::string* out) {
  client.close_after_reply = true;
  AppendSimpleString(out, "OK");
}

void CommandTable::Select(ClientState&, const Args& a, std::string* out) {
  int64_t db;
  if (!ParseInt64(a[1], &db)) return AppendError(out, kNotInteger);
  if (db != 0) return AppendError(out, "ERR DB index is out of range");
  AppendSimpleString(out, "OK");
}

void CommandTable::Auth(ClientState& client, const Args& a, std::string* out) {
  if (a.size() > 3) return AppendError(out, kSyntax);
  if (s_.options->requirepass.empty()) {
    return AppendError(out,
                       "ERR AUTH <password> called without any password configured for the "
                       "default user. Are you sure your configuration is correct?");
  }
  const std::string& user = a.size() == 3 ? a[1] : std::string("default");
  const std::string& pass = a.back();
  if (user != "default" || pass != s_.options->requirepass) {
    client.authenticated = false;
    return AppendError(out, "WRONGPASS invalid username-password pair or user is disabled.");
  }
  client.authenticated = true;
  AppendSimpleString(out, "OK");
}

void CommandTable::Hello(ClientState& client, const Args& a, std::string* out) {
  size_t i = 1;
  if (a.size() >= 2) {
    int64_t proto;
    if (!ParseInt64(a[1], &proto)) {
      return AppendError(out, "ERR Protocol version is not an integer or out of range");
    }
    if (proto != 2) return AppendError(out, "NOPROTO sorry, this protocol version is not supported");
    i = 2;
  }
  for (; i < a.size(); ++i) {
    const std::string opt = Lower(a[i]);
    if (opt == "auth" && i + 2 < a.size()) {
      if (a[i + 1] != "default" || a[i + 2] != s_.options->requirepass ||
          s_.options->requirepass.empty()) {
        return AppendError(out, "WRONGPASS invalid username-password pair or user is disabled.");
      }
      client.authenticated = true;
      i += 2;
    } else if (opt == "setname" && i + 1 < a.size()) {
      client.name = a[++i];
    } else {
      return AppendError(out, "ERR Syntax error in HELLO option '" + a[i] + "'");
    }
  }
  if (!s_.options->requirepass.empty() && !client.authenticated) {
    return AppendError(out, "NOAUTH HELLO must be called with the client already authenticated, "
                            "otherwise the HELLO <proto> AUTH <user> <pass> option can be used "
                            "to authenticate the client and select the RESP protocol version "
                            "at the same time");
  }
  AppendArrayHeader(out, 14);
  AppendBulk(out, "server");
  AppendBulk(out, "converge");
  AppendBulk(out, "version");
  AppendBulk(out, "7.0.0");
  AppendBulk(out, "proto");
  AppendInteger(out, 2);
  AppendBulk(out, "id");
  AppendInteger(out, static_cast<int64_t>(client.id));
  AppendBulk(out, "mode");
  AppendBulk(out, "cluster");
  AppendBulk(out, "role");
  AppendBulk(out, "master");
  AppendBulk(out, "modules");
  AppendArrayHeader(out, 0);
}

void CommandTable::Client(ClientState& client, const Args& a, std::string* out) {
  const std::string sub = Lower(a[1]);
  if (sub == "setname" && a.size() == 3) {
    if (a[2].find(' ') != std::string::npos) {
      return AppendError(out, "ERR Client names cannot contain spaces, newlines or special characters.");
    }
    client.name = a[2];
    return AppendSimpleString(out, "OK");
  }
  if (sub == "getname" && a.size() == 2) {
    if (client.name.empty()) return AppendNullBulk(out);
    return AppendBulk(out, client.name);
  }
  if (sub == "id" && a.size() == 2) return AppendInteger(out, static_cast<int64_t>(client.id));
  if (sub == "setinfo" || sub == "no-evict" || sub == "no-touch" || sub == "reply") {
    return AppendSimpleString(out, "OK");
  }
  AppendError(out, "ERR unknown subcommand '" + a[1] + "'. Try CLIENT HELP.");
}

void CommandTable::Command(ClientState&, const Args& a, std::string* out) {
  if (a.size() >= 2 && Lower(a[1]) == "count") {
    return AppendInteger(out, static_cast<int64_t>(table_.size()));
  }
  // COMMAND and COMMAND DOCS: an empty list is enough for redis-cli's hints.
  AppendArrayHeader(out, 0);
}

void CommandTable::Config(ClientState&, const Args& a, std::string* out) {
  const std::string sub = Lower(a[1]);
  if (sub != "get" || a.size() < 3) {
    if (sub == "set" || sub == "resetstat" || sub == "rewrite") {
      return AppendError(out, "ERR CONFIG " + a[1] + " is not supported");
    }
    return AppendError(out, "ERR unknown subcommand '" + a[1] + "'. Try CONFIG HELP.");
  }
  const std::string fsync = s_.options->fsync == FsyncMode::kAlways  ? "always"
                            : s_.options->fsync == FsyncMode::kBatch ? "batch"
                                                                     : "everysec";
  const std::vector<std::pair<std::string, std::string>> known = {
      {"save", ""},
      {"appendonly", "yes"},
      {"appendfsync", fsync},
      {"databases", "1"},
      {"port", std::to_string(s_.options->port)},
      {"bind", s_.options->bind},
      {"maxmemory", "0"},
  };
  std::vector<std::pair<std::string, std::string>> found;
  for (size_t i = 2; i < a.size(); ++i) {
    for (const auto& [k, v] : known) {
      if (GlobMatch(Lower(a[i]), k) &&
          std::find_if(found.begin(), found.end(), [&](auto& f) { return f.first == k; }) == found.end()) {
        found.emplace_back(k, v);
      }
    }
  }
  AppendArrayHeader(out, found.size() * 2);
  for (const auto& [k, v] : found) {
    AppendBulk(out, k);
    AppendBulk(out, v);
  }
}

void CommandTable::Info(ClientState&, const Args& a, std::string* out) {
  AppendBulk(out, InfoText(a.size() >= 2 ? Lower(a[1]) : "default"));
}

std::string CommandTable::InfoText(std::string_view section) {
  const bool all = section == "default" || section == "all" || section == "everything";
  std::string t;
  auto want = [&](std::string_view name) {
    if (!(all || section == name)) return false;
    if (!t.empty()) t += "\r\n";
    t += "# ";
    t += static_cast<char>(std::toupper(name[0]));
    t += name.substr(1);
    t += "\r\n";
    return true;
  };
  auto line = [&](std::string_view k, const std::string& v) {
    t += k;
    t += ':';
    t += v;
    t += "\r\n";
  };
  const uint64_t now = s_.clock->NowMillis();
  if (want("server")) {
    line("redis_version", "7.0.0");
    line("converge_version", CONVERGE_VERSION);
    line("process_id", std::to_string(::getpid()));
    line("tcp_port", std::to_string(s_.options->port));
    line("peer_port", std::to_string(s_.options->effective_peer_port()));
    line("uptime_in_seconds", std::to_string((now - std::min(now, s_.start_ms)) / 1000));
    line("mem_allocator", AllocatorName());
    line("io_threads", std::to_string(s_.options->effective_threads()));
  }
  if (want("clients")) {
    line("connected_clients", std::to_string(s_.connected_clients()));
    line("tls", s_.options->tls() ? (s_.options->tls_auth_clients ? "required-client-cert" : "on")
                                  : "off");
    if (s_.client_tls_failures) {
      line("tls_handshake_failures", std::to_string(s_.client_tls_failures()));
    }
  }
  if (want("persistence")) {
    const std::string fsync = s_.options->fsync == FsyncMode::kAlways  ? "always"
                              : s_.options->fsync == FsyncMode::kBatch ? "batch"
                                                                       : "everysec";
    line("fsync", fsync);
    line("log_bytes", std::to_string(s_.store->log_bytes()));
    line("log_floor", s_.store->log_floor().ToString());
    line("hlc_high_water", s_.replica->clock().Last().ToString());
    // Ids this node wrote under before (Store: when it may have lost writes).
    std::string retired;
    for (ReplicaId id : s_.store->retired_replica_ids()) {
      if (!retired.empty()) retired += ',';
      retired += Hex(id);
    }
    line("retired_ids", retired);
    line("damaged_merge_inputs", std::to_string(s_.store->Stats().damaged_merge_inputs));
    // Committed objects still to be written (deferred writes; the log has
    // them), and what the last open replayed into the objects.
    line("objects_unwritten", std::to_string(s_.replica->unwritten_objects()));
    line("replayed_log_entries", std::to_string(s_.store->Stats().replayed_log_entries));
  }
  if (want("replication")) {
    const std::vector<MemberView> members = s_.replicator->Members();
    size_t connected = 0;
    uint64_t lag = 0, lag_ms = 0;
    for (const auto& m : members) {
      if (m.self) continue;
      connected += m.connected ? 1 : 0;
      if (m.state != MemberState::kRemoved) {
        lag = std::max(lag, m.lag_deltas);
        lag_ms = std::max(lag_ms, m.lag_ms);
      }
    }
    line("role", "master");
    line("node_id", Hex(s_.replica->id()));
    line("node_name", s_.options->name);
    line("peers_connected", std::to_string(connected));
    line("peers_known", std::to_string(members.size() - 1));
    if (s_.transport != nullptr) {
      // Handshakes refused either way (wrong CA, expired certificate, bad
      // cluster secret, clock skew); the latest one says why. Named "peers_"
      // so that readers of the per-peer "peer_<id>" lines do not take them
      // for peers.
      line("peers_refused", std::to_string(s_.transport->rejected_connections()));
      std::string why = s_.transport->last_refusal();
      std::replace(why.begin(), why.end(), '\r', ' ');
      std::replace(why.begin(), why.end(), '\n', ' ');
      line("peers_last_refusal", why);
    }
    line("vv", s_.replica->committed_version_vector().ToString());
    line("repl_lag_deltas", std::to_string(lag));
    line("repl_lag_ms", std::to_string(lag_ms));
    for (const auto& m : members) {
      if (m.self) continue;
      // One line per peer, as Redis's slaveN lines: state, lag, traffic.
      line("peer_" + Hex(m.record.id),
           "name=" + m.record.name + ",state=" + std::string(MemberStateName(m.state)) +
               ",lag_deltas=" + std::to_string(m.lag_deltas) + ",lag_ms=" + std::to_string(m.lag_ms) +
               ",last_contact_ms=" + std::to_string(m.last_contact_ms) +
               ",bytes_sent=" + std::to_string(m.bytes_sent) +
               ",bytes_received=" + std::to_string(m.bytes_received));
    }
    line("held_intervals", std::to_string(s_.replica->held_intervals()));
    std::string ahead;
    for (const auto& [origin, ms] : s_.replica->HeldForClock()) {
      ahead += (ahead.empty() ? "" : ",") + Hex(origin) + "=" + std::to_string(ms) + "ms";
    }
    line("clock_ahead_origins", ahead);
    line("clock_offset_ms", std::to_string(s_.clock->offset_ms()));
  }
  if (want("stats")) {
    line("total_commands_processed", std::to_string(commands_processed_));
    line("total_writes", std::to_string(writes_));
    line("rejected_peer_messages", std::to_string(s_.replicator->rejected_messages()));
    line("full_state_transfers_received", std::to_string(s_.replicator->snapshots_received()));
  }
  if (want("crdt")) {
    line("keys", std::to_string(s_.replica->live_keys()));
    t += RcLines();
    line("tombstones_purged", std::to_string(s_.replicator->tombstones_purged()));
    line("stable_vv", s_.replicator->StableVector().ToString());
    line("purge_bound", s_.replicator->PurgeBound().ts.ToString());
  }
  if (all || section == "keyspace") {
    if (!t.empty()) t += "\r\n";
    t += "# Keyspace\r\n";
    line("db0", "keys=" + std::to_string(s_.replica->live_keys()) + ",expires=0,avg_ttl=0");
  }
  return t;
}

// One line per member: id, name, client address, peer address, state, vv,
// and then (an extension) its rights on the reservation counters, as this
// node knows them: "rights=key:n,...".
void CommandTable::ClusterNodes(std::string* out) {
  std::vector<std::pair<std::string, ReservationCounter>> rcs;
  s_.commit_now();
  if (StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.replica->SnapshotObjects(); snap.ok()) {
    for ((*snap)->SeekToFirst(); (*snap)->Valid() && rcs.size() < 20; (*snap)->Next()) {
      StatusOr<Object> o = (*snap)->object();
      if (o.ok() && o->As<ReservationCounter>() != nullptr) {
        rcs.emplace_back(std::string((*snap)->key()), *o->As<ReservationCounter>());
      }
    }
  }
  std::string text;
  for (const MemberView& m : s_.replicator->Members()) {
    text += Hex(m.record.id) + " " + (m.record.name.empty() ? "-" : m.record.name) + " " +
            (m.record.client_address.empty() ? "-" : m.record.client_address) + " " +
            (m.record.peer_address.empty() ? "-" : m.record.peer_address) + " " +
            (m.self ? "myself" : std::string(MemberStateName(m.state))) + " " +
            (m.vv.empty() ? "-" : m.vv.ToString());
    if (!rcs.empty()) {
      text += " rights=";
      for (size_t i = 0; i < rcs.size(); ++i) {
        if (i > 0) text += ",";
        text.append(rcs[i].first).append(":").append(std::to_string(rcs[i].second.Rights(m.record.id)));
      }
    }
    text += "\n";
  }
  AppendBulk(out, text);
}

// A forgotten member's rights on reservation counters can never be spent or
// moved again (only it could move them): the operator should hear of it, and
// of RC.DRAIN, which would have moved them first.
void CommandTable::WarnOfStrandedRights(ReplicaId member, const std::string& name) {
  s_.commit_now();  // the snapshot is of the committed state
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.replica->SnapshotObjects();
  if (!snap.ok()) return;
  int64_t units = 0;
  size_t counters = 0;
  for ((*snap)->SeekToFirst(); (*snap)->Valid(); (*snap)->Next()) {
    StatusOr<Object> o = (*snap)->object();
    const ReservationCounter* rc = o.ok() ? o->As<ReservationCounter>() : nullptr;
    if (rc == nullptr || rc->Rights(member) <= 0) continue;
    units += rc->Rights(member);
    ++counters;
  }
  if (units > 0) {
    spdlog::warn("[{}] forgotten member {} holds {} units of rights on {} reservation counter(s): "
                 "no node can spend them now (RC.DRAIN on a node before removing it moves them)",
                 s_.options->name, name, units, counters);
  }
}

void CommandTable::Cluster(ClientState&, const Args& a, std::string* out) {
  const std::string sub = Lower(a[1]);
  if (sub == "nodes" && a.size() == 2) return ClusterNodes(out);
  if (sub == "meet" && a.size() == 4) {
    int64_t port;
    if (!ParseInt64(a[3], &port) || port <= 0 || port > 65535) {
      return AppendError(out, "ERR Invalid node address specified: " + a[2] + ":" + a[3]);
    }
    if (s_.transport != nullptr) s_.transport->AddSeed(a[2] + ":" + a[3]);
    return AppendSimpleString(out, "OK");
  }
  if (sub == "forget" && a.size() == 3) {
    std::optional<ReplicaId> id = s_.replicator->FindMember(a[2]);
    if (!id) return AppendError(out, "ERR Unknown node " + a[2]);
    Status st = s_.replicator->Forget(*id);
    if (!st.ok()) return ErrorFromStatus(st, out);
    WarnOfStrandedRights(*id, a[2]);
    return AppendSimpleString(out, "OK");
  }
  AppendError(out, "ERR unknown subcommand or wrong number of arguments for '" + a[1] + "'");
}

void CommandTable::Checkpoint(ClientState&, const Args& a, std::string* out) {
  if (s_.options->backup_dir.empty()) {
    return AppendError(out, "ERR CHECKPOINT is off: start the node with --backup-dir");
  }
  // One plain name under --backup-dir: a client must not choose where the
  // node writes.
  const std::string& name = a[1];
  const bool plain = !name.empty() && name != "." && name != ".." &&
                     name.find('/') == std::string::npos && name.find('\0') == std::string::npos;
  if (!plain) return AppendError(out, "ERR CHECKPOINT takes a plain name (no '/'), got '" + name + "'");
  s_.commit_now();  // the backup holds every write acknowledged before it
  const std::string dir = s_.options->backup_dir + "/" + name;
  Status st = s_.store->Checkpoint(dir);
  if (!st.ok()) return ErrorFromStatus(st, out);
  spdlog::info("[{}] checkpoint written to {}", s_.options->name, dir);
  AppendBulk(out, dir);
}

void CommandTable::Debug(ClientState&, const Args& a, std::string* out) {
  const std::string sub = Lower(a[1]);
  if (sub == "digest" && a.size() == 2) {
    s_.commit_now();
    StatusOr<std::string> digest = s_.replica->Digest();
    if (!digest.ok()) return ErrorFromStatus(digest.status(), out);
    return AppendSimpleString(out, *digest);
  }
  const bool fault = sub == "partition" || sub == "heal" || sub == "link" || sub == "clock-offset";
  if (!fault) return AppendError(out, "ERR unknown DEBUG subcommand '" + a[1] + "'");
  if (!s_.options->fault_injection) return AppendError(out, "ERR fault injection disabled");
  if (s_.transport == nullptr) return AppendError(out, "ERR no peer transport");
  auto resolve = [&](const std::string& who) -> std::optional<uint64_t> {
    if (auto id = s_.replicator->FindMember(who)) return *id;
    return s_.transport->FindPeerByName(who);
  };
  if (sub == "heal" && a.size() == 2) {
    s_.transport->Heal();
    s_.replicator->PullFromAll();  // repair now, not when gossip gets round to it
    return AppendSimpleString(out, "OK");
  }
  if (sub == "partition" && a.size() >= 3) {
    std::vector<uint64_t> ids;
    for (size_t i = 2; i < a.size(); ++i) {
      std::optional<uint64_t> id = resolve(a[i]);
      if (!id) return AppendError(out, "ERR Unknown node " + a[i]);
      ids.push_back(*id);
    }
    for (uint64_t id : ids) s_.transport->Partition(id);
    return AppendSimpleString(out, "OK");
  }
  if (sub == "link" && a.size() == 9) {
    std::optional<uint64_t> id = resolve(a[2]);
    if (!id) return AppendError(out, "ERR Unknown node " + a[2]);
    transport::LinkFaults f;
    int64_t delay;
    char* end = nullptr;
    if (Lower(a[3]) != "drop" || Lower(a[5]) != "delay-ms" || Lower(a[7]) != "dup") {
      return AppendError(out, "ERR syntax: DEBUG LINK NODE drop P delay-ms D dup P");
    }
    f.drop_probability = std::strtod(a[4].c_str(), &end);
    if (*end != '\0' || f.drop_probability < 0 || f.drop_probability > 1) {
      return AppendError(out, "ERR drop must be a probability between 0 and 1");
    }
    if (!ParseInt64(a[6], &delay) || delay < 0) return AppendError(out, kNotInteger);
    f.delay = std::chrono::milliseconds(delay);
    f.duplicate_probability = std::strtod(a[8].c_str(), &end);
    if (*end != '\0' || f.duplicate_probability < 0 || f.duplicate_probability > 1) {
      return AppendError(out, "ERR dup must be a probability between 0 and 1");
    }
    s_.transport->SetLinkFaults(*id, f);
    return AppendSimpleString(out, "OK");
  }
  if (sub == "clock-offset" && a.size() == 3) {
    int64_t ms;
    if (!ParseInt64(a[2], &ms)) return AppendError(out, kNotInteger);
    s_.clock->set_offset_ms(ms);
    return AppendSimpleString(out, "OK");
  }
  AppendError(out, "ERR wrong number of arguments for 'debug|" + sub + "' command");
}

}  // namespace converge
