#include "storage/internal/object_merge.h"

#include "crdt/codec.h"
#include "crdt/object.h"

namespace converge::storage_internal {

MergedObject MergeObjectValues(std::optional<std::string_view> base,
                               const std::vector<std::string_view>& operands) {
  MergedObject out;
  Object joined;
  bool any = false;
  auto join = [&](std::string_view bytes) {
    StatusOr<Object> o = Decode<Object>(bytes);
    if (!o.ok()) {
      ++out.damaged;
      return;
    }
    if (any) {
      joined.Join(*o);
    } else {
      joined = std::move(*o);
      any = true;
    }
  };
  if (base) join(*base);
  for (std::string_view op : operands) join(op);
  if (any) {
    out.value = Encode(joined);
  } else if (base) {
    out.value = std::string(*base);
  } else if (!operands.empty()) {
    out.value = std::string(operands.front());
  }
  return out;
}

std::optional<std::string> JoinObjectOperands(const std::vector<std::string_view>& operands) {
  Object joined;
  for (std::string_view op : operands) {
    StatusOr<Object> o = Decode<Object>(op);
    if (!o.ok()) return std::nullopt;
    joined.Join(*o);
  }
  return Encode(joined);
}

}  // namespace converge::storage_internal
