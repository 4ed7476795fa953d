#include "server/server.h"

#include <unistd.h>

#include "log/log.h"
#include "server/connection.h"
#include "store/redis_connect.h"

namespace policyd {

Server::Server(std::shared_ptr<const Config> config, SharedState* shared, bool primary)
    : config_(std::move(config)), shared_(shared), primary_(primary) {
  uv_loop_init(&loop_);
}

Server::~Server() { uv_loop_close(&loop_); }

Status Server::Start() {
  bool shared_port = shared_->loops > 1;
  for (const std::string& text : config_->server.listen) {
    Result<ListenAddress> address = ParseListenAddress(text);
    if (!address.ok()) return address.error();
    bool is_unix = address->IsUnix();
    if (is_unix && !primary_) continue;  // a unix path has one owner
    auto listener = std::make_unique<Listener>(
        &loop_, *address, [this] { return CanAccept(); },
        [this, is_unix](int fd) { OnAccept(fd, is_unix); });
    if (Status s = listener->Open(shared_port && !is_unix); !s.ok()) return s;
    if (primary_) POLICYD_LOG_INFO("event=listening {}", LogField("listen", address->Describe()));
    listeners_.push_back(std::move(listener));
  }
  Result<std::unique_ptr<RedisClient>> client = MakeRedisClient(&loop_, config_->redis);
  if (!client.ok()) return client.error();
  redis_ = std::move(*client);
  store_ = std::make_unique<PolicyStore>(redis_.get());
  reports_ = std::make_unique<ReportStore>(redis_.get(), &store_->scripts());
  refusals_ = std::make_unique<LocalRefusals>(
      &loop_, redis_.get(), &store_->scripts(), [this] { return config_; }, config_->redis);
  if (primary_) {
    http_ = std::make_unique<HttpServer>(
        &loop_, [this] { return config_; }, reports_.get(), &metrics_,
        [this] { return shared_->merged_metrics(); }, [this] { return shared_->gauges(); });
    if (Status s = http_->Start(config_->http.listen); !s.ok()) return s;
  }
  redis_->SetReadyListener([this](bool ready) {
    redis_ready_ = ready;
    refusals_->OnDecisionConnection(ready);  // empties the cache before the next decision
    if (ready) store_->scripts().LoadAll(config_->server.request_timeout_ms);
  });
  redis_->Start();

  uv_async_init(&loop_, &control_, [](uv_async_t* a) { static_cast<Server*>(a->data)->OnControl(); });
  uv_timer_init(&loop_, &shutdown_timer_);
  control_.data = shutdown_timer_.data = this;
  return Ok{};
}

void Server::Run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void Server::RequestReload(std::shared_ptr<const Config> config) {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    pending_config_ = std::move(config);
  }
  uv_async_send(&control_);
}

void Server::RequestShutdown() {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    pending_shutdown_ = true;
  }
  uv_async_send(&control_);
}

void Server::OnControl() {
  std::shared_ptr<const Config> next;
  bool shutdown;
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    next = std::move(pending_config_);
    shutdown = pending_shutdown_;
  }
  if (next) {
    config_ = std::move(next);
    refusals_->Clear();  // the new config's limits and messages apply to the next request
  }
  if (shutdown) BeginShutdown();
}

Metrics Server::MetricsSnapshot() {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  Metrics m = metrics_;
  if (refusals_) {
    const LocalRefusals::Counters& c = refusals_->counters();
    m.refusal_cache_hits = c.hits;
    m.refusal_cache_clears = c.clears;
    m.cache_invalidations = c.invalidations;
    m.local_throttles_recorded = c.throttles_recorded;
  }
  return m;
}

bool Server::CanAccept() const {
  return !shutting_down_ &&
         shared_->connections < static_cast<std::size_t>(config_->server.max_connections);
}

void Server::OnAccept(int fd, bool is_unix) {
  uint64_t id = next_connection_id_++;
  ++shared_->connections;
  {
    std::lock_guard<std::mutex> lock(metrics_mutex_);
    ++metrics_.connections_total;
  }
  auto* connection = new Connection(this, id, fd, is_unix);
  connections_.emplace(id, connection);
  connection->Start();  // on failure it is already closing and will call OnConnectionClosed
}

Connection* Server::Find(uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : it->second;
}

void Server::Decide(const std::shared_ptr<const Config>& config, const PolicyRequest& request,
                    uint64_t conn_id, uint64_t seq) {
  if (std::optional<Verdict> local = refusals_->Answer(*config, request)) {
    if (Connection* c = Find(conn_id)) c->OnDecided(seq, std::move(*local));
    return;
  }
  LocalRefusals::Ticket ticket = refusals_->Prepare(*config, request);
  store_->Decide(config, request, [this, conn_id, seq, ticket](Result<Verdict> verdict) {
    if (verdict.ok()) refusals_->Learn(ticket, *verdict);
    if (Connection* c = Find(conn_id)) c->OnDecided(seq, std::move(verdict));
  });
}

void Server::RecordDecision(const PolicyRequest& request, const Verdict& verdict,
                            uint64_t latency_us, bool failed) {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  metrics_.RecordDecision(request.StateName(), ActionName(verdict.action), latency_us);
  if (failed) {
    ++metrics_.redis_errors;
    ++metrics_.failure_replies;
  }
  if (!verdict.created_block.empty()) ++metrics_.blocks_created[verdict.created_block];
}

void Server::OnConnectionClosed(Connection* connection) {
  connections_.erase(connection->id());
  --shared_->connections;
  delete connection;
  if (shutting_down_) {
    MaybeFinishShutdown();
    return;
  }
  for (auto& listener : listeners_) listener->Resume();
}

void Server::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (auto& listener : listeners_) listener->Close(nullptr);
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        POLICYD_LOG_WARN("event=shutdown_timeout connections={}", self->connections_.size());
        for (auto& [id, c] : self->connections_) c->Close("shutdown timeout");
      },
      config_->server.shutdown_timeout_ms, 0);
  // Drain may close (but never delete) connections synchronously: iterate over a copy.
  std::vector<Connection*> all;
  for (auto& [id, c] : connections_) all.push_back(c);
  for (Connection* c : all) c->Drain();
  MaybeFinishShutdown();
}

void Server::MaybeFinishShutdown() {
  if (!connections_.empty() || finished_) return;
  finished_ = true;
  uv_timer_stop(&shutdown_timer_);
  auto stop_redis = [this] {
    refusals_->Stop([] {});
    redis_->Stop([this] {
      uv_close(reinterpret_cast<uv_handle_t*>(&control_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&shutdown_timer_), nullptr);
    });
  };
  if (http_) {
    http_->Stop(stop_redis);
  } else {
    stop_redis();
  }
}

}  // namespace policyd
