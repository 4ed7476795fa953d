#include "policyctl/text_output.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/config_keys.h"
#include "core/log_text.h"
#include "core/report_page.h"

namespace policyd::admin {

std::string Cell(std::string_view value) {
  if (value.empty()) return "-";
  return Printable(value);
}

std::string RenderTable(const Row& header, const std::vector<Row>& rows) {
  std::vector<Row> all;
  all.reserve(rows.size() + 1);
  all.push_back(header);
  for (const Row& r : rows) {
    Row cells;
    for (std::size_t i = 0; i < header.size(); ++i) cells.push_back(Cell(i < r.size() ? r[i] : ""));
    all.push_back(std::move(cells));
  }
  std::vector<std::size_t> width(header.size(), 0);
  for (const Row& r : all) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const Row& r : all) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i + 1 == r.size()) {
        line += r[i];
      } else {
        line += fmt::format("{:<{}}  ", r[i], width[i]);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string RenderSection(const Row& header, const std::vector<Row>& rows) {
  return rows.empty() ? "(none)\n" : RenderTable(header, rows);
}

std::string AmountText(const std::string& metric, uint64_t amount) {
  return metric == "bytes" ? FormatSize(amount) : std::to_string(amount);
}

std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t width = 0;
  for (const auto& [name, value] : fields) width = std::max(width, name.size());
  std::string out;
  for (const auto& [name, value] : fields) {
    out += fmt::format("{:<{}}  {}\n", name, width, Cell(value));
  }
  return out;
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string TimeText(std::string_view epoch_ms) { return FormatUtc(epoch_ms); }

Row EvidenceCells(const std::string& raw, nlohmann::json* parsed) {
  *parsed = nlohmann::json::parse(raw, nullptr, false);
  if (!parsed->is_object()) {
    *parsed = raw;
    return {"", "", raw};
  }
  auto text = [&](const char* k) -> std::string {
    if (!parsed->contains(k)) return "";
    const nlohmann::json& v = (*parsed)[k];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number()) return fmt::format("{:.0f}", v.get<double>());
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  return {TimeText(text("at")), text("kind"), text("detail")};
}

std::string WaitText(uint64_t seconds) {
  if (seconds == 0) return "now";
  std::string out = "in";
  for (auto [unit, size] : {std::pair{"h", 3600}, {"m", 60}, {"s", 1}}) {
    uint64_t n = seconds / size;
    seconds %= size;
    if (n > 0) out += fmt::format(" {}{}", n, unit);
  }
  return out;
}

}  // namespace policyd::admin
