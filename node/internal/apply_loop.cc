#include "node/internal/apply_loop.h"

#include <future>

#include "node/resp/reply.h"

namespace converge {

ApplyLoop::ApplyLoop(asio::io_context& io, Replica* replica, Replicator* replicator,
                     FsyncMode fsync, uint64_t gossip_interval_ms)
    : strand_(asio::make_strand(io)),
      timer_(strand_),
      replica_(replica),
      replicator_(replicator),
      fsync_(fsync),
      gossip_interval_ms_(gossip_interval_ms) {}

void ApplyLoop::Submit(Work work, size_t commands, Done done) {
  asio::post(strand_, [this, work = std::move(work), commands, done = std::move(done)]() mutable {
    std::string out;
    work(&out);
    pending_.push_back(Pending{std::move(out), commands, std::move(done)});
    if (fsync_ == FsyncMode::kAlways) {
      CommitCycle();
    } else {
      ScheduleCommit();
    }
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
  StatusOr<CommitResult> result = replica_->Commit();
  std::vector<Pending> pending = std::move(pending_);
  pending_.clear();
  if (result.ok()) {
    ++commits_;
    replicator_->OnCommitted(*result);
    if (observer_) observer_(*result);
    for (auto& p : pending) p.done(std::move(p.out));
    return;
  }
  ++failed_commits_;
  const std::string reason = "commit failed: " + result.status().ToString();
  replicator_->OnCommitted(CommitResult{});
  for (auto& p : pending) {
    std::string out;
    for (size_t i = 0; i < p.commands; ++i) resp::AppendError(&out, "ERR " + reason);
    p.done(std::move(out));
  }
}

void ApplyLoop::ArmTimer() {
  timer_.expires_after(std::chrono::milliseconds(gossip_interval_ms_));
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopped_) return;
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
    CommitCycle();
    done.set_value();
  };
  if (strand_.running_in_this_thread()) {
    stopped_ = true;
    timer_.cancel();
    CommitCycle();
    return;
  }
  asio::post(strand_, finish);
  done.get_future().wait();
}

}  // namespace converge
