// The typed handles: each method is one request of PROTOCOL.md's commands
// through the CommandPath, its reply decoded and its error mapped to a Status
// (node/handles.h lists the codes). Reads whose type no command reports
// (a counter's value: TYPE and GET both treat it as a string, as Redis does)
// read the object on the apply strand instead.
#include "node/handles.h"

#include <charconv>

#include "crdt/object.h"
#include "node/internal/command_path.h"

namespace converge {
namespace {

using resp::ReplyValue;

Status Unexpected(const std::string& command, const ReplyValue& v) {
  return InternalError("unexpected reply to " + command + " (kind " +
                       std::to_string(static_cast<int>(v.kind)) + "): " + v.text);
}

StatusOr<int64_t> Integer(const std::string& command, const StatusOr<ReplyValue>& v) {
  if (!v.ok()) return v.status();
  if (v->kind != ReplyValue::Kind::kInteger) return Unexpected(command, *v);
  return v->integer;
}

Status Done(const StatusOr<ReplyValue>& v) { return v.ok() ? Status::Ok() : v.status(); }

StatusOr<std::optional<std::string>> OptionalBulk(const std::string& command,
                                                  const StatusOr<ReplyValue>& v) {
  if (!v.ok()) return v.status();
  if (v->kind == ReplyValue::Kind::kNil) return std::optional<std::string>();
  if (v->kind != ReplyValue::Kind::kBulk) return Unexpected(command, *v);
  return std::optional<std::string>(v->text);
}

Status WrongType() { return FailedPreconditionError(std::string(Object::kWrongType)); }

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()); }

}  // namespace

bool IsWrongType(const Status& status) { return Object::IsWrongType(status); }

// ---- Counter --------------------------------------------------------------

StatusOr<int64_t> Counter::Add(int64_t n) {
  return Integer("INCRBY", path_->RunOne({"INCRBY", key_, std::to_string(n)}));
}

StatusOr<int64_t> Counter::Value() {
  int64_t value = 0;
  bool wrong_type = false;
  CONVERGE_RETURN_IF_ERROR(path_->Read(key_, [&](const Object* o) {
    if (o == nullptr) return;
    if (const PNCounter* c = o->As<PNCounter>()) {
      value = c->Value();
    } else {
      wrong_type = true;
    }
  }));
  if (wrong_type) return WrongType();
  return value;
}

Status Counter::Reset() {
  return Done(path_->RunIfType(
      key_, [](const Object* o) { return o == nullptr || o->As<PNCounter>() != nullptr; },
      {"DEL", key_}));
}

// ---- String ---------------------------------------------------------------

Status String::Set(const std::string& value) { return Done(path_->RunOne({"SET", key_, value})); }

StatusOr<std::optional<std::string>> String::Get() {
  std::optional<std::string> value;
  bool wrong_type = false;
  CONVERGE_RETURN_IF_ERROR(path_->Read(key_, [&](const Object* o) {
    if (o == nullptr) return;
    if (const LwwRegister* r = o->As<LwwRegister>()) {
      value = r->value();
    } else {
      wrong_type = true;
    }
  }));
  if (wrong_type) return WrongType();
  return value;
}

Status String::Delete() {
  return Done(path_->RunIfType(
      key_, [](const Object* o) { return o == nullptr || o->As<LwwRegister>() != nullptr; },
      {"DEL", key_}));
}

// ---- Record ---------------------------------------------------------------

Status Record::Set(const std::string& field, const std::string& value) {
  return Done(path_->RunOne({"HSET", key_, field, value}));
}

Status Record::Set(const std::vector<std::pair<std::string, std::string>>& fields) {
  if (fields.empty()) return InvalidArgumentError("Record::Set of no fields");
  std::vector<std::string> args = {"HSET", key_};
  for (const auto& [f, v] : fields) {
    args.push_back(f);
    args.push_back(v);
  }
  return Done(path_->RunOne(args));
}

StatusOr<std::optional<std::string>> Record::Get(const std::string& field) {
  return OptionalBulk("HGET", path_->RunOne({"HGET", key_, field}));
}

StatusOr<std::map<std::string, std::string>> Record::GetAll() {
  StatusOr<ReplyValue> v = path_->RunOne({"HGETALL", key_});
  if (!v.ok()) return v.status();
  if (v->kind != ReplyValue::Kind::kArray || v->elements.size() % 2 != 0) {
    return Unexpected("HGETALL", *v);
  }
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < v->elements.size(); i += 2) {
    out.emplace(std::move(v->elements[i].text), std::move(v->elements[i + 1].text));
  }
  return out;
}

StatusOr<bool> Record::DeleteField(const std::string& field) {
  StatusOr<int64_t> n = Integer("HDEL", path_->RunOne({"HDEL", key_, field}));
  if (!n.ok()) return n.status();
  return *n > 0;
}

Status Record::Delete() {
  return Done(path_->RunIfType(
      key_, [](const Object* o) { return o == nullptr || o->As<LwwMap>() != nullptr; },
      {"DEL", key_}));
}

// ---- RCounter -----------------------------------------------------

StatusOr<int64_t> RCounter::Add(uint64_t n) {
  return Integer("RC.ADD", path_->RunOne({"RC.ADD", key_, std::to_string(n)}));
}

StatusOr<int64_t> RCounter::Take(uint64_t n, std::chrono::milliseconds timeout) {
  return Integer("RC.TAKE",
                 path_->RunOne({"RC.TAKE", key_, std::to_string(n), "TIMEOUT", Ms(timeout)}));
}

StatusOr<Hold> RCounter::Reserve(uint64_t n, std::chrono::milliseconds ttl,
                                           std::chrono::milliseconds timeout) {
  StatusOr<ReplyValue> v = path_->RunOne(
      {"RC.RESERVE", key_, std::to_string(n), Ms(ttl), "TIMEOUT", Ms(timeout)});
  if (!v.ok()) return v.status();
  if (v->kind != ReplyValue::Kind::kBulk) return Unexpected("RC.RESERVE", *v);
  return Hold{v->text, key_, n};
}

Status RCounter::Commit(const Hold& hold) {
  return Done(path_->RunOne({"RC.COMMIT", hold.id}));
}

Status RCounter::Release(const Hold& hold) {
  return Done(path_->RunOne({"RC.RELEASE", hold.id}));
}

StatusOr<int64_t> RCounter::Value() {
  return Integer("RC.GET", path_->RunOne({"RC.GET", key_}));
}

StatusOr<int64_t> RCounter::LocalRights() {
  return Integer("RC.RIGHTS", path_->RunOne({"RC.RIGHTS", key_}));
}

}  // namespace converge
