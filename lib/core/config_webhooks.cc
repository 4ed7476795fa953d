// [[webhooks.endpoints]] tables: a list of endpoints, so parsed here instead of through the
// key table (like [plans.NAME] in config_plans.cc). Everything an operator can get wrong is
// reported at --check-config, with the endpoint's index and the field.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "core/config_parse.h"
#include "core/http_client_wire.h"
#include "core/webhook_event.h"

namespace policyd {
namespace {

constexpr size_t kMaxEndpoints = 16;

bool ValidEndpointName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

std::string EventNames() {
  std::vector<std::string> names;
  for (std::string_view t : WebhookEventTypes()) names.push_back(fmt::format("\"{}\"", t));
  return fmt::format("\"*\" or {}", fmt::join(names, ", "));
}

// The endpoint at `key` ("webhooks.endpoints[0]"); false when it has a problem.
bool ParseEndpoint(const toml::table& table, toml::source_position where, const std::string& key,
                   ConfigDiagnostics& diag, WebhookEndpoint* out) {
  static const std::vector<std::string> kFields = {"name", "url", "secret", "events"};
  bool ok = true;
  for (auto&& [field, value] : table) {
    std::string field_key = fmt::format("{}.{}", key, field.str());
    toml::source_position at = PositionOf(value, where);
    std::string problem;
    if (field == "events") {
      const auto* array = value.as_array();
      if (!array || array->empty()) {
        problem = fmt::format("expected a non-empty list of event types: {}", EventNames());
      } else {
        for (const toml::node& item : *array) {
          const auto* text = item.as_string();
          std::string type = text ? text->get() : "";
          bool known = type == "*";
          for (std::string_view t : WebhookEventTypes()) known = known || t == type;
          if (!known) {
            problem =
                fmt::format("{} is not an event type, expected {}",
                            text ? fmt::format("\"{}\"", type) : TomlTypeName(item), EventNames());
            break;
          }
          out->events.push_back(type);
        }
      }
    } else if (field == "name" || field == "url" || field == "secret") {
      const auto* text = value.as_string();
      if (!text) {
        problem = fmt::format("expected a string, got {}", TomlTypeName(value));
      } else if (field == "name") {
        out->name = text->get();
        if (!ValidEndpointName(out->name)) problem = "bad name, expected 1 to 64 of a-z 0-9 _ -";
      } else if (field == "url") {
        out->url = text->get();
        if (Result<HttpUrl> url = ParseHttpUrl(out->url); !url) problem = url.error().message;
      } else {
        out->secret = text->get();
        if (out->secret.size() < 16) problem = "too short, expected at least 16 characters";
      }
    } else {
      problem = UnknownName("key", field.str(), kFields);
    }
    if (!problem.empty()) {
      diag.Add(at, field_key, problem);
      ok = false;
    }
  }
  for (const std::string& field : kFields) {
    if (!table.contains(field)) {
      diag.Add(
          where, key,
          fmt::format("missing '{}', every endpoint needs name, url, secret and events", field));
      ok = false;
    }
  }
  return ok;
}

}  // namespace

void ParseWebhookEndpoints(const toml::node& node, ConfigDiagnostics& diag,
                           std::vector<WebhookEndpoint>* endpoints) {
  const auto* array = node.as_array();
  if (!array) {
    diag.Add(node.source().begin, "webhooks.endpoints",
             fmt::format("expected [[webhooks.endpoints]] tables, got {}", TomlTypeName(node)));
    return;
  }
  if (array->size() > kMaxEndpoints) {
    diag.Add(node.source().begin, "webhooks.endpoints",
             fmt::format("{} endpoints, expected at most {}", array->size(), kMaxEndpoints));
    return;
  }
  std::set<std::string> names;
  for (size_t i = 0; i < array->size(); ++i) {
    std::string key = fmt::format("webhooks.endpoints[{}]", i);
    const toml::node& item = *array->get(i);
    toml::source_position where = PositionOf(item, node.source().begin);
    const auto* table = item.as_table();
    if (!table) {
      diag.Add(where, key,
               fmt::format("expected a [[webhooks.endpoints]] table, got {}", TomlTypeName(item)));
      continue;
    }
    WebhookEndpoint endpoint;
    if (!ParseEndpoint(*table, where, key, diag, &endpoint)) continue;
    if (!names.insert(endpoint.name).second) {
      diag.Add(where, key + ".name",
               fmt::format("'{}' names two endpoints, expected each name once", endpoint.name));
      continue;
    }
    endpoints->push_back(std::move(endpoint));
  }
}

std::vector<uint64_t> WebhooksConfig::RetryDelaysMs() const {
  std::vector<uint64_t> out;
  for (const std::string& d : retry_delays) {
    if (Result<uint64_t> ms = ParseDuration(d)) out.push_back(*ms);
  }
  return out;
}

}  // namespace policyd
