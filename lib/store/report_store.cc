#include "store/report_store.h"

#include <algorithm>

#include "core/decide_args.h"
#include "core/redis_keys.h"
#include "core/report_slot.h"
#include "core/report_token.h"

namespace policyd {
namespace {

// Transport errors and script errors alike become an Error for the caller.
Result<RedisValue> Checked(Result<RedisValue> r) {
  if (!r.ok()) return r.error();
  if (r->IsError()) return Error{ErrorCode::kInternal, r->str};
  return r;
}

}  // namespace

void CountRateOutcome(const SignalOutcome& outcome, const std::string& kind, Metrics* metrics) {
  if (outcome.outcome == "warned") ++metrics->rate_warnings[kind];
  if (outcome.outcome == "duplicate") ++metrics->duplicate_feedback[kind];
}

void ReportStore::Get(const Config& config, const std::string& id,
                      std::function<void(Result<std::optional<Report>>)> callback) {
  client_->Command({"HGETALL", config.redis.key_prefix + ReportKeyName(id)},
                   config.server.request_timeout_ms,
                   [id, callback = std::move(callback)](Result<RedisValue> reply) {
                     Result<RedisValue> r = Checked(std::move(reply));
                     if (!r.ok()) return callback(r.error());
                     if (r->elements.empty()) return callback(std::optional<Report>());
                     std::vector<std::string> flat;
                     for (const RedisValue& v : r->elements) flat.push_back(v.AsString());
                     callback(std::optional<Report>(MakeReport(id, flat)));
                   });
}

void ReportStore::ListReviews(const Config& config, std::size_t max,
                              std::function<void(Result<std::vector<Report>>)> callback) {
  if (max == 0) return callback(std::vector<Report>());
  uint64_t timeout = config.server.request_timeout_ms;
  auto snapshot = std::make_shared<const Config>(config);  // used again when the ids arrive
  client_->Command(
      {"LRANGE", config.redis.key_prefix + "reviews", "0", std::to_string(max - 1)}, timeout,
      [this, snapshot, callback = std::move(callback)](Result<RedisValue> reply) {
        Result<RedisValue> r = Checked(std::move(reply));
        if (!r.ok()) return callback(r.error());
        struct Pending {
          std::vector<std::optional<Report>> reports;
          std::size_t left = 0;
          std::optional<Error> error;
        };
        auto pending = std::make_shared<Pending>();
        pending->reports.resize(r->elements.size());
        pending->left = r->elements.size();
        if (pending->left == 0) return callback(std::vector<Report>());
        // One HGETALL per report, all in flight at once; the last reply assembles the list.
        for (std::size_t i = 0; i < r->elements.size(); ++i) {
          Get(*snapshot, r->elements[i].AsString(),
              [pending, i, callback](Result<std::optional<Report>> report) {
                if (report.ok()) {
                  pending->reports[i] = std::move(*report);
                } else if (!pending->error) {
                  pending->error = report.error();
                }
                if (--pending->left > 0) return;
                if (pending->error) return callback(*pending->error);
                std::vector<Report> out;
                for (auto& rep : pending->reports) {
                  if (rep) out.push_back(std::move(*rep));
                }
                callback(std::move(out));
              });
        }
      });
}

void ReportStore::RequestReview(const Config& config, const std::string& id,
                                const std::string& text,
                                std::function<void(Result<std::string>)> callback) {
  scripts_->Run("review", {config.redis.key_prefix, "0", id, text},
                config.server.request_timeout_ms,
                [callback = std::move(callback)](Result<RedisValue> reply) {
                  Result<RedisValue> r = std::move(reply);  // error replies are Errors
                  if (!r.ok()) return callback(r.error());
                  callback(r->AsString());
                });
}

void ReportStore::GetAclToday(const Config& config, const Report& report,
                              std::function<void(Result<AclToday>)> callback) {
  auto field = [&](const char* name) {
    auto it = report.fields.find(name);
    return it == report.fields.end() ? std::string() : it->second;
  };
  std::string account = field("account"), subject = field("subject");
  if (field("kind") != "acl" || !IsValidAccountName(account) || !subject.starts_with("user:")) {
    return callback(AclToday());
  }
  // subject is the tag decide.lua wrote (already escaped, core/redis_keys.h).
  const std::string& prefix = config.redis.key_prefix;
  uint64_t timeout = config.server.request_timeout_ms;
  client_->Command(
      {"HGETALL", BuildKey(prefix, "domains", "account:" + account)}, timeout,
      [this, prefix, subject, timeout, callback = std::move(callback)](Result<RedisValue> reply) {
        Result<RedisValue> r = Checked(std::move(reply));
        if (!r.ok()) return callback(r.error());
        auto today = std::make_shared<AclToday>();
        for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
          today->account_domains[r->elements[i].AsString()] = r->elements[i + 1].AsString();
        }
        client_->Command({"SMEMBERS", BuildKey(prefix, "grants", subject)}, timeout,
                         [today, callback](Result<RedisValue> reply) {
                           Result<RedisValue> g = Checked(std::move(reply));
                           if (!g.ok()) return callback(g.error());
                           for (const RedisValue& v : g->elements) {
                             today->grants.push_back(v.AsString());
                           }
                           callback(std::move(*today));
                         });
      });
}

void ReportStore::IngestSignals(const Config& config, const std::vector<Signal>& signals,
                                const std::string& source,
                                std::function<void(Result<std::vector<SignalOutcome>>)> callback) {
  AbuseSpecs specs = AbuseSpec(config);
  std::vector<std::string> args = {config.redis.key_prefix, "0", specs.escalation, specs.score,
                                   std::to_string(config.report.ttl_ms), source, specs.rates};
  for (const Signal& s : signals) {
    args.insert(args.end(), {s.tag, s.kind, s.evidence, NewReportId(), s.feedback_id});
  }
  // A batch of 1,000 is one script call; give it more than one request's time.
  scripts_->Run("signal", std::move(args), config.server.request_timeout_ms * 5,
                [callback = std::move(callback)](Result<RedisValue> reply) {
                  Result<RedisValue> r = std::move(reply);  // error replies are Errors
                  if (!r.ok()) return callback(r.error());
                  std::vector<SignalOutcome> out;
                  for (const RedisValue& e : r->elements) {
                    if (e.elements.size() == 4) {
                      out.push_back({e.elements[0].AsString(), e.elements[1].AsString(),
                                     e.elements[2].AsString(), e.elements[3].AsString()});
                    }
                  }
                  callback(std::move(out));
                });
}

void ReportStore::AccountRates(
    const Config& config, uint64_t timeout_ms,
    std::function<void(Result<std::vector<AccountRateRow>>)> callback) {
  scripts_->Run(
      "account_rates",
      {config.redis.key_prefix, "0", AbuseSpec(config).rates, std::to_string(kMaxRatedAccounts)},
      timeout_ms, [callback = std::move(callback)](Result<RedisValue> reply) {
        Result<RedisValue> r = std::move(reply);  // error replies are Errors
        if (!r.ok()) return callback(r.error());
        std::vector<AccountRateRow> rows;
        for (const RedisValue& e : r->elements) {
          if (e.elements.size() != 4) continue;
          auto count = [&](int i) {
            return static_cast<uint64_t>(std::max<int64_t>(0, e.elements[i].AsInt()));
          };
          rows.push_back({e.elements[0].AsString(), count(1), count(2), count(3)});
        }
        callback(std::move(rows));
      });
}

void ReportStore::Ping(uint64_t timeout_ms, std::function<void(bool)> callback) {
  client_->Command({"PING"}, timeout_ms, [callback = std::move(callback)](Result<RedisValue> r) {
    callback(r.ok() && !r->IsError());
  });
}

}  // namespace policyd
