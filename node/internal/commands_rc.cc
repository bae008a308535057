// Reservation counters (RC.*), sessions (SESSION, WAIT) and IDEM: the
// commands of PROTOCOL.md that make Converge more than an eventually
// consistent cache. Part of CommandTable; see commands.h.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "crdt/codec.h"
#include "node/internal/command_util.h"
#include "node/internal/commands.h"
#include "node/resp/reply.h"

namespace converge {
namespace {

using resp::AppendBulk;
using resp::AppendError;
using resp::AppendInteger;
using resp::AppendSimpleString;

constexpr uint64_t kDefaultTakeTimeoutMs = 1000;
constexpr uint64_t kDefaultResumeTimeoutMs = 1000;
// A rights request is sent again this often while a take waits (requests
// and their transfers can be lost like any message).
constexpr auto kRightsRetry = std::chrono::milliseconds(200);

using command_util::ErrorFromStatus;
using command_util::Lower;

bool ParsePositive(const std::string& s, uint64_t* out) {
  int64_t v;
  if (!ParseInt64(s, &v) || v <= 0) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}

std::chrono::steady_clock::time_point After(uint64_t ms) {
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

// Session tokens: "cv1." followed by the base64url encoding of the canonical
// encoding of the session's VersionVector (crdt/codec.h). Decoding checks
// the prefix, the alphabet and the encoding's own validation.
constexpr std::string_view kTokenPrefix = "cv1.";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kB64[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kB64[(acc << (6 - bits)) & 63];
  return out;
}

bool FromBase64Url(std::string_view in, std::string* out) {
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kB64, c);
    if (c == '\0' || p == nullptr) return false;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return true;
}

std::string EncodeToken(const VersionVector& vv) {
  return std::string(kTokenPrefix) + Base64Url(Encode(vv));
}

StatusOr<VersionVector> DecodeToken(const std::string& token) {
  if (token.size() > 64 * 1024 || token.compare(0, kTokenPrefix.size(), kTokenPrefix) != 0) {
    return InvalidArgumentError("invalid session token: not a Converge session token");
  }
  std::string bytes;
  if (!FromBase64Url(std::string_view(token).substr(kTokenPrefix.size()), &bytes)) {
    return InvalidArgumentError("invalid session token: bad characters");
  }
  StatusOr<VersionVector> vv = Decode<VersionVector>(bytes);
  if (!vv.ok()) return InvalidArgumentError("invalid session token: " + vv.status().message());
  return vv;
}

}  // namespace

// ---- reservation counters -------------------------------------------------

void CommandTable::RcAdd(ClientState&, const Args& a, std::string* out) {
  uint64_t n;
  if (!ParsePositive(a[2], &n)) return AppendError(out, "ERR units must be a positive integer");
  if (!Mutate(a[1], [&](Object& o, Stamp now) { return o.RcAdd(now, n); }, out)) return;
  StatusOr<const Object*> o = s_.replica->Read(a[1]);
  AppendInteger(out, o.ok() ? (*o)->As<ReservationCounter>()->Value() : 0);
}

void CommandTable::RcGet(ClientState&, const Args& a, std::string* out) {
  const Object* o = Lookup(a[1], out);
  if (o == nullptr) return;
  const ReservationCounter* rc = o->As<ReservationCounter>();
  if (o->Live() && rc == nullptr) return AppendError(out, Object::kWrongType);
  if (rc == nullptr) return AppendInteger(out, 0);
  if (Lower(a[0]) == "rc.rights") return AppendInteger(out, rc->Rights(s_.replica->id()));
  AppendInteger(out, rc->Value());
}

bool CommandTable::TryTake(const std::string& key, uint64_t n, bool final, uint64_t ttl_ms,
                           std::string* out) {
  const Object* o = Lookup(key, out);
  if (o == nullptr) return true;
  const ReservationCounter* rc = o->As<ReservationCounter>();
  if (o->Live() && rc == nullptr) {
    AppendError(out, Object::kWrongType);
    return true;
  }
  const int64_t value = rc != nullptr ? rc->Value() : 0;
  if (value < static_cast<int64_t>(n)) {
    AppendError(out, "INSUFFICIENT value is " + std::to_string(value) + ", " + std::to_string(n) +
                         " requested");
    return true;
  }
  const int64_t rights = rc->Rights(s_.replica->id());
  if (rights < static_cast<int64_t>(n)) {
    if (!final) return false;
    AppendError(out, "TRYAGAIN the value suffices but rights could not be gathered in time "
                     "(this node holds " + std::to_string(rights) + " of " + std::to_string(n) + ")");
    return true;
  }
  if (!Mutate(key, [&](Object& obj, Stamp now) { return obj.RcTake(now, n); }, out)) return true;
  s_.replicator->OnLocalTake(key, n);
  if (ttl_ms == 0) {  // RC.TAKE
    StatusOr<const Object*> after = s_.replica->Read(key);
    AppendInteger(out, after.ok() ? (*after)->As<ReservationCounter>()->Value() : 0);
    return true;
  }
  // RC.RESERVE: the units are taken now and held; the hold is written in the
  // same batch as the take. Its id names this node.
  char stamp[17];
  std::snprintf(stamp, sizeof(stamp), "%016" PRIx64, s_.replica->clock().Now().packed());
  HoldRecord hold{s_.options->name + "/" + stamp, key, n, s_.clock->NowMillis() + ttl_ms};
  s_.replica->StageHold(hold);
  AppendBulk(out, hold.hold_id);
  return true;
}

// RC.TAKE key n [TIMEOUT ms] and RC.RESERVE key n ttl-ms [TIMEOUT ms].
void CommandTable::RcTake(ClientState&, const Args& a, std::string* out) {
  const bool reserve = Lower(a[0]) == "rc.reserve";
  uint64_t n, ttl_ms = 0, timeout_ms = kDefaultTakeTimeoutMs;
  if (!ParsePositive(a[2], &n)) return AppendError(out, "ERR units must be a positive integer");
  size_t i = 3;
  if (reserve) {
    if (!ParsePositive(a[3], &ttl_ms)) return AppendError(out, "ERR ttl-ms must be a positive integer");
    i = 4;
  }
  if (i < a.size()) {
    int64_t t;
    if (i + 2 != a.size() || Lower(a[i]) != "timeout" || !ParseInt64(a[i + 1], &t) || t < 0) {
      return AppendError(out, "ERR syntax error");
    }
    timeout_ms = static_cast<uint64_t>(t);
  }
  const std::string key = a[1];
  const size_t before = out->size();
  if (TryTake(key, n, /*final=*/timeout_ms == 0, ttl_ms, out)) {
    if (out->size() > before && (*out)[before] != '-') ++takes_local_;
    return;
  }

  // Short of rights while the value suffices: ask the holders, then wait for
  // their transfers to arrive (ordinary deltas) or the deadline.
  const int64_t have = s_.replica->Read(key).value()->As<ReservationCounter>()->Rights(s_.replica->id());
  const uint64_t missing = n - static_cast<uint64_t>(std::max<int64_t>(have, 0));
  s_.replicator->RequestRights(key, missing);
  auto next_ask = std::make_shared<std::chrono::steady_clock::time_point>(
      std::chrono::steady_clock::now() + kRightsRetry);
  wait_ = Wait{
      After(timeout_ms),
      [this, key, n, ttl_ms, next_ask](std::string* o) {
        const size_t at = o->size();
        if (TryTake(key, n, false, ttl_ms, o)) {
          if (o->size() > at && (*o)[at] != '-') ++takes_waited_;
          return true;
        }
        if (std::chrono::steady_clock::now() >= *next_ask) {
          *next_ask = std::chrono::steady_clock::now() + kRightsRetry;
          StatusOr<const Object*> obj = s_.replica->Read(key);
          if (obj.ok() && (*obj)->As<ReservationCounter>() != nullptr) {
            const int64_t r = (*obj)->As<ReservationCounter>()->Rights(s_.replica->id());
            if (r < static_cast<int64_t>(n)) s_.replicator->RequestRights(key, n - std::max<int64_t>(r, 0));
          }
        }
        return false;
      },
      [this, key, n, ttl_ms](std::string* o) { TryTake(key, n, true, ttl_ms, o); }};
}

const HoldRecord* CommandTable::OwnHold(const std::string& id, std::string* out) {
  const size_t slash = id.rfind('/');
  const std::string node = slash == std::string::npos ? "" : id.substr(0, slash);
  if (node.empty()) {
    AppendError(out, "NOHOLD no such hold");
    return nullptr;
  }
  if (node != s_.options->name) {
    AppendError(out, "WRONGNODE " + node);
    return nullptr;
  }
  const HoldRecord* hold = s_.replica->FindHold(id);
  if (hold == nullptr) AppendError(out, "NOHOLD no such hold (unknown, committed or released)");
  return hold;
}

void CommandTable::RcCommit(ClientState&, const Args& a, std::string* out) {
  const HoldRecord* hold = OwnHold(a[1], out);
  if (hold == nullptr) return;
  const HoldRecord h = *hold;
  if (h.expiry_ms <= s_.clock->NowMillis()) {
    // Ran out before the commit: it is released, as the sweep would.
    if (!Mutate(h.key, [&](Object& o, Stamp now) { return o.RcAdd(now, h.units); }, out)) return;
    s_.replica->StageHoldRelease(h.hold_id);
    ++holds_expired_;
    return AppendError(out, "EXPIRED the hold ran out; its units came back");
  }
  s_.replica->StageHoldRelease(h.hold_id);  // the taken units stay taken
  AppendSimpleString(out, "OK");
}

void CommandTable::RcRelease(ClientState&, const Args& a, std::string* out) {
  const HoldRecord* hold = OwnHold(a[1], out);
  if (hold == nullptr) return;
  const HoldRecord h = *hold;
  if (!Mutate(h.key, [&](Object& o, Stamp now) { return o.RcAdd(now, h.units); }, out)) return;
  s_.replica->StageHoldRelease(h.hold_id);
  AppendSimpleString(out, "OK");
}

// RC.DRAIN [node]: before a node leaves the cluster, it gives away all its
// rights on every reservation counter, to `node` or, without one, evenly to
// the members it is connected to. Rights can only leave a node by its own
// transfers, so a node stopped or forgotten with rights keeps them from
// everyone for good. Replies with the units moved. Holds still open here
// give their units back to this node when released or expired: drain again
// after they end.
void CommandTable::RcDrain(ClientState&, const Args& a, std::string* out) {
  if (a.size() > 2) return AppendError(out, "ERR wrong number of arguments for 'rc.drain' command");
  const ReplicaId self = s_.replica->id();
  std::vector<ReplicaId> to;
  if (a.size() == 2) {
    std::optional<ReplicaId> id = s_.replicator->FindMember(a[1]);
    if (!id || *id == self) {
      return AppendError(out, "ERR Unknown node " + a[1] + " (name a member other than this node)");
    }
    to.push_back(*id);
  } else {
    for (const MemberView& m : s_.replicator->Members()) {
      if (!m.self && m.connected && !m.record.removed) to.push_back(m.record.id);
    }
    if (to.empty()) return AppendError(out, "ERR no connected member to give the rights to; name one");
  }
  // Which keys: a scan of the committed objects (staged writes first).
  std::vector<std::string> keys;
  s_.commit_now();
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.replica->SnapshotObjects();
  if (!snap.ok()) return ErrorFromStatus(snap.status(), out);
  for ((*snap)->SeekToFirst(); (*snap)->Valid(); (*snap)->Next()) {
    StatusOr<Object> o = (*snap)->object();
    const ReservationCounter* rc = o.ok() ? o->As<ReservationCounter>() : nullptr;
    if (rc != nullptr && rc->Rights(self) > 0) keys.emplace_back((*snap)->key());
  }
  if (!(*snap)->status().ok()) return ErrorFromStatus((*snap)->status(), out);
  snap->reset();  // it holds only until the replica changes, as Mutate does
  int64_t moved = 0;
  for (const std::string& key : keys) {
    StatusOr<const Object*> o = s_.replica->Read(key);
    if (!o.ok() || (*o)->As<ReservationCounter>() == nullptr) continue;
    const int64_t rights = (*o)->As<ReservationCounter>()->Rights(self);
    if (rights <= 0) continue;
    // Evenly, the remainder one unit each to the first recipients.
    const uint64_t share = static_cast<uint64_t>(rights) / to.size();
    const uint64_t extra = static_cast<uint64_t>(rights) % to.size();
    for (size_t i = 0; i < to.size(); ++i) {
      const uint64_t n = share + (i < extra ? 1 : 0);
      if (n == 0) continue;
      if (!Mutate(key, [&](Object& obj, Stamp now) { return obj.RcTransfer(now, to[i], n); }, out)) return;
      moved += static_cast<int64_t>(n);
    }
  }
  spdlog::info("[{}] RC.DRAIN moved {} units of rights on {} reservation counters to {} member(s)",
               s_.options->name, moved, keys.size(), to.size());
  AppendInteger(out, moved);
}

void CommandTable::ReleaseExpiredHolds() {
  for (const HoldRecord& h : s_.replica->ExpiredHolds(s_.clock->NowMillis())) {
    Status st = s_.replica->Mutate(h.key, [&](Object& o, Stamp now) { return o.RcAdd(now, h.units); });
    // A key that is no longer a reservation counter keeps nothing to give
    // back to; the hold goes either way.
    st.IgnoreError();
    s_.replica->StageHoldRelease(h.hold_id);
    ++holds_expired_;
  }
}

void CommandTable::SweepIdempotency() {
  s_.store->SweepExpiredIdempotency(s_.clock->NowMillis()).status().IgnoreError();
}

std::string CommandTable::RcLines() {
  std::string t;
  s_.commit_now();
  StatusOr<std::unique_ptr<ObjectSnapshot>> snap = s_.replica->SnapshotObjects();
  if (!snap.ok()) return t;
  size_t shown = 0;
  for ((*snap)->SeekToFirst(); (*snap)->Valid() && shown < 100; (*snap)->Next()) {
    StatusOr<Object> o = (*snap)->object();
    if (!o.ok() || o->As<ReservationCounter>() == nullptr) continue;
    const ReservationCounter& rc = *o->As<ReservationCounter>();
    t += "rcounter:" + std::string((*snap)->key()) + "=value=" + std::to_string(rc.Value()) +
         ",rights=" + std::to_string(rc.Rights(s_.replica->id())) + "\r\n";
    ++shown;
  }
  t += "holds:" + std::to_string(s_.replica->holds()) + "\r\n";
  t += "holds_expired:" + std::to_string(holds_expired_) + "\r\n";
  t += "rc_takes_local:" + std::to_string(takes_local_) + "\r\n";
  t += "rc_takes_waited:" + std::to_string(takes_waited_) + "\r\n";
  t += "rights_moved_by_policy:" + std::to_string(s_.replicator->rights_moved_by_policy()) + "\r\n";
  return t;
}

// ---- sessions -------------------------------------------------------------

void CommandTable::Session(ClientState& client, const Args& a, std::string* out) {
  const std::string sub = Lower(a[1]);
  if (sub == "token" && a.size() == 2) {
    // Everything this connection read was read at or below this node's
    // current vector: covering it gives monotonic reads elsewhere.
    client.session.Join(s_.replica->version_vector());
    return AppendBulk(out, EncodeToken(client.session));
  }
  if (sub == "resume" && (a.size() == 3 || a.size() == 4)) {
    StatusOr<VersionVector> token = DecodeToken(a[2]);
    if (!token.ok()) return AppendError(out, "ERR " + token.status().message());
    uint64_t timeout_ms = kDefaultResumeTimeoutMs;
    if (a.size() == 4) {
      int64_t t;
      if (!ParseInt64(a[3], &t) || t < 0) return AppendError(out, "ERR timeout is not an integer or out of range");
      timeout_ms = static_cast<uint64_t>(t);
    }
    const VersionVector want = *token;
    auto caught_up = [this, &client, want](std::string* o) {
#ifndef CONVERGE_BREAK_RESUME_WITHOUT_WAIT
      if (!s_.replica->version_vector().Dominates(want)) return false;
#else
      // The deliberately broken build that the nemesis suite must catch
      // (tests/nemesis/CMakeLists.txt): resume answers OK at once.
      (void)this;
#endif
      client.session.Join(want);
      AppendSimpleString(o, "OK");
      return true;
    };
    if (caught_up(out)) return;
    s_.replicator->PullFromAll();  // ask for the missing range now, not next round
    wait_ = Wait{After(timeout_ms), caught_up, [](std::string* o) {
                   AppendError(o, "TRYAGAIN session not caught up");
                 }};
    return;
  }
  AppendError(out, "ERR unknown subcommand or wrong number of arguments for 'SESSION " + a[1] + "'");
}

// WAIT numpeers timeout-ms: peers that hold every write of this connection.
void CommandTable::WaitPeers(ClientState& client, const Args& a, std::string* out) {
  int64_t want, timeout;
  if (!ParseInt64(a[1], &want) || want < 0 || !ParseInt64(a[2], &timeout) || timeout < 0) {
    return AppendError(out, "ERR value is not an integer or out of range");
  }
  const ReplicaId self = s_.replica->id();
  auto count = [this, &client, self] {
    int64_t n = 0;
    for (ReplicaId peer : s_.replicator->ConnectedPeers()) {
      if (s_.replicator->PeerVersionVector(peer).Get(self) >= client.own_seq) ++n;
    }
    return n;
  };
  if (count() >= want) return AppendInteger(out, count());
  // As Redis: a timeout of 0 waits as long as it takes.
  const uint64_t ms = timeout == 0 ? uint64_t{24} * 3600 * 1000 : static_cast<uint64_t>(timeout);
  wait_ = Wait{After(ms),
               [count, want](std::string* o) {
                 const int64_t n = count();
                 if (n < want) return false;
                 AppendInteger(o, n);
                 return true;
               },
               [count](std::string* o) { AppendInteger(o, count()); }};
}

// ---- IDEM -----------------------------------------------------------------

void CommandTable::Idem(ClientState& client, const Args& a, std::string* out) {
  uint64_t ttl_ms;
  if (!ParsePositive(a[2], &ttl_ms)) return AppendError(out, "ERR ttl-ms must be a positive integer");
  const std::string inner = Lower(a[3]);
  auto spec = table_.find(inner);
  if (spec == table_.end() || !spec->second.write || inner == "idem") {
    return AppendError(out, "ERR IDEM wraps only write commands, not '" + a[3] + "'");
  }
  const std::string idem_key = a[1];
  StatusOr<std::optional<IdempotencyRecord>> seen = s_.replica->FindIdempotency(idem_key);
  if (!seen.ok()) return AppendError(out, "ERR " + seen.status().message());
  const uint64_t now_ms = s_.clock->NowMillis();
  if (seen->has_value() && (*seen)->expiry_ms > now_ms) {
    out->append((*seen)->reply);  // a repeat: the first reply, nothing applied
    return;
  }
  const Args args(a.begin() + 3, a.end());
  const int n = static_cast<int>(args.size());
  if ((spec->second.arity > 0 && n != spec->second.arity) ||
      (spec->second.arity < 0 && n < -spec->second.arity)) {
    return AppendError(out, "ERR wrong number of arguments for '" + inner + "' command");
  }
  // Only an answer that applied the command is remembered: an error (say
  // TRYAGAIN) leaves the key free for the retry.
  auto remember = [this, idem_key, ttl_ms](const std::string& reply) {
    if (!reply.empty() && reply[0] != '-') {
      s_.replica->StageIdempotency(
          IdempotencyRecord{idem_key, reply, s_.clock->NowMillis() + ttl_ms});
    }
  };
  std::string reply;
  (this->*spec->second.handler)(client, args, &reply);
  if (!wait_) {
    remember(reply);
    out->append(reply);
    return;
  }
  // The wrapped command parked: remember its reply when it answers.
  auto poll = std::move(wait_->poll);
  auto expire = std::move(wait_->expire);
  wait_->poll = [poll, remember](std::string* o) {
    std::string r;
    if (!poll(&r)) return false;
    remember(r);
    o->append(r);
    return true;
  };
  wait_->expire = [expire, remember](std::string* o) {
    std::string r;
    expire(&r);
    remember(r);
    o->append(r);
  };
}

}  // namespace converge
