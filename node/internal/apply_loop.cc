#include "node/internal/apply_loop.h"

#include <future>

#include "node/resp/reply.h"

namespace converge {

ApplyLoop::ApplyLoop(asio::io_context& io, Replica* replica, Replicator* replicator,
                     FsyncMode fsync, uint64_t gossip_interval_ms)
    : strand_(asio::make_strand(io)),
      timer_(strand_),
      wait_timer_(strand_),
      replica_(replica),
      replicator_(replicator),
      fsync_(fsync),
      gossip_interval_ms_(gossip_interval_ms) {}

void ApplyLoop::Replies::Settle(size_t commands) {
  settled = commands;
  settled_bytes = out.size();
}

void ApplyLoop::Replies::Fail(size_t commands, const std::string& error) {
  out.resize(settled_bytes);
  for (size_t i = settled; i < commands; ++i) resp::AppendError(&out, error);
  Settle(commands);
}

void ApplyLoop::Submit(size_t commands, Run run, Done done) {
  auto a = std::make_shared<Active>();
  a->count = commands;
  a->run = std::move(run);
  a->done = std::move(done);
  asio::post(strand_, [this, a] { Continue(a); });
}

void ApplyLoop::Continue(std::shared_ptr<Active> a) {
  while (a->next < a->count) {
    std::optional<Wait> w = a->run(a->next, &a->replies.out);
    if (w) {
      a->wait = std::move(w);
      waiting_.push_back(a);
      ArmWaitTimer();
      ScheduleCommit();  // what the request wrote so far may be what it waits on
      return;
    }
    ++a->next;
  }
  pending_.push_back(Pending{std::move(a->replies), a->count, std::move(a->done)});
  if (fsync_ == FsyncMode::kAlways) {
    CommitCycle();
  } else {
    ScheduleCommit();
  }
}

void ApplyLoop::PollWaiting() {
  if (polling_ || waiting_.empty()) return;
  polling_ = true;
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<Active>> resumed;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    Active& a = **it;
    bool answered = a.wait->poll(&a.replies.out);
    if (!answered && (now >= a.wait->deadline || stopped_)) {
      a.wait->expire(&a.replies.out);
      answered = true;
    }
    if (answered) {
      a.wait.reset();
      ++a.next;
      resumed.push_back(*it);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  polling_ = false;
  for (auto& a : resumed) Continue(a);
}

void ApplyLoop::ArmWaitTimer() {
  if (wait_timer_armed_) return;
  wait_timer_armed_ = true;
  wait_timer_.expires_after(std::chrono::milliseconds(5));
  wait_timer_.async_wait([this](const asio::error_code& ec) {
    wait_timer_armed_ = false;
    if (ec) return;
    PollWaiting();
    if (!waiting_.empty() && !stopped_) ArmWaitTimer();
  });
}

void ApplyLoop::Post(std::function<void()> fn) {
  asio::post(strand_, [this, fn = std::move(fn)] {
    fn();
    ScheduleCommit();
  });
}

void ApplyLoop::ScheduleCommit() {
  if (commit_scheduled_) return;
  commit_scheduled_ = true;
  // Behind everything already queued on the strand: they share this commit.
  asio::post(strand_, [this] {
    commit_scheduled_ = false;
    CommitCycle();
  });
}

void ApplyLoop::CommitNow() { CommitCycle(); }

void ApplyLoop::CommitCycle() {
  const bool writes = replica_->HasStaged();
  const auto started = std::chrono::steady_clock::now();
  StatusOr<CommitResult> result = replica_->Commit();
  if (writes) commit_latency_.Observe(std::chrono::steady_clock::now() - started);
  std::vector<Pending> pending = std::move(pending_);
  pending_.clear();
  if (result.ok()) {
    if (writes) ++commits_;  // a cycle with nothing staged wrote nothing
    replicator_->OnCommitted(*result);
    for (const CommitObserver& observe : observers_) observe(*result);
    for (auto& p : pending) p.done(std::move(p.replies.out));
    // What parked requests wrote before they parked was in this commit.
    for (auto& a : waiting_) a->replies.Settle(a->next);
    PollWaiting();  // what was just committed may be what they wait on
    return;
  }
  ++failed_commits_;
  const std::string error = "ERR commit failed: " + result.status().ToString();
  replicator_->OnCommitted(CommitResult{});
  for (auto& p : pending) {
    p.replies.Fail(p.commands, error);
    p.done(std::move(p.replies.out));
  }
  // Parked requests' writes before they parked were lost with the cycle:
  // their replies become the error now, and the request answers later.
  for (auto& a : waiting_) a->replies.Fail(a->next, error);
}

void ApplyLoop::ArmTimer() {
  timer_.expires_after(std::chrono::milliseconds(gossip_interval_ms_));
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;
    // The requests' cycle commits first, on its own: the tick's purge step
    // commits by itself (Replica::PurgeStep), and if that commit failed with
    // their writes in it, the cycle after it would find nothing staged and
    // release their replies as if written. (Only when there is one: an empty
    // cycle would count as a commit and wake the observers for nothing.)
    if (!pending_.empty() || replica_->HasStaged()) CommitCycle();
    replicator_->Tick();
    CommitCycle();
    if (tick_observer_) tick_observer_();
    ArmTimer();
  });
}

void ApplyLoop::Start() {
  asio::post(strand_, [this] { ArmTimer(); });
}

void ApplyLoop::Stop() {
  std::promise<void> done;
  auto finish = [this, &done] {
    stopped_ = true;
    timer_.cancel();
    wait_timer_.cancel();
    PollWaiting();  // parked commands answer with their timeout reply
    CommitCycle();
    done.set_value();
  };
  if (strand_.running_in_this_thread()) {
    stopped_ = true;
    timer_.cancel();
    wait_timer_.cancel();
    PollWaiting();
    CommitCycle();
    return;
  }
  asio::post(strand_, finish);
  done.get_future().wait();
}

}  // namespace converge
