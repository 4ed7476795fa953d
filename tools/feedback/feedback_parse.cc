#include "feedback/feedback_parse.h"

#include <fmt/format.h>
#include <gmime/gmime.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace policyd::feedback {
namespace {

constexpr std::size_t kMaxBlocks = 2000;
constexpr std::size_t kMaxFieldsPerBlock = 200;
constexpr std::size_t kMaxValueBytes = 1000;
constexpr int kMaxDepth = 8;

struct Unref {
  void operator()(void* p) const {
    if (p) g_object_unref(p);
  }
};
template <typename T>
using Ref = std::unique_ptr<T, Unref>;

void InitGMime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Values go to logs and evidence: printable ASCII only, bounded.
std::string Clean(std::string_view s, std::size_t max = kMaxValueBytes) {
  std::string out;
  for (char c : Trim(s)) {
    if (out.size() >= max) break;
    out += (c >= ' ' && c <= '~') ? c : '?';
  }
  return out;
}

std::string Field(const FieldBlock& block, std::string_view name) {
  for (const auto& [n, v] : block) {
    if (n == name) return v;
  }
  return "";
}

bool IsType(GMimeObject* obj, const char* type, const char* subtype) {
  GMimeContentType* ct = g_mime_object_get_content_type(obj);
  return ct && g_mime_content_type_is_type(ct, type, subtype);
}

// A leaf part's content, transfer encoding (base64, quoted-printable) undone.
std::string PartBytes(GMimeObject* obj) {
  if (!GMIME_IS_PART(obj)) return "";
  GMimeDataWrapper* content = g_mime_part_get_content(GMIME_PART(obj));
  if (!content) return "";
  Ref<GMimeStream> mem(g_mime_stream_mem_new());
  g_mime_data_wrapper_write_to_stream(content, mem.get());
  GByteArray* bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem.get()));
  return bytes ? std::string(reinterpret_cast<const char*>(bytes->data), bytes->len) : "";
}

Ref<GMimeMessage> ParseMessage(std::string_view bytes) {
  Ref<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
  Ref<GMimeParser> parser(g_mime_parser_new_with_stream(stream.get()));
  return Ref<GMimeMessage>(g_mime_parser_construct_message(parser.get(), nullptr));
}

// The stamp and Message-ID of the original message quoted by a report: a message/rfc822 part
// (whole message or headers only) or a text/rfc822-headers part.
void ReadOriginal(GMimeObject* part, std::string_view stamp_header, FeedbackReport* out) {
  Ref<GMimeMessage> parsed;
  GMimeMessage* original = nullptr;
  if (GMIME_IS_MESSAGE_PART(part)) {
    original = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
  } else if (IsType(part, "text", "rfc822-headers")) {
    parsed = ParseMessage(PartBytes(part) + "\n\n");
    original = parsed.get();
  }
  if (!original) return;
  std::string name(stamp_header);
  // The topmost one only: policyd's PREPEND puts its stamp above every header the sender
  // wrote, so a copied stamp lower down never credits its original sender.
  const char* stamp = g_mime_object_get_header(GMIME_OBJECT(original), name.c_str());
  if (stamp) out->stamp = Clean(stamp);
  const char* id = g_mime_message_get_message_id(original);
  if (id) out->original_id = Clean(id, 200);
}

void ReadArf(GMimeMultipart* report, std::string_view stamp_header, FeedbackReport* out) {
  bool saw_fields = false;
  for (int i = 0; i < g_mime_multipart_get_count(report); ++i) {
    GMimeObject* part = g_mime_multipart_get_part(report, i);
    if (IsType(part, "message", "feedback-report")) {
      std::vector<FieldBlock> blocks = ParseFieldBlocks(PartBytes(part));
      if (blocks.empty()) continue;
      saw_fields = true;
      out->feedback_type = Lower(Clean(Field(blocks[0], "feedback-type"), 64));
      out->original_rcpt = Clean(Field(blocks[0], "original-rcpt-to"), 320);
      out->reporter = Clean(Field(blocks[0], "reporting-mta"), 200);
      if (out->reporter.empty()) out->reporter = Clean(Field(blocks[0], "user-agent"), 200);
    } else if (i > 0) {
      ReadOriginal(part, stamp_header, out);
    }
  }
  if (!saw_fields) {
    out->why = "feedback report without a message/feedback-report part";
    return;
  }
  out->kind = FeedbackKind::kComplaint;
  out->why = fmt::format("ARF {} report from {}", out->feedback_type.empty() ? "(no type)"
                                                                               : out->feedback_type,
                         out->reporter.empty() ? "(unknown)" : out->reporter);
}

void ReadDsn(GMimeMultipart* report, std::string_view stamp_header, FeedbackReport* out) {
  bool saw_fields = false;
  for (int i = 0; i < g_mime_multipart_get_count(report); ++i) {
    GMimeObject* part = g_mime_multipart_get_part(report, i);
    if (IsType(part, "message", "delivery-status") ||
        IsType(part, "message", "global-delivery-status")) {
      std::vector<FieldBlock> blocks = ParseFieldBlocks(PartBytes(part));
      if (blocks.empty()) continue;
      saw_fields = true;
      out->reporter = Clean(AddressOfTypedField(Field(blocks[0], "reporting-mta")), 200);
      for (std::size_t b = 1; b < blocks.size(); ++b) {
        std::string action = Lower(Trim(Field(blocks[b], "action")));
        std::string status(Trim(Field(blocks[b], "status")));
        std::string rcpt = AddressOfTypedField(Field(blocks[b], "final-recipient"));
        if (rcpt.empty()) rcpt = AddressOfTypedField(Field(blocks[b], "original-recipient"));
        if (rcpt.empty()) continue;  // not a per-recipient block
        // A hard bounce: failed, with a permanent (5.x.x) status. 4.x.x counts nothing.
        if (action == "failed" && status.size() >= 5 && status[0] == '5' && status[1] == '.') {
          if (out->hard.size() < kMaxRecipientsPerReport) {
            out->hard.push_back({Clean(rcpt, 320), Clean(status, 16),
                                 Clean(Field(blocks[b], "diagnostic-code"), 300)});
          }
        } else {
          ++out->soft;
        }
      }
    } else if (i > 0) {
      ReadOriginal(part, stamp_header, out);
    }
  }
  if (!saw_fields) {
    out->why = "delivery report without a message/delivery-status part";
    return;
  }
  out->kind = FeedbackKind::kBounce;
  out->why = fmt::format("DSN from {}: {} permanent, {} other",
                         out->reporter.empty() ? "(unknown)" : out->reporter, out->hard.size(),
                         out->soft);
}

// The first multipart/report in the tree (a forwarder may wrap it in another multipart).
GMimeMultipart* FindReport(GMimeObject* obj, int depth) {
  if (!obj || depth > kMaxDepth || !GMIME_IS_MULTIPART(obj)) return nullptr;
  if (IsType(obj, "multipart", "report")) return GMIME_MULTIPART(obj);
  GMimeMultipart* mp = GMIME_MULTIPART(obj);
  for (int i = 0; i < g_mime_multipart_get_count(mp); ++i) {
    if (GMimeMultipart* r = FindReport(g_mime_multipart_get_part(mp, i), depth + 1)) return r;
  }
  return nullptr;
}

}  // namespace

std::vector<FieldBlock> ParseFieldBlocks(std::string_view text) {
  std::vector<FieldBlock> blocks;
  FieldBlock current;
  auto flush = [&] {
    if (!current.empty() && blocks.size() < kMaxBlocks) blocks.push_back(std::move(current));
    current.clear();
  };
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Trim(line).empty()) {
      flush();
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      // A continuation; with no field before it in this block, nothing it could continue.
      if (current.empty()) continue;
      std::string& v = current.back().second;
      if (v.size() < kMaxValueBytes) v += " " + std::string(Trim(line));
      continue;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // not a field: skipped
    std::string_view name = Trim(line.substr(0, colon));
    if (name.empty()) continue;  // ":value" is no field either
    if (current.size() < kMaxFieldsPerBlock) {
      current.emplace_back(Lower(name),
                           std::string(Trim(line.substr(colon + 1)).substr(0, kMaxValueBytes)));
    }
  }
  flush();
  return blocks;
}

std::string AddressOfTypedField(std::string_view value) {
  std::size_t semi = value.find(';');
  std::string_view addr = Trim(semi == std::string_view::npos ? value : value.substr(semi + 1));
  if (addr.size() >= 2 && addr.front() == '<' && addr.back() == '>') {
    addr = addr.substr(1, addr.size() - 2);
  }
  return std::string(Trim(addr));
}

FeedbackReport ParseFeedback(std::string_view message, std::string_view stamp_header) {
  FeedbackReport out;
  if (message.size() > kMaxFeedbackMessageBytes) {
    out.why = fmt::format("message larger than {} bytes", kMaxFeedbackMessageBytes);
    return out;
  }
  InitGMime();
  Ref<GMimeMessage> msg = ParseMessage(message);
  if (!msg) {
    out.why = "not a MIME message";
    return out;
  }
  if (const char* id = g_mime_message_get_message_id(msg.get())) out.report_id = Clean(id, 200);
  GMimeMultipart* report = FindReport(g_mime_message_get_mime_part(msg.get()), 0);
  if (!report) {
    out.why = "not a multipart/report (neither an ARF report nor a DSN)";
    return out;
  }
  GMimeContentType* ct = g_mime_object_get_content_type(GMIME_OBJECT(report));
  const char* type = ct ? g_mime_content_type_get_parameter(ct, "report-type") : nullptr;
  std::string report_type = Lower(type ? type : "");
  if (report_type == "feedback-report") {
    ReadArf(report, stamp_header, &out);
  } else if (report_type == "delivery-status") {
    ReadDsn(report, stamp_header, &out);
  } else {
    out.why = fmt::format("multipart/report of type '{}'", Clean(report_type, 64));
  }
  return out;
}

}  // namespace policyd::feedback
