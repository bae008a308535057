#include "storage/internal/object_merge_operator.h"

#include <rocksdb/merge_operator.h>

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/internal/object_merge.h"

namespace converge::storage_internal {
namespace {

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

class ObjectJoinOperator : public rocksdb::MergeOperator {
 public:
  explicit ObjectJoinOperator(std::shared_ptr<std::atomic<uint64_t>> damaged_inputs)
      : damaged_inputs_(std::move(damaged_inputs)) {}

  // Stored in RocksDB's OPTIONS file; a store is opened with this name only.
  const char* Name() const override { return "converge.ObjectJoin"; }

  // Always true: see object_merge.h for why a failure here would be worse
  // than the rebuild or pass-through it does instead.
  bool FullMergeV2(const MergeOperationInput& in, MergeOperationOutput* out) const override {
    std::optional<std::string_view> base;
    if (in.existing_value != nullptr) base = View(*in.existing_value);
    std::vector<std::string_view> operands;
    operands.reserve(in.operand_list.size());
    for (const rocksdb::Slice& op : in.operand_list) operands.push_back(View(op));
    MergedObject merged = MergeObjectValues(base, operands);
    if (merged.damaged != 0) damaged_inputs_->fetch_add(merged.damaged, std::memory_order_relaxed);
    out->new_value = std::move(merged.value);
    return true;
  }

  // Refusing is harmless here: RocksDB keeps the operands as they are.
  bool PartialMergeMulti(const rocksdb::Slice& /*key*/, const std::deque<rocksdb::Slice>& operand_list,
                         std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    std::vector<std::string_view> operands;
    operands.reserve(operand_list.size());
    for (const rocksdb::Slice& op : operand_list) operands.push_back(View(op));
    std::optional<std::string> joined = JoinObjectOperands(operands);
    if (!joined) return false;
    *new_value = std::move(*joined);
    return true;
  }

 private:
  std::shared_ptr<std::atomic<uint64_t>> damaged_inputs_;
};

}  // namespace

std::shared_ptr<rocksdb::MergeOperator> NewObjectMergeOperator(
    std::shared_ptr<std::atomic<uint64_t>> damaged_inputs) {
  return std::make_shared<ObjectJoinOperator>(std::move(damaged_inputs));
}

}  // namespace converge::storage_internal
