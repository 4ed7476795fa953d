#include "serving_loop.h"

namespace policyd {

ServingLoop::ServingLoop(std::shared_ptr<const Config> config, SharedState* shared, bool primary)
    : primary_(primary),
      context_(&loop_, std::move(config), shared),
      server_(&context_, primary) {
  uv_loop_init(&loop_);  // the context and the faces only keep the pointer until Start()
}

ServingLoop::~ServingLoop() { uv_loop_close(&loop_); }

Status ServingLoop::Start() {
  if (Status s = server_.Start(); !s.ok()) return s;
  if (Status s = context_.Open(); !s.ok()) return s;
  if (primary_) {
    SharedState* shared = context_.shared();
    http_ = std::make_unique<HttpServer>(
        &loop_, [this] { return context_.config(); }, context_.reports(), &context_.metrics(),
        [shared] { return shared->merged_metrics(); }, [shared] { return shared->gauges(); });
    if (Status s = http_->Start(context_.config()->http.listen); !s.ok()) return s;
  }
  context_.StartRedis();
  if (primary_) StartEventServices();
  uv_async_init(&loop_, &control_,
                [](uv_async_t* a) { static_cast<ServingLoop*>(a->data)->OnControl(); });
  control_.data = this;
  return Ok{};
}

void ServingLoop::StartEventServices() {
  webhooks_ = std::make_unique<WebhookDeliverer>(&context_);
  webhooks_->Start();
  ClusterClient* cluster = context_.cluster();
  if (!cluster) {
    expiries_ = std::make_unique<BlockExpirySweeper>(&context_);
    expiries_->Start();
    return;
  }
  const Config& c = *context_.config();
  EventRelay::Options relay;
  relay.prefix = c.redis.key_prefix;
  relay.scan_interval_ms = c.webhooks.poll_interval_ms;
  relay.timeout_ms = c.server.request_timeout_ms;
  relay_ = std::make_unique<EventRelay>(&loop_, cluster, context_.cluster_scripts(), relay);
  relay_->Start();
  ClusterExpirySweeper::Options sweep;
  sweep.prefix = c.redis.key_prefix;
  sweep.interval_ms = c.webhooks.poll_interval_ms;
  sweep.timeout_ms = c.server.request_timeout_ms;
  cluster_expiries_ = std::make_unique<ClusterExpirySweeper>(
      &loop_, cluster, context_.cluster_scripts(), relay_.get(), sweep);
  cluster_expiries_->Start();
}

void ServingLoop::StopEventServices(std::function<void()> done) {
  if (!webhooks_) return done();
  auto stop_sweeps = [this, done] {
    if (expiries_) return expiries_->Stop(done);
    // The sweep notifies the relay: it stops first.
    cluster_expiries_->Stop([this, done] { relay_->Stop(done); });
  };
  webhooks_->Stop(stop_sweeps);
}

void ServingLoop::Run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void ServingLoop::RequestReload(std::shared_ptr<const Config> config) {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    pending_config_ = std::move(config);
  }
  uv_async_send(&control_);
}

void ServingLoop::RequestShutdown() {
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    pending_shutdown_ = true;
  }
  uv_async_send(&control_);
}

void ServingLoop::OnControl() {
  std::shared_ptr<const Config> next;
  bool shutdown;
  {
    std::lock_guard<std::mutex> lock(control_mutex_);
    next = std::move(pending_config_);
    shutdown = pending_shutdown_;
  }
  if (next) context_.set_config(std::move(next));
  if (shutdown) server_.Shutdown([this] { Stop(); });
}

void ServingLoop::Stop() {
  auto stop_redis = [this] {
    context_.Stop([this] { uv_close(reinterpret_cast<uv_handle_t*>(&control_), nullptr); });
  };
  auto stop_events = [this, stop_redis] { StopEventServices(stop_redis); };
  if (http_) {
    http_->Stop(stop_events);
  } else {
    stop_events();
  }
}

}  // namespace policyd
