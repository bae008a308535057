// main() of the storage test binary: the roles it plays when started by
// ChildProcess (tests/storage/child_process.h), else GoogleTest. The role is
// picked in main, not in a static initializer, so RocksDB's own statics are
// constructed first. A child never reaches GoogleTest and leaves through _exit.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "storage/store.h"
#include "tests/storage/child_process.h"
#include "tests/storage/store_testing.h"

namespace converge::testing {
namespace {

void Report(int fd, const void* data, size_t size) {
  if (::write(fd, data, size) != static_cast<ssize_t>(size)) ::_exit(3);  // parent gone
}

void Fail(int fd, const Status& st) {
  const std::string msg = std::string("E").append(st.ToString()).append("\n");
  Report(fd, msg.data(), msg.size());
  ::_exit(2);
}

// Opens the store at `arg` = "<path>:<always|batch|everysec>[-lag]" and
// applies one write after another (object, log entry, VV, HLC; a hold every
// 8th). With "-lag" the objects lag the log as a node that defers them
// would leave them: a write logs its delta only and says how far the objects
// are behind (ApplyBatch::objects_vv), and every 16th writes the objects of
// the writes since the last such one and catches the mark up.
// Reports "R\n" once open, then "A<seq>\n" for each write only after its
// Apply returned OK ("E<status>\n" on an error). Never returns: the parent
// SIGKILLs it.
[[noreturn]] void RunWriter(int fd, const std::string& arg) {
  const size_t colon = arg.rfind(':');
  const std::string path = arg.substr(0, colon);
  std::string mode = arg.substr(colon + 1);
  const bool lag = mode.ends_with("-lag");
  if (lag) mode.resize(mode.size() - 4);
  StoreOptions options;
  options.durability = mode == "always"  ? Durability::kAlways
                       : mode == "batch" ? Durability::kBatch
                                         : Durability::kEverySec;
  StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
  if (!store.ok()) Fail(fd, store.status());
  Report(fd, "R\n", 2);
  VersionVector vv = (*store)->version_vector();
  VersionVector objects_vv = vv;  // Open has caught the objects up
  std::vector<Delta> unwritten;
  for (uint64_t seq = vv.Get(kWriterOrigin) + 1;; ++seq) {
    const Delta d = SetDelta(kWriterOrigin, seq, Numbered("k", seq), Numbered("v", seq));
    vv.Advance(kWriterOrigin, seq);
    ApplyBatch batch = WriteBatchFor(d, vv);
    if (lag) {
      batch.objects.clear();
      unwritten.push_back(d);
      if (seq % 16 == 0) {
        for (const Delta& w : unwritten) batch.merged_objects.emplace_back(w.key, w.object);
        unwritten.clear();
        objects_vv = vv;
      }
      batch.objects_vv = objects_vv;
    }
    if (seq % 8 == 0) batch.put_holds.push_back(HoldRecord{Numbered("h", seq), d.key, 1, seq});
    if (Status st = (*store)->Apply(batch); !st.ok()) Fail(fd, st);
    const std::string ack = Numbered("A", seq).append("\n");
    Report(fd, ack.data(), ack.size());
  }
}

// Opens the store at `arg`, reports 'R', and keeps it open until killed.
[[noreturn]] void RunHolder(int fd, const std::string& arg) {
  StoreOptions options;
  options.durability = Durability::kAlways;  // no sync thread: the directory stays still
  StatusOr<std::unique_ptr<Store>> store = Store::Open(arg, options);
  if (!store.ok()) Fail(fd, store.status());
  Report(fd, "R", 1);
  for (;;) ::pause();
}

// Opens the store at `arg` = "<path>:<always|batch|everysec>:<boot id>",
// applies one write, reports "R<replica id>\n" and keeps the store open until
// killed: a run that never closes, on the boot given.
[[noreturn]] void RunRunner(int fd, const std::string& arg) {
  const size_t boot_colon = arg.rfind(':');
  const size_t mode_colon = arg.rfind(':', boot_colon - 1);
  const std::string path = arg.substr(0, mode_colon);
  const std::string mode = arg.substr(mode_colon + 1, boot_colon - mode_colon - 1);
  StoreOptions options;
  options.durability = mode == "always"  ? Durability::kAlways
                       : mode == "batch" ? Durability::kBatch
                                         : Durability::kEverySec;
  options.boot_id = arg.substr(boot_colon + 1);
  StatusOr<std::unique_ptr<Store>> store = Store::Open(path, options);
  if (!store.ok()) Fail(fd, store.status());
  const uint64_t seq = (*store)->version_vector().Get(kWriterOrigin) + 1;
  VersionVector vv = (*store)->version_vector();
  vv.Advance(kWriterOrigin, seq);
  const Delta d = SetDelta(kWriterOrigin, seq, Numbered("k", seq), Numbered("v", seq));
  if (Status st = (*store)->Apply(WriteBatchFor(d, vv)); !st.ok()) Fail(fd, st);
  const std::string ready = "R" + std::to_string((*store)->replica_id()) + "\n";
  Report(fd, ready.data(), ready.size());
  for (;;) ::pause();
}

}  // namespace

void MaybeRunChild() {
  const char* role = std::getenv(kChildRoleEnv);
  if (role == nullptr) return;
  const char* arg = std::getenv(kChildArgEnv);
  const char* fd = std::getenv(kChildFdEnv);
  if (arg == nullptr || fd == nullptr) ::_exit(125);
  const int out = std::atoi(fd);
  if (std::strcmp(role, "writer") == 0) RunWriter(out, arg);
  if (std::strcmp(role, "holder") == 0) RunHolder(out, arg);
  if (std::strcmp(role, "runner") == 0) RunRunner(out, arg);
  ::_exit(124);
}

}  // namespace converge::testing

int main(int argc, char** argv) {
  converge::testing::MaybeRunChild();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
