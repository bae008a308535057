// The RocksDB merge operator of the "objects" column family: the CRDT join of
// stored objects (storage/internal/object_merge.h says what it computes and
// why it never fails). Merges run on any RocksDB thread (writers, readers,
// flush and compaction); the operator is stateless apart from an atomic
// counter, so it is safe from any thread.
#ifndef CONVERGE_STORAGE_INTERNAL_OBJECT_MERGE_OPERATOR_H_
#define CONVERGE_STORAGE_INTERNAL_OBJECT_MERGE_OPERATOR_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace rocksdb {
class MergeOperator;
}  // namespace rocksdb

namespace converge::storage_internal {

// `damaged_inputs` is raised by every merge input left out because it did not
// decode. A damaged key is counted once per merge that meets it (a Get, an
// iterator step, a flush or compaction), not once per key.
std::shared_ptr<rocksdb::MergeOperator> NewObjectMergeOperator(
    std::shared_ptr<std::atomic<uint64_t>> damaged_inputs);

}  // namespace converge::storage_internal

#endif  // CONVERGE_STORAGE_INTERNAL_OBJECT_MERGE_OPERATOR_H_
