// The join of stored object bytes: what the "objects" column family's merge
// operator computes (storage/internal/object_merge_operator.h), kept free of
// RocksDB so that the fuzz target and the tests can call it directly.
//
// A key's value in "objects" is Encode(Object) (format.h). A write may put
// that whole value, or merge an Encode(Object) delta into it; a read (Get,
// iterator, flush, compaction) joins the stored base with the merge operands
// by Object::Join and encodes the result. Join is commutative, associative
// and idempotent, so the operands may be combined in any grouping and order
// (partial merges), and a delta merged twice changes nothing.
//
// Damaged bytes. RocksDB turns a failed merge into a background error during
// flush or compaction, after which the whole database is read-only: one bad
// value would stop every write of the node. So the full merge never fails:
//   * a base or operand that does not decode is left out of the join and
//     counted (MergedObject::damaged);
//   * when something decodes, the key becomes the join of what did: a damaged
//     base is rebuilt from the operands, which is what Replica::JoinInterval
//     did before merges existed (it joined a remote delta into an empty
//     object when the stored bytes were damaged and put the result);
//   * when nothing decodes, the damaged bytes pass through unchanged (the
//     base if there is one, else the first operand), so a read of the key
//     keeps reporting Corruption instead of finding an invented empty object.
// The partial merge (operands only, no base) is allowed to refuse; it does so
// on any damaged operand, leaving the operands for the full merge above.
#ifndef CONVERGE_STORAGE_INTERNAL_OBJECT_MERGE_H_
#define CONVERGE_STORAGE_INTERNAL_OBJECT_MERGE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace converge::storage_internal {

struct MergedObject {
  std::string value;   // the key's new value
  size_t damaged = 0;  // inputs (base or operands) left out: they did not decode
};

// Joins `base` (nullopt when the key had no value) with `operands`, oldest
// first (the order does not change the result). REQUIRES: !operands.empty()
// or base.
MergedObject MergeObjectValues(std::optional<std::string_view> base,
                               const std::vector<std::string_view>& operands);

// The join of `operands` encoded, or nullopt when any of them does not decode.
std::optional<std::string> JoinObjectOperands(const std::vector<std::string_view>& operands);

}  // namespace converge::storage_internal

#endif  // CONVERGE_STORAGE_INTERNAL_OBJECT_MERGE_H_
