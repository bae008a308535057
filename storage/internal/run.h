// Whether a store being opened may have lost writes its peers hold, and the
// small file helpers that question needs (see Store's class comment on the
// replica id).
#ifndef CONVERGE_STORAGE_INTERNAL_RUN_H_
#define CONVERGE_STORAGE_INTERNAL_RUN_H_

#include <optional>
#include <string>
#include <string_view>

#include "crdt/status.h"
#include "storage/internal/format.h"

namespace converge::storage_internal {

// The machine's boot id (/proc/sys/kernel/random/boot_id), or "" where the
// system has none.
std::string ReadBootId();

// What the open found of the last run.
struct LastRun {
  // The "running" record, when the last run did not close cleanly.
  std::optional<RunRecord> unclean;
  // The "running" record was there but did not decode.
  bool damaged = false;
  // The directory holds kRestoreMarkerFile.
  bool restored = false;
};

// Why the store may have lost acknowledged writes that peers hold, in words
// for the log; "" when it cannot have. `boot_id` is this boot's ("" =
// unknown, which counts as another boot). `everysec` is the
// Durability::kEverySec value as stored in RunRecord.
std::string LostWritesReason(const LastRun& last, std::string_view boot_id, uint8_t everysec);

// Writes `contents` to a new file at `path` and fsyncs it.
Status WriteFileSynced(const std::string& path, std::string_view contents);

}  // namespace converge::storage_internal

#endif  // CONVERGE_STORAGE_INTERNAL_RUN_H_
