#include "tests/nemesis/faults.h"

#include <algorithm>
#include <thread>

namespace converge::nemesis {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::vector<std::string> AllFaultKinds() { return {"partition", "kill", "pause", "clock", "link"}; }

Nemesis::Nemesis(std::vector<std::unique_ptr<ServerProcess>>* nodes, FaultOptions options,
                 uint64_t seed, Report* report)
    : nodes_(nodes), options_(std::move(options)), rng_(seed), report_(report) {}

void Nemesis::Run(const std::atomic<bool>& stop) {
  auto next = Clock::now() + std::chrono::milliseconds(options_.min_gap_ms);
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CheckAlive();
    const auto now = Clock::now();
    for (size_t i = 0; i < active_.size();) {
      if (active_[i].end <= now) {
        Active a = std::move(active_[i]);
        active_.erase(active_.begin() + static_cast<long>(i));
        a.undo();
      } else {
        ++i;
      }
    }
    if (now >= next) {
      StartOne();
      next = Clock::now() + std::chrono::milliseconds(std::uniform_int_distribution<int>(
                                 options_.min_gap_ms, options_.max_gap_ms)(rng_));
    }
  }
}

void Nemesis::EndAll() {
  for (auto& a : active_) a.undo();
  active_.clear();
  for (size_t i = 0; i < nodes_->size(); ++i) {
    ServerProcess& p = *(*nodes_)[i];
    p.Resume();
    if (!p.running()) Restart(static_cast<int>(i));
  }
  for (size_t i = 0; i < nodes_->size(); ++i) {
    Debug(static_cast<int>(i), {"DEBUG", "HEAL"});
    Debug(static_cast<int>(i), {"DEBUG", "CLOCK-OFFSET", "0"});
  }
}

void Nemesis::StartOne() {
  const std::string kind =
      options_.kinds[std::uniform_int_distribution<size_t>(0, options_.kinds.size() - 1)(rng_)];
  if (kind == "partition") StartPartition();
  else if (kind == "link") StartLinks();
  else if (kind == "kill") StartKill();
  else if (kind == "pause") StartPause();
  else if (kind == "clock") StartClock();
}

// Cuts every pair (i, j) with cut[i][j], on both sides, so that a node that
// restarts (and forgets its own faults) stays cut from the other side.
void Nemesis::StartPartition() {
  if (SlotBusy("net")) return;
  const int n = static_cast<int>(nodes_->size());
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng_);
  std::vector<std::vector<bool>> cut(n, std::vector<bool>(n, false));
  std::vector<std::string> shapes = {"halves", "isolated"};
  if (n >= 3) shapes.push_back("bridge");
  if (n >= 5) shapes.push_back("ring");
  const std::string shape = shapes[std::uniform_int_distribution<size_t>(0, shapes.size() - 1)(rng_)];
  auto side = [&](int pos) {  // which group order[pos] is in
    if (shape == "halves") return pos < n / 2 ? 0 : 1;
    if (shape == "isolated") return pos == 0 ? 0 : 1;
    return pos == 0 ? 2 : (pos <= (n - 1) / 2 ? 0 : 1);  // bridge: order[0] sees all
  };
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (a == b) continue;
      if (shape == "ring") {
        const int d = std::abs(a - b);
        cut[order[a]][order[b]] = std::min(d, n - d) > 1;  // each sees its two neighbours
      } else {
        const int sa = side(a), sb = side(b);
        cut[order[a]][order[b]] = sa != 2 && sb != 2 && sa != sb;
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    std::vector<std::string> args = {"DEBUG", "PARTITION"};
    for (int j = 0; j < n; ++j) {
      if (cut[i][j]) args.push_back((*nodes_)[j]->spec().name);
    }
    if (args.size() > 2) Debug(i, args);
  }
  report_->Fault("partition-" + shape);
  Schedule("net", [this] {
    for (size_t i = 0; i < nodes_->size(); ++i) Debug(static_cast<int>(i), {"DEBUG", "HEAL"});
  });
}

void Nemesis::StartLinks() {
  if (SlotBusy("net")) return;
  const int n = static_cast<int>(nodes_->size());
  const int links = std::uniform_int_distribution<int>(1, n)(rng_);
  for (int l = 0; l < links; ++l) {
    const int from = std::uniform_int_distribution<int>(0, n - 1)(rng_);
    int to = std::uniform_int_distribution<int>(0, n - 2)(rng_);
    if (to >= from) ++to;
    const double drop = std::uniform_int_distribution<int>(0, 50)(rng_) / 100.0;
    const int delay = std::uniform_int_distribution<int>(0, 50)(rng_);
    const double dup = std::uniform_int_distribution<int>(0, 50)(rng_) / 100.0;
    Debug(from, {"DEBUG", "LINK", (*nodes_)[to]->spec().name, "drop", std::to_string(drop),
                 "delay-ms", std::to_string(delay), "dup", std::to_string(dup)});
  }
  report_->Fault("link");
  Schedule("net", [this] {
    for (size_t i = 0; i < nodes_->size(); ++i) Debug(static_cast<int>(i), {"DEBUG", "HEAL"});
  });
}

// At most a minority of the nodes is down or paused at once, so that the
// workloads keep making progress somewhere.
int Nemesis::ProcessFaults() const {
  int busy = 0;
  for (const auto& a : active_) busy += a.slot.rfind("proc:", 0) == 0;
  return busy;
}

void Nemesis::StartKill() {
  StartProcessFault("kill9", [](ServerProcess& p) { p.Kill9(); }, [this](int i) { Restart(i); });
}

void Nemesis::StartPause() {
  StartProcessFault("pause", [](ServerProcess& p) { p.Pause(); },
                    [this](int i) { (*nodes_)[i]->Resume(); });
}

void Nemesis::StartProcessFault(const std::string& kind,
                                const std::function<void(ServerProcess&)>& fault,
                                const std::function<void(int)>& undo) {
  const int n = static_cast<int>(nodes_->size());
  if (ProcessFaults() >= std::max(1, (n - 1) / 2)) return;
  const int i = std::uniform_int_distribution<int>(0, n - 1)(rng_);
  const std::string slot = "proc:" + std::to_string(i);
  if (SlotBusy(slot)) return;
  fault(*(*nodes_)[i]);
  report_->Fault(kind);
  Schedule(slot, [undo, i] { undo(i); });
}

// Forward and back, up to four times the bound: beyond it the node's peers
// must hold its writes (or refuse it) rather than let them win early.
void Nemesis::StartClock() {
  const int n = static_cast<int>(nodes_->size());
  const int i = std::uniform_int_distribution<int>(0, n - 1)(rng_);
  if (SlotBusy("clock:" + std::to_string(i))) return;
  const int bound = options_.max_clock_offset_ms;
  int offset = std::uniform_int_distribution<int>(bound / 4, 4 * bound)(rng_);
  if (rng_() % 2 == 0) offset = -offset;
  Debug(i, {"DEBUG", "CLOCK-OFFSET", std::to_string(offset)});
  report_->Fault(offset > 0 ? "clock-forward" : "clock-back");
  Schedule("clock:" + std::to_string(i), [this, i] { Debug(i, {"DEBUG", "CLOCK-OFFSET", "0"}); });
}

bool Nemesis::SlotBusy(const std::string& slot) const {
  return std::any_of(active_.begin(), active_.end(), [&](const Active& a) { return a.slot == slot; });
}

void Nemesis::Schedule(std::string slot, std::function<void()> undo) {
  const int ms = std::uniform_int_distribution<int>(options_.min_length_ms, options_.max_length_ms)(rng_);
  active_.push_back({std::move(slot), Clock::now() + std::chrono::milliseconds(ms), std::move(undo)});
}

void Nemesis::Restart(int i) {
  ServerProcess& p = *(*nodes_)[i];
  if (!p.Start()) {
    report_->Anomaly("process", p.spec().name + " did not restart within 15 s; log tail:\n" + p.LogTail());
  }
}

void Nemesis::Debug(int i, std::vector<std::string> args) {
  ServerProcess& p = *(*nodes_)[i];
  if (!p.running() || p.paused()) return;  // it forgets or misses faults; as a real one would
  Conn c(p.spec().port, 1000);
  Reply r = c.Run(args);
  // A node that just restarted may not have met a peer yet; that fault is
  // simply not applied, as with a node that is down.
  if (r.outcome == Outcome::kFailed && r.text != "connect failed" &&
      r.text.rfind("ERR Unknown node", 0) != 0) {
    report_->Anomaly("nemesis", p.spec().name + " refused " + args[1] + ": " + r.text);
  }
}

void Nemesis::CheckAlive() {
  for (size_t i = 0; i < nodes_->size(); ++i) {
    ServerProcess& p = *(*nodes_)[i];
    const std::string how = p.ReapUnexpectedExit();
    if (how.empty()) continue;
    report_->Anomaly("process", p.spec().name + " " + how + " by itself; log tail:\n" + p.LogTail());
    Restart(static_cast<int>(i));
  }
}

}  // namespace converge::nemesis
