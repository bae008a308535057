// EdgeShop: a point-of-sale service at the edge, embedding a Converge node.
//
// Stock of each product is a reservation counter "stock:<sku>": deliveries
// add units where they arrive (Restock), a checkout reserves units
// (Checkout: RC.RESERVE with a TTL), payment makes them final (Pay: commit),
// cancellation gives them back (Cancel: release); an abandoned checkout
// gives them back when its TTL runs out. The node sells from the rights it
// holds without asking anyone, so a shop cut off from its peers keeps selling
// up to its own rights and refuses beyond them: nothing is ever oversold.
//
// Products are records "product:<sku>", edited field by field (EditProduct):
// a price changed here and a description changed at the other shop both
// survive; the same field changed on both sides ends with the later edit
// everywhere. Edits that arrive from peers are reported (the subscription).
//
// The shop prints what it does through `say` (one line per event).
//
// Thread-safety: every method is safe from any thread (the node serializes
// the writes); the printer may be called from the node's subscription thread.
#ifndef CONVERGE_EXAMPLES_EDGE_SHOP_SHOP_H_
#define CONVERGE_EXAMPLES_EDGE_SHOP_SHOP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "node/node.h"

namespace edge_shop {

using converge::Status;
using converge::StatusOr;

// A checkout in progress: units held until Pay or Cancel.
struct Order {
  std::string sku;
  uint64_t units = 0;
  converge::Hold hold;
};

class EdgeShop {
 public:
  using Printer = std::function<void(const std::string& line)>;

  // Opens and starts the shop's node. `say` gets one line per event (may be
  // null: silent).
  static StatusOr<std::unique_ptr<EdgeShop>> Open(const converge::NodeOptions& options,
                                                  Printer say);
  ~EdgeShop();

  const std::string& name() const { return node_->name(); }
  converge::Node& node() { return *node_; }

  // A delivery of `units` of `sku` arrived here.
  Status Restock(const std::string& sku, uint64_t units);
  // Reserves `units` for a customer at the till, for up to `hold_for`.
  // ResourceExhausted: not enough stock anywhere; Unavailable: the stock is
  // elsewhere and could not be fetched in `wait` (e.g. this shop is cut off):
  // either way the sale is refused, never oversold.
  StatusOr<Order> Checkout(const std::string& sku, uint64_t units,
                           std::chrono::milliseconds hold_for = std::chrono::minutes(10),
                           std::chrono::milliseconds wait = std::chrono::milliseconds(300));
  // Payment went through: the units are sold. DeadlineExceeded when the hold
  // ran out first (the units went back; ask the customer to check out again).
  Status Pay(const Order& order);
  // The customer walked away: the units go back on the shelf.
  Status Cancel(const Order& order);

  // Sets one field of a product (price, name, ...).
  Status EditProduct(const std::string& sku, const std::string& field, const std::string& value);
  StatusOr<std::map<std::string, std::string>> Product(const std::string& sku);
  // Units on sale cluster-wide, as this shop knows it; and how many of them
  // this shop may sell without asking anyone.
  StatusOr<int64_t> Stock(const std::string& sku);
  StatusOr<int64_t> SellableOffline(const std::string& sku);
  // Units this shop sold (paid), over its lifetime.
  StatusOr<int64_t> Sold(const std::string& sku);
  // Product edits that arrived from peers (what the subscription saw).
  uint64_t remote_product_edits() const { return remote_product_edits_.load(); }

 private:
  EdgeShop(std::unique_ptr<converge::Node> node, Printer say);
  void Say(const std::string& line) const;

  std::unique_ptr<converge::Node> node_;
  Printer say_;
  std::atomic<uint64_t> remote_product_edits_{0};
  converge::Subscription edits_;  // last: cancelled before the node stops
};

}  // namespace edge_shop

#endif  // CONVERGE_EXAMPLES_EDGE_SHOP_SHOP_H_
