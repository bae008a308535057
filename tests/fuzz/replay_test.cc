// Replays every committed fuzz input through its body (fuzz/fuzz_check.h):
// the seed corpus fuzz/corpus/<target>/ and the inputs the fuzzers found,
// fuzz/regressions/<target>/. Built by the normal compiler, so every
// `make test` and `make sanitize` checks them, without clang or libFuzzer.
// A second test runs 20,000 random mutations of the seeds through
// each body: no substitute for libFuzzer's coverage-guided search, but it
// catches a broken property between fuzz runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "tests/testing/seed.h"

namespace converge::fuzz {
namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  int (*body)(const uint8_t*, size_t);
};

const Target kTargets[] = {
    {"resp_parser", FuzzRespParser},
    {"frame", FuzzFrame},
    {"handshake", FuzzHandshake},
    {"storage", FuzzStorage},
};

// For gtest's test listing.
void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

struct Input {
  std::string path;
  std::string bytes;
};

std::vector<Input> ReadDir(const fs::path& dir) {
  std::vector<Input> out;
  if (!fs::exists(dir)) return out;
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out.push_back({e.path().string(), std::string(std::istreambuf_iterator<char>(in), {})});
  }
  std::sort(out.begin(), out.end(), [](const Input& a, const Input& b) { return a.path < b.path; });
  return out;
}

void Replay(const Target& t, const Input& input) {
  g_replaying = input.path.c_str();
  EXPECT_EQ(t.body(reinterpret_cast<const uint8_t*>(input.bytes.data()), input.bytes.size()), 0)
      << input.path;
  g_replaying = nullptr;
}

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, CorpusAndRegressions) {
  const Target& t = GetParam();
  const fs::path root = CONVERGE_SOURCE_DIR "/fuzz";
  const std::vector<Input> corpus = ReadDir(root / "corpus" / t.name);
  const std::vector<Input> regressions = ReadDir(root / "regressions" / t.name);
  ASSERT_FALSE(corpus.empty()) << "no seed corpus in " << (root / "corpus" / t.name);
  for (const Input& in : corpus) Replay(t, in);
  for (const Input& in : regressions) Replay(t, in);
  std::cout << "[ replayed ] " << t.name << ": " << corpus.size() << " seeds, "
            << regressions.size() << " regressions" << std::endl;
}

TEST_P(FuzzReplay, RandomMutationsOfSeeds) {
  const Target& t = GetParam();
  const uint64_t seed = testing::AnnounceSeed(std::string("FuzzReplay.") + t.name);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const std::vector<Input> corpus = ReadDir(fs::path(CONVERGE_SOURCE_DIR "/fuzz/corpus") / t.name);
  ASSERT_FALSE(corpus.empty());
  std::string mutated;
  g_replaying = "a random mutation (replay with the seed above)";
  for (int i = 0; i < 20000; ++i) {
    mutated = corpus[rng() % corpus.size()].bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const uint64_t r = rng();
      switch (r % 4) {
        case 0:  // flip a bit
          if (!mutated.empty()) mutated[(r >> 8) % mutated.size()] ^= static_cast<char>(1 << (r >> 40) % 8);
          break;
        case 1:  // set a byte
          if (!mutated.empty()) mutated[(r >> 8) % mutated.size()] = static_cast<char>(r >> 40);
          break;
        case 2:  // truncate
          mutated.resize((r >> 8) % (mutated.size() + 1));
          break;
        case 3:  // insert a byte
          mutated.insert(mutated.begin() + static_cast<long>((r >> 8) % (mutated.size() + 1)),
                         static_cast<char>(r >> 40));
          break;
      }
    }
    ASSERT_EQ(t.body(reinterpret_cast<const uint8_t*>(mutated.data()), mutated.size()), 0);
  }
  g_replaying = nullptr;
}

INSTANTIATE_TEST_SUITE_P(Fuzz, FuzzReplay, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace converge::fuzz
