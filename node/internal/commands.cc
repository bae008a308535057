#include "node/internal/commands.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <unistd.h>

#include "crdt/digest.h"
#include "node/resp/reply.h"
#include "transport/transport.h"

namespace converge {
namespace {

using resp::AppendArrayHeader;
using resp::AppendBulk;
using resp::AppendError;
using resp::AppendInteger;
using resp::AppendNullBulk;
using resp::AppendSimpleString;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void ErrorFromStatus(const Status& st, std::string* out) {
  if (Object::IsWrongType(st)) {
    AppendError(out, st.message());
  } else {
    AppendError(out, "ERR " + st.message());
  }
}

std::string Hex(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, id);
  return buf;
}

// A counter's value as GET shows it.
std::string CounterText(const PNCounter& c) { return std::to_string(c.Value()); }

const char* const kNotInteger = "ERR value is not an integer or out of range";
const char* const kSyntax = "ERR syntax error";

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
      {"rc.add", {&CommandTable::RcAdd, 3, true}},
      {"rc.take", {&CommandTable::RcTake, -3, true}},
      {"rc.reserve", {&CommandTable::RcTake, -4, true}},
      {"rc.get", {&CommandTable::RcGet, 2, false}},
      {"rc.rights", {&CommandTable::RcGet, 2, false}},
      {"rc.commit", {&CommandTable::RcCommit, 2, true}},
      {"rc.release", {&CommandTable::RcRelease, 2, true}},
      {"session", {&CommandTable::Session, -2, false}},
      {"wait", {&CommandTable::WaitPeers, 3, false}},
      {"idem", {&CommandTable::Idem, -4, true}},
  };
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
    return std::nullopt;
  }
  const Spec& spec = it->second;
  const int n = static_cast<int>(args.size());
  if ((spec.arity > 0 && n != spec.arity) || (spec.arity < 0 && n < -spec.arity)) {
    AppendError(out, "ERR wrong number of arguments for '" + name + "' command");
    return std::nullopt;
  }
  if (!s_.options->requirepass.empty() && !client.authenticated && name != "auth" &&
      name != "hello" && name != "quit") {
    AppendError(out, "NOAUTH Authentication required.");
    return std::nullopt;
  }
  if (spec.write) ++writes_;
  const ReplicaId self = s_.replica->id();
  const uint64_t seq_before = s_.replica->version_vector().Get(self);
  wait_.reset();
  (this->*spec.handler)(client, args, out);
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
    w->poll = [poll, note](std::string* o) {
      if (!poll(o)) return false;
      note();
      return true;
    };
    w->expire = [expire, note](std::string* o) {
      expire(o);
      note();
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

// SCAN's cursor is the number of live keys already returned in key order; a
// key added or removed meanwhile may be missed or repeated, which SCAN allows.
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
  s_.commit_now();
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.store->SnapshotObjects();
  if (!snap.ok()) return ErrorFromStatus(snap.status(), out);
  std::vector<std::string> keys;
  int64_t index = 0, examined = 0;
  auto& it = **snap;
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    StatusOr<Object> o = it.object();
    if (!o.ok() || !o->Live()) continue;
    if (index++ < cursor) continue;
    if (examined++ >= count) break;
    if (GlobMatch(pattern, it.key())) keys.emplace_back(it.key());
  }
  const int64_t next = it.Valid() ? cursor + examined - (examined > count ? 1 : 0) : 0;
  AppendArrayHeader(out, 2);
  AppendBulk(out, std::to_string(it.Valid() ? next : 0));
  AppendArrayHeader(out, keys.size());
  for (const auto& k : keys) AppendBulk(out, k);
}

void CommandTable::Keys(ClientState&, const Args& a, std::string* out) {
  s_.commit_now();
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.store->SnapshotObjects();
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
  }
  if (want("clients")) line("connected_clients", std::to_string(s_.connected_clients()));
  if (want("persistence")) {
    const std::string fsync = s_.options->fsync == FsyncMode::kAlways  ? "always"
                              : s_.options->fsync == FsyncMode::kBatch ? "batch"
                                                                       : "everysec";
    line("fsync", fsync);
    line("log_bytes", std::to_string(s_.store->log_bytes()));
    line("log_floor", s_.store->log_floor().ToString());
    line("hlc_high_water", s_.replica->clock().Last().ToString());
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
  if (StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.store->SnapshotObjects(); snap.ok()) {
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
    return AppendSimpleString(out, "OK");
  }
  AppendError(out, "ERR unknown subcommand or wrong number of arguments for '" + a[1] + "'");
}

void CommandTable::Debug(ClientState&, const Args& a, std::string* out) {
  const std::string sub = Lower(a[1]);
  if (sub == "digest" && a.size() == 2) {
    s_.commit_now();
    StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.store->SnapshotObjects();
    if (!snap.ok()) return ErrorFromStatus(snap.status(), out);
    StateDigest digest;
    auto& it = **snap;
    for (it.SeekToFirst(); it.Valid(); it.Next()) {
      StatusOr<Object> o = it.object();
      if (!o.ok()) return ErrorFromStatus(o.status(), out);
      digest.Add(it.key(), *o);
    }
    return AppendSimpleString(out, digest.HexDigest());
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
