// libFuzzer's entry point for one target: CONVERGE_FUZZ_BODY names the body
// (fuzz/CMakeLists.txt sets it per target).
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return converge::fuzz::CONVERGE_FUZZ_BODY(data, size);
}
