#include "ops/block_ops.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/redis_keys.h"
#include "core/report_slot.h"
#include "core/report_token.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"
#include "ops/cluster_cursor.h"

namespace policyd::ops {
namespace {

Result<std::string> SubjectOf(const nlohmann::json& input) {
  Result<std::optional<std::string>> s = StringField(input, "subject", true);
  if (!s.ok()) return s.error();
  Result<std::string> tag = ParseBlockSubject(**s);
  if (!tag.ok()) return FieldError("subject", tag.error().message);
  return *tag;
}

// Where a block's event and expiry entry go (_common.lua emit_event): the subject's slot on a
// cluster, the relay's one outbox on one Redis.
std::string HomeOf(const Config& config, const std::string& tag) {
  return config.redis.cluster.empty() ? "" : std::string(SubjectSlotTag(tag));
}

nlohmann::json HashJson(const RedisValue& flat) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    out[flat.elements[i].AsString()] = flat.elements[i + 1].AsString();
  }
  return out;
}

nlohmann::json BlocksJson(const std::vector<RedisValue>& hashes, const std::string& cursor) {
  nlohmann::json blocks = nlohmann::json::array();
  for (const RedisValue& b : hashes) blocks.push_back(HashJson(b));
  return nlohmann::json{{"blocks", blocks}, {"next_cursor", cursor}};
}

// One page of block list on a Redis Cluster: one SCAN MATCH PREFIXblock:{* COUNT count TYPE hash
// on the primary the cursor names (lib/ops/cluster_cursor.h), then each block's HGETALL on its
// slot's primary, all at once; the same filter as block_list.lua. The primaries are sorted by
// address, so that every policyd (and policyctl) numbers them alike while the map holds.
void ListClusterBlocks(AdminBackend backend, const std::string& prefix, ClusterCursor cursor,
                       const std::string& count, const std::string& reason, uint64_t timeout_ms,
                       AdminDone done) {
  std::vector<RedisClient*> primaries = backend.cluster_client()->Primaries();
  std::sort(primaries.begin(), primaries.end(), [](RedisClient* a, RedisClient* b) {
    return a->endpoint().Describe() < b->endpoint().Describe();
  });
  if (cursor.primary >= primaries.size()) {
    return done(FieldError("cursor", "names no primary of the cluster (its map changed?)"));
  }
  std::size_t n = primaries.size(), index = cursor.primary;
  primaries[index]->Command(
      {"SCAN", std::to_string(cursor.scan), "MATCH", GlobEscape(prefix + "block:") + "{*",
       "COUNT", count, "TYPE", "hash"},
      timeout_ms,
      [backend, reason, timeout_ms, n, index, done = std::move(done)](
          Result<RedisValue> r) mutable {
        if (!r.ok()) return done(r.error());
        if (r->IsError() || r->elements.size() != 2) {
          return done(Error{ErrorCode::kInternal, "block list: bad SCAN reply " + r->str});
        }
        std::string scan = r->elements[0].AsString();  // unsigned 64 bits
        uint64_t scan_next = 0;
        auto [end, ec] = std::from_chars(scan.data(), scan.data() + scan.size(), scan_next);
        std::optional<std::string> next;
        if (ec == std::errc() && end == scan.data() + scan.size()) {
          next = NextClusterCursor(scan_next, index, n);
        }
        if (!next) return done(Error{ErrorCode::kInternal, "block list: SCAN cursor " + scan});
        struct Page {
          std::vector<std::optional<RedisValue>> blocks;  // in SCAN's order
          std::size_t left = 0;
          std::optional<Error> error;
        };
        auto page = std::make_shared<Page>();
        std::vector<std::string> keys;
        for (const RedisValue& k : r->elements[1].elements) keys.push_back(k.AsString());
        if (keys.empty()) return done(BlocksJson({}, *next));
        page->blocks.resize(keys.size());
        page->left = keys.size();
        for (std::size_t i = 0; i < keys.size(); ++i) {
          backend.Command(keys[i], {"HGETALL", keys[i]}, timeout_ms,
                          [page, i, reason, next = *next, done](Result<RedisValue> b) {
                            if (!b.ok() && !page->error) page->error = b.error();
                            if (b.ok() && b->IsError() && !page->error) {
                              page->error = Error{ErrorCode::kInternal, "redis: " + b->str};
                            }
                            if (b.ok() && !b->IsError() && !b->elements.empty() &&
                                (reason.empty() || HashJson(*b).value("reason", "") == reason)) {
                              page->blocks[i] = std::move(*b);
                            }
                            if (--page->left > 0) return;
                            if (page->error) return done(*page->error);
                            std::vector<RedisValue> found;
                            for (auto& v : page->blocks) {
                              if (v) found.push_back(std::move(*v));
                            }
                            done(BlocksJson(found, next));
                          });
        }
      });
}

}  // namespace

Result<AdminCall> AddBlock(const Config& config, const nlohmann::json& input,
                           const std::string& source) {
  if (Status s = CheckFields(input, {"subject", "reason", "ttl", "evidence"}); !s.ok()) {
    return s.error();
  }
  Result<std::string> tag = SubjectOf(input);
  if (!tag.ok()) return tag.error();
  Result<std::optional<std::string>> reason_text = StringField(input, "reason", true);
  if (!reason_text.ok()) return reason_text.error();
  Result<std::string> reason = admin::CheckBlockReason(**reason_text);
  if (!reason.ok()) return FieldError("reason", reason.error().message);
  uint64_t duration_ms = 0;
  Result<std::optional<std::string>> ttl = StringField(input, "ttl", false);
  if (!ttl.ok()) return ttl.error();
  if (ttl->has_value()) {
    Result<uint64_t> ms = admin::CheckTtl(**ttl);
    if (!ms.ok()) return FieldError("ttl", ms.error().message);
    duration_ms = *ms;
  }
  Result<std::optional<std::string>> evidence_text = StringField(input, "evidence", false);
  if (!evidence_text.ok()) return evidence_text.error();
  Result<std::string> evidence = admin::CheckEvidence(evidence_text->value_or(""));
  if (!evidence.ok()) return FieldError("evidence", evidence.error().message);
  bool cluster = !config.redis.cluster.empty();
  std::string report = cluster ? NewReportId(*tag) : NewReportId();
  AdminCall call;
  call.script = "block_add";
  call.argv = {config.redis.key_prefix, "0", *tag, *reason, *evidence,
               std::to_string(duration_ms), report, std::to_string(config.report.ttl_ms),
               std::to_string(config.abuse.evidence_max),
               std::to_string(config.abuse.evidence_ttl_ms), source, HomeOf(config, *tag)};
  call.route_key = BuildKey(config.redis.key_prefix, "block", *tag);
  std::string url = ReportUrl(config.report.base_url, config.report.secret, report);
  call.result = [tag = *tag, reason = *reason, evidence = *evidence, report,
                 url](const RedisValue& r) -> Result<nlohmann::json> {
    std::string expires = r.elements.size() == 2 ? r.elements[1].AsString() : "";
    return nlohmann::json{{"subject", tag},   {"reason", reason},  {"evidence", evidence},
                          {"expires", expires}, {"report", report}, {"report_url", url}};
  };
  return call;
}

Result<AdminCall> ShowBlock(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"subject"}); !s.ok()) return s.error();
  Result<std::string> tag = SubjectOf(input);
  if (!tag.ok()) return tag.error();
  AdminCall call;
  call.script = "block_show";
  call.argv = {config.redis.key_prefix, *tag};
  call.route_key = BuildKey(config.redis.key_prefix, "block", *tag);
  call.result = [base = config.report.base_url,
                 secret = config.report.secret](const RedisValue& reply) {
    return ScriptOutcome(reply, [&](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 4) return Error{ErrorCode::kInternal, "bad block_show reply"};
      nlohmann::json j = HashJson(r.elements[1]);
      std::string report = j.value("report", "");
      j["report_url"] = report.empty() ? "" : ReportUrl(base, secret, report);
      j["history"] = HashJson(r.elements[2]);
      j["evidence_entries"] = nlohmann::json::array();
      for (const RedisValue& e : r.elements[3].elements) {
        nlohmann::json parsed = nlohmann::json::parse(e.AsString(), nullptr, false);
        j["evidence_entries"].push_back(parsed.is_object() ? parsed
                                                           : nlohmann::json(e.AsString()));
      }
      return j;
    });
  };
  return call;
}

Result<AdminCall> ListBlocks(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"cursor", "count", "reason"}); !s.ok()) return s.error();
  Result<std::optional<std::string>> cursor = StringField(input, "cursor", false);
  if (!cursor.ok()) return cursor.error();
  std::string c = cursor->value_or("0");
  if (c.empty() || c.size() > 20 || c.find_first_not_of("0123456789") != std::string::npos) {
    return FieldError("cursor", "expected the next_cursor of the previous page (digits), or 0");
  }
  Result<std::optional<std::string>> count_text = StringField(input, "count", false);
  if (!count_text.ok()) return count_text.error();
  uint64_t count = 100;
  if (count_text->has_value()) {
    Result<uint64_t> n = admin::CheckCount("count", **count_text, 1000);
    if (!n.ok()) return FieldError("count", n.error().message);
    count = *n;
  }
  std::string reason;
  Result<std::optional<std::string>> reason_text = StringField(input, "reason", false);
  if (!reason_text.ok()) return reason_text.error();
  if (reason_text->has_value()) {
    Result<std::string> r = admin::CheckBlockReason(**reason_text);
    if (!r.ok()) return FieldError("reason", r.error().message);
    reason = *r;
  }
  AdminCall call;
  if (!config.redis.cluster.empty()) {
    std::optional<ClusterCursor> at = ParseClusterCursor(c);
    if (!at) return FieldError("cursor", "expected the next_cursor of the previous page, or 0");
    call.run = [prefix = config.redis.key_prefix, at = *at, count = std::to_string(count),
                reason](AdminBackend backend, uint64_t timeout_ms, AdminDone done) {
      ListClusterBlocks(backend, prefix, at, count, reason, timeout_ms, std::move(done));
    };
    return call;
  }
  call.script = "block_list";
  call.argv = {config.redis.key_prefix, c, std::to_string(count), reason};
  call.result = [](const RedisValue& reply) {
    return ScriptOutcome(reply, [](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 3) return Error{ErrorCode::kInternal, "bad block_list reply"};
      return BlocksJson(r.elements[2].elements, r.elements[1].AsString());
    });
  };
  return call;
}

Result<AdminCall> LiftBlock(const Config& config, const nlohmann::json& input,
                            const std::string& source) {
  if (Status s = CheckFields(input, {"subject"}); !s.ok()) return s.error();
  Result<std::string> tag = SubjectOf(input);
  if (!tag.ok()) return tag.error();
  AdminCall call;
  call.script = "block_lift";
  call.argv = {config.redis.key_prefix, "0", *tag, source, HomeOf(config, *tag)};
  call.route_key = BuildKey(config.redis.key_prefix, "block", *tag);
  call.result = [tag = *tag](const RedisValue& reply) {
    return ScriptOutcome(reply, [&tag](const RedisValue& r) -> Result<nlohmann::json> {
      return nlohmann::json{{"subject", tag},
                            {"deleted", true},
                            {"reason", r.elements.size() > 1 ? r.elements[1].AsString() : ""}};
    });
  };
  return call;
}

Result<AdminCall> AddBlockApi(const Config& config, const nlohmann::json& input) {
  return AddBlock(config, input, "api");
}

Result<AdminCall> LiftBlockApi(const Config& config, const nlohmann::json& input) {
  return LiftBlock(config, input, "api");
}

}  // namespace policyd::ops
