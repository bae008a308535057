// CommandPath: how the embedding API (Node::Execute, NodeSession, the typed
// handles of node/handles.h) runs commands: through the ApplyLoop and the
// CommandTable, as a client connection's requests go, and back as decoded
// replies (node/resp/reply_reader.h).
//
// A path either belongs to a session (one ClientState kept across calls) or
// gives each call a fresh one. Several commands given to one Run() execute
// back to back on the apply strand, with nothing interleaved unless one of
// them parks (RC.TAKE gathering rights, SESSION RESUME, WAIT): a read made of
// TYPE then GET sees one state.
//
// The gate: calls are admitted only while the node serves (between Start and
// Stop); Stop closes the gate and waits for the calls in flight, so a caller
// never blocks on a loop that no longer runs.
//
// Thread-safety: Run and the gate are safe from any thread. The ClientState
// is touched only on the apply strand.
#ifndef CONVERGE_NODE_INTERNAL_COMMAND_PATH_H_
#define CONVERGE_NODE_INTERNAL_COMMAND_PATH_H_

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crdt/status.h"
#include "node/internal/client_state.h"
#include "node/resp/reply_reader.h"

namespace converge {

class ApplyLoop;
class CommandTable;
class Object;
class Replica;

// Admits calls while the node serves; Close() waits for those in flight.
class CallGate {
 public:
  void Open();
  // Refuses new calls, then waits until the admitted ones have returned.
  void Close();
  bool Enter();  // false when closed
  void Leave();

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  bool open_ = false;
  int in_flight_ = 0;
};

class CommandPath {
 public:
  using Args = std::vector<std::string>;

  // `session` null: each call runs in a fresh, authenticated ClientState.
  // REQUIRES: loop, commands and gate outlive the path's calls.
  CommandPath(ApplyLoop* loop, CommandTable* commands, Replica* replica, CallGate* gate,
              std::shared_ptr<ClientState> session);

  // The same node, with a session of its own.
  std::shared_ptr<const CommandPath> WithNewSession() const;

  // Runs the commands as one request; their raw RESP2 replies, concatenated.
  // Unavailable when the node is not serving.
  StatusOr<std::string> RunRaw(const std::vector<Args>& commands) const;
  // The same, decoded: one value per command. A command's error reply is a
  // value of kind kError here, not a failed status.
  StatusOr<std::vector<resp::ReplyValue>> Run(const std::vector<Args>& commands) const;
  // One command; its error reply becomes a Status (ErrorToStatus).
  StatusOr<resp::ReplyValue> RunOne(const Args& command) const;

  // A command that must only run on a key of the right type (DEL deletes
  // whatever a key holds; Counter::Reset must not delete a record): `accept`
  // sees the key's live object (nullptr when absent) on the apply strand,
  // and when it refuses, the command does not run and the result is
  // FailedPrecondition WRONGTYPE. Check and command are one step.
  StatusOr<resp::ReplyValue> RunIfType(const std::string& key,
                                       const std::function<bool(const Object*)>& accept,
                                       const Args& command) const;

  // A typed read where no command answers with the type (TYPE says "string"
  // for counters, as Redis does): runs `read` on the apply strand with the
  // key's live object, or nullptr when the key is absent or deleted. Like a
  // read command it answers after the commit of what it saw. Reads do not
  // change a session (SESSION TOKEN covers what was applied when it is taken).
  Status Read(const std::string& key, const std::function<void(const Object*)>& read) const;

 private:
  StatusOr<std::string> Submit(const std::vector<Args>& commands, const std::string* guard_key,
                               const std::function<bool(const Object*)>* accept) const;

  ApplyLoop* loop_;
  CommandTable* commands_;
  Replica* replica_;
  CallGate* gate_;
  std::shared_ptr<ClientState> session_;
};

// The Status for an error reply, by its code (node/handles.h lists them).
Status ErrorToStatus(const std::string& error_text);

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_COMMAND_PATH_H_
