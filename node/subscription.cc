#include "node/subscription.h"

#include "node/internal/change_feed.h"

namespace converge {

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kCounter: return "counter";
    case ValueType::kString: return "string";
    case ValueType::kRecord: return "record";
    case ValueType::kReservationCounter: return "rcounter";
  }
  return "unknown";
}

Subscription::Subscription(Subscription&& other) noexcept
    : feed_(std::move(other.feed_)), id_(other.id_) {
  other.id_ = 0;
}

Subscription& Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    Cancel();
    feed_ = std::move(other.feed_);
    id_ = other.id_;
    other.id_ = 0;
  }
  return *this;
}

Subscription::~Subscription() { Cancel(); }

void Subscription::Cancel() {
  if (id_ == 0) return;
  if (std::shared_ptr<ChangeFeed> feed = feed_.lock()) feed->Remove(id_);
  id_ = 0;
  feed_.reset();
}

bool Subscription::active() const {
  std::shared_ptr<ChangeFeed> feed = feed_.lock();
  return id_ != 0 && feed != nullptr && feed->Has(id_);
}

uint64_t Subscription::dropped() const {
  std::shared_ptr<ChangeFeed> feed = feed_.lock();
  return feed ? feed->dropped() : 0;
}

}  // namespace converge
