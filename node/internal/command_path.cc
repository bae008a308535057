#include "node/internal/command_path.h"

#include <future>
#include <string_view>

#include "node/internal/apply_loop.h"
#include "node/internal/commands.h"
#include "cluster/replica.h"
#include "crdt/object.h"
#include "node/resp/reply.h"

namespace converge {

void CallGate::Open() {
  std::lock_guard<std::mutex> l(mu_);
  open_ = true;
}

void CallGate::Close() {
  std::unique_lock<std::mutex> l(mu_);
  open_ = false;
  idle_.wait(l, [this] { return in_flight_ == 0; });
}

bool CallGate::Enter() {
  std::lock_guard<std::mutex> l(mu_);
  if (!open_) return false;
  ++in_flight_;
  return true;
}

void CallGate::Leave() {
  std::lock_guard<std::mutex> l(mu_);
  if (--in_flight_ == 0) idle_.notify_all();
}

CommandPath::CommandPath(ApplyLoop* loop, CommandTable* commands, Replica* replica,
                         CallGate* gate, std::shared_ptr<ClientState> session)
    : loop_(loop), commands_(commands), replica_(replica), gate_(gate), session_(std::move(session)) {}

std::shared_ptr<const CommandPath> CommandPath::WithNewSession() const {
  auto state = std::make_shared<ClientState>();
  state->authenticated = true;  // the embedding process is trusted
  return std::make_shared<CommandPath>(loop_, commands_, replica_, gate_, std::move(state));
}

StatusOr<std::string> CommandPath::RunRaw(const std::vector<Args>& commands) const {
  return Submit(commands, nullptr, nullptr);
}

StatusOr<std::string> CommandPath::Submit(const std::vector<Args>& commands,
                                          const std::string* guard_key,
                                          const std::function<bool(const Object*)>* accept) const {
  if (!gate_->Enter()) return UnavailableError("the node is not running (before Start or after Stop)");
  std::shared_ptr<ClientState> state = session_;
  if (state == nullptr) {
    state = std::make_shared<ClientState>();
    state->authenticated = true;
  }
  std::promise<std::string> reply;
  std::future<std::string> done = reply.get_future();
  loop_->Submit(
      commands.size(),
      [this, state, &commands, guard_key, accept](size_t i, std::string* out) -> std::optional<Wait> {
        if (i == 0 && guard_key != nullptr) {
          StatusOr<const Object*> o = replica_->Read(*guard_key);
          if (!o.ok()) {
            resp::AppendError(out, "ERR " + o.status().message());
            return std::nullopt;
          }
          if (!(*accept)((*o)->Live() ? *o : nullptr)) {
            resp::AppendError(out, Object::kWrongType);
            return std::nullopt;
          }
        }
        return commands_->Execute(*state, commands[i], out);
      },
      [&reply](std::string out) { reply.set_value(std::move(out)); });
  std::string out = done.get();
  gate_->Leave();
  return out;
}

StatusOr<std::vector<resp::ReplyValue>> CommandPath::Run(const std::vector<Args>& commands) const {
  StatusOr<std::string> raw = RunRaw(commands);
  if (!raw.ok()) return raw.status();
  std::vector<resp::ReplyValue> values;
  values.reserve(commands.size());
  size_t pos = 0;
  for (size_t i = 0; i < commands.size(); ++i) {
    StatusOr<resp::ReplyValue> v = resp::ReadReply(*raw, &pos);
    if (!v.ok()) return InternalError("undecodable reply to " + commands[i][0] + ": " + v.status().message());
    values.push_back(std::move(*v));
  }
  if (pos != raw->size()) return InternalError("more replies than commands");
  return values;
}

StatusOr<resp::ReplyValue> CommandPath::RunOne(const Args& command) const {
  StatusOr<std::vector<resp::ReplyValue>> v = Run({command});
  if (!v.ok()) return v.status();
  if ((*v)[0].is_error()) return ErrorToStatus((*v)[0].text);
  return std::move((*v)[0]);
}

StatusOr<resp::ReplyValue> CommandPath::RunIfType(const std::string& key,
                                                  const std::function<bool(const Object*)>& accept,
                                                  const Args& command) const {
  StatusOr<std::string> raw = Submit({command}, &key, &accept);
  if (!raw.ok()) return raw.status();
  size_t pos = 0;
  StatusOr<resp::ReplyValue> v = resp::ReadReply(*raw, &pos);
  if (!v.ok()) return InternalError("undecodable reply to " + command[0] + ": " + v.status().message());
  if (v->is_error()) return ErrorToStatus(v->text);
  return v;
}

Status CommandPath::Read(const std::string& key,
                         const std::function<void(const Object*)>& read) const {
  if (!gate_->Enter()) return UnavailableError("the node is not running (before Start or after Stop)");
  Status status;
  std::promise<void> reply;
  std::future<void> done = reply.get_future();
  loop_->Submit(
      1,
      [this, &key, &read, &status](size_t, std::string*) -> std::optional<Wait> {
        StatusOr<const Object*> o = replica_->Read(key);
        if (!o.ok()) {
          status = o.status();
        } else {
          read((*o)->Live() ? *o : nullptr);
        }
        return std::nullopt;
      },
      [&reply, &status](std::string out) {
        // Only a failed commit of the cycle puts anything here: then what was
        // read may not survive.
        if (!out.empty()) status = ErrorToStatus(out.substr(1, out.find("\r\n") - 1));
        reply.set_value();
      });
  done.wait();
  gate_->Leave();
  return status;
}

Status ErrorToStatus(const std::string& error_text) {
  const std::string_view e = error_text;
  const std::string_view code = e.substr(0, e.find(' '));
  if (code == "WRONGTYPE") return FailedPreconditionError(error_text);
  if (code == "INSUFFICIENT") return ResourceExhaustedError(error_text);
  if (code == "TRYAGAIN") return UnavailableError(error_text);
  if (code == "EXPIRED") return DeadlineExceededError(error_text);
  if (code == "NOHOLD") return NotFoundError(error_text);
  if (code == "WRONGNODE") return InvalidArgumentError(error_text);
  // ApplyLoop answers every command of a cycle whose commit failed this way:
  // nothing of it was applied, so retrying is right.
  if (e.starts_with("ERR commit failed")) return UnavailableError(error_text);
  if (e.starts_with("ERR a reservation counter")) return FailedPreconditionError(error_text);
  return InvalidArgumentError(error_text);
}

}  // namespace converge
