// What the fuzz bodies share: their entry points and FUZZ_CHECK.
//
// Each target's body is a plain function so that it is compiled twice: into
// a libFuzzer binary by clang (fuzz/CMakeLists.txt, with fuzz_main.cc), and
// into the gtest tests/fuzz/replay_test.cc by the normal build, which replays
// every committed corpus and regression input on every `make test` and
// `make sanitize`, without clang.
//
// A body returns 0 for every input (libFuzzer's contract); a broken property
// is a FUZZ_CHECK failure, which prints the condition and aborts, so both
// libFuzzer and the replay test report it as a crash with the input kept.
#ifndef CONVERGE_FUZZ_FUZZ_CHECK_H_
#define CONVERGE_FUZZ_FUZZ_CHECK_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace converge::fuzz {

int FuzzRespParser(const uint8_t* data, size_t size);
int FuzzFrame(const uint8_t* data, size_t size);
int FuzzHandshake(const uint8_t* data, size_t size);
int FuzzStorage(const uint8_t* data, size_t size);

// The input being replayed, when a replay test sets it, for the failure report.
inline const char* g_replaying = nullptr;

[[noreturn]] inline void CheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, cond);
  if (g_replaying != nullptr) std::fprintf(stderr, "  while replaying %s\n", g_replaying);
  std::fflush(stderr);
  std::abort();
}

}  // namespace converge::fuzz

#define FUZZ_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::converge::fuzz::CheckFailed(#cond, __FILE__, __LINE__))

#endif  // CONVERGE_FUZZ_FUZZ_CHECK_H_
