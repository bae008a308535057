// Two shops and a warehouse (examples/edge_shop), each embedding a node,
// through a partition: shop1 is cut off and keeps selling from its own
// stock while shop2 sells from its own and the warehouse's; both edit the
// product. After the heal: nothing was oversold (paid units <= units
// delivered, and some of shop1's checkouts were refused rather than sold),
// the stock on every node is deliveries minus paid units, every acknowledged
// product edit is there with one last-writer-wins winner, digests are equal.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "examples/edge_shop/shop.h"
#include "tests/testing/seed.h"
#include "tests/testing/status_matchers.h"

namespace edge_shop {
namespace {

using converge::StatusCode;
using converge::testing::AnnounceSeed;

bool WaitFor(const std::function<bool()>& cond, std::chrono::seconds timeout = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

struct Tally {
  int64_t paid = 0;        // units whose Pay succeeded
  int64_t cancelled = 0;   // units given back
  int refused_stock = 0;   // checkouts refused: not enough stock (ResourceExhausted)
  int refused_reach = 0;   // checkouts refused: stock out of reach (Unavailable)
  int sales = 0;
  std::vector<std::string> unexpected;
};

// `attempts` customers at one shop: check out 1-3 units, then mostly pay,
// sometimes cancel.
Tally Sell(EdgeShop& shop, uint64_t seed, int attempts) {
  std::mt19937_64 rng(seed);
  Tally t;
  for (int i = 0; i < attempts; ++i) {
    const uint64_t units = 1 + rng() % 3;
    StatusOr<Order> order = shop.Checkout("beans", units, std::chrono::minutes(5),
                                          std::chrono::milliseconds(150));
    if (!order.ok()) {
      if (order.status().code() == StatusCode::kResourceExhausted) {
        ++t.refused_stock;
      } else if (order.status().code() == StatusCode::kUnavailable) {
        ++t.refused_reach;
      } else {
        t.unexpected.push_back(order.status().ToString());
      }
      continue;
    }
    if (rng() % 4 == 0) {
      Status st = shop.Cancel(*order);
      if (st.ok()) {
        t.cancelled += static_cast<int64_t>(units);
      } else {
        t.unexpected.push_back(st.ToString());
      }
    } else {
      Status st = shop.Pay(*order);
      if (st.ok()) {
        t.paid += static_cast<int64_t>(units);
        ++t.sales;
      } else {
        t.unexpected.push_back(st.ToString());
      }
    }
  }
  return t;
}

class EdgeShopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/converge-edge-shop-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (const char* name : {"warehouse", "shop1", "shop2"}) {
      converge::NodeOptions o;
      o.data_dir = root_ + "/" + name;
      o.name = name;
      o.port = 0;
      o.peer_port = 0;
      o.fault_injection = true;
      o.gossip_interval_ms = 50;
      StatusOr<std::unique_ptr<EdgeShop>> shop = EdgeShop::Open(o, nullptr);
      ASSERT_OK(shop);
      shops_.push_back(std::move(*shop));
    }
    const std::string meet = std::to_string(warehouse().node().peer_port());
    ASSERT_EQ(shop1().node().Execute({"CLUSTER", "MEET", "127.0.0.1", meet}), "+OK\r\n");
    ASSERT_EQ(shop2().node().Execute({"CLUSTER", "MEET", "127.0.0.1", meet}), "+OK\r\n");
    // Connected through the warehouse, and each shop knows the other (to
    // name it in DEBUG PARTITION).
    ASSERT_TRUE(WaitFor([&] {
      return warehouse().node().Execute({"INFO", "replication"}).find("peers_connected:2") !=
                 std::string::npos &&
             shop1().node().Execute({"CLUSTER", "NODES"}).find("shop2") != std::string::npos &&
             shop2().node().Execute({"CLUSTER", "NODES"}).find("shop1") != std::string::npos;
    }));
  }
  void TearDown() override {
    shops_.clear();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  EdgeShop& warehouse() { return *shops_[0]; }
  EdgeShop& shop1() { return *shops_[1]; }
  EdgeShop& shop2() { return *shops_[2]; }
  bool Converged() {
    const std::string d = warehouse().node().Execute({"DEBUG", "DIGEST"});
    return shop1().node().Execute({"DEBUG", "DIGEST"}) == d &&
           shop2().node().Execute({"DEBUG", "DIGEST"}) == d;
  }

  std::string root_;
  std::vector<std::unique_ptr<EdgeShop>> shops_;
};

TEST_F(EdgeShopTest, SellsThroughAPartitionWithoutOversellingOrLosingEdits) {
  const uint64_t seed = AnnounceSeed("EdgeShopTest");
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);

  // Deliveries: 30 at the warehouse, 8 at each shop.
  ASSERT_OK(warehouse().Restock("beans", 30));
  ASSERT_OK(shop1().Restock("beans", 8));
  ASSERT_OK(shop2().Restock("beans", 8));
  const int64_t delivered = 46;
  ASSERT_OK(warehouse().EditProduct("beans", "name", "Beans 1kg"));
  ASSERT_TRUE(WaitFor([&] { return *shop1().Stock("beans") == delivered && Converged(); }));
  const int64_t shop1_rights = *shop1().SellableOffline("beans");
  EXPECT_EQ(shop1_rights, 8) << "shop1 may sell its own delivery without asking";

  // shop1 is cut off from everyone.
  ASSERT_EQ(shop1().node().Execute({"DEBUG", "PARTITION", "warehouse", "shop2"}), "+OK\r\n");

  // Edits on both sides while apart: a field each side alone edits, and one
  // both edit (price), several times; the last acknowledged edit per side.
  std::map<std::string, std::string> last1, last2;
  for (int i = 0; i < 5; ++i) {
    const std::string p1 = "1." + std::to_string(rng() % 1000), p2 = "2." + std::to_string(rng() % 1000);
    ASSERT_OK(shop1().EditProduct("beans", "price", p1));
    ASSERT_OK(shop2().EditProduct("beans", "price", p2));
    last1["price"] = p1;
    last2["price"] = p2;
  }
  ASSERT_OK(shop1().EditProduct("beans", "shelf", "aisle 3"));
  ASSERT_OK(shop2().EditProduct("beans", "label", "fair trade"));

  // Both sides sell at the same time; shop1 is offered far more customers
  // than its 8 units can serve.
  const uint64_t seed1 = rng(), seed2 = rng();
  Tally t1, t2;
  std::thread s1([&] { t1 = Sell(shop1(), seed1, 20); });
  t2 = Sell(shop2(), seed2, 25);
  s1.join();
  EXPECT_TRUE(t1.unexpected.empty()) << t1.unexpected.front();
  EXPECT_TRUE(t2.unexpected.empty()) << t2.unexpected.front();
  EXPECT_LE(t1.paid, shop1_rights) << "cut off, shop1 sold only what it held";
  EXPECT_GT(t1.refused_stock + t1.refused_reach, 0) << "shop1 refused sales rather than oversell";
  EXPECT_GT(t1.sales, 0);
  EXPECT_GT(t2.sales, 0);
  EXPECT_GE(*shop1().Stock("beans"), 0);
  EXPECT_GE(*shop2().Stock("beans"), 0);

  // The link comes back.
  ASSERT_EQ(shop1().node().Execute({"DEBUG", "HEAL"}), "+OK\r\n");
  ASSERT_TRUE(WaitFor([&] { return Converged(); })) << "digests never became equal";

  const int64_t paid = t1.paid + t2.paid;
  EXPECT_LE(paid, delivered) << "oversold";
  for (EdgeShop* s : {&warehouse(), &shop1(), &shop2()}) {
    SCOPED_TRACE(s->name());
    EXPECT_EQ(*s->Stock("beans"), delivered - paid) << "stock = deliveries - paid units";
    StatusOr<std::map<std::string, std::string>> product = s->Product("beans");
    ASSERT_OK(product);
    EXPECT_EQ(product->at("name"), "Beans 1kg");
    EXPECT_EQ(product->at("shelf"), "aisle 3");
    EXPECT_EQ(product->at("label"), "fair trade");
    // price: one side's last edit, the same on every node.
    const std::string price = product->at("price");
    EXPECT_TRUE(price == last1["price"] || price == last2["price"]) << price;
    EXPECT_EQ(price, warehouse().Product("beans")->at("price"));
  }
  // Each shop's own tally of sales replicated too.
  EXPECT_EQ(*shop1().Sold("beans"), t1.paid);
  EXPECT_EQ(*shop2().Sold("beans"), t2.paid);
  // The shops heard about each other's edits through their subscriptions.
  EXPECT_TRUE(WaitFor([&] { return shop1().remote_product_edits() > 0; }));
  EXPECT_GT(shop2().remote_product_edits(), 0u);
}

}  // namespace
}  // namespace edge_shop
