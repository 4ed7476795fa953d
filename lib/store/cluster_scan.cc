#include "store/cluster_scan.h"

#include <memory>
#include <vector>

namespace policyd {
namespace {

struct Walk {
  std::string pattern;
  std::string type;
  uint64_t timeout_ms;
  std::function<void(const std::string&)> on_key;
  std::function<void(bool)> done;
  int walking = 0;
  bool ok = true;
};

void Finish(const std::shared_ptr<Walk>& walk, bool ok) {
  walk->ok = walk->ok && ok;
  if (--walk->walking == 0) walk->done(walk->ok);
}

void Step(std::shared_ptr<Walk> walk, RedisClient* primary, std::string cursor) {
  primary->Command({"SCAN", cursor, "MATCH", walk->pattern, "COUNT", "1000", "TYPE", walk->type},
                   walk->timeout_ms, [walk, primary](Result<RedisValue> r) {
                     if (!r.ok() || r->IsError() || r->elements.size() != 2) {
                       return Finish(walk, false);
                     }
                     for (const RedisValue& k : r->elements[1].elements) {
                       walk->on_key(k.AsString());
                     }
                     std::string next = r->elements[0].AsString();
                     if (next == "0") return Finish(walk, true);
                     Step(walk, primary, std::move(next));
                   });
}

}  // namespace

void ScanPrimaries(ClusterClient* cluster, std::string pattern, std::string type,
                   uint64_t timeout_ms, std::function<void(const std::string& key)> on_key,
                   std::function<void(bool ok)> done) {
  std::vector<RedisClient*> primaries = cluster->Primaries();
  if (primaries.empty()) return done(false);
  auto walk = std::make_shared<Walk>(Walk{std::move(pattern), std::move(type),
                                          timeout_ms, std::move(on_key), std::move(done)});
  walk->walking = static_cast<int>(primaries.size());
  for (RedisClient* p : primaries) Step(walk, p, "0");
}

}  // namespace policyd
