#include "store/cluster_invalidation.h"

#include <algorithm>
#include <cassert>

#include "log/log.h"

namespace policyd {
namespace {

bool SameNode(const RedisEndpoint& a, const RedisEndpoint& b) {
  return a.host == b.host && a.port == b.port && a.unix_path == b.unix_path;
}

}  // namespace

ClusterInvalidation::ClusterInvalidation(
    uv_loop_t* loop, ClusterClient* cluster, std::vector<std::string> prefixes,
    RedisClientOptions options, std::function<void(const InvalidationListener::Keys*)> on_change)
    : loop_(loop),
      cluster_(cluster),
      prefixes_(std::move(prefixes)),
      options_(options),
      on_change_(std::move(on_change)) {}

ClusterInvalidation::~ClusterInvalidation() {
  assert(listeners_.empty() && retiring_.empty());
}

void ClusterInvalidation::Start() {
  cluster_->SetMapListener([this] { FollowPrimaries(); });
  FollowPrimaries();
}

bool ClusterInvalidation::ready() const {
  if (listeners_.empty() || stopping_) return false;
  return std::all_of(listeners_.begin(), listeners_.end(),
                     [](const auto& l) { return l->ready(); });
}

uint64_t ClusterInvalidation::invalidations() const {
  uint64_t n = 0;
  for (const auto& l : listeners_) n += l->invalidations();
  return n;
}

void ClusterInvalidation::FollowPrimaries() {
  if (stopping_) return;
  std::vector<RedisEndpoint> primaries;
  for (RedisClient* p : cluster_->Primaries()) primaries.push_back(p->endpoint());
  bool changed = false;
  // Listeners of nodes that are no longer primaries: their writes (if any) are no one's keys.
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    bool kept = std::any_of(primaries.begin(), primaries.end(),
                            [&](const RedisEndpoint& p) { return SameNode(p, (*it)->endpoint()); });
    if (kept) {
      ++it;
      continue;
    }
    Retire(std::move(*it));
    it = listeners_.erase(it);
    changed = true;
  }
  for (const RedisEndpoint& p : primaries) {
    bool known = std::any_of(listeners_.begin(), listeners_.end(),
                             [&](const auto& l) { return SameNode(p, l->endpoint()); });
    if (known) continue;
    listeners_.push_back(
        std::make_unique<InvalidationListener>(loop_, prefixes_, options_, on_change_));
    listeners_.back()->Follow(p);
    changed = true;
  }
  if (!changed) return;
  POLICYD_LOG_INFO("event=redis_cluster_tracking_primaries count={}", listeners_.size());
  // A write on a node we did not listen to may have gone unheard: forget everything.
  if (on_change_) on_change_(nullptr);
}

void ClusterInvalidation::Retire(std::unique_ptr<InvalidationListener> listener) {
  InvalidationListener* raw = listener.get();
  retiring_.push_back(std::move(listener));
  raw->Stop([this, raw] { OnStopped(raw); });
}

void ClusterInvalidation::OnStopped(InvalidationListener* listener) {
  // Runs from the listener's last close callback, which touches it no more.
  std::erase_if(retiring_, [listener](const auto& l) { return l.get() == listener; });
  if (stopping_ && retiring_.empty() && stop_done_) {
    auto done = std::move(stop_done_);
    done();
  }
}

void ClusterInvalidation::Stop(std::function<void()> done) {
  stopping_ = true;
  stop_done_ = std::move(done);
  cluster_->SetMapListener(nullptr);
  std::vector<std::unique_ptr<InvalidationListener>> all;
  all.swap(listeners_);
  if (all.empty() && retiring_.empty()) {
    auto d = std::move(stop_done_);
    if (d) d();
    return;
  }
  for (auto& l : all) Retire(std::move(l));
}

}  // namespace policyd
