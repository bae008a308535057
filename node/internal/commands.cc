// Dispatch, and the data commands: strings, counters, hashes, keys.
// Part of CommandTable; see commands.h.
#include "node/internal/commands.h"

#include <algorithm>
#include <chrono>
#include <climits>

#include "node/internal/command_util.h"
#include "node/resp/reply.h"

namespace converge {
namespace {

using command_util::ErrorFromStatus;
using command_util::kNotInteger;
using command_util::kSyntax;
using command_util::Lower;
using resp::AppendArrayHeader;
using resp::AppendBulk;
using resp::AppendError;
using resp::AppendInteger;
using resp::AppendNullBulk;
using resp::AppendSimpleString;

// A counter's value as GET shows it.
std::string CounterText(const PNCounter& c) { return std::to_string(c.Value()); }

}  // namespace

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return false;
  }
  if (s[i] == '0' && s.size() > i + 1) return false;  // no leading zeros, as Redis
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (neg) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = v == static_cast<uint64_t>(INT64_MAX) + 1 ? INT64_MIN : -static_cast<int64_t>(v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool GlobMatch(std::string_view p, std::string_view s) {
  // Iterative with one backtrack point for '*', as in most glob matchers.
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
      continue;
    }
    if (pi < p.size()) {
      bool match = false;
      size_t next = pi + 1;
      if (p[pi] == '?') {
        match = true;
      } else if (p[pi] == '[') {
        size_t j = pi + 1;
        bool negate = j < p.size() && p[j] == '^';
        if (negate) ++j;
        bool in = false;
        for (; j < p.size() && p[j] != ']'; ++j) {
          if (p[j] == '\\' && j + 1 < p.size()) {
            ++j;
            in |= p[j] == s[si];
          } else if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
            char lo = p[j], hi = p[j + 2];
            if (lo > hi) std::swap(lo, hi);
            in |= s[si] >= lo && s[si] <= hi;
            j += 2;
          } else {
            in |= p[j] == s[si];
          }
        }
        match = negate ? !in : in;
        next = j < p.size() ? j + 1 : j;
      } else if (p[pi] == '\\' && pi + 1 < p.size()) {
        match = p[pi + 1] == s[si];
        next = pi + 2;
      } else {
        match = p[pi] == s[si];
      }
      if (match) {
        pi = next;
        ++si;
        continue;
      }
    }
    if (star == std::string_view::npos) return false;
    pi = star + 1;
    si = ++mark;
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

CommandTable::CommandTable(CommandServices services) : s_(std::move(services)) {
  table_ = {
      {"set", {&CommandTable::Set, -3, true}},
      {"get", {&CommandTable::Get, 2, false}},
      {"mget", {&CommandTable::MGet, -2, false}},
      {"incr", {&CommandTable::IncrBy, 2, true}},
      {"decr", {&CommandTable::IncrBy, 2, true}},
      {"incrby", {&CommandTable::IncrBy, 3, true}},
      {"decrby", {&CommandTable::IncrBy, 3, true}},
      {"hset", {&CommandTable::HSet, -4, true}},
      {"hget", {&CommandTable::HGet, 3, false}},
      {"hmget", {&CommandTable::HMGet, -3, false}},
      {"hgetall", {&CommandTable::HGetAll, 2, false}},
      {"hkeys", {&CommandTable::HGetAll, 2, false}},
      {"hvals", {&CommandTable::HGetAll, 2, false}},
      {"hlen", {&CommandTable::HLen, 2, false}},
      {"hexists", {&CommandTable::HExists, 3, false}},
      {"hdel", {&CommandTable::HDel, -3, true}},
      {"del", {&CommandTable::Del, -2, true}},
      {"exists", {&CommandTable::Exists, -2, false}},
      {"type", {&CommandTable::Type, 2, false}},
      {"scan", {&CommandTable::Scan, -2, false}},
      {"keys", {&CommandTable::Keys, 2, false}},
      {"dbsize", {&CommandTable::DbSize, 1, false}},
      {"ping", {&CommandTable::Ping, -1, false}},
      {"echo", {&CommandTable::Echo, 2, false}},
      {"quit", {&CommandTable::Quit, -1, false}},
      {"select", {&CommandTable::Select, 2, false}},
      {"auth", {&CommandTable::Auth, -2, false}},
      {"hello", {&CommandTable::Hello, -1, false}},
      {"client", {&CommandTable::Client, -2, false}},
      {"command", {&CommandTable::Command, -1, false}},
      {"config", {&CommandTable::Config, -2, false}},
      {"info", {&CommandTable::Info, -1, false}},
      {"cluster", {&CommandTable::Cluster, -2, false}},
      {"debug", {&CommandTable::Debug, -2, false}},
      {"checkpoint", {&CommandTable::Checkpoint, 2, false}},
      {"rc.add", {&CommandTable::RcAdd, 3, true}},
      {"rc.take", {&CommandTable::RcTake, -3, true}},
      {"rc.reserve", {&CommandTable::RcTake, -4, true}},
      {"rc.get", {&CommandTable::RcGet, 2, false}},
      {"rc.rights", {&CommandTable::RcGet, 2, false}},
      {"rc.commit", {&CommandTable::RcCommit, 2, true}},
      {"rc.release", {&CommandTable::RcRelease, 2, true}},
      {"rc.drain", {&CommandTable::RcDrain, -1, true}},
      {"session", {&CommandTable::Session, -2, false}},
      {"wait", {&CommandTable::WaitPeers, 3, false}},
      {"idem", {&CommandTable::Idem, -4, true}},
  };
  std::vector<std::string> names;
  for (const auto& [name, spec] : table_) names.push_back(name);
  operations_ = std::make_unique<OperationCounters>(std::move(names));
  for (auto& [name, spec] : table_) spec.op_index = operations_->IndexOf(name);
}

std::optional<Wait> CommandTable::Execute(ClientState& client, const Args& args, std::string* out) {
  ++commands_processed_;
  if (args.empty()) return std::nullopt;
  const std::string name = Lower(args[0]);
  auto it = table_.find(name);
  if (it == table_.end()) {
    std::string msg = "ERR unknown command '" + args[0] + "', with args beginning with: ";
    for (size_t i = 1; i < args.size() && msg.size() < 128; ++i) msg += "'" + args[i] + "' ";
    AppendError(out, msg);
    operations_->Record(operations_->IndexOf("unknown"), OpResult::kErr);
    return std::nullopt;
  }
  const Spec& spec = it->second;
  const int n = static_cast<int>(args.size());
  if ((spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity)) {
    AppendError(out, "ERR wrong number of arguments for '" + name + "' command");
    operations_->Record(spec.op_index, OpResult::kErr);
    return std::nullopt;
  }
  if (!s_.options->requirepass.empty() && !client.authenticated && name != "auth" &&
      name != "hello" && name != "quit") {
    AppendError(out, "NOAUTH Authentication required.");
    operations_->Record(spec.op_index, OpResult::kNoAuth);
    return std::nullopt;
  }
  if (spec.write) ++writes_;
  const ReplicaId self = s_.replica->id();
  const uint64_t seq_before = s_.replica->version_vector().Get(self);
  wait_.reset();
  const size_t reply_start = out->size();
  const auto started = std::chrono::steady_clock::now();
  (this->*spec.handler)(client, args, out);
  apply_latency_.Observe(std::chrono::steady_clock::now() - started);
  // A parked command's result is counted when it answers (below).
  if (!wait_) operations_->Record(spec.op_index, ClassifyReply(std::string_view(*out).substr(reply_start)));
  // The session covers this connection's own writes (read-your-writes).
  const uint64_t seq_after = s_.replica->version_vector().Get(self);
  if (seq_after > seq_before) {
    client.own_seq = seq_after;
    client.session.Set(self, std::max(client.session.Get(self), seq_after));
  }
  std::optional<Wait> w = std::move(wait_);
  wait_.reset();
  if (w) {
    // A parked command's own writes count once it answers.
    auto poll = std::move(w->poll);
    auto expire = std::move(w->expire);
    auto note = [this, &client, self] {
      const uint64_t seq = s_.replica->version_vector().Get(self);
      if (seq > client.own_seq) {
        client.own_seq = seq;
        client.session.Set(self, std::max(client.session.Get(self), seq));
      }
    };
    const size_t op = spec.op_index;
    auto count = [this, op](const std::string& o, size_t start) {
      operations_->Record(op, ClassifyReply(std::string_view(o).substr(start)));
    };
    w->poll = [poll, note, count](std::string* o) {
      const size_t start = o->size();
      if (!poll(o)) return false;
      note();
      count(*o, start);
      return true;
    };
    w->expire = [expire, note, count](std::string* o) {
      const size_t start = o->size();
      expire(o);
      note();
      count(*o, start);
    };
  }
  return w;
}

bool CommandTable::Mutate(const std::string& key, const Replica::Mutation& m, std::string* out) {
  Status st = s_.replica->Mutate(key, m);
  if (st.ok()) return true;
  ErrorFromStatus(st, out);
  return false;
}

const Object* CommandTable::Lookup(const std::string& key, std::string* out) {
  StatusOr<const Object*> o = s_.replica->Read(key);
  if (!o.ok()) {
    ErrorFromStatus(o.status(), out);
    return nullptr;
  }
  return *o;
}

// ---- strings and counters -------------------------------------------------

void CommandTable::Set(ClientState&, const Args& a, std::string* out) {
  if (a.size() > 3) {
    AppendError(out, "ERR SET option '" + a[3] + "' is not supported");
    return;
  }
  const std::string& value = a[2];
  if (Mutate(a[1], [&](Object& o, Stamp now) { return o.Set(now, value); }, out)) {
    AppendSimpleString(out, "OK");
  }
}

void CommandTable::Get(ClientState&, const Args& a, std::string* out) {
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  if (!o->Live()) {
    AppendNullBulk(out);
  } else if (const LwwRegister* r = o->As<LwwRegister>()) {
    AppendBulk(out, r->value());
  } else if (const PNCounter* c = o->As<PNCounter>()) {
    AppendBulk(out, CounterText(*c));
  } else {
    AppendError(out, Object::kWrongType);
  }
}

void CommandTable::MGet(ClientState&, const Args& a, std::string* out) {
  AppendArrayHeader(out, a.size() - 1);
  for (size_t i = 1; i < a.size(); ++i) {
    StatusOr<const Object*> o = s_.replica->Read(a[i]);
    if (!o.ok() || !(*o)->Live()) {
      AppendNullBulk(out);
    } else if (const LwwRegister* r = (*o)->As<LwwRegister>()) {
      AppendBulk(out, r->value());
    } else if (const PNCounter* c = (*o)->As<PNCounter>()) {
      AppendBulk(out, CounterText(*c));
    } else {
      AppendNullBulk(out);  // as Redis: MGET answers nil for other types
    }
  }
}

void CommandTable::IncrBy(ClientState&, const Args& a, std::string* out) {
  const std::string name = Lower(a[0]);
  int64_t by = 1;
  if (a.size() == 3 && !ParseInt64(a[2], &by)) {
    AppendError(out, kNotInteger);
    return;
  }
  if (name == "decr" || name == "decrby") {
    if (by == INT64_MIN) {
      AppendError(out, "ERR decrement would overflow");
      return;
    }
    by = -by;
  }
  int64_t result = 0;
  bool overflow = false;
  const bool ok = Mutate(
      a[1],
      [&](Object& o, Stamp now) -> StatusOr<Object> {
        const PNCounter* c = o.As<PNCounter>();
        const int64_t current = c != nullptr && c->Live() ? c->Value() : 0;
        if (__builtin_add_overflow(current, by, &result)) {
          overflow = true;
          return InvalidArgumentError("increment or decrement would overflow");
        }
        return o.IncrBy(now, by);
      },
      out);
  if (!ok) return;
  (void)overflow;
  AppendInteger(out, result);
}

// ---- hashes ---------------------------------------------------------------

void CommandTable::HSet(ClientState&, const Args& a, std::string* out) {
  if (a.size() % 2 != 0) {
    AppendError(out, "ERR wrong number of arguments for 'hset' command");
    return;
  }
  std::vector<std::pair<std::string, std::string>> kv;
  for (size_t i = 2; i + 1 < a.size(); i += 2) kv.emplace_back(a[i], a[i + 1]);
  int64_t added = 0;
  const bool ok = Mutate(
      a[1],
      [&](Object& o, Stamp now) {
        const LwwMap* m = o.As<LwwMap>();
        std::vector<std::string> seen;
        for (const auto& [f, v] : kv) {
          if ((m == nullptr || m->Get(f) == nullptr) &&
              std::find(seen.begin(), seen.end(), f) == seen.end()) {
            ++added;
            seen.push_back(f);
          }
        }
        return o.HashSet(now, kv);
      },
      out);
  if (ok) AppendInteger(out, added);
}

void CommandTable::HGet(ClientState&, const Args& a, std::string* out) {
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  if (!o->Live()) return AppendNullBulk(out);
  const LwwMap* m = o->As<LwwMap>();
  if (m == nullptr) return AppendError(out, Object::kWrongType);
  const std::string* v = m->Get(a[2]);
  if (v == nullptr) return AppendNullBulk(out);
  AppendBulk(out, *v);
}

void CommandTable::HMGet(ClientState&, const Args& a, std::string* out) {
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  const LwwMap* m = o->As<LwwMap>();
  if (o->Live() && m == nullptr) return AppendError(out, Object::kWrongType);
  AppendArrayHeader(out, a.size() - 2);
  for (size_t i = 2; i < a.size(); ++i) {
    const std::string* v = m != nullptr ? m->Get(a[i]) : nullptr;
    if (v == nullptr) {
      AppendNullBulk(out);
    } else {
      AppendBulk(out, *v);
    }
  }
}

void CommandTable::HGetAll(ClientState&, const Args& a, std::string* out) {
  const std::string name = Lower(a[0]);
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  const LwwMap* m = o->As<LwwMap>();
  if (o->Live() && m == nullptr) return AppendError(out, Object::kWrongType);
  std::vector<std::pair<std::string, std::string>> items;
  if (m != nullptr) items = m->Items();
  const bool both = name == "hgetall";
  AppendArrayHeader(out, items.size() * (both ? 2 : 1));
  for (const auto& [f, v] : items) {
    if (both || name == "hkeys") AppendBulk(out, f);
    if (both || name == "hvals") AppendBulk(out, v);
  }
}

void CommandTable::HLen(ClientState&, const Args& a, std::string* out) {
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  const LwwMap* m = o->As<LwwMap>();
  if (o->Live() && m == nullptr) return AppendError(out, Object::kWrongType);
  AppendInteger(out, m != nullptr ? static_cast<int64_t>(m->Size()) : 0);
}

void CommandTable::HExists(ClientState&, const Args& a, std::string* out) {
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  const LwwMap* m = o->As<LwwMap>();
  if (o->Live() && m == nullptr) return AppendError(out, Object::kWrongType);
  AppendInteger(out, m != nullptr && m->Get(a[2]) != nullptr ? 1 : 0);
}

void CommandTable::HDel(ClientState&, const Args& a, std::string* out) {
  std::vector<std::string> fields(a.begin() + 2, a.end());
  int64_t removed = 0;
  Status st = s_.replica->Mutate(a[1], [&](Object& o, Stamp now) {
    if (const LwwMap* m = o.As<LwwMap>()) {
      std::vector<std::string> seen;
      for (const auto& f : fields) {
        if (m->Get(f) != nullptr && std::find(seen.begin(), seen.end(), f) == seen.end()) {
          ++removed;
          seen.push_back(f);
        }
      }
    }
    return o.HashDelete(now, fields);
  });
  if (st.ok() || st.code() == StatusCode::kNotFound) {
    AppendInteger(out, st.ok() ? removed : 0);
  } else {
    ErrorFromStatus(st, out);
  }
}

// ---- keys -----------------------------------------------------------------

void CommandTable::Del(ClientState&, const Args& a, std::string* out) {
  int64_t deleted = 0;
  for (size_t i = 1; i < a.size(); ++i) {
    Status st = s_.replica->Mutate(a[i], [](Object& o, Stamp now) { return o.Delete(now); });
    if (st.ok()) {
      ++deleted;
    } else if (st.code() != StatusCode::kNotFound) {
      ErrorFromStatus(st, out);
      return;
    }
  }
  AppendInteger(out, deleted);
}

void CommandTable::Exists(ClientState&, const Args& a, std::string* out) {
  int64_t n = 0;
  for (size_t i = 1; i < a.size(); ++i) {
    StatusOr<const Object*> o = s_.replica->Read(a[i]);
    if (o.ok() && (*o)->Live()) ++n;
  }
  AppendInteger(out, n);
}

void CommandTable::Type(ClientState&, const Args& a, std::string* out) {
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  if (!o->Live()) return AppendSimpleString(out, "none");
  switch (*o->Type()) {
    case ObjectType::kCounter:
    case ObjectType::kString: return AppendSimpleString(out, "string");
    case ObjectType::kHash: return AppendSimpleString(out, "hash");
    case ObjectType::kReservation: return AppendSimpleString(out, "rcounter");
  }
}

// SCAN's cursor names the last key the previous call examined (ScanCursors),
// and a call seeks just past it; 0 starts a scan and ends one. Keys are
// examined in key order, COUNT live ones per call; a key added or removed
// meanwhile may be missed or repeated, which SCAN allows.
void CommandTable::Scan(ClientState&, const Args& a, std::string* out) {
  int64_t cursor = 0;
  if (!ParseInt64(a[1], &cursor) || cursor < 0) return AppendError(out, "ERR invalid cursor");
  std::string pattern = "*";
  int64_t count = 10;
  for (size_t i = 2; i < a.size(); i += 2) {
    const std::string opt = Lower(a[i]);
    if (i + 1 >= a.size()) return AppendError(out, kSyntax);
    if (opt == "match") {
      pattern = a[i + 1];
    } else if (opt == "count") {
      if (!ParseInt64(a[i + 1], &count)) return AppendError(out, kNotInteger);
      if (count < 1) return AppendError(out, kSyntax);
    } else {
      return AppendError(out, kSyntax);
    }
  }
  std::string after;
  if (cursor != 0) {
    const std::string* last = scan_cursors_.Find(static_cast<uint64_t>(cursor));
    if (last == nullptr) {
      return AppendError(out,
                         "ERR invalid cursor: not one this node handed out recently (cursors "
                         "belong to one node and do not outlive a restart); start again from 0");
    }
    after = *last;
  }
  s_.commit_now();
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.replica->SnapshotObjects();
  if (!snap.ok()) return ErrorFromStatus(snap.status(), out);
  std::vector<std::string> keys;
  std::string last;
  int64_t examined = 0;
  auto& it = **snap;
  if (cursor == 0) {
    it.SeekToFirst();
  } else {
    it.Seek(after);
    if (it.Valid() && it.key() == after) it.Next();
  }
  for (; it.Valid() && examined < count; it.Next()) {
    StatusOr<Object> o = it.object();
    if (!o.ok() || !o->Live()) continue;
    ++examined;
    last = it.key();
    if (GlobMatch(pattern, it.key())) keys.emplace_back(it.key());
  }
  // Stopped with keys left: the next call goes on after the last examined
  // (the loop only stops early once it examined one, so `last` is set).
  const uint64_t next = it.Valid() ? scan_cursors_.Remember(last) : 0;
  AppendArrayHeader(out, 2);
  AppendBulk(out, std::to_string(next));
  AppendArrayHeader(out, keys.size());
  for (const auto& k : keys) AppendBulk(out, k);
}

void CommandTable::Keys(ClientState&, const Args& a, std::string* out) {
  s_.commit_now();
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.replica->SnapshotObjects();
  if (!snap.ok()) return ErrorFromStatus(snap.status(), out);
  std::vector<std::string> keys;
  auto& it = **snap;
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    if (!GlobMatch(a[1], it.key())) continue;
    StatusOr<Object> o = it.object();
    if (o.ok() && o->Live()) keys.emplace_back(it.key());
  }
  AppendArrayHeader(out, keys.size());
  for (const auto& k : keys) AppendBulk(out, k);
}

void CommandTable::DbSize(ClientState&, const Args&, std::string* out) {
  AppendInteger(out, static_cast<int64_t>(s_.replica->live_keys()));
}

}  // namespace converge
