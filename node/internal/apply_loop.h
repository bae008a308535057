// ApplyLoop: the one strand on which every change to the node's state runs,
// and its group commit (DESIGN.md, Threads and the apply loop).
//
// Client commands, replication frames and the gossip tick are posted to the
// strand. Each piece of work stages its changes in the Replica; a commit is
// scheduled behind whatever is already queued, so all work queued by then
// shares one Store batch (one WAL write, one fsync in `batch` mode). Replies
// to clients are released only after the commit that made their writes
// durable; if a commit fails, every command of the cycle is answered with
// the error instead. With fsync `always` each client's request commits alone.
//
// A command that cannot answer yet (RC.TAKE gathering rights, SESSION RESUME
// waiting for deltas, WAIT) parks its request on a Wait: the request is
// polled after every commit and every few milliseconds until the command
// answers or its deadline passes, and then goes on with its next command.
// Replies keep their order because a request runs its commands in turn.
// What a parked request wrote before it parked is in the commit that comes
// next, like everyone else's: if that commit fails, the error replaces those
// commands' replies too, though the request answers later.
//
// Thread-safety: Submit and Post are safe from any thread; everything else
// runs on the strand.
#ifndef CONVERGE_NODE_INTERNAL_APPLY_LOOP_H_
#define CONVERGE_NODE_INTERNAL_APPLY_LOOP_H_

#include <asio.hpp>
#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/replica.h"
#include "cluster/replicator.h"
#include "node/internal/metrics.h"
#include "node/internal/wait.h"
#include "node/options.h"

namespace converge {

class ApplyLoop {
 public:
  // Runs command `index` of a request, appending its reply to `out`, or
  // returns the Wait it parks on. Runs on the strand.
  using Run = std::function<std::optional<Wait>(size_t index, std::string* out)>;
  // Receives the replies once durable; runs on the strand.
  using Done = std::function<void(std::string out)>;
  // Observes every successful commit (subscriptions, metrics); on the strand.
  using CommitObserver = std::function<void(const CommitResult&)>;

  ApplyLoop(asio::io_context& io, Replica* replica, Replicator* replicator, FsyncMode fsync,
            uint64_t gossip_interval_ms);

  // Runs a request of `commands` commands through `run`, then `done`.
  void Submit(size_t commands, Run run, Done done);
  // Runs `fn` on the strand, then commits what it staged.
  void Post(std::function<void()> fn);
  // From the strand: commits what is staged now (before a snapshot read).
  void CommitNow();

  // Adds an observer (several may watch: subscriptions, metrics); before Start.
  void add_commit_observer(CommitObserver observer) { observers_.push_back(std::move(observer)); }
  // Runs on the strand after each gossip tick (periodic reports).
  void set_tick_observer(std::function<void()> observer) { tick_observer_ = std::move(observer); }
  void Start();  // the gossip timer
  // Stops the timer and commits what is staged. Blocks until done unless
  // called from the strand itself.
  void Stop();

  asio::strand<asio::io_context::executor_type>& strand() { return strand_; }
  // Commits that wrote to the store (a cycle with nothing staged is none).
  uint64_t commits() const { return commits_; }
  uint64_t failed_commits() const { return failed_commits_; }
  // How long each commit that wrote took: the Store batch, with its WAL
  // write and, in fsync always/batch, the fsync. Safe to read from any thread.
  const LatencyHistogram& commit_latency() const { return commit_latency_; }

 private:
  // A request's replies so far: those of its first `settled` commands (the
  // first `settled_bytes` of `out`) stand whatever the next commit does (a
  // commit before it made their writes durable, or its failure already
  // answered them); the rest await the next commit.
  struct Replies {
    std::string out;
    size_t settled = 0;
    size_t settled_bytes = 0;
    // The next commit made the unsettled replies' writes durable.
    void Settle(size_t commands);
    // The next commit failed: its error answers the unsettled commands.
    void Fail(size_t commands, const std::string& error);
  };
  struct Pending {
    Replies replies;
    size_t commands;
    Done done;
  };
  struct Active {
    size_t count = 0;
    size_t next = 0;
    Run run;
    Done done;
    Replies replies;  // of commands [0, next)
    std::optional<Wait> wait;
  };
  // Runs the request's commands from `next` until one parks or all answered.
  void Continue(std::shared_ptr<Active> a);
  // Resumes parked requests that can answer or whose deadline passed.
  void PollWaiting();
  void ArmWaitTimer();
  void ScheduleCommit();
  void CommitCycle();
  void ArmTimer();

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  asio::steady_timer wait_timer_;
  bool wait_timer_armed_ = false;
  bool polling_ = false;
  std::list<std::shared_ptr<Active>> waiting_;
  Replica* replica_;
  Replicator* replicator_;
  FsyncMode fsync_;
  uint64_t gossip_interval_ms_;
  bool commit_scheduled_ = false;
  bool stopped_ = false;
  std::vector<Pending> pending_;
  std::vector<CommitObserver> observers_;
  std::function<void()> tick_observer_;
  uint64_t commits_ = 0;
  uint64_t failed_commits_ = 0;
  LatencyHistogram commit_latency_;
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_APPLY_LOOP_H_
