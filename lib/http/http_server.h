// The HTTP side of policyd ([http] listen): report pages with their review form, /metrics,
// /healthz, POST /api/v1/signals and the admin API (/api/v1/admin/, admin_api.cc). Runs on
// the primary event loop, beside the policy Server but not knowing it: policyd/serving_loop.cc
// hands it that loop's config, ReportStore and counters (the loop's LoopContext), so it needs
// no Redis connection of its own. Routes are in http_routes.cc.
#pragma once

#include <uv.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/http_message.h"
#include "core/metrics.h"
#include "net/listener.h"
#include "store/report_store.h"

namespace policyd {

class HttpConnection;

class HttpServer {
 public:
  // config() is read per request, so a reload applies to the next request.
  // metrics: this loop's counters (HTTP and signal counts are added there); all_metrics: every
  // loop's counters merged, for /metrics.
  HttpServer(uv_loop_t* loop, std::function<std::shared_ptr<const Config>()> config,
             ReportStore* reports, Metrics* metrics, std::function<Metrics()> all_metrics,
             std::function<MetricsGauges()> gauges);
  ~HttpServer();

  Status Start(const std::vector<std::string>& listen);
  void Stop(std::function<void()> done);  // closes listeners and open connections

  // --- for HttpConnection ---
  uv_loop_t* loop() { return loop_; }
  const Config& config() { return *current_; }
  std::array<char, 16384>& read_buffer() { return read_buffer_; }
  void Handle(uint64_t conn_id, HttpRequest request);
  void OnConnectionClosed(HttpConnection* connection);
  void CountRequest(const std::string& route, int status);

 private:
  using Reply = std::function<void(HttpResponse)>;
  void Route(const HttpRequest& request, Reply reply);
  void ServeReport(const HttpRequest& request, Reply reply);
  void ServeReview(const HttpRequest& request, Reply reply);
  void ServeSignals(const HttpRequest& request, Reply reply);
  void ServeRspamd(const HttpRequest& request, Reply reply);  // rspamd_route.cc
  void ServeHealth(Reply reply);
  void ServeMetrics(Reply reply);
  // The longest a scrape waits for the accounts' rates before it is served without them.
  static constexpr uint64_t kAccountRatesTimeoutMs = 500;
  void ServeAdmin(const HttpRequest& request, Reply reply);  // admin_api.cc

  uv_loop_t* loop_;
  std::function<std::shared_ptr<const Config>()> config_;
  std::shared_ptr<const Config> current_;
  ReportStore* reports_;
  Metrics* metrics_;
  std::function<Metrics()> all_metrics_;
  std::function<MetricsGauges()> gauges_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<uint64_t, HttpConnection*> connections_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::function<void()> stop_done_;
  int listeners_open_ = 0;
  std::array<char, 16384> read_buffer_;
};

}  // namespace policyd
