#include "server/server.h"

#include <unistd.h>

#include "log/log.h"
#include "server/connection.h"

namespace policyd {

Server::Server(std::shared_ptr<const Config> config, std::string config_path)
    : config_(std::move(config)), config_path_(std::move(config_path)) {
  uv_loop_init(&loop_);
}

Server::~Server() { uv_loop_close(&loop_); }

Status Server::Start() {
  for (const std::string& text : config_->server.listen) {
    Result<ListenAddress> address = ParseListenAddress(text);
    if (!address.ok()) return address.error();
    bool is_unix = address->IsUnix();
    auto listener = std::make_unique<Listener>(
        &loop_, *address, [this] { return CanAccept(); },
        [this, is_unix](int fd) { OnAccept(fd, is_unix); });
    if (Status s = listener->Open(); !s.ok()) return s;
    POLICYD_LOG_INFO("event=listening {}", LogField("listen", address->Describe()));
    listeners_.push_back(std::move(listener));
  }
  Result<RedisEndpoint> endpoint = ParseRedisUrl(config_->redis.url);
  if (!endpoint.ok()) return endpoint.error();
  RedisClientOptions options{config_->redis.connect_timeout_ms, config_->redis.reconnect_min_ms,
                             config_->redis.reconnect_max_ms};
  redis_ = std::make_unique<RedisClient>(&loop_, *endpoint, options);
  if (!config_->redis.sentinels.empty()) {
    redis_->UseSentinel(std::make_unique<SentinelResolver>(
        &loop_, config_->redis.sentinels, config_->redis.master_name, *endpoint,
        config_->redis.connect_timeout_ms));
  }
  store_ = std::make_unique<PolicyStore>(redis_.get());
  reports_ = std::make_unique<ReportStore>(redis_.get(), &store_->scripts());
  http_ = std::make_unique<HttpServer>(
      &loop_, [this] { return config_; }, reports_.get(), &metrics_, [this] {
        return MetricsGauges{connections_.size(), redis_->ready()};
      });
  if (Status s = http_->Start(config_->http.listen); !s.ok()) return s;
  redis_->SetReadyListener([this](bool ready) {
    if (ready) store_->scripts().LoadAll(config_->server.request_timeout_ms);
  });
  redis_->Start();

  uv_signal_init(&loop_, &sighup_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  uv_timer_init(&loop_, &shutdown_timer_);
  sighup_.data = sigterm_.data = sigint_.data = shutdown_timer_.data = this;
  uv_signal_start(&sighup_, [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->Reload(); },
                  SIGHUP);
  auto on_stop = [](uv_signal_t* s, int) { static_cast<Server*>(s->data)->BeginShutdown(); };
  uv_signal_start(&sigterm_, on_stop, SIGTERM);
  uv_signal_start(&sigint_, on_stop, SIGINT);
  return Ok{};
}

int Server::Run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  return exit_code_;
}

bool Server::CanAccept() const {
  return !shutting_down_ &&
         connections_.size() < static_cast<std::size_t>(config_->server.max_connections);
}

void Server::OnAccept(int fd, bool is_unix) {
  uint64_t id = next_connection_id_++;
  ++metrics_.connections_total;
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
  store_->Decide(config, request, [this, conn_id, seq](Result<Verdict> verdict) {
    if (Connection* c = Find(conn_id)) c->OnDecided(seq, std::move(verdict));
  });
}

void Server::RecordDecision(const PolicyRequest& request, const Verdict& verdict,
                            uint64_t latency_us, bool failed) {
  metrics_.RecordDecision(request.StateName(), ActionName(verdict.action), latency_us);
  if (failed) {
    ++metrics_.redis_errors;
    ++metrics_.failure_replies;
  }
  if (!verdict.created_block.empty()) ++metrics_.blocks_created[verdict.created_block];
}

void Server::OnConnectionClosed(Connection* connection) {
  connections_.erase(connection->id());
  delete connection;
  if (shutting_down_) {
    MaybeFinishShutdown();
    return;
  }
  for (auto& listener : listeners_) listener->Resume();
}

void Server::Reload() {
  Result<Config> loaded = LoadConfigFile(config_path_);
  if (!loaded.ok()) {
    POLICYD_LOG_ERROR("event=reload_failed {} keeping=previous_config",
                      LogField("error", loaded.error().message, 2000));
    return;
  }
  for (const std::string& key : NonReloadableChanges(*config_, *loaded)) {
    POLICYD_LOG_WARN("event=reload_ignored {} reason=needs_restart", LogField("key", key));
  }
  auto next = std::make_shared<Config>(std::move(*loaded));
  KeepNonReloadable(*config_, next.get());
  SetLogConfig(next->log.level, next->log.target);
  config_ = std::move(next);
  POLICYD_LOG_INFO("event=reloaded {}", LogField("config", config_path_));
}

void Server::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  POLICYD_LOG_INFO("event=shutdown connections={}", connections_.size());
  for (auto& listener : listeners_) listener->Close(nullptr);
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        POLICYD_LOG_WARN("event=shutdown_timeout connections={}", self->connections_.size());
        for (auto& [id, c] : self->connections_) c->Close("shutdown timeout");
      },
      config_->server.shutdown_timeout_ms, 0);
  // Copy the ids: Drain may close (but never delete) connections synchronously.
  std::vector<Connection*> all;
  for (auto& [id, c] : connections_) all.push_back(c);
  for (Connection* c : all) c->Drain();
  MaybeFinishShutdown();
}

void Server::MaybeFinishShutdown() {
  if (!connections_.empty() || finished_) return;
  finished_ = true;
  uv_timer_stop(&shutdown_timer_);
  http_->Stop([] {});
  redis_->Stop([this] {
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&sighup_), reinterpret_cast<uv_handle_t*>(&sigterm_),
          reinterpret_cast<uv_handle_t*>(&sigint_),
          reinterpret_cast<uv_handle_t*>(&shutdown_timer_)}) {
      uv_close(h, nullptr);
    }
  });
}

}  // namespace policyd
