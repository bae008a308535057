// CommandTable: the client commands of PROTOCOL.md, executed on the apply
// strand against the Replica, with Redis's replies and error texts.
//
// Writes stage their deltas; the ApplyLoop commits them and only then sends
// the replies. Reads see staged writes of the same cycle, which are
// acknowledged in the same commit as the reads are answered.
//
// Thread-compatible: touched only on the apply strand.
#ifndef CONVERGE_NODE_INTERNAL_COMMANDS_H_
#define CONVERGE_NODE_INTERNAL_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/replica.h"
#include "cluster/replicator.h"
#include "node/internal/client_state.h"
#include "node/internal/metrics.h"
#include "node/internal/scan_cursors.h"
#include "node/internal/system_clock.h"
#include "node/internal/wait.h"
#include "node/options.h"
#include "storage/store.h"

namespace converge {

namespace transport {
class Transport;
}

// What commands act on. Pointers outlive the table.
struct CommandServices {
  const NodeOptions* options = nullptr;
  Store* store = nullptr;
  Replica* replica = nullptr;
  Replicator* replicator = nullptr;
  transport::Transport* transport = nullptr;
  SystemClock* clock = nullptr;
  // Commits what is staged (before reading a snapshot of the store).
  std::function<void()> commit_now;
  // Connected clients (for INFO clients).
  std::function<size_t()> connected_clients;
  // Client connections closed by a failed TLS handshake (INFO clients).
  std::function<uint64_t()> client_tls_failures;
  uint64_t start_ms = 0;
};

class CommandTable {
 public:
  using Args = std::vector<std::string>;

  explicit CommandTable(CommandServices services);

  // Executes one command and appends its reply to `out`, or returns the Wait
  // it parks on (its reply comes from the Wait).
  std::optional<Wait> Execute(ClientState& client, const Args& args, std::string* out);

  // Periodic duties, on the apply strand: expired holds give their units
  // back (in one batch with the hold's removal); expired IDEM records go.
  void ReleaseExpiredHolds();
  void SweepIdempotency();

  uint64_t commands_processed() const { return commands_processed_; }
  uint64_t writes() const { return writes_; }
  uint64_t holds_expired() const { return holds_expired_; }
  // For /metrics; safe to read from any thread.
  const OperationCounters& operations() const { return *operations_; }
  // Time each command's handler ran on the strand (not the commit, not a
  // parked command's wait).
  const LatencyHistogram& apply_latency() const { return apply_latency_; }

 private:
  using Handler = void (CommandTable::*)(ClientState&, const Args&, std::string*);
  struct Spec {
    Handler handler;
    int arity;  // Redis convention: > 0 exact, < 0 at least -arity
    bool write;
    size_t op_index = 0;  // in operations_
  };

  // Strings and counters.
  void Set(ClientState&, const Args&, std::string*);
  void Get(ClientState&, const Args&, std::string*);
  void MGet(ClientState&, const Args&, std::string*);
  void IncrBy(ClientState&, const Args&, std::string*);
  // Hashes.
  void HSet(ClientState&, const Args&, std::string*);
  void HGet(ClientState&, const Args&, std::string*);
  void HMGet(ClientState&, const Args&, std::string*);
  void HGetAll(ClientState&, const Args&, std::string*);
  void HLen(ClientState&, const Args&, std::string*);
  void HExists(ClientState&, const Args&, std::string*);
  void HDel(ClientState&, const Args&, std::string*);
  // Keys.
  void Del(ClientState&, const Args&, std::string*);
  void Exists(ClientState&, const Args&, std::string*);
  void Type(ClientState&, const Args&, std::string*);
  void Scan(ClientState&, const Args&, std::string*);
  void Keys(ClientState&, const Args&, std::string*);
  void DbSize(ClientState&, const Args&, std::string*);
  // Server.
  void Ping(ClientState&, const Args&, std::string*);
  void Echo(ClientState&, const Args&, std::string*);
  void Quit(ClientState&, const Args&, std::string*);
  void Select(ClientState&, const Args&, std::string*);
  void Auth(ClientState&, const Args&, std::string*);
  void Hello(ClientState&, const Args&, std::string*);
  void Client(ClientState&, const Args&, std::string*);
  void Command(ClientState&, const Args&, std::string*);
  void Config(ClientState&, const Args&, std::string*);
  void Info(ClientState&, const Args&, std::string*);
  void Cluster(ClientState&, const Args&, std::string*);
  void Debug(ClientState&, const Args&, std::string*);
  void Checkpoint(ClientState&, const Args&, std::string*);
  // Reservation counters, sessions, IDEM (commands_rc.cc).
  void RcAdd(ClientState&, const Args&, std::string*);
  void RcTake(ClientState&, const Args&, std::string*);
  void RcGet(ClientState&, const Args&, std::string*);
  void RcCommit(ClientState&, const Args&, std::string*);
  void RcRelease(ClientState&, const Args&, std::string*);
  void RcDrain(ClientState&, const Args&, std::string*);
  void Session(ClientState&, const Args&, std::string*);
  void WaitPeers(ClientState&, const Args&, std::string*);
  void Idem(ClientState&, const Args&, std::string*);

  // One attempt at taking `n` units of `key`; appends a reply and returns true
  // when it has an answer (`final` turns "not yet" into TRYAGAIN).
  bool TryTake(const std::string& key, uint64_t n, bool final, uint64_t ttl_ms, std::string* out);
  // The hold's node name, or an error reply if it is not this node's hold.
  const HoldRecord* OwnHold(const std::string& id, std::string* out);
  std::string RcLines();  // rights and values of the reservation counters

  // Runs a mutation on `key`; appends the error reply and returns false on
  // failure (WRONGTYPE and others).
  bool Mutate(const std::string& key, const Replica::Mutation& m, std::string* out);
  // The object at key, or nullptr after appending an error reply.
  const Object* Lookup(const std::string& key, std::string* out);
  std::string InfoText(std::string_view section);
  void ClusterNodes(std::string* out);
  void WarnOfStrandedRights(ReplicaId member, const std::string& name);

  CommandServices s_;
  // Set by a handler that parks; Execute hands it to the ApplyLoop.
  std::optional<Wait> wait_;
  std::unordered_map<std::string, Spec> table_;
  uint64_t commands_processed_ = 0;
  uint64_t writes_ = 0;
  uint64_t holds_expired_ = 0;
  uint64_t takes_local_ = 0;   // served from this node's rights at once
  uint64_t takes_waited_ = 0;  // served after asking peers for rights
  std::unique_ptr<OperationCounters> operations_;
  LatencyHistogram apply_latency_;
  ScanCursors scan_cursors_;
};

// Redis's string2ll: the whole string is a base-10 int64.
bool ParseInt64(std::string_view s, int64_t* out);
// Redis's stringmatchlen: glob with *, ?, [...] (ranges, ^ negation), \ escape.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_COMMANDS_H_
