#include "supervisor.h"

#include <csignal>

#include "log/log.h"

namespace policyd {

Supervisor::Supervisor(std::shared_ptr<const Config> config, std::string config_path)
    : config_(std::move(config)), config_path_(std::move(config_path)) {
  uv_loop_init(&loop_);
  shared_.merged_metrics = [this] {
    Metrics all;
    for (auto& s : loops_) MergeMetrics(all, s->MetricsSnapshot());
    return all;
  };
  shared_.gauges = [this] {
    bool up = !loops_.empty();
    for (auto& s : loops_) up = up && s->redis_ready();
    return MetricsGauges{shared_.connections.load(), up};
  };
}

Supervisor::~Supervisor() { uv_loop_close(&loop_); }

Status Supervisor::Start() {
  // threads = 0 (the default): one loop per core the process may run on.
  int threads = config_->server.threads;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  shared_.loops = threads;
  POLICYD_LOG_INFO("event=starting threads={}", threads);
  for (int i = 0; i < threads; ++i) {
    loops_.push_back(std::make_unique<ServingLoop>(config_, &shared_, i == 0));
    if (Status s = loops_.back()->Start(); !s.ok()) return s;
  }
  uv_signal_init(&loop_, &sighup_);
  uv_signal_init(&loop_, &sigterm_);
  uv_signal_init(&loop_, &sigint_);
  sighup_.data = sigterm_.data = sigint_.data = this;
  uv_signal_start(&sighup_, [](uv_signal_t* s, int) { static_cast<Supervisor*>(s->data)->Reload(); },
                  SIGHUP);
  auto on_stop = [](uv_signal_t* s, int) { static_cast<Supervisor*>(s->data)->Shutdown(); };
  uv_signal_start(&sigterm_, on_stop, SIGTERM);
  uv_signal_start(&sigint_, on_stop, SIGINT);
  return Ok{};
}

int Supervisor::Run() {
  for (auto& s : loops_) threads_.emplace_back([loop = s.get()] { loop->Run(); });
  uv_run(&loop_, UV_RUN_DEFAULT);  // until Shutdown() closes the signal handles
  for (auto& t : threads_) t.join();
  return 0;
}

void Supervisor::Reload() {
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
  config_ = next;
  for (auto& s : loops_) s->RequestReload(config_);
  POLICYD_LOG_INFO("event=reloaded {}", LogField("config", config_path_));
}

void Supervisor::Shutdown() {
  POLICYD_LOG_INFO("event=shutdown connections={}", shared_.connections.load());
  for (auto& s : loops_) s->RequestShutdown();
  for (uv_signal_t* h : {&sighup_, &sigterm_, &sigint_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
  }
}

}  // namespace policyd
