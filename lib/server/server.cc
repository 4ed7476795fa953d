#include "server/server.h"

#include <unistd.h>

#include "log/log.h"
#include "server/connection.h"

namespace policyd {

Server::Server(LoopContext* context, bool primary)
    : context_(context), shared_(context->shared()), primary_(primary) {}

Server::~Server() = default;

Status Server::Start() {
  bool shared_port = shared_->loops > 1;
  for (const std::string& text : config()->server.listen) {
    Result<ListenAddress> address = ParseListenAddress(text);
    if (!address.ok()) return address.error();
    bool is_unix = address->IsUnix();
    if (is_unix && !primary_) continue;  // a unix path has one owner
    auto listener = std::make_unique<Listener>(
        loop(), *address, [this] { return CanAccept(); },
        [this, is_unix](int fd) { OnAccept(fd, is_unix); });
    if (Status s = listener->Open(shared_port && !is_unix); !s.ok()) return s;
    if (primary_) POLICYD_LOG_INFO("event=listening {}", LogField("listen", address->Describe()));
    listeners_.push_back(std::move(listener));
  }
  uv_timer_init(loop(), &shutdown_timer_);
  shutdown_timer_.data = this;
  return Ok{};
}

bool Server::CanAccept() const {
  return !shutting_down_ &&
         shared_->connections < static_cast<std::size_t>(config()->server.max_connections);
}

void Server::OnAccept(int fd, bool is_unix) {
  uint64_t id = next_connection_id_++;
  ++shared_->connections;
  {
    std::lock_guard<std::mutex> lock(context_->metrics_mutex());
    ++context_->metrics().connections_total;
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
                    uint64_t conn_id, uint64_t seq, DecideOptions options) {
  LocalRefusals* refusals = context_->refusals();  // a guard: Open() always makes it
  if (!refusals) {
    auto done = [this, conn_id, seq](Result<Verdict> verdict) {
      if (Connection* c = Find(conn_id)) c->OnDecided(seq, std::move(verdict));
    };
    return context_->Decide(config, request, std::move(done), std::move(options));
  }
  if (std::optional<Verdict> local = refusals->Answer(*config, request)) {
    if (Connection* c = Find(conn_id)) c->OnDecided(seq, std::move(*local));
    return;
  }
  LocalRefusals::Ticket ticket = refusals->Prepare(*config, request);
  auto done = [this, conn_id, seq, ticket](Result<Verdict> verdict) {
    if (verdict.ok()) context_->refusals()->Learn(ticket, *verdict);
    if (Connection* c = Find(conn_id)) c->OnDecided(seq, std::move(verdict));
  };
  context_->Decide(config, request, std::move(done), std::move(options));
}

void Server::RecordDecision(const PolicyRequest& request, const Verdict& verdict,
                            uint64_t latency_us, bool failed) {
  std::lock_guard<std::mutex> lock(context_->metrics_mutex());
  Metrics& metrics = context_->metrics();
  metrics.RecordDecision(request.StateName(), ActionName(verdict.action), latency_us);
  if (failed) {
    ++metrics.redis_errors;
    ++metrics.failure_replies;
  }
  if (!verdict.created_block.empty()) ++metrics.blocks_created[verdict.created_block];
  // "user:alice 80,account:acme 90": levels decide.lua fired once per subject and period.
  std::string_view warnings = verdict.quota_warnings;
  while (!warnings.empty()) {
    std::string_view one = warnings.substr(0, warnings.find(','));
    warnings.remove_prefix(std::min(warnings.size(), one.size() + 1));
    auto space = one.rfind(' ');
    if (space == std::string_view::npos) continue;
    ++metrics.quota_warnings[std::string(one.substr(space + 1))];
    POLICYD_LOG_WARN("event=quota_warning {} percent={}", LogField("subject", one.substr(0, space)),
                     one.substr(space + 1));
  }
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

void Server::Shutdown(std::function<void()> done) {
  if (shutting_down_) return;
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  for (auto& listener : listeners_) listener->Close(nullptr);
  uv_timer_start(
      &shutdown_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Server*>(t->data);
        POLICYD_LOG_WARN("event=shutdown_timeout connections={}", self->connections_.size());
        for (auto& [id, c] : self->connections_) c->Close("shutdown timeout");
      },
      config()->server.shutdown_timeout_ms, 0);
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
  uv_close(reinterpret_cast<uv_handle_t*>(&shutdown_timer_), nullptr);
  auto done = std::move(shutdown_done_);
  done();
}

}  // namespace policyd
