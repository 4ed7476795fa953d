#include "ops/block_ops.h"

#include <map>
#include <memory>
#include <optional>
#include <set>

#include "core/redis_keys.h"
#include "core/report_slot.h"
#include "core/report_token.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"
#include "store/cluster_scan.h"

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

// block list on a Redis Cluster: the blocks of every primary in one page (next_cursor "0"), as
// SCAN MATCH PREFIXblock:{* TYPE hash on each primary at once finds them (each key once), then
// each block's HGETALL on its own slot's primary. The same filter as block_list.lua.
void ListClusterBlocks(AdminBackend backend, const std::string& prefix, const std::string& reason,
                       uint64_t timeout_ms, AdminDone done) {
  struct Walk {
    std::set<std::string> keys;
    std::vector<RedisValue> blocks;
    std::size_t left = 0;
    std::optional<Error> error;
  };
  auto walk = std::make_shared<Walk>();
  ScanPrimaries(
      backend.cluster_client(), GlobEscape(prefix + "block:") + "{*", "hash", timeout_ms,
      [walk](const std::string& key) { walk->keys.insert(key); },
      [backend, walk, reason, timeout_ms, done = std::move(done)](bool ok) mutable {
        if (!ok) return done(Error{ErrorCode::kUnavailable, "block list: SCAN failed"});
        if (walk->keys.empty()) return done(BlocksJson({}, "0"));
        walk->left = walk->keys.size();
        for (const std::string& key : walk->keys) {
          backend.Command(key, {"HGETALL", key}, timeout_ms,
                          [walk, reason, done](Result<RedisValue> r) {
                            if (!r.ok() && !walk->error) walk->error = r.error();
                            if (r.ok() && !r->IsError() && !r->elements.empty() &&
                                (reason.empty() || HashJson(*r).value("reason", "") == reason)) {
                              walk->blocks.push_back(std::move(*r));
                            }
                            if (--walk->left > 0) return;
                            if (walk->error) return done(*walk->error);
                            done(BlocksJson(walk->blocks, "0"));
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
    if (c != "0") return FieldError("cursor", "on Redis Cluster the first page lists every block");
    call.run = [prefix = config.redis.key_prefix, reason](AdminBackend backend,
                                                          uint64_t timeout_ms, AdminDone done) {
      ListClusterBlocks(backend, prefix, reason, timeout_ms, std::move(done));
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
