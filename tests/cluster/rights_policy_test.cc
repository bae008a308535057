#include "cluster/rights_policy.h"

#include <gtest/gtest.h>

namespace converge {
namespace {

TEST(RightsPolicyTest, MovesSurplusToThePeerThatAskedMost) {
  RightsPolicy p;
  p.OnRequest("stock", 7, 3, 1000);
  p.OnRequest("stock", 7, 2, 1100);
  p.OnRequest("stock", 9, 1, 1200);
  p.OnLocalTake("stock", 4, 1300);
  auto moves = p.Decide(1400, [](const std::string&) { return int64_t{100}; });
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].key, "stock");
  EXPECT_EQ(moves[0].to, 7u);
  EXPECT_EQ(moves[0].units, 40u) << "eight times what peer 7 asked, within the surplus of 96";
  // Peer 7's demand is answered; peer 9's is still there.
  moves = p.Decide(1500, [](const std::string&) { return int64_t{90}; });
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].to, 9u);
}

TEST(RightsPolicyTest, KeepsWhatThisNodeSpendsAndForgetsOldDemand) {
  RightsPolicy p(RightsPolicyOptions{.window_ms = 1000});
  p.OnLocalTake("k", 50, 0);
  p.OnRequest("k", 2, 10, 0);
  EXPECT_TRUE(p.Decide(10, [](const std::string&) { return int64_t{50}; }).empty())
      << "no surplus beyond this node's own spending";
  auto moves = p.Decide(10, [](const std::string&) { return int64_t{55}; });
  ASSERT_EQ(moves.size(), 1u);
  EXPECT_EQ(moves[0].units, 5u);
  p.OnRequest("k", 3, 10, 20);
  EXPECT_TRUE(p.Decide(5000, [](const std::string&) { return int64_t{100}; }).empty())
      << "demand older than the window no longer counts";
}

TEST(RightsPolicyTest, DisabledProposesNothing) {
  RightsPolicy p(RightsPolicyOptions{.enabled = false});
  p.OnRequest("k", 2, 10, 0);
  EXPECT_TRUE(p.Decide(10, [](const std::string&) { return int64_t{100}; }).empty());
}

}  // namespace
}  // namespace converge
