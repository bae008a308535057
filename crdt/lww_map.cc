#include "crdt/lww_map.h"

#include <algorithm>

namespace converge {

LwwMap LwwMap::Set(const std::string& field, std::string value, Stamp stamp) {
  LwwMap delta;
  delta.fields_[field].Set(std::move(value), stamp);
  Join(delta);
  return delta;
}

LwwMap LwwMap::Delete(const std::string& field, Stamp stamp) {
  LwwMap delta;
  delta.fields_[field].Delete(stamp);
  Join(delta);
  return delta;
}

LwwMap LwwMap::Clear(Stamp stamp) {
  LwwMap delta;
  delta.cleared_ = stamp;
  Join(delta);
  return delta;
}

void LwwMap::DropCleared() {
  if (cleared_.IsZero()) return;
  std::erase_if(fields_, [&](const auto& kv) { return kv.second.stamp() < cleared_; });
}

void LwwMap::Join(const LwwMap& other) {
  cleared_ = std::max(cleared_, other.cleared_);
  for (const auto& [name, reg] : other.fields_) {
    if (reg.stamp() < cleared_) continue;
    auto it = fields_.find(name);
    if (it == fields_.end()) {
      fields_.emplace(name, reg);
    } else {
      it->second.Join(reg);
    }
  }
  DropCleared();
}

size_t LwwMap::Purge(Stamp bound) {
  size_t n = std::erase_if(fields_, [&](const auto& kv) {
    return kv.second.tombstone() && kv.second.stamp() < bound;
  });
  if (!cleared_.IsZero() && cleared_ < bound) {
    cleared_ = Stamp();
    ++n;
  }
  return n;
}

const std::string* LwwMap::Get(std::string_view field) const {
  auto it = fields_.find(field);
  if (it == fields_.end() || !it->second.Live()) return nullptr;
  return &it->second.value();
}

std::vector<std::pair<std::string, std::string>> LwwMap::Items() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, reg] : fields_) {
    if (reg.Live()) out.emplace_back(name, reg.value());
  }
  return out;
}

size_t LwwMap::Size() const {
  return std::count_if(fields_.begin(), fields_.end(),
                       [](const auto& kv) { return kv.second.Live(); });
}

// Called twice per write of the key (Replica::Mutate); counting every field
// made each write O(fields).
bool LwwMap::Live() const {
  return std::any_of(fields_.begin(), fields_.end(),
                     [](const auto& kv) { return kv.second.Live(); });
}

size_t LwwMap::Tombstones() const {
  size_t n = std::count_if(fields_.begin(), fields_.end(),
                           [](const auto& kv) { return kv.second.tombstone(); });
  return n + (cleared_.IsZero() ? 0 : 1);
}

bool LwwMap::WellFormed() const {
  for (const auto& [name, reg] : fields_) {
    if (!reg.WellFormed() || reg.stamp().IsZero()) return false;
    if (!cleared_.IsZero() && reg.stamp() < cleared_) return false;
  }
  return true;
}

}  // namespace converge
