// A tiny template language for the customer-facing pages (report page, DESIGN §4), so that
// their words live in lib/core/templates/*.html and not in C++. Syntax:
//   {{name}}               the value called name ("" when unset)
//   {{#name}}...{{/name}}  the body when name is set to something non-empty
//   {{^name}}...{{/name}}  the body when it is not
// Sections nest. Every value is HTML-escaped when it is substituted, unless it is Markup: HTML
// that RenderTemplate itself produced (a sub-template rendered with its own escaped values),
// or a URL that passed IsSafePageUrl. The type decides, not the template, so a template
// cannot forget to escape, and no text from Redis or a customer reaches a page raw.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace policyd {

class TemplateValues;

// HTML that is safe to insert as is: only RenderTemplate makes one.
class Markup {
 public:
  Markup() = default;
  const std::string& str() const { return html_; }
  bool empty() const { return html_.empty(); }

 private:
  friend Markup RenderTemplate(std::string_view, const TemplateValues&);
  friend class TemplateValues;
  explicit Markup(std::string html) : html_(std::move(html)) {}
  std::string html_;
};

// http://, https:// (and mailto: when allow_mailto) followed by printable ASCII without
// spaces, quotes, angle brackets or backslashes: safe inside a quoted attribute once escaped.
bool IsSafePageUrl(std::string_view url, bool allow_mailto = false);

// "https://host[:port]" of a safe http(s) URL whose host is only letters, digits, '.', '-',
// ':', '[' and ']' (the logo's origin for the page's Content-Security-Policy); "" otherwise.
std::string UrlOrigin(std::string_view url);

// HtmlEscape, except that line breaks and valid UTF-8 beyond ASCII are kept (pages are UTF-8,
// and customers write "café" and several lines): C1 controls, bidirectional controls (which could reorder what a reader
// sees) and invalid, overlong or surrogate sequences become '?', one per byte.
std::string EscapeText(std::string_view text);

class TemplateValues {
 public:
  TemplateValues& Text(std::string name, std::string_view text);  // EscapeText when used
  TemplateValues& Html(std::string name, Markup html);             // inserted as is
  // Set only when IsSafePageUrl(url, allow_mailto); then escaped (for & in a query) as text.
  TemplateValues& Url(std::string name, std::string_view url, bool allow_mailto = false);
  TemplateValues& Flag(std::string name, bool on);  // for sections only: "1" or unset
  // Markup made of several rendered pieces, e.g. one row per evidence entry.
  TemplateValues& HtmlList(std::string name, const std::vector<Markup>& parts);

  // The escaped (or markup) text for name; nullptr when unset.
  const std::string* Find(std::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> html_;  // always ready-to-insert HTML
};

Markup RenderTemplate(std::string_view text, const TemplateValues& values);

// Syntax errors of a template ("" when none): unclosed tags or sections, bad names. The
// embedded templates are checked by a unit test; at render time a malformed tag is left out.
std::string TemplateErrors(std::string_view text);

// The embedded template called name (lib/core/templates/NAME.html); "" when there is none.
std::string_view PageTemplate(std::string_view name);
// Every embedded template's name, for the tests.
std::vector<std::string_view> PageTemplateNames();

// PageTemplate(name) rendered with values.
Markup RenderPage(std::string_view name, const TemplateValues& values);

}  // namespace policyd
