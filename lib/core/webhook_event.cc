#include "core/webhook_event.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/report_token.h"

namespace policyd {
namespace {

// redis_keys.cc's EscapeKeyName backwards: "%XX" -> the byte; a malformed escape stays as is.
std::string UnescapeTag(std::string_view tag) {
  std::string out;
  for (size_t i = 0; i < tag.size(); ++i) {
    unsigned value = 0;
    if (tag[i] == '%' && i + 2 < tag.size()) {
      auto [end, ec] = std::from_chars(tag.data() + i + 1, tag.data() + i + 3, value, 16);
      if (ec == std::errc{} && end == tag.data() + i + 3) {
        out += static_cast<char>(value);
        i += 2;
        continue;
      }
    }
    out += tag[i];
  }
  return out;
}

// RFC 3339 UTC with milliseconds: "2026-11-30T13:00:00.123Z".
std::string Rfc3339(uint64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

}  // namespace

const std::vector<std::string_view>& WebhookEventTypes() {
  static const std::vector<std::string_view> types = {
      "block.created", "block.lifted", "block.expired",   "review.requested",
      "quota.warning", "rate.warning", "throttle.started"};
  return types;
}

bool EndpointWantsEvent(const std::vector<std::string>& events, std::string_view type) {
  return std::any_of(events.begin(), events.end(),
                     [type](const std::string& e) { return e == "*" || e == type; });
}

Result<WebhookEvent> EventFromStreamEntry(
    std::string id, const std::vector<std::pair<std::string, std::string>>& fields) {
  WebhookEvent e;
  e.id = std::move(id);
  for (const auto& [name, value] : fields) {
    if (name == "type") {
      e.type = value;
    } else if (name == "subject") {
      e.subject = value;
    } else if (name == "time") {
      std::from_chars(value.data(), value.data() + value.size(), e.time_ms);
    } else if (name == "data") {
      e.data_json = value;
    } else if (name == "outbox") {
      e.outbox = value;
    }
  }
  if (e.type.empty()) return Invalid(fmt::format("event {} has no type", e.id));
  return e;
}

std::string WebhookBody(const WebhookEvent& event, std::string_view report_base_url,
                        std::string_view report_secret) {
  nlohmann::json data = nlohmann::json::parse(event.data_json, nullptr, false);
  // cjson encodes an empty Lua table as {}; anything but an object is not ours.
  if (!data.is_object()) data = nlohmann::json::object();
  auto report = data.find("report");
  if (report != data.end() && report->is_string() && IsValidReportId(report->get<std::string>()) &&
      !report_secret.empty()) {
    data["report_url"] = ReportUrl(report_base_url, report_secret, report->get<std::string>());
  }
  nlohmann::json body = {{"id", event.public_id()},
                         {"type", event.type},
                         {"time", Rfc3339(event.time_ms)},
                         {"subject", UnescapeTag(event.subject)},
                         {"data", std::move(data)}};
  // Invalid UTF-8 (a hostile name) is replaced, never a throw.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace policyd
