// Conn: one client connection to one node, as a workload sees it. Every
// command ends in one of three outcomes, the distinction every checker rests
// on: ok (a reply), failed (an error reply, or the request never left), or
// unknown (sent, but no reply before the timeout: it may or may not apply,
// possibly much later, e.g. when a paused node resumes).
//
// Thread-compatible: one worker thread per Conn.
#ifndef CONVERGE_TESTS_NEMESIS_CONN_H_
#define CONVERGE_TESTS_NEMESIS_CONN_H_

#include <cstdint>
#include <string>
#include <vector>

struct redisContext;

namespace converge::nemesis {

enum class Outcome { kOk, kFailed, kUnknown };
const char* OutcomeName(Outcome o);

struct Reply {
  Outcome outcome = Outcome::kFailed;
  // kOk: a bulk/status string, an integer in `integer` (is_integer set),
  // nil (is_nil set), or an array in `elements`. kFailed: the error text or
  // why nothing was sent.
  std::string text;
  long long integer = 0;
  bool is_integer = false;
  bool is_nil = false;
  std::vector<std::string> elements;  // kOk array replies

  bool ok() const { return outcome == Outcome::kOk; }
};

class Conn {
 public:
  Conn(uint16_t port, int timeout_ms) : port_(port), timeout_ms_(timeout_ms) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Reply Run(const std::vector<std::string>& args);

  // Bumped each time the connection is remade: per-connection state on the
  // server (a session) does not survive it.
  uint64_t generation() const { return generation_; }

 private:
  bool Connect();
  void Drop();

  uint16_t port_;
  int timeout_ms_;
  redisContext* ctx_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace converge::nemesis

#endif  // CONVERGE_TESTS_NEMESIS_CONN_H_
