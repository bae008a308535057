#include "crdt/lww_register.h"

#include <tuple>
#include <utility>

namespace converge {

bool LwwRegister::LosesTo(const LwwRegister& other) const {
  return std::tie(stamp_, tombstone_, value_) <
         std::tie(other.stamp_, other.tombstone_, other.value_);
}

LwwRegister LwwRegister::Set(std::string value, Stamp stamp) {
  LwwRegister delta(std::move(value), stamp, false);
  Join(delta);
  return delta;
}

LwwRegister LwwRegister::Delete(Stamp stamp) {
  LwwRegister delta(std::string(), stamp, true);
  Join(delta);
  return delta;
}

void LwwRegister::Join(const LwwRegister& other) {
  if (LosesTo(other)) *this = other;
}

bool LwwRegister::WellFormed() const {
  if (stamp_.IsZero()) return value_.empty() && !tombstone_;
  return !tombstone_ || value_.empty();
}

}  // namespace converge
