#include "cluster/rights_policy.h"

#include <algorithm>

namespace converge {

void RightsPolicy::Expire(std::deque<Event>& events, uint64_t now_ms) const {
  while (!events.empty() && now_ms - events.front().at_ms > options_.window_ms) events.pop_front();
}

void RightsPolicy::OnLocalTake(const std::string& key, uint64_t units, uint64_t now_ms) {
  if (!options_.enabled) return;
  events_[key].push_back(Event{now_ms, 0, units});
}

void RightsPolicy::OnRequest(const std::string& key, ReplicaId from, uint64_t units,
                             uint64_t now_ms) {
  if (!options_.enabled || from == 0) return;
  events_[key].push_back(Event{now_ms, from, units});
}

std::vector<RightsPolicy::Move> RightsPolicy::Decide(
    uint64_t now_ms, const std::function<int64_t(const std::string&)>& rights) {
  std::vector<Move> moves;
  for (auto it = events_.begin(); it != events_.end();) {
    std::deque<Event>& events = it->second;
    Expire(events, now_ms);
    if (events.empty()) {
      it = events_.erase(it);
      continue;
    }
    uint64_t spent = 0;
    std::map<ReplicaId, uint64_t> asked;
    for (const Event& e : events) {
      if (e.who == 0) {
        spent += e.units;
      } else {
        asked[e.who] += e.units;
      }
    }
    if (!asked.empty()) {
      const auto top = std::max_element(asked.begin(), asked.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
      const int64_t have = rights(it->first);
      // Keep what this node itself spent in the window: it will likely
      // spend as much again.
      const int64_t surplus = have - static_cast<int64_t>(spent);
      if (surplus > 0) {
        const uint64_t units = std::min<uint64_t>(static_cast<uint64_t>(surplus), 8 * top->second);
        moves.push_back(Move{it->first, top->first, units});
        // That demand is answered: forget it.
        std::erase_if(events, [&](const Event& e) { return e.who == top->first; });
      }
    }
    ++it;
  }
  return moves;
}

}  // namespace converge
