#include "tests/nemesis/conn.h"

#include <hiredis/hiredis.h>

#include <chrono>
#include <thread>

namespace converge::nemesis {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kFailed: return "failed";
    case Outcome::kUnknown: return "unknown";
  }
  return "?";
}

Conn::~Conn() { Drop(); }

void Conn::Drop() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

bool Conn::Connect() {
  timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
  ctx_ = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (ctx_ == nullptr || ctx_->err != 0) {
    Drop();
    return false;
  }
  redisSetTimeout(ctx_, tv);
  ++generation_;
  return true;
}

Reply Conn::Run(const std::vector<std::string>& args) {
  Reply reply;
  if (ctx_ == nullptr && !Connect()) {
    // Nothing was sent: a definite failure. The pause keeps a worker from
    // spinning on a node that is down.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    reply.text = "connect failed";
    return reply;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(ctx_, static_cast<int>(args.size()), argv.data(), lens.data()));
  if (r == nullptr) {
    // Sent (or partly sent) and no reply: the node may still apply it.
    reply.outcome = Outcome::kUnknown;
    reply.text = ctx_->errstr;
    Drop();
    return reply;
  }
  switch (r->type) {
    case REDIS_REPLY_ERROR:
      reply.outcome = Outcome::kFailed;
      reply.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.outcome = Outcome::kOk;
      reply.integer = r->integer;
      reply.is_integer = true;
      break;
    case REDIS_REPLY_NIL:
      reply.outcome = Outcome::kOk;
      reply.is_nil = true;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      reply.outcome = Outcome::kOk;
      reply.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:  // HGETALL and friends: flat, strings only
      reply.outcome = Outcome::kOk;
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* e = r->element[i];
        reply.elements.emplace_back(e->str != nullptr ? std::string(e->str, e->len) : "");
      }
      break;
    default:
      reply.outcome = Outcome::kFailed;
      reply.text = "unexpected reply type";
  }
  freeReplyObject(r);
  return reply;
}

}  // namespace converge::nemesis
