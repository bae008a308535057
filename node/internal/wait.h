// Wait: what a command that cannot answer yet parks on (see ApplyLoop).
#ifndef CONVERGE_NODE_INTERNAL_WAIT_H_
#define CONVERGE_NODE_INTERNAL_WAIT_H_

#include <chrono>
#include <functional>
#include <string>

namespace converge {

struct Wait {
  std::chrono::steady_clock::time_point deadline;
  // Appends the reply and returns true once the command can answer.
  std::function<bool(std::string* out)> poll;
  // Appends the reply when the deadline passes first.
  std::function<void(std::string* out)> expire;
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_WAIT_H_
