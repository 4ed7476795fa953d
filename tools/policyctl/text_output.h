// How policyctl prints records: aligned tables and "name  value" blocks for people, JSON for
// scripts (--json). Pure. Values come from Redis and ultimately from mail (user names,
// evidence), so human output passes every cell through Printable(): a hostile value can
// neither break a table's lines nor send escape sequences to the operator's terminal.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace policyd::admin {

using Row = std::vector<std::string>;

// Columns padded to their widest cell (header included), two spaces apart, no trailing
// spaces, one line per row. Rows shorter than the header are padded with "".
std::string RenderTable(const Row& header, const std::vector<Row>& rows);

// RenderTable, or "(none)" when there are no rows: for sections of a show verb.
std::string RenderSection(const Row& header, const std::vector<Row>& rows);

// A limit's maximum or count for people: sizes such as "2GiB" for the bytes metric.
std::string AmountText(const std::string& metric, uint64_t amount);

// "name  value" lines with names padded to the longest; an empty value prints "-".
std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields);

// A cell as printed: Printable(value); "-" for an empty value.
std::string Cell(std::string_view value);

// JSON text for --json: two-space indent, bytes that are not UTF-8 replaced (a value from
// Redis may hold any bytes; nlohmann would otherwise throw), one trailing newline.
std::string DumpJson(const nlohmann::json& value);

// "2026-11-23 00:54:58 UTC" for milliseconds since the epoch as stored; "" stays "".
std::string TimeText(std::string_view epoch_ms);

// An evidence entry as the scripts store it (JSON: at, kind, detail, ...) as table cells
// {time, kind, detail}; *parsed gets the entry as JSON (the raw string if it is not JSON).
Row EvidenceCells(const std::string& raw, nlohmann::json* parsed);

// "in 42s", "in 1h 2m 5s" for a number of seconds; "now" for 0.
std::string WaitText(uint64_t seconds);

}  // namespace policyd::admin
