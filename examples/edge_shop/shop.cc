#include "examples/edge_shop/shop.h"

#include <utility>

namespace edge_shop {
namespace {

std::string StockKey(const std::string& sku) { return "stock:" + sku; }
std::string ProductKey(const std::string& sku) { return "product:" + sku; }
// Per shop, so that each shop's own sales can be read back; a counter is
// cluster-wide, like everything else.
std::string SoldKey(const std::string& sku, const std::string& shop) {
  return "sold:" + sku + ":" + shop;
}

}  // namespace

StatusOr<std::unique_ptr<EdgeShop>> EdgeShop::Open(const converge::NodeOptions& options,
                                                   Printer say) {
  StatusOr<std::unique_ptr<converge::Node>> node = converge::Node::Open(options);
  if (!node.ok()) return node.status();
  std::unique_ptr<EdgeShop> shop(new EdgeShop(std::move(*node), std::move(say)));
  CONVERGE_RETURN_IF_ERROR(shop->node_->Start());
  shop->Say("open: node " + shop->name() + ", clients on port " +
            std::to_string(shop->node_->client_port()) + ", peers on port " +
            std::to_string(shop->node_->peer_port()));
  return shop;
}

EdgeShop::EdgeShop(std::unique_ptr<converge::Node> node, Printer say)
    : node_(std::move(node)), say_(std::move(say)) {
  // Edits made at other shops show up here as they arrive.
  edits_ = node_->Subscribe([this](const converge::Change& c) {
    if (c.type != converge::ValueType::kRecord || c.key.rfind("product:", 0) != 0) return;
    ++remote_product_edits_;
    Say("product " + c.key.substr(8) + " edited at " +
        (c.origin_name.empty() ? std::string("another node") : c.origin_name));
  });
}

EdgeShop::~EdgeShop() {
  edits_.Cancel();
  node_->Stop();
}

void EdgeShop::Say(const std::string& line) const {
  if (say_) say_("[" + node_->name() + "] " + line);
}

Status EdgeShop::Restock(const std::string& sku, uint64_t units) {
  StatusOr<int64_t> now = node_->reservation_counter(StockKey(sku)).Add(units);
  if (!now.ok()) return now.status();
  Say("restock " + sku + " +" + std::to_string(units) + ": " + std::to_string(*now) + " on sale");
  return Status::Ok();
}

StatusOr<Order> EdgeShop::Checkout(const std::string& sku, uint64_t units,
                                   std::chrono::milliseconds hold_for,
                                   std::chrono::milliseconds wait) {
  converge::RCounter stock = node_->reservation_counter(StockKey(sku));
  StatusOr<converge::Hold> hold = stock.Reserve(units, hold_for, wait);
  if (!hold.ok()) {
    const char* why = hold.status().code() == converge::StatusCode::kResourceExhausted
                          ? "sold out"
                      : hold.status().code() == converge::StatusCode::kUnavailable
                          ? "stock is at other shops, out of reach"
                          : "error";
    Say("checkout " + sku + " x" + std::to_string(units) + " refused: " + why);
    return hold.status();
  }
  Say("checkout " + sku + " x" + std::to_string(units) + ": held");
  return Order{sku, units, *hold};
}

Status EdgeShop::Pay(const Order& order) {
  Status st = node_->reservation_counter(StockKey(order.sku)).Commit(order.hold);
  if (!st.ok()) {
    Say("payment for " + order.sku + " x" + std::to_string(order.units) + " too late: " +
        st.message());
    return st;
  }
  // The sale is final above; the tally is bookkeeping and may be retried.
  StatusOr<int64_t> sold = node_->counter(SoldKey(order.sku, name()))
                               .Add(static_cast<int64_t>(order.units));
  if (!sold.ok()) return sold.status();
  Say("paid " + order.sku + " x" + std::to_string(order.units));
  return Status::Ok();
}

Status EdgeShop::Cancel(const Order& order) {
  Status st = node_->reservation_counter(StockKey(order.sku)).Release(order.hold);
  if (st.ok()) Say("cancelled " + order.sku + " x" + std::to_string(order.units) + ": back on sale");
  return st;
}

Status EdgeShop::EditProduct(const std::string& sku, const std::string& field,
                             const std::string& value) {
  Status st = node_->record(ProductKey(sku)).Set(field, value);
  if (st.ok()) Say("edit " + sku + " " + field + " = " + value);
  return st;
}

StatusOr<std::map<std::string, std::string>> EdgeShop::Product(const std::string& sku) {
  return node_->record(ProductKey(sku)).GetAll();
}

StatusOr<int64_t> EdgeShop::Stock(const std::string& sku) {
  return node_->reservation_counter(StockKey(sku)).Value();
}

StatusOr<int64_t> EdgeShop::SellableOffline(const std::string& sku) {
  return node_->reservation_counter(StockKey(sku)).LocalRights();
}

StatusOr<int64_t> EdgeShop::Sold(const std::string& sku) {
  return node_->counter(SoldKey(sku, name())).Value();
}

}  // namespace edge_shop
