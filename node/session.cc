// NodeSession: a CommandPath with a ClientState of its own (node/node.h).
#include "node/internal/command_path.h"
#include "node/node.h"

namespace converge {

NodeSession::NodeSession(std::shared_ptr<const CommandPath> path) : path_(std::move(path)) {}
NodeSession::~NodeSession() = default;

std::string NodeSession::Execute(const std::vector<std::string>& args) {
  StatusOr<std::string> reply = path_->RunRaw({args});
  if (!reply.ok()) return "-ERR " + reply.status().message() + "\r\n";
  return std::move(*reply);
}

std::string NodeSession::Token() {
  StatusOr<resp::ReplyValue> v = path_->RunOne({"SESSION", "TOKEN"});
  // Only a node that is not running fails this; its token would be empty.
  return v.ok() ? v->text : std::string();
}

Status NodeSession::Resume(const std::string& token, uint64_t timeout_ms) {
  StatusOr<resp::ReplyValue> v =
      path_->RunOne({"SESSION", "RESUME", token, std::to_string(timeout_ms)});
  return v.ok() ? Status::Ok() : v.status();
}

StatusOr<int64_t> NodeSession::WaitForPeers(int64_t peers, uint64_t timeout_ms) {
  StatusOr<resp::ReplyValue> v =
      path_->RunOne({"WAIT", std::to_string(peers), std::to_string(timeout_ms)});
  if (!v.ok()) return v.status();
  if (v->kind != resp::ReplyValue::Kind::kInteger) return InternalError("WAIT: not an integer");
  return v->integer;
}

Counter NodeSession::counter(std::string key) const { return Counter(path_, std::move(key)); }
String NodeSession::string(std::string key) const { return String(path_, std::move(key)); }
Record NodeSession::record(std::string key) const { return Record(path_, std::move(key)); }
RCounter NodeSession::reservation_counter(std::string key) const {
  return RCounter(path_, std::move(key));
}

}  // namespace converge
