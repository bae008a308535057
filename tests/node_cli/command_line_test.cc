#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "node/cli/cli.h"

namespace converge {
namespace {

using ::testing::internal::CaptureStderr;
using ::testing::internal::CaptureStdout;
using ::testing::internal::GetCapturedStderr;
using ::testing::internal::GetCapturedStdout;

// Runs the command line with a Serve() that records what it was given.
struct Outcome {
  int code = -1;
  std::string out;
  std::string err;
  bool served = false;
  NodeOptions options;
};

Outcome RunWith(const std::vector<std::string>& args, int serve_result = 0) {
  Outcome r;
  CaptureStdout();
  CaptureStderr();
  r.code = RunCommandLine(args, [&r, serve_result](const NodeOptions& o) {
    r.served = true;
    r.options = o;
    return serve_result;
  });
  r.out = GetCapturedStdout();
  r.err = GetCapturedStderr();
  return r;
}

TEST(CommandLineTest, Version) {
  const Outcome r = RunWith({"--version"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("converge ", 0), 0u) << r.out;
  EXPECT_EQ(r.out, "converge " CONVERGE_TEST_VERSION "\n");
}

TEST(CommandLineTest, ServeCallsServeWithTheParsedOptionsAndReturnsItsCode) {
  Outcome r = RunWith({"serve", "--data-dir", "d", "--port", "7001"});
  EXPECT_EQ(r.code, 0);
  ASSERT_TRUE(r.served);
  EXPECT_EQ(r.options.data_dir, "d");
  EXPECT_EQ(r.options.port, 7001);
  r = RunWith({"serve", "--data-dir", "d"}, /*serve_result=*/1);
  EXPECT_EQ(r.code, 1);  // a runtime failure is Serve's to report
}

TEST(CommandLineTest, BadServeOptionsExitTwoWithOneLineReason) {
  const Outcome r = RunWith({"serve", "--data-dir", "d", "--fsync", "sometimes"});
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(r.served);
  EXPECT_EQ(r.err, "converge: --fsync: must be one of always, batch, everysec (got \"sometimes\")\n");
}

TEST(CommandLineTest, ServeHelpIsNotAnError) {
  const Outcome r = RunWith({"serve", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_FALSE(r.served);
  EXPECT_NE(r.out.find("--data-dir"), std::string::npos);
}

TEST(CommandLineTest, BadUsageExitsTwoWithUsageOnStderr) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {}, {"bogus"}, {"cluster"}, {"cluster", "down"}, {"cluster", "up"},
           {"cluster", "up", "--nodes", "0"}, {"cluster", "up", "--nodes", "3", "--fsync", "x"}}) {
    SCOPED_TRACE(::testing::PrintToString(args));
    const Outcome r = RunWith(args);
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("usage:"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(CommandLineTest, ClusterUpHelp) {
  const Outcome r = RunWith({"cluster", "up", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--nodes"), std::string::npos);
}

}  // namespace
}  // namespace converge
