#include "store/cluster_access.h"

#include <optional>
#include <utility>

#include "core/access_prefetch.h"
#include "core/cluster_slot.h"

namespace policyd {
namespace {

Error Unexpected(const std::string& what) {
  return {ErrorCode::kInternal, "access facts on a cluster: unexpected reply to " + what};
}

// An HGETALL or HMGET answer as strings (nullopt for a nil); nullopt when it is not an array.
std::optional<std::vector<std::optional<std::string>>> Strings(const RedisValue& v) {
  if (v.type != RedisValue::Type::kArray) return std::nullopt;
  std::vector<std::optional<std::string>> out;
  for (const RedisValue& e : v.elements) {
    if (e.type == RedisValue::Type::kNil) {
      out.emplace_back();
    } else {
      out.emplace_back(e.AsString());
    }
  }
  return out;
}

std::optional<std::vector<std::string>> Hash(const RedisValue& v) {
  auto s = Strings(v);
  if (!s || s->size() % 2 != 0) return std::nullopt;
  std::vector<std::string> out;
  for (auto& e : *s) {
    if (!e) return std::nullopt;
    out.push_back(std::move(*e));
  }
  return out;
}

}  // namespace

struct ClusterAccess::Fill {
  std::vector<std::string> args;  // access_eval's ARGV: decide's 1-31, then the records
  uint64_t deadline = 0;          // uv_now
  uint16_t slot = 0;              // where access_eval runs: the subject's primary
  std::string script;             // access_eval or access_decide
  Callback callback;
  std::vector<std::string> user_fields;
  void Fail(Error e) {
    Callback cb = std::move(callback);
    if (cb) cb(std::move(e));
  }
};

uint64_t ClusterAccess::Left(const Fill& fill) const {
  uint64_t now = uv_now(loop_);
  return now < fill.deadline ? fill.deadline - now : 0;
}

void ClusterAccess::Read(std::vector<std::string> decide_args, uint64_t timeout_ms,
                         Callback callback, std::string script) {
  auto fill = std::make_shared<Fill>();
  fill->script = std::move(script);
  fill->args = std::move(decide_args);
  fill->deadline = uv_now(loop_) + timeout_ms;
  fill->callback = std::move(callback);
  AccessReads reads = PlanAccessReads(fill->args);
  fill->slot = KeySlot(reads.block_keys.front());
  std::vector<std::vector<std::string>> commands;
  for (const std::string& k : reads.block_keys) commands.push_back({"HGETALL", k});
  if (!reads.user_key.empty()) commands.push_back({"HGETALL", reads.user_key});
  if (!reads.grants_key.empty()) {
    std::vector<std::string> argv{"SMISMEMBER", reads.grants_key};
    argv.insert(argv.end(), reads.grant_candidates.begin(), reads.grant_candidates.end());
    commands.push_back(std::move(argv));
  }
  Send(fill, std::move(commands), [this, fill, reads](std::vector<RedisValue> replies) {
    std::size_t i = 0;
    for (const std::string& k : reads.block_keys) {
      auto h = Hash(replies[i++]);
      if (!h) return fill->Fail(Unexpected("HGETALL " + k));
      AppendHashRecord(k, *h, &fill->args);
    }
    if (!reads.user_key.empty()) {
      auto h = Hash(replies[i++]);
      if (!h) return fill->Fail(Unexpected("HGETALL " + reads.user_key));
      AppendHashRecord(reads.user_key, *h, &fill->args);
      fill->user_fields = std::move(*h);
    }
    if (!reads.grants_key.empty()) {
      const RedisValue& v = replies[i++];
      if (v.type != RedisValue::Type::kArray ||
          v.elements.size() != reads.grant_candidates.size()) {
        return fill->Fail(Unexpected("SMISMEMBER " + reads.grants_key));
      }
      std::vector<bool> answers;
      for (const RedisValue& e : v.elements) answers.push_back(e.AsInt() == 1);
      AppendMembersRecord(reads.grants_key, reads.grant_candidates, answers, &fill->args);
    }
    ReadAccount(fill);
  });
}

void ClusterAccess::ReadOutcome(std::vector<std::string> decide_args, uint64_t timeout_ms,
                                std::function<void(Result<AccessOutcome>)> callback) {
  Read(
      std::move(decide_args), timeout_ms,
      [callback = std::move(callback)](Result<std::vector<std::string>> reply) {
        if (!reply.ok()) return callback(reply.error());
        std::optional<AccessOutcome> outcome = ParseAccessOutcome(*reply);
        if (!outcome) {
          return callback(Error{ErrorCode::kInternal, "access_decide: unexpected reply"});
        }
        callback(std::move(*outcome));
      },
      "access_decide");
}

void ClusterAccess::ReadAccount(std::shared_ptr<Fill> fill) {
  std::optional<AccountReads> reads = PlanAccountReads(fill->args, fill->user_fields);
  if (!reads) return Eval(fill);
  std::vector<std::vector<std::string>> commands{{"HGETALL", reads->account_key}};
  if (!reads->domains_key.empty()) {
    std::vector<std::string> argv{"HMGET", reads->domains_key};
    argv.insert(argv.end(), reads->domain_candidates.begin(), reads->domain_candidates.end());
    commands.push_back(std::move(argv));
  }
  Send(fill, std::move(commands), [this, fill, reads = *reads](std::vector<RedisValue> replies) {
    auto account = Hash(replies[0]);
    if (!account) return fill->Fail(Unexpected("HGETALL " + reads.account_key));
    AppendHashRecord(reads.account_key, *account, &fill->args);
    if (!reads.domains_key.empty()) {
      auto values = Strings(replies[1]);
      if (!values || values->size() != reads.domain_candidates.size()) {
        return fill->Fail(Unexpected("HMGET " + reads.domains_key));
      }
      AppendFieldsRecord(reads.domains_key, reads.domain_candidates, *values, &fill->args);
    }
    Eval(fill);
  });
}

void ClusterAccess::Eval(std::shared_ptr<Fill> fill) {
  uint64_t left = Left(*fill);
  if (left == 0) return fill->Fail({ErrorCode::kTimeout, "access facts on a cluster: timed out"});
  scripts_->RunKeyless(fill->script, fill->slot, std::move(fill->args), left,
                       [fill](Result<RedisValue> r) {
                         if (!r.ok()) return fill->Fail(r.error());
                         if (r->type != RedisValue::Type::kArray) {
                           return fill->Fail(Unexpected(fill->script));
                         }
                         std::vector<std::string> fields;
                         for (const RedisValue& v : r->elements) fields.push_back(v.AsString());
                         Callback cb = std::move(fill->callback);
                         cb(std::move(fields));
                       });
}

void ClusterAccess::Send(std::shared_ptr<Fill> fill,
                         std::vector<std::vector<std::string>> commands,
                         std::function<void(std::vector<RedisValue>)> then) {
  uint64_t left = Left(*fill);
  if (left == 0) return fill->Fail({ErrorCode::kTimeout, "access facts on a cluster: timed out"});
  struct Batch {
    std::vector<RedisValue> replies;
    std::optional<Error> error;
    std::size_t pending;
    std::function<void(std::vector<RedisValue>)> then;
  };
  auto batch = std::make_shared<Batch>();
  batch->replies.resize(commands.size());
  batch->pending = commands.size();  // before any send: a reply may come back at once
  batch->then = std::move(then);
  for (std::size_t i = 0; i < commands.size(); ++i) {
    uint16_t slot = KeySlot(commands[i][1]);
    cluster_->Command(slot, std::move(commands[i]), left,
                      [fill, batch, i](Result<RedisValue> r) {
                        if (!r.ok()) {
                          if (!batch->error) batch->error = r.error();
                        } else if (r->IsError()) {
                          if (!batch->error) batch->error = Error{ErrorCode::kInternal, r->str};
                        } else {
                          batch->replies[i] = std::move(*r);
                        }
                        if (--batch->pending > 0) return;
                        if (batch->error) return fill->Fail(std::move(*batch->error));
                        batch->then(std::move(batch->replies));
                      });
  }
}

}  // namespace policyd
