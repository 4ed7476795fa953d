#include "policyctl/admin_session.h"

#include <fmt/format.h>

#include <algorithm>

#include "store/redis_connect.h"

namespace policyd::admin {
namespace {

Result<RedisValue> Checked(Result<RedisValue> r) {
  if (!r.ok()) return r.error();
  if (r->IsError()) return Error{ErrorCode::kInternal, "redis: " + r->str};
  return r;
}

}  // namespace

AdminSession::AdminSession(const Config& config) {
  Config c = config;
  // A CLI waits longer than Postfix would: a SCAN of a large Redis is not a policy request.
  c.server.request_timeout_ms = std::max(c.server.request_timeout_ms, kMinCallTimeoutMs);
  config_ = std::make_shared<const Config>(std::move(c));
  uv_loop_init(&loop_);
}

AdminSession::~AdminSession() {
  bool stopped = false;
  if (client_) {
    client_->Stop([&stopped] { stopped = true; });
    while (!stopped) uv_run(&loop_, UV_RUN_ONCE);
  } else if (cluster_) {
    cluster_->Stop([&stopped] { stopped = true; });
    while (!stopped) uv_run(&loop_, UV_RUN_ONCE);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);  // close callbacks of every handle
  reports_.reset();
  store_.reset();
  client_.reset();
  cluster_scripts_.reset();
  cluster_.reset();
  uv_loop_close(&loop_);
}

Status AdminSession::OpenRedis() {
  Result<std::unique_ptr<RedisClient>> client = MakeRedisClient(&loop_, config_->redis);
  if (!client.ok()) {
    return Invalid(fmt::format("{}: [redis] url: {}", config_->path, client.error().message));
  }
  client_ = std::move(*client);
  store_ = std::make_unique<PolicyStore>(client_.get());
  reports_ = std::make_unique<ReportStore>(client_.get(), &store_->scripts());
  client_->Start();
  return Ok{};
}

Status AdminSession::OpenCluster() {
  Result<std::unique_ptr<ClusterClient>> cluster = MakeClusterClient(&loop_, config_->redis);
  if (!cluster.ok()) {
    return Invalid(
        fmt::format("{}: {}", config_->path, cluster.error().message));
  }
  cluster_ = std::move(*cluster);
  // No LoadAll here: a script call that finds the library missing loads it on every primary.
  cluster_scripts_ = std::make_unique<ClusterScriptRunner>(cluster_.get());
  reports_ = std::make_unique<ReportStore>(cluster_.get(), cluster_scripts_.get());
  cluster_->Start();
  return Ok{};
}

bool AdminSession::ready() const { return client_ ? client_->ready() : cluster_->ready(); }

Status AdminSession::Connect() {
  if (connected_) return *connected_;
  Status opened = config_->redis.cluster.empty() ? OpenRedis() : OpenCluster();
  if (!opened.ok()) {
    connected_ = opened;
    return *connected_;
  }
  // The client retries with backoff on its own; a CLI gives it two connect timeouts.
  uint64_t wait_ms = std::max<uint64_t>(2 * config_->redis.connect_timeout_ms, 1000);
  auto* timer = new uv_timer_t;
  bool expired = false;
  uv_timer_init(&loop_, timer);
  timer->data = &expired;
  uv_timer_start(
      timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, wait_ms, 0);
  while (!ready() && !expired) uv_run(&loop_, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  if (ready()) {
    connected_ = Ok{};
  } else {
    std::string where = client_ ? client_->endpoint().Describe()
                                : "the [redis] cluster seeds (no map covering every slot with "
                                  "every primary connected)";
    connected_ = Error{ErrorCode::kUnavailable,
                       fmt::format("Redis unreachable at {} (not ready within {} ms)", where,
                                   wait_ms)};
  }
  return *connected_;
}

template <typename T, typename Start>
Result<T> AdminSession::Wait(Start start) {
  if (Status s = Connect(); !s.ok()) return s.error();
  std::optional<Result<T>> out;
  start([&out](Result<T> r) { out = std::move(r); });
  while (!out) uv_run(&loop_, UV_RUN_ONCE);
  return std::move(*out);
}

Result<RedisValue> AdminSession::Command(std::vector<std::string> argv) {
  return Checked(Wait<RedisValue>([&](RedisClient::Callback done) {
    ops::AdminBackend(reports_.get())
        .Command("", std::move(argv), config_->server.request_timeout_ms, std::move(done));
  }));
}

Result<nlohmann::json> AdminSession::Run(ops::AdminCall call) {
  return Wait<nlohmann::json>([&](ops::AdminDone done) {
    ops::RunAdminCall(ops::AdminBackend(reports_.get()), std::move(call),
                      config_->server.request_timeout_ms, std::move(done));
  });
}

Result<std::optional<Report>> AdminSession::GetReport(const std::string& id) {
  return Wait<std::optional<Report>>(
      [&](auto done) { reports_->Get(*config_, id, std::move(done)); });
}

Result<std::vector<SignalOutcome>> AdminSession::IngestSignals(const std::vector<Signal>& signals,
                                                               const std::string& source) {
  return Wait<std::vector<SignalOutcome>>([&](auto done) {
    reports_->IngestSignals(*config_, signals, source, std::move(done));
  });
}

Result<std::vector<SignalOutcome>> AdminSession::IngestSignal(const Signal& signal) {
  return Wait<std::vector<SignalOutcome>>([&](auto done) {
    reports_->IngestSignals(*config_, {signal}, "policyctl", std::move(done));
  });
}

}  // namespace policyd::admin
