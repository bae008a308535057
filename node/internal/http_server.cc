#include "node/internal/http_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "node/internal/status_page.h"

namespace converge {

class HttpServer::Routes {
 public:
  httplib::Server server;
};

HttpServer::HttpServer(HttpServerOptions options, Collect collect, Healthy healthy)
    : options_(std::move(options)),
      collect_(std::move(collect)),
      healthy_(std::move(healthy)),
      routes_(std::make_unique<Routes>()) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  httplib::Server& srv = routes_->server;
  const int threads = std::max(1, options_.threads);
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  srv.set_read_timeout(5, 0);
  srv.set_write_timeout(5, 0);
  srv.set_keep_alive_timeout(5);
  srv.set_payload_max_length(64 << 10);  // GETs only: nothing legitimate is larger
  // httplib's default also sets SO_REUSEPORT, which would let a second node
  // bind the same port and silently share it; keep only SO_REUSEADDR (a
  // restart rebinds at once past TIME_WAIT).
  srv.set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });

  srv.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const bool ok = healthy_();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "unavailable\n", "text/plain; charset=utf-8");
  });
  srv.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::optional<NodeStatus> status = collect_();
    if (!status) {
      res.status = 503;
      res.set_content("node not serving\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_content(RenderMetrics(*status), "text/plain; version=0.0.4; charset=utf-8");
  });
  srv.Get("/status.json", [this](const httplib::Request&, httplib::Response& res) {
    std::optional<NodeStatus> status = collect_();
    // The page may show several nodes: it fetches their /status.json from
    // its own origin's page, so allow that (read-only, no credentials).
    res.set_header("Access-Control-Allow-Origin", "*");
    res.set_header("Cache-Control", "no-store");
    if (!status) {
      res.status = 503;
      res.set_content("{\"error\":\"node not serving\"}", "application/json");
      return;
    }
    res.set_content(RenderStatusJson(*status), "application/json");
  });
  srv.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string(kStatusPageHtml), "text/html; charset=utf-8");
  });

  if (options_.port == 0) {
    const int port = srv.bind_to_any_port(options_.bind);
    if (port <= 0) return UnavailableError("http: cannot bind " + options_.bind + ":0");
    port_ = static_cast<uint16_t>(port);
  } else {
    if (!srv.bind_to_port(options_.bind, options_.port)) {
      return UnavailableError("http: cannot bind " + options_.bind + ":" +
                              std::to_string(options_.port) + " (in use, or a bad address)");
    }
    port_ = options_.port;
  }
  listener_ = std::thread([this] { routes_->server.listen_after_bind(); });
  // stop() before the listen loop runs would be lost (httplib checks
  // is_running()); wait for it, briefly.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!srv.is_running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  spdlog::info("[{}] http on {}:{} (/metrics, /healthz, /status.json, /)", options_.node_name,
               options_.bind, port_);
  return Status::Ok();
}

void HttpServer::Stop() {
  if (!listener_.joinable()) return;
  routes_->server.stop();
  listener_.join();
}

}  // namespace converge
