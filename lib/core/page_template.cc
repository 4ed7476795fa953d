#include "core/page_template.h"

#include <algorithm>
#include <cstdint>

#include "core/embedded_templates.h"
#include "core/report_page.h"
#include "core/utf8.h"

namespace policyd {
namespace {

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; }

// One {{...}} tag: its sigil ('\0', '#', '^' or '/'), its name and where it ends.
struct Tag {
  char sigil = 0;
  std::string_view name;
  std::size_t begin = 0, end = 0;  // [begin, end) covers the braces
  bool ok = false;
};

Tag ReadTag(std::string_view text, std::size_t begin) {
  Tag t;
  t.begin = begin;
  std::size_t close = text.find("}}", begin + 2);
  if (close == std::string_view::npos) return t;
  t.end = close + 2;
  std::string_view inner = text.substr(begin + 2, close - begin - 2);
  if (!inner.empty() && (inner[0] == '#' || inner[0] == '^' || inner[0] == '/')) {
    t.sigil = inner[0];
    inner.remove_prefix(1);
  }
  t.name = inner;
  t.ok = !inner.empty() && std::all_of(inner.begin(), inner.end(), IsNameChar);
  return t;
}

// The {{/name}} that closes the section opened by a tag ending at from; npos when none.
// Sections of the same name may nest: depth counts them.
std::size_t FindClose(std::string_view text, std::size_t from, std::string_view name, Tag* close) {
  int depth = 0;
  for (std::size_t at = text.find("{{", from); at != std::string_view::npos;
       at = text.find("{{", at + 2)) {
    Tag t = ReadTag(text, at);
    if (!t.ok || t.name != name) continue;
    if (t.sigil == '#' || t.sigil == '^') ++depth;
    if (t.sigil == '/' && depth-- == 0) {
      *close = t;
      return at;
    }
  }
  return std::string_view::npos;
}

// Renders text into out, or (errors != nullptr) only collects syntax errors.
void Render(std::string_view text, const TemplateValues& values, std::string* out,
            std::string* errors) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t at = text.find("{{", pos);
    if (out) out->append(text.substr(pos, at == std::string_view::npos ? text.npos : at - pos));
    if (at == std::string_view::npos) return;
    Tag t = ReadTag(text, at);
    if (!t.ok) {
      if (errors) *errors += "malformed tag at offset " + std::to_string(at) + "; ";
      if (t.end == 0) return;  // no closing braces: the rest is left out
      pos = t.end;
      continue;
    }
    if (t.sigil == '/') {
      if (errors) *errors += "{{/" + std::string(t.name) + "}} without an opening tag; ";
      pos = t.end;
      continue;
    }
    if (t.sigil == 0) {
      const std::string* v = values.Find(t.name);
      if (out && v) out->append(*v);
      pos = t.end;
      continue;
    }
    Tag close;
    std::size_t close_at = FindClose(text, t.end, t.name, &close);
    if (close_at == std::string_view::npos) {
      if (errors) *errors += "section " + std::string(t.name) + " is not closed; ";
      return;
    }
    std::string_view body = text.substr(t.end, close_at - t.end);
    const std::string* v = values.Find(t.name);
    bool set = v && !v->empty();
    if (errors) {
      Render(body, values, nullptr, errors);
    } else if (set == (t.sigil == '#')) {
      Render(body, values, out, nullptr);
    }
    pos = close.end;
  }
}

bool IsHiddenControl(uint32_t cp) {
  return cp < 0xa0 || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

std::string EscapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\n') {  // a customer's line breaks (review text, shown pre-wrapped)
      out += '\n';
      ++i;
      continue;
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      out += HtmlEscape(text.substr(i, 1));
      ++i;
      continue;
    }
    uint32_t cp = 0;
    std::size_t len = Utf8Sequence(text, i, &cp);
    if (len == 0) {
      out += '?';
      ++i;
    } else {
      out.append(IsHiddenControl(cp) ? std::string(len, '?') : std::string(text.substr(i, len)));
      i += len;
    }
  }
  return out;
}

bool IsSafePageUrl(std::string_view url, bool allow_mailto) {
  std::size_t rest = 0;
  if (url.starts_with("https://")) {
    rest = 8;
  } else if (url.starts_with("http://")) {
    rest = 7;
  } else if (allow_mailto && url.starts_with("mailto:")) {
    rest = 7;
  } else {
    return false;
  }
  if (url.size() == rest || url.size() > 2000) return false;
  return std::all_of(url.begin(), url.end(), [](char c) {
    return c > ' ' && c <= '~' && c != '"' && c != '\'' && c != '<' && c != '>' && c != '\\' &&
           c != '`';
  });
}

std::string UrlOrigin(std::string_view url) {
  if (!IsSafePageUrl(url)) return "";
  std::size_t host = url.find("://") + 3;
  std::size_t end = std::min(url.find_first_of("/?#", host), url.size());
  std::string_view origin_host = url.substr(host, end - host);
  bool plain = !origin_host.empty() &&
               std::all_of(origin_host.begin(), origin_host.end(), [](char c) {
                 return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
               });
  return plain ? std::string(url.substr(0, end)) : "";
}

TemplateValues& TemplateValues::Text(std::string name, std::string_view text) {
  html_[std::move(name)] = EscapeText(text);
  return *this;
}

TemplateValues& TemplateValues::Html(std::string name, Markup html) {
  html_[std::move(name)] = std::move(html.html_);
  return *this;
}

TemplateValues& TemplateValues::Url(std::string name, std::string_view url, bool allow_mailto) {
  if (IsSafePageUrl(url, allow_mailto)) {
    html_[std::move(name)] = HtmlEscape(url);
  } else {
    html_.erase(name);
  }
  return *this;
}

TemplateValues& TemplateValues::Flag(std::string name, bool on) {
  if (on) {
    html_[std::move(name)] = "1";
  } else {
    html_.erase(name);
  }
  return *this;
}

TemplateValues& TemplateValues::HtmlList(std::string name, const std::vector<Markup>& parts) {
  std::string all;
  for (const Markup& m : parts) all += m.str();
  html_[std::move(name)] = std::move(all);
  return *this;
}

const std::string* TemplateValues::Find(std::string_view name) const {
  auto it = html_.find(name);
  return it == html_.end() ? nullptr : &it->second;
}

Markup RenderTemplate(std::string_view text, const TemplateValues& values) {
  std::string out;
  out.reserve(text.size() + 256);
  Render(text, values, &out, nullptr);
  return Markup(std::move(out));
}

std::string TemplateErrors(std::string_view text) {
  std::string errors;
  Render(text, TemplateValues(), nullptr, &errors);
  return errors;
}

std::string_view PageTemplate(std::string_view name) {
  for (std::size_t i = 0; i < kEmbeddedTemplateCount; ++i) {
    if (kEmbeddedTemplates[i].name == name) return kEmbeddedTemplates[i].body;
  }
  return {};
}

std::vector<std::string_view> PageTemplateNames() {
  std::vector<std::string_view> names;
  for (std::size_t i = 0; i < kEmbeddedTemplateCount; ++i) names.push_back(kEmbeddedTemplates[i].name);
  return names;
}

Markup RenderPage(std::string_view name, const TemplateValues& values) {
  return RenderTemplate(PageTemplate(name), values);
}

}  // namespace policyd
