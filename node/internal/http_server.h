// HttpServer: the node's operations endpoint (--http-port).
//
//   GET /metrics      Prometheus text format 0.0.4 (node_status.h, RenderMetrics)
//   GET /healthz      200 "ok" while the node serves; 503 otherwise
//   GET /status.json  the node and cluster as this node sees it (RenderStatusJson)
//   GET /             the status page: one self-contained HTML document that
//                     polls /status.json every second (status_page.h)
//
// It does no work of its own on the node's state: each request asks the
// node for a NodeStatus (taken on the apply strand, see node_status.h) and
// renders it on an HTTP thread. Requests run on a small pool of their own
// threads (cpp-httplib), so a slow scraper never holds a node thread.
//
// Thread-safety: Start and Stop from any thread, not concurrently.
#ifndef CONVERGE_NODE_INTERNAL_HTTP_SERVER_H_
#define CONVERGE_NODE_INTERNAL_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "crdt/status.h"
#include "node/internal/node_status.h"

namespace converge {

struct HttpServerOptions {
  std::string bind = "127.0.0.1";  // default 127.0.0.1
  uint16_t port = 0;               // default 0: a free port (tests)
  int threads = 2;                 // request threads; default 2
  std::string node_name;           // for log lines; default ""
};

class HttpServer {
 public:
  // The node's status now, or nullopt when it is not serving (stopping, or
  // its apply strand did not answer in time).
  using Collect = std::function<std::optional<NodeStatus>()>;
  // True while the store is open and the node serves clients.
  using Healthy = std::function<bool()>;

  HttpServer(HttpServerOptions options, Collect collect, Healthy healthy);
  ~HttpServer();  // Stop()s.
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts serving. Unavailable when the address cannot be bound.
  Status Start();
  // Stops accepting, waits for requests in flight, joins the threads.
  void Stop();
  uint16_t port() const { return port_; }

 private:
  class Routes;
  HttpServerOptions options_;
  Collect collect_;
  Healthy healthy_;
  std::unique_ptr<Routes> routes_;
  std::thread listener_;
  uint16_t port_ = 0;
};

}  // namespace converge

#endif  // CONVERGE_NODE_INTERNAL_HTTP_SERVER_H_
