// RightsPolicy: where reservation-counter rights should move before anyone
// asks (DESIGN.md, Reservation rights transfer).
//
// A take that finds too few local rights costs a round trip to a holder. The
// policy watches, per key over a sliding window, what this node spends and
// what each peer asks it for; every Decide() it proposes moving this node's
// surplus (rights beyond what it spent in the window) to the peer that asked
// most, up to eight times what that peer asked (measured in bench/rc_bench:
// twice gave 86% of takes without a round trip, eight times 93%). Spenders then find rights locally,
// and a node that sells nothing does not sit on stock others need.
//
// Pure logic: no I/O, time passed in. Thread-compatible.
#ifndef CONVERGE_CLUSTER_RIGHTS_POLICY_H_
#define CONVERGE_CLUSTER_RIGHTS_POLICY_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crdt/timestamp.h"

namespace converge {

struct RightsPolicyOptions {
  // How far back spending and requests count. Default 10 s.
  uint64_t window_ms = 10'000;
  // Off: rights move only when a take asks. Default on.
  bool enabled = true;
};

class RightsPolicy {
 public:
  struct Move {
    std::string key;
    ReplicaId to;
    uint64_t units;
  };

  explicit RightsPolicy(RightsPolicyOptions options = {}) : options_(options) {}

  void OnLocalTake(const std::string& key, uint64_t units, uint64_t now_ms);
  void OnRequest(const std::string& key, ReplicaId from, uint64_t units, uint64_t now_ms);
  // `rights(key)` is this node's current rights on the key. Returns the moves
  // to make now; each resets the demand it answers.
  std::vector<Move> Decide(uint64_t now_ms, const std::function<int64_t(const std::string&)>& rights);

 private:
  struct Event {
    uint64_t at_ms;
    ReplicaId who;  // 0: this node's own take
    uint64_t units;
  };
  void Expire(std::deque<Event>& events, uint64_t now_ms) const;

  RightsPolicyOptions options_;
  std::map<std::string, std::deque<Event>> events_;
};

}  // namespace converge

#endif  // CONVERGE_CLUSTER_RIGHTS_POLICY_H_
