// Report ids and their auth tokens (DESIGN §4). An id is 20 random lowercase hex characters;
// its auth is HMAC-SHA256(secret, id), first 16 bytes, shown UUID-shaped
// (8-4-4-4-12 hex). Only someone given the URL can open a report; ids alone reveal nothing.
#pragma once

#include <string>
#include <string_view>

namespace policyd {

// 20 lowercase hex characters from OpenSSL's CSPRNG.
std::string NewReportId();

// On Redis Cluster: "<slot-tag>.<20 hex>", whose key (ReportKeyName) shares the slot of the
// subject whose keys have hash tag `subject_tag` ("user:alice"); see core/report_slot.h.
std::string NewReportId(std::string_view subject_tag);

// 20 lowercase hex characters, optionally after a slot-tag of 1 to 4 of [0-9a-z] and a '.'.

bool IsValidReportId(std::string_view id);

std::string ReportAuth(std::string_view secret, std::string_view id);

// Constant-time comparison of auth against ReportAuth(secret, id); false for a malformed id.
bool VerifyReportAuth(std::string_view secret, std::string_view id, std::string_view auth);

// base_url + "?id=" + id + "&auth=" + ReportAuth(secret, id)
std::string ReportUrl(std::string_view base_url, std::string_view secret, std::string_view id);

}  // namespace policyd
