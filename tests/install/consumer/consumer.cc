// A tiny service embedding a node through the installed package only: one
// node in a temporary directory, a write through each kind of handle, read
// back. Exits 0 when every value is what it wrote, 1 otherwise.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "node/node.h"

namespace {

int failures = 0;

void Check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) ++failures;
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/converge-consumer-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  {
    converge::NodeOptions options;
    options.data_dir = dir;
    options.port = 0;  // ephemeral ports: nothing else on the machine is disturbed
    options.peer_port = 0;
    options.log_level = "warn";
    converge::StatusOr<std::unique_ptr<converge::Node>> node = converge::Node::Open(options);
    if (!node.ok()) {
      std::printf("open: %s\n", node.status().ToString().c_str());
      return 1;
    }
    converge::Status started = (*node)->Start();
    Check(started.ok(), "Start");

    converge::Counter sold = (*node)->counter("sold");
    Check(sold.Add(2).ok() && *sold.Value() == 2, "Counter::Add and Value");

    converge::Record product = (*node)->record("product:1");
    Check(product.Set("price", "3").ok(), "Record::Set");
    auto price = product.Get("price");
    Check(price.ok() && *price == std::optional<std::string>("3"), "Record::Get");

    converge::RCounter stock = (*node)->reservation_counter("stock:1");
    Check(stock.Add(5).ok(), "RCounter::Add");
    auto hold = stock.Reserve(2, std::chrono::seconds(60));
    Check(hold.ok() && stock.Commit(*hold).ok() && *stock.Value() == 3, "Reserve and Commit");
    Check(stock.Take(10).status().code() == converge::StatusCode::kResourceExhausted,
          "an oversized Take is ResourceExhausted");

    std::unique_ptr<converge::NodeSession> session = (*node)->NewSession();
    Check(session->string("motd").Set("hi").ok() && session->Token().rfind("cv1.", 0) == 0,
          "a session and its token");

    converge::Subscription sub = (*node)->Subscribe([](const converge::Change&) {});
    Check(sub.active(), "Subscribe");
    (*node)->Stop();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::printf("%s\n", failures == 0 ? "consumer: all good" : "consumer: failures");
  return failures == 0 ? 0 : 1;
}
