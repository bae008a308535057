// Seeds for randomized tests: CONVERGE_SEED=<n> replays one; otherwise a
// fresh seed is drawn. Either way it is printed, and attached to failures
// through SCOPED_TRACE by the caller.
#ifndef CONVERGE_TESTS_TESTING_SEED_H_
#define CONVERGE_TESTS_TESTING_SEED_H_

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace converge::testing {

inline uint64_t TestSeed() {
  if (const char* env = std::getenv("CONVERGE_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  std::random_device rd;
  return (uint64_t{rd()} << 32) | rd();
}

// Prints the seed and how to replay it; returns it.
inline uint64_t AnnounceSeed(const std::string& test) {
  const uint64_t seed = TestSeed();
  std::cout << "[ seed     ] " << test << " seed=" << seed << " (replay: CONVERGE_SEED=" << seed
            << ")" << std::endl;
  return seed;
}

}  // namespace converge::testing

#endif  // CONVERGE_TESTS_TESTING_SEED_H_
