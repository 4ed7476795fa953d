#include "http/http_server.h"

#include "http/http_connection.h"
#include "log/log.h"

namespace policyd {
namespace {

// Report pages and scrapes are few; a cap keeps a flood from taking descriptors from Postfix.
constexpr std::size_t kMaxHttpConnections = 512;

}  // namespace

HttpServer::HttpServer(uv_loop_t* loop, std::function<std::shared_ptr<const Config>()> config,
                       ReportStore* reports, Metrics* metrics,
                       std::function<Metrics()> all_metrics, std::function<MetricsGauges()> gauges)
    : loop_(loop),
      config_(std::move(config)),
      current_(config_()),
      reports_(reports),
      metrics_(metrics),
      all_metrics_(std::move(all_metrics)),
      gauges_(std::move(gauges)) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start(const std::vector<std::string>& listen) {
  for (const std::string& text : listen) {
    Result<ListenAddress> address = ParseListenAddress(text);
    if (!address.ok()) return address.error();
    bool is_unix = address->IsUnix();
    auto listener = std::make_unique<Listener>(
        loop_, *address,
        [this] { return !stopping_ && connections_.size() < kMaxHttpConnections; },
        [this, is_unix](int fd) {
          uint64_t id = next_id_++;
          auto* c = new HttpConnection(this, id, fd, is_unix);
          connections_.emplace(id, c);
          c->Start();
        });
    if (Status s = listener->Open(); !s.ok()) return s;
    POLICYD_LOG_INFO("event=http_listening {}", LogField("listen", address->Describe()));
    listeners_.push_back(std::move(listener));
  }
  return Ok{};
}

void HttpServer::Stop(std::function<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  listeners_open_ = static_cast<int>(listeners_.size());
  auto maybe_done = [this] {
    if (listeners_open_ == 0 && connections_.empty() && stop_done_) {
      auto d = std::move(stop_done_);
      d();
    }
  };
  for (auto& l : listeners_) {
    l->Close([this, maybe_done] {
      --listeners_open_;
      maybe_done();
    });
  }
  std::vector<HttpConnection*> all;
  for (auto& [id, c] : connections_) all.push_back(c);
  for (HttpConnection* c : all) c->Close("shutdown");
  maybe_done();
}

void HttpServer::OnConnectionClosed(HttpConnection* connection) {
  connections_.erase(connection->id());
  delete connection;
  if (stopping_) {
    if (listeners_open_ == 0 && connections_.empty() && stop_done_) {
      auto d = std::move(stop_done_);
      d();
    }
    return;
  }
  for (auto& l : listeners_) l->Resume();
}

void HttpServer::CountRequest(const std::string& route, int status) {
  ++metrics_->http_requests[{route, status}];
}

void HttpServer::Handle(uint64_t conn_id, HttpRequest request) {
  current_ = config_();
  Route(request, [this, conn_id](HttpResponse response) {
    auto it = connections_.find(conn_id);
    if (it != connections_.end()) it->second->Respond(response);
  });
}

}  // namespace policyd
