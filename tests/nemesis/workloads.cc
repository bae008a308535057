#include "tests/nemesis/workloads.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace converge::nemesis {
namespace {

std::string NodeName(int i) { return "n" + std::to_string(i + 1); }

std::string Us(int64_t us) { return std::to_string(us / 1000) + "." + std::to_string(us / 100 % 10) + "ms"; }

// Parses a GET reply of a counter: a decimal bulk string, or nil for 0.
bool ReadInt(const Reply& r, int64_t* v) {
  if (r.is_nil) {
    *v = 0;
    return true;
  }
  if (r.is_integer) {
    *v = r.integer;
    return true;
  }
  try {
    size_t used = 0;
    *v = std::stoll(r.text, &used);
    return used == r.text.size();
  } catch (...) {
    return false;
  }
}

// Times and amounts, sorted by time, with prefix sums: "how much was
// attempted or acknowledged before t" in O(log n).
class Timeline {
 public:
  void Add(int64_t t, int64_t amount) { points_.emplace_back(t, amount); }
  void Seal() {
    std::sort(points_.begin(), points_.end());
    prefix_.assign(points_.size() + 1, 0);
    for (size_t i = 0; i < points_.size(); ++i) prefix_[i + 1] = prefix_[i] + points_[i].second;
  }
  // Sum of amounts at times strictly before t.
  int64_t Before(int64_t t) const {
    auto it = std::lower_bound(points_.begin(), points_.end(), std::make_pair(t, INT64_MIN));
    return prefix_[it - points_.begin()];
  }

 private:
  std::vector<std::pair<int64_t, int64_t>> points_;
  std::vector<int64_t> prefix_;
};

// ---- counters: INCRBY / DECRBY / GET ----------------------------------------
//
// A read of v on node N over [t0, t1] must lie within
//   increments acked by N before t0 - decrements attempted before t1
//   <= v <=
//   increments attempted before t1 - decrements acked by N before t0,
// and the final value is the acked sum plus a subset of the unknown deltas.
class CounterWorkload : public Workload {
 public:
  explicit CounterWorkload(int nodes) : nodes_(nodes) {}
  const char* name() const override { return "counter"; }

  void Step(Worker& w) override {
    const int key = static_cast<int>(w.Uniform(0, kKeys - 1));
    const std::string k = "ctr:" + std::to_string(key);
    const uint64_t pick = w.Uniform(0, 99);
    const int64_t t0 = w.clock->NowUs();
    if (pick < 70) {
      const int64_t amount = static_cast<int64_t>(w.Uniform(1, 5));
      const bool incr = pick < 45;
      Reply r = w.home_conn().Run({incr ? "INCRBY" : "DECRBY", k, std::to_string(amount)});
      const int64_t t1 = w.clock->NowUs();
      w.report->Operation(name(), r.outcome);
      std::lock_guard<std::mutex> lock(mu_);
      writes_.push_back({w.home, key, incr ? amount : -amount, t0, t1, r.outcome});
      if (r.ok() && r.is_integer) reads_.push_back({w.home, key, t0, t1, r.integer});
      return;
    }
    Reply r = w.home_conn().Run({"GET", k});
    const int64_t t1 = w.clock->NowUs();
    w.report->Operation(name(), r.outcome);
    int64_t v;
    if (!r.ok()) return;
    if (!ReadInt(r, &v)) {
      w.report->Anomaly(name(), "GET " + k + " answered a non-integer: " + r.text);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    reads_.push_back({w.home, key, t0, t1, v});
  }

  void Check(FinalView& view, Report* report) override {
    report->Note("counter: " + std::to_string(reads_.size()) + " reads checked against their bounds");
    for (int key = 0; key < kKeys; ++key) {
      const std::string k = "ctr:" + std::to_string(key);
      Timeline incr_attempted, decr_attempted;
      std::vector<Timeline> incr_acked(nodes_), decr_acked(nodes_);
      int64_t acked = 0;
      std::vector<int64_t> unknown;
      for (const auto& op : writes_) {
        if (op.key != key || op.outcome == Outcome::kFailed) continue;
        (op.delta > 0 ? incr_attempted : decr_attempted).Add(op.t0, std::abs(op.delta));
        if (op.outcome == Outcome::kOk) {
          (op.delta > 0 ? incr_acked : decr_acked)[op.node].Add(op.t1, std::abs(op.delta));
          acked += op.delta;
        } else {
          unknown.push_back(op.delta);
        }
      }
      incr_attempted.Seal();
      decr_attempted.Seal();
      for (int n = 0; n < nodes_; ++n) {
        incr_acked[n].Seal();
        decr_acked[n].Seal();
      }
      for (const auto& rd : reads_) {
        if (rd.key != key) continue;
        const int64_t lo = incr_acked[rd.node].Before(rd.t0) - decr_attempted.Before(rd.t1);
        const int64_t hi = incr_attempted.Before(rd.t1) - decr_acked[rd.node].Before(rd.t0);
        if (rd.value < lo || rd.value > hi) {
          report->Anomaly(name(), k + " read " + std::to_string(rd.value) + " on node " +
                                      view.names[rd.node] + " at " + Us(rd.t0) + ".." + Us(rd.t1) +
                                      ", outside [" + std::to_string(lo) + ", " +
                                      std::to_string(hi) + "]");
        }
      }
      std::vector<int64_t> finals;
      for (size_t n = 0; n < view.conns.size(); ++n) {
        Reply r = view.conns[n]->Run({"GET", k});
        int64_t v = 0;
        if (!r.ok() || !ReadInt(r, &v)) {
          report->Anomaly(name(), "final GET " + k + " on " + view.names[n] + " failed: " + r.text);
          continue;
        }
        finals.push_back(v);
        if (v != finals.front()) {
          report->Anomaly(name(), k + " final values differ: " + std::to_string(finals.front()) +
                                      " vs " + std::to_string(v) + " on " + view.names[n]);
        }
      }
      if (!finals.empty() && !SubsetSumReaches(acked, unknown, finals.front())) {
        report->Anomaly(name(), k + " final value " + std::to_string(finals.front()) +
                                    " is not the acknowledged sum " + std::to_string(acked) +
                                    " plus a subset of the " + std::to_string(unknown.size()) +
                                    " unknown deltas");
      }
    }
  }

 private:
  static constexpr int kKeys = 4;
  struct Write {
    int node, key;
    int64_t delta, t0, t1;
    Outcome outcome;
  };
  struct Read {
    int node, key;
    int64_t t0, t1, value;
  };
  const int nodes_;
  std::mutex mu_;
  std::vector<Write> writes_;
  std::vector<Read> reads_;
};

// ---- records: HSET of unique fields, plus one contended field ---------------
//
// Every HSET writes its own field f.<op> and the shared field "last" = <op>.
// Acked fields are never lost (checked on the writer's node while running,
// and everywhere at the end); "last" ends as a write that was attempted, and
// never one that an acked later write on the same node should have beaten
// (one node's hybrid clock only moves forward, restarts included).
class RecordWorkload : public Workload {
 public:
  const char* name() const override { return "record"; }

  void Step(Worker& w) override {
    const int rec = static_cast<int>(w.Uniform(0, kRecords - 1));
    const std::string k = "rec:" + std::to_string(rec);
    if (w.Uniform(0, 99) < 25) return ReadOwn(w);
    const std::string op = std::to_string(w.id) + "." + std::to_string(next_seq_[w.id % kMaxWorkers]++);
    const int64_t t0 = w.clock->NowUs();
    Reply r = w.home_conn().Run({"HSET", k, "f." + op, op, "last", op});
    const int64_t t1 = w.clock->NowUs();
    w.report->Operation(name(), r.outcome);
    std::lock_guard<std::mutex> lock(mu_);
    ops_[op] = {w.home, rec, t0, t1, r.outcome};
    if (r.ok()) acked_by_worker_[w.id].push_back(op);
  }

  void Check(FinalView& view, Report* report) override {
    for (int rec = 0; rec < kRecords; ++rec) {
      const std::string k = "rec:" + std::to_string(rec);
      std::map<std::string, std::string> first;
      for (size_t n = 0; n < view.conns.size(); ++n) {
        Reply r = view.conns[n]->Run({"HGETALL", k});
        if (!r.ok() || r.elements.size() % 2 != 0) {
          report->Anomaly(name(), "final HGETALL " + k + " on " + view.names[n] + " failed: " + r.text);
          continue;
        }
        std::map<std::string, std::string> fields;
        for (size_t i = 0; i + 1 < r.elements.size(); i += 2) fields[r.elements[i]] = r.elements[i + 1];
        if (n == 0) first = fields;
        if (fields != first) {
          report->Anomaly(name(), k + " differs between " + view.names[0] + " (" +
                                      std::to_string(first.size()) + " fields) and " +
                                      view.names[n] + " (" + std::to_string(fields.size()) + ")");
        }
      }
      CheckRecord(k, rec, first, report);
    }
  }

 private:
  static constexpr int kRecords = 4;
  static constexpr int kMaxWorkers = 64;
  struct Op {
    int node = 0, rec = 0;
    int64_t t0 = 0, t1 = 0;
    Outcome outcome = Outcome::kFailed;
  };

  // An acked field of this worker, read back on its own node.
  void ReadOwn(Worker& w) {
    std::string op;
    int rec;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto& mine = acked_by_worker_[w.id];
      if (mine.empty()) return;
      op = mine[w.Uniform(0, mine.size() - 1)];
      rec = ops_[op].rec;
    }
    Reply r = w.home_conn().Run({"HGET", "rec:" + std::to_string(rec), "f." + op});
    w.report->Operation(name(), r.outcome);
    if (r.ok() && (r.is_nil || r.text != op)) {
      w.report->Anomaly(name(), "acknowledged field f." + op + " of rec:" + std::to_string(rec) +
                                    " read back as " + (r.is_nil ? "nil" : r.text) +
                                    " on its own node");
    }
  }

  void CheckRecord(const std::string& k, int rec, const std::map<std::string, std::string>& fields,
                   Report* report) {
    for (const auto& [op, o] : ops_) {
      if (o.rec != rec || o.outcome != Outcome::kOk) continue;
      auto it = fields.find("f." + op);
      if (it == fields.end() || it->second != op) {
        report->Anomaly(name(), "acknowledged field f." + op + " of " + k + " lost");
      }
    }
    for (const auto& [f, v] : fields) {
      const std::string op = f == "last" ? v : f.substr(2);
      auto it = ops_.find(op);
      if (it == ops_.end() || it->second.rec != rec || it->second.outcome == Outcome::kFailed ||
          (f != "last" && v != op)) {
        report->Anomaly(name(), k + " holds " + f + "=" + v + ", which no attempted write set");
      }
    }
    auto last = fields.find("last");
    if (last == fields.end()) return;
    const Op& winner = ops_[last->second];
    if (winner.outcome != Outcome::kOk) return;  // an unknown write may apply at any time
    for (const auto& [op, o] : ops_) {
      if (o.rec == rec && o.node == winner.node && o.outcome == Outcome::kOk && o.t0 > winner.t1) {
        report->Anomaly(name(), k + " last=" + last->second + " won over " + op +
                                    ", acknowledged later by the same node");
        break;
      }
    }
  }

  std::mutex mu_;
  std::map<std::string, Op> ops_;
  std::map<int, std::vector<std::string>> acked_by_worker_;
  std::array<std::atomic<uint64_t>, kMaxWorkers> next_seq_{};
};

// ---- reservation counters ---------------------------------------------------
//
// RC.ADD, RC.TAKE, RC.RESERVE then COMMIT, RELEASE or let expire. No read on
// any node is ever below zero; the final value is the definite effects
// (acked adds, takes and commits) plus a subset of the maybe effects
// (unknown adds, takes and commits). Unknown reserves and every release
// come to nothing once holds have expired.
class RcWorkload : public Workload {
 public:
  static constexpr int kHoldTtlMs = 1500;
  const char* name() const override { return "rcounter"; }

  void Step(Worker& w) override {
    const int key = static_cast<int>(w.Uniform(0, kKeys - 1));
    const std::string k = "rc:" + std::to_string(key);
    const uint64_t pick = w.Uniform(0, 99);
    if (pick < 15) {  // adds a little less than the rest spends: the value lives near zero
      const int64_t n = static_cast<int64_t>(w.Uniform(1, 6));
      Reply r = w.home_conn().Run({"RC.ADD", k, std::to_string(n)});
      Record(w, "add", key, r, n);
      CheckValue(w, k, r, "RC.ADD");
    } else if (pick < 45) {
      const int64_t n = static_cast<int64_t>(w.Uniform(1, 3));
      Reply r = w.home_conn().Run({"RC.TAKE", k, std::to_string(n), "TIMEOUT", "100"});
      Record(w, "take", key, r, -n);
      CheckValue(w, k, r, "RC.TAKE");
    } else if (pick < 75) {
      Reserve(w, key);
    } else {
      const bool rights = pick >= 90;
      Reply r = w.home_conn().Run({rights ? "RC.RIGHTS" : "RC.GET", k});
      w.report->Operation(name(), r.outcome);
      CheckValue(w, k, r, rights ? "RC.RIGHTS" : "RC.GET");
    }
  }

  void Check(FinalView& view, Report* report) override {
    std::string tally = "rcounter:";
    for (const auto& [what, n] : tally_) tally += " " + what + "=" + std::to_string(n);
    report->Note(tally);
    for (int key = 0; key < kKeys; ++key) {
      const std::string k = "rc:" + std::to_string(key);
      int64_t definite = 0;
      std::vector<int64_t> maybe;
      for (const auto& e : effects_) {
        if (e.key != key) continue;
        if (e.definite) definite += e.amount;
        else maybe.push_back(e.amount);
      }
      std::vector<int64_t> finals;
      for (size_t n = 0; n < view.conns.size(); ++n) {
        Reply r = view.conns[n]->Run({"RC.GET", k});
        if (!r.ok() || !r.is_integer) {
          report->Anomaly(name(), "final RC.GET " + k + " on " + view.names[n] + " failed: " + r.text);
          continue;
        }
        finals.push_back(r.integer);
        if (r.integer != finals.front()) {
          report->Anomaly(name(), k + " final values differ: " + std::to_string(finals.front()) +
                                      " vs " + std::to_string(r.integer) + " on " + view.names[n]);
        }
        if (r.integer < 0) report->Anomaly(name(), k + " final value below zero on " + view.names[n]);
      }
      if (!finals.empty()) {
        report->Note("rcounter " + k + ": final " + std::to_string(finals.front()) + " = definite " +
                     std::to_string(definite) + " + a subset of " + std::to_string(maybe.size()) +
                     " unknown effects");
      }
      if (!finals.empty() && !SubsetSumReaches(definite, maybe, finals.front())) {
        report->Anomaly(name(), k + " final value " + std::to_string(finals.front()) +
                                    " does not account for the operations: definite " +
                                    std::to_string(definite) + " plus a subset of " +
                                    std::to_string(maybe.size()) + " unknown effects");
      }
    }
  }

 private:
  static constexpr int kKeys = 2;
  struct Effect {
    int key;
    int64_t amount;
    bool definite;
  };

  void Record(Worker& w, const char* what, int key, const Reply& r, int64_t amount) {
    w.report->Operation(name(), r.outcome);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++tally_[std::string(what) + " " + OutcomeName(r.outcome)];
    }
    if (r.outcome == Outcome::kFailed) {
      CheckError(w, r);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    effects_.push_back({key, amount, r.outcome == Outcome::kOk});
  }

  // Errors the protocol allows here; anything else is an anomaly.
  void CheckError(Worker& w, const Reply& r) {
    static const char* kAllowed[] = {"INSUFFICIENT", "TRYAGAIN", "EXPIRED", "NOHOLD", "connect failed"};
    for (const char* p : kAllowed) {
      if (r.text.rfind(p, 0) == 0) return;
    }
    w.report->Anomaly(name(), "unexpected error: " + r.text);
  }

  void CheckValue(Worker& w, const std::string& k, const Reply& r, const char* what) {
    if (r.ok() && r.is_integer && r.integer < 0) {
      w.report->Anomaly(name(), std::string(what) + " " + k + " answered " +
                                    std::to_string(r.integer) + " on " + NodeName(w.home));
    }
  }

  void Reserve(Worker& w, int key) {
    const std::string k = "rc:" + std::to_string(key);
    const int64_t n = static_cast<int64_t>(w.Uniform(1, 3));
    Reply r = w.home_conn().Run(
        {"RC.RESERVE", k, std::to_string(n), std::to_string(kHoldTtlMs), "TIMEOUT", "100"});
    w.report->Operation(name(), r.outcome);
    if (!r.ok()) {
      if (r.outcome == Outcome::kFailed) CheckError(w, r);
      return;  // an unknown reserve's hold, if any, expires: no effect
    }
    const std::string hold = r.text;
    std::this_thread::sleep_for(std::chrono::milliseconds(w.Uniform(0, 200)));
    const uint64_t end = w.Uniform(0, 99);
    if (end < 50) {
      Reply c = w.home_conn().Run({"RC.COMMIT", hold});
      Record(w, "commit", key, c, -n);
    } else if (end < 80) {
      Reply c = w.home_conn().Run({"RC.RELEASE", hold});
      w.report->Operation(name(), c.outcome);
      if (c.outcome == Outcome::kFailed) CheckError(w, c);
    }
  }

  std::mutex mu_;
  std::vector<Effect> effects_;
  std::map<std::string, uint64_t> tally_;
};

// ---- sessions: write on the home node, resume the token elsewhere, read ------
class SessionWorkload : public Workload {
 public:
  explicit SessionWorkload(int nodes) : nodes_(nodes) {}
  const char* name() const override { return "session"; }

  void Step(Worker& w) override {
    if (nodes_ < 2) return;
    const std::string k = "sess:" + std::to_string(w.id);
    const uint64_t seq = ++seq_[w.id % 64];
    Conn& home = w.home_conn();
    Reply set = home.Run({"SET", k, std::to_string(seq)});
    w.report->Operation(name(), set.outcome);
    if (!set.ok()) return;
    Reply token = home.Run({"SESSION", "TOKEN"});
    w.report->Operation(name(), token.outcome);
    if (!token.ok()) return;
    int other = static_cast<int>(w.Uniform(0, nodes_ - 2));
    if (other >= w.home) ++other;
    Conn& away = *w.conns[other];
    Reply resume = away.Run({"SESSION", "RESUME", token.text, "300"});
    w.report->Operation(name(), resume.outcome);
    (resume.ok() ? resumed_ : refused_)++;
    if (!resume.ok()) {
      if (resume.outcome == Outcome::kFailed && resume.text.rfind("TRYAGAIN", 0) != 0 &&
          resume.text != "connect failed") {
        w.report->Anomaly(name(), "SESSION RESUME answered " + resume.text);
      }
      return;
    }
    Reply get = away.Run({"GET", k});
    w.report->Operation(name(), get.outcome);
    if (!get.ok()) return;
    int64_t seen = 0;
    if (get.is_nil || !ReadInt(get, &seen) || seen < static_cast<int64_t>(seq)) {
      w.report->Anomaly(name(), "resumed on " + NodeName(other) + " but read " + k + "=" +
                                    (get.is_nil ? "nil" : get.text) + ", wrote " +
                                    std::to_string(seq) + " on " + NodeName(w.home));
    }
  }

  // Everything is checked while running: a resume that said OK must read.
  void Check(FinalView&, Report* report) override {
    report->Note("session: " + std::to_string(resumed_.load()) + " resumes answered OK and read back, " +
                 std::to_string(refused_.load()) + " refused or unanswered");
  }

 private:
  const int nodes_;
  std::atomic<uint64_t> resumed_{0}, refused_{0};
  std::array<std::atomic<uint64_t>, 64> seq_{};
};

// ---- IDEM: an increment retried until answered counts once ------------------
class IdemWorkload : public Workload {
 public:
  const char* name() const override { return "idem"; }

  void Step(Worker& w) override {
    const std::string id = "idem." + std::to_string(w.id) + "." + std::to_string(++seq_[w.id % 64]);
    Outcome outcome = Outcome::kFailed;
    for (int attempt = 0; attempt < 8; ++attempt) {
      Reply r = w.home_conn().Run({"IDEM", id, "60000", "INCRBY", "idem:ctr", "1"});
      if (r.ok()) {
        outcome = Outcome::kOk;
        break;
      }
      if (r.outcome == Outcome::kUnknown) outcome = Outcome::kUnknown;
      if (r.outcome == Outcome::kFailed && r.text != "connect failed") {
        w.report->Anomaly(name(), "IDEM " + id + " answered " + r.text);
        break;
      }
      if (outcome == Outcome::kFailed) break;  // never sent: nothing to retry
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    w.report->Operation(name(), outcome);
    if (outcome == Outcome::kOk) ++acked_;
    if (outcome == Outcome::kUnknown) ++unknown_;
  }

  void Check(FinalView& view, Report* report) override {
    for (size_t n = 0; n < view.conns.size(); ++n) {
      Reply r = view.conns[n]->Run({"GET", "idem:ctr"});
      int64_t v = 0;
      if (!r.ok() || !ReadInt(r, &v)) {
        report->Anomaly(name(), "final GET idem:ctr on " + view.names[n] + " failed: " + r.text);
        continue;
      }
      if (v < static_cast<int64_t>(acked_) || v > static_cast<int64_t>(acked_ + unknown_)) {
        report->Anomaly(name(), "idem:ctr is " + std::to_string(v) + " on " + view.names[n] +
                                    "; " + std::to_string(acked_.load()) + " acknowledged and " +
                                    std::to_string(unknown_.load()) +
                                    " unknown increments allow no more");
      }
    }
  }

 private:
  std::array<std::atomic<uint64_t>, 64> seq_{};
  std::atomic<uint64_t> acked_{0}, unknown_{0};
};

}  // namespace

bool SubsetSumReaches(int64_t base, const std::vector<int64_t>& maybe, int64_t target) {
  int64_t neg = 0, pos = 0;
  for (int64_t m : maybe) (m < 0 ? neg : pos) += m;
  const int64_t need = target - base;
  if (need < neg || need > pos) return false;
  // Reachable sums, offset by -neg; the amounts are small so this is cheap.
  std::vector<char> reach(static_cast<size_t>(pos - neg + 1), 0);
  reach[static_cast<size_t>(-neg)] = 1;
  for (int64_t m : maybe) {
    if (m > 0) {
      for (int64_t i = static_cast<int64_t>(reach.size()) - 1; i >= m; --i) reach[i] |= reach[i - m];
    } else if (m < 0) {
      for (int64_t i = 0; i - m < static_cast<int64_t>(reach.size()); ++i) reach[i] |= reach[i - m];
    }
  }
  return reach[static_cast<size_t>(need - neg)] != 0;
}

std::vector<std::string> AllWorkloadNames() { return {"counter", "record", "rcounter", "session", "idem"}; }

std::unique_ptr<Workload> MakeWorkload(const std::string& name, int nodes) {
  if (name == "counter") return std::make_unique<CounterWorkload>(nodes);
  if (name == "record") return std::make_unique<RecordWorkload>();
  if (name == "rcounter") return std::make_unique<RcWorkload>();
  if (name == "session") return std::make_unique<SessionWorkload>(nodes);
  if (name == "idem") return std::make_unique<IdemWorkload>();
  return nullptr;
}

}  // namespace converge::nemesis
