#include "crdt/delta.h"

#include <algorithm>
#include <utility>

namespace converge {

Status DeltaInterval::Append(const Delta& d) {
  if (d.origin != origin_ || d.seq != last_ + 1) {
    return InvalidArgumentError("delta (" + std::to_string(d.origin) + ", " +
                                std::to_string(d.seq) + ") does not extend the interval");
  }
  objects_[d.key].Join(d.object);
  last_ = d.seq;
  max_ts_ = std::max(max_ts_, d.ts);
  return Status::Ok();
}

Status DeltaInterval::Append(Delta&& d) {
  if (d.origin != origin_ || d.seq != last_ + 1) return Append(std::as_const(d));  // the error
  // try_emplace leaves key and object alone when the key is there already.
  auto [it, inserted] = objects_.try_emplace(std::move(d.key), std::move(d.object));
  if (!inserted) it->second.Join(d.object);
  last_ = d.seq;
  max_ts_ = std::max(max_ts_, d.ts);
  return Status::Ok();
}

Status DeltaInterval::Append(const DeltaInterval& next) {
  if (next.origin_ != origin_ || next.first_ > last_ + 1 || next.first_ < first_) {
    return InvalidArgumentError("interval does not follow this one");
  }
  for (const auto& [key, obj] : next.objects_) objects_[key].Join(obj);
  last_ = std::max(last_, next.last_);
  max_ts_ = std::max(max_ts_, next.max_ts_);
  return Status::Ok();
}

Status DeltaInterval::Append(DeltaInterval&& next) {
  if (next.origin_ != origin_ || next.first_ > last_ + 1 || next.first_ < first_) {
    return InvalidArgumentError("interval does not follow this one");
  }
  objects_.merge(next.objects_);  // leaves behind the keys both have
  for (const auto& [key, obj] : next.objects_) objects_.find(key)->second.Join(obj);
  next.objects_.clear();
  last_ = std::max(last_, next.last_);
  max_ts_ = std::max(max_ts_, next.max_ts_);
  return Status::Ok();
}

bool DeltaInterval::WellFormed() const {
  if (first_ < 1 || last_ < first_) return false;
  return std::all_of(objects_.begin(), objects_.end(),
                     [](const auto& kv) { return kv.second.WellFormed(); });
}

}  // namespace converge
