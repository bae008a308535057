// edge_shop: a warehouse and two shops, each an EdgeShop with its own
// embedded node, in one process on 127.0.0.1 (ephemeral ports). It plays a
// day: stock arrives, shop1 loses its link and keeps selling from its own
// stock while shop2 sells from its own and the warehouse's, both edit the
// product, the link comes back and everything converges. Every event is
// printed; the exit code is 0 when the books balance at the end.
//
//   build/examples/edge_shop/edge_shop [--data-root DIR]   (default: a temp dir)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "examples/edge_shop/shop.h"

namespace {

using edge_shop::EdgeShop;

std::mutex print_mu;
void Print(const std::string& line) {
  std::lock_guard<std::mutex> l(print_mu);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::unique_ptr<EdgeShop> OpenShop(const std::string& root, const std::string& name) {
  converge::NodeOptions o;
  o.data_dir = root + "/" + name;
  o.name = name;
  o.port = 0;  // ephemeral: the OS picks free ports
  o.peer_port = 0;
  o.fault_injection = true;  // DEBUG PARTITION, to cut a shop off
  o.gossip_interval_ms = 100;
  o.log_level = "warn";
  auto shop = EdgeShop::Open(o, Print);
  if (!shop.ok()) {
    Print("cannot open " + name + ": " + shop.status().ToString());
    std::exit(1);
  }
  return std::move(*shop);
}

// Waits until `cond` holds, up to 10 s.
bool Eventually(const std::function<bool()>& cond) {
  for (int i = 0; i < 1000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

int64_t Sell(EdgeShop& shop, int attempts, uint64_t units) {
  int64_t sold = 0;
  for (int i = 0; i < attempts; ++i) {
    auto order = shop.Checkout("espresso", units);
    if (!order.ok()) continue;
    if (i % 4 == 3) {  // every fourth customer changes their mind
      shop.Cancel(*order).IgnoreError();  // a release of our own hold: reported by Cancel
      continue;
    }
    if (shop.Pay(*order).ok()) sold += static_cast<int64_t>(units);
  }
  return sold;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root;
  bool temporary = false;
  if (argc == 3 && std::string(argv[1]) == "--data-root") {
    root = argv[2];
  } else if (argc == 1) {
    char tmpl[] = "/tmp/edge-shop-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    root = tmpl;
    temporary = true;
  } else {
    std::fprintf(stderr, "usage: edge_shop [--data-root DIR]\n");
    return 2;
  }

  int rc = 0;
  {
    auto warehouse = OpenShop(root, "warehouse");
    auto shop1 = OpenShop(root, "shop1");
    auto shop2 = OpenShop(root, "shop2");
    const std::string meet = std::to_string(warehouse->node().peer_port());
    shop1->node().Execute({"CLUSTER", "MEET", "127.0.0.1", meet});
    shop2->node().Execute({"CLUSTER", "MEET", "127.0.0.1", meet});
    // The shops learn of each other through the warehouse.
    Eventually([&] {
      return warehouse->node().Execute({"INFO", "replication"}).find("peers_connected:2") !=
                 std::string::npos &&
             shop1->node().Execute({"CLUSTER", "NODES"}).find("shop2") != std::string::npos &&
             shop2->node().Execute({"CLUSTER", "NODES"}).find("shop1") != std::string::npos;
    });

    Print("--- morning: deliveries");
    warehouse->Restock("espresso", 20).IgnoreError();  // printed by Restock
    shop1->Restock("espresso", 6).IgnoreError();
    shop2->Restock("espresso", 6).IgnoreError();
    warehouse->EditProduct("espresso", "name", "Espresso beans 1kg").IgnoreError();
    warehouse->EditProduct("espresso", "price", "18.00").IgnoreError();

    Print("--- noon: shop1 loses its link");
    shop1->node().Execute({"DEBUG", "PARTITION", "warehouse", "shop2"});
    int64_t sold = 0;
    std::thread t1([&] { sold += Sell(*shop1, 6, 2); });
    int64_t sold2 = Sell(*shop2, 8, 3);
    t1.join();
    sold += sold2;
    shop1->EditProduct("espresso", "shelf", "aisle 3").IgnoreError();
    shop2->EditProduct("espresso", "price", "17.50").IgnoreError();

    Print("--- evening: the link is back");
    shop1->node().Execute({"DEBUG", "HEAL"});
    const auto converged = [&] {
      const std::string d = warehouse->node().Execute({"DEBUG", "DIGEST"});
      return shop1->node().Execute({"DEBUG", "DIGEST"}) == d &&
             shop2->node().Execute({"DEBUG", "DIGEST"}) == d;
    };
    const bool same = Eventually(converged);
    for (EdgeShop* s : {warehouse.get(), shop1.get(), shop2.get()}) {
      std::string product;
      const auto fields = s->Product("espresso");
      if (fields.ok()) {
        for (const auto& [f, v] : *fields) product += " " + f + "=" + v;
      }
      Print(s->name() + ": stock " + std::to_string(s->Stock("espresso").value()) +
            ", product" + product);
    }
    const int64_t left = warehouse->Stock("espresso").value();
    Print("sold " + std::to_string(sold) + " of 32; " + std::to_string(left) + " left; " +
          (same ? "all nodes agree" : "nodes DISAGREE"));
    if (!same || sold + left != 32 || left < 0) rc = 1;
  }
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  return rc;
}
