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
  // On a cluster, webhook delivery and the expiry sweep are not wired yet (issue 17).
  if (primary_ && !context_.cluster()) {
    webhooks_ = std::make_unique<WebhookDeliverer>(&context_);
    webhooks_->Start();
    expiries_ = std::make_unique<BlockExpirySweeper>(&context_);
    expiries_->Start();
  }
  uv_async_init(&loop_, &control_,
                [](uv_async_t* a) { static_cast<ServingLoop*>(a->data)->OnControl(); });
  control_.data = this;
  return Ok{};
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
  auto stop_events = [this, stop_redis] {
    if (!webhooks_) return stop_redis();
    webhooks_->Stop([this, stop_redis] { expiries_->Stop(stop_redis); });
  };
  if (http_) {
    http_->Stop(stop_events);
  } else {
    stop_events();
  }
}

}  // namespace policyd
