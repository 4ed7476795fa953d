#include "store/cluster_client.h"

#include <cassert>

#include "log/log.h"
#include "net/handle_close.h"

namespace policyd {
namespace {

constexpr uint64_t kRetryMs = 5;         // a parked call looks again this often
constexpr uint64_t kMapSoonMs = 50;      // after MOVED or a lost primary: let more news arrive
constexpr uint64_t kMapRetryMs = 500;    // while no full map is known

}  // namespace

struct ClusterClient::Call {
  uint16_t slot;
  std::vector<std::string> argv;
  uint64_t deadline_ms;  // loop time
  Callback callback;
  int redirects = 0;
  std::optional<ClusterNode> ask;  // the next send goes there, after ASKING
};

ClusterClient::ClusterClient(uv_loop_t* loop, std::vector<RedisEndpoint> seeds,
                             RedisClientOptions options)
    : loop_(loop), seeds_(std::move(seeds)), options_(options) {
  for (uv_timer_t* t : {&retry_timer_, &map_timer_}) {
    uv_timer_init(loop_, t);
    t->data = this;
    ++open_handles_;
  }
}

ClusterClient::~ClusterClient() { assert(open_handles_ == 0 && clients_running_ == 0); }

void ClusterClient::Start() {
  for (const RedisEndpoint& seed : seeds_) {
    ClientFor({seed.host, static_cast<uint16_t>(seed.port)});
  }
}

RedisClient* ClusterClient::ClientFor(const ClusterNode& address) {
  for (Node& n : nodes_) {
    if (n.address == address) return n.client.get();
  }
  RedisEndpoint endpoint = seeds_.empty() ? RedisEndpoint{} : seeds_.front();
  endpoint.host = address.host;
  endpoint.port = address.port;
  endpoint.unix_path.clear();
  endpoint.db = 0;  // a cluster has only database 0
  auto client = std::make_unique<RedisClient>(loop_, endpoint, options_);
  client->SetReadyListener([this](bool ready) {
    if (stopping_) return;
    if (!map_ && ready) ReadMap();
    // A primary lost: it may have failed over; the map says to whom.
    if (!ready) ReadMapSoon();
    UpdateReady();
  });
  client->Start();
  ++clients_running_;
  nodes_.push_back({address, std::move(client)});
  return nodes_.back().client.get();
}

void ClusterClient::Command(uint16_t slot, std::vector<std::string> argv, uint64_t timeout_ms,
                            Callback callback) {
  auto call = std::make_shared<Call>(
      Call{slot, std::move(argv), uv_now(loop_) + timeout_ms, std::move(callback), 0, {}});
  Route(std::move(call));
}

void ClusterClient::Route(std::shared_ptr<Call> call) {
  uint64_t now = uv_now(loop_);
  if (stopping_) {
    call->callback(Error{ErrorCode::kUnavailable, "redis cluster client stopped"});
    return;
  }
  if (now >= call->deadline_ms) {
    call->callback(Error{ErrorCode::kTimeout, "no primary of the slot answered in time"});
    return;
  }
  RedisClient* client = nullptr;
  if (call->ask) {
    client = ClientFor(*call->ask);
  } else if (map_ && map_->NodeFor(call->slot) >= 0) {
    client = ClientFor(map_->primaries()[map_->NodeFor(call->slot)]);
  }
  if (client == nullptr || !client->ready()) {
    if (client == nullptr) ReadMapSoon();
    Park(std::move(call));
    return;
  }
  uint64_t left = call->deadline_ms - now;
  if (call->ask) {
    // ASKING and the call are queued back to back on one connection, so nothing of ours
    // comes between them; ASKING's own reply says nothing the call's reply does not.
    client->Command({"ASKING"}, left, [](Result<RedisValue>) {});
    call->ask.reset();
  }
  std::vector<std::string> argv = call->argv;  // kept for a redirect's resend
  client->Command(std::move(argv), left,
                  [this, call](Result<RedisValue> reply) { OnReply(call, std::move(reply)); });
}

void ClusterClient::OnReply(std::shared_ptr<Call> call, Result<RedisValue> reply) {
  if (reply.ok() && reply->IsError()) {
    std::optional<ClusterRedirect> redirect = ParseClusterRedirect(reply->str);
    if (redirect && call->redirects < kMaxRedirects && !stopping_) {
      ++call->redirects;
      ++redirects_;
      ClusterNode to{redirect->host, redirect->port};
      if (redirect->kind == ClusterRedirect::Kind::kMoved) {
        if (map_) map_->Move(redirect->slot, to);
        ReadMapSoon();
      } else {
        call->ask = to;
      }
      Route(std::move(call));
      return;
    }
    // A slot migrating with the call's keys split between two nodes, or a failover in
    // progress: ask again shortly, until the call's deadline.
    if (IsClusterRetryable(reply->str) && !stopping_) {
      Park(std::move(call));
      return;
    }
  }
  if (!reply.ok() && reply.error().code == ErrorCode::kUnavailable) ReadMapSoon();
  call->callback(std::move(reply));
}

void ClusterClient::Park(std::shared_ptr<Call> call) {
  parked_.push_back(std::move(call));
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&retry_timer_))) {
    uv_timer_start(
        &retry_timer_, [](uv_timer_t* t) { static_cast<ClusterClient*>(t->data)->RetryParked(); },
        kRetryMs, 0);
  }
}

void ClusterClient::RetryParked() {
  std::vector<std::shared_ptr<Call>> calls;
  calls.swap(parked_);
  for (auto& call : calls) Route(std::move(call));
}

void ClusterClient::ReadMapSoon() {
  if (stopping_ || uv_is_active(reinterpret_cast<uv_handle_t*>(&map_timer_))) return;
  uv_timer_start(
      &map_timer_, [](uv_timer_t* t) { static_cast<ClusterClient*>(t->data)->ReadMap(); },
      kMapSoonMs, 0);
}

void ClusterClient::ReadMap() {
  if (stopping_ || map_read_in_flight_) return;
  // Any connected node knows the whole map; a primary of the current map first.
  RedisClient* from = nullptr;
  for (RedisClient* p : Primaries()) {
    if (p->ready()) { from = p; break; }
  }
  for (Node& n : nodes_) {
    if (from == nullptr && n.client->ready()) from = n.client.get();
  }
  if (from == nullptr) {
    uv_timer_stop(&map_timer_);
    uv_timer_start(
        &map_timer_, [](uv_timer_t* t) { static_cast<ClusterClient*>(t->data)->ReadMap(); },
        kMapRetryMs, 0);
    return;
  }
  map_read_in_flight_ = true;
  from->Command({"CLUSTER", "SLOTS"}, options_.connect_timeout_ms,
                [this, host = from->endpoint().host](Result<RedisValue> reply) {
                  map_read_in_flight_ = false;
                  OnMap(std::move(reply), host);
                });
}

void ClusterClient::OnMap(Result<RedisValue> reply, const std::string& asked_host) {
  if (stopping_) return;
  Result<ClusterMap> map = reply.ok() && !reply->IsError()
                               ? ClusterMap::FromClusterSlots(*reply, asked_host)
                               : Result<ClusterMap>(Error{ErrorCode::kUnavailable,
                                                          reply.ok() ? reply->str
                                                                     : reply.error().message});
  if (!map.ok()) {
    POLICYD_LOG_WARN("event=redis_cluster_map_failed {}", LogField("error", map.error().message));
  } else {
    ++map_reads_;
    map_ = std::move(*map);
    for (const ClusterNode& p : map_->primaries()) ClientFor(p);
    if (map_->AssignedSlots() < kClusterSlots) {
      POLICYD_LOG_WARN("event=redis_cluster_slots_uncovered assigned={} slots={}",
                       map_->AssignedSlots(), kClusterSlots);
    }
  }
  UpdateReady();
  if (map.ok() && map_listener_) map_listener_();
  if (!ready_) {
    uv_timer_stop(&map_timer_);
    uv_timer_start(
        &map_timer_, [](uv_timer_t* t) { static_cast<ClusterClient*>(t->data)->ReadMap(); },
        kMapRetryMs, 0);
  }
}

std::vector<RedisClient*> ClusterClient::Primaries() {
  std::vector<RedisClient*> out;
  if (!map_) return out;
  for (const ClusterNode& p : map_->primaries()) {
    for (Node& n : nodes_) {
      if (n.address == p) out.push_back(n.client.get());
    }
  }
  return out;
}

void ClusterClient::UpdateReady() {
  bool ready = map_ && map_->AssignedSlots() == kClusterSlots && !stopping_;
  if (ready) {
    for (RedisClient* p : Primaries()) ready = ready && p->ready();
  }
  if (ready == ready_) return;
  ready_ = ready;
  if (ready_listener_) ready_listener_(ready_);
}

void ClusterClient::Stop(std::function<void()> done) {
  stop_done_ = std::move(done);
  stopping_ = true;
  UpdateReady();
  std::vector<std::shared_ptr<Call>> calls;
  calls.swap(parked_);
  for (auto& call : calls) {
    call->callback(Error{ErrorCode::kUnavailable, "redis cluster client stopped"});
  }
  ++open_handles_;  // the clients, as one
  for (Node& n : nodes_) {
    n.client->Stop([this] {
      if (--clients_running_ == 0 && --open_handles_ == 0) OnHandlesClosed();
    });
  }
  if (nodes_.empty() && --open_handles_ == 0) OnHandlesClosed();
  for (uv_timer_t* t : {&retry_timer_, &map_timer_}) {
    CloseCounted<&ClusterClient::open_handles_, &ClusterClient::OnHandlesClosed>(t);
  }
}

void ClusterClient::OnHandlesClosed() {
  if (!stop_done_) return;
  auto done = std::move(stop_done_);
  done();
}

}  // namespace policyd
