// The page template renderer: substitutions are escaped unless they are Markup the renderer
// made or a validated URL, sections keep or drop their bodies, and every embedded template
// parses.
#include "core/page_template.h"

#include <doctest/doctest.h>

#include <string>

namespace policyd {

TEST_CASE("page_template: every substitution is HTML-escaped") {
  TemplateValues v;
  v.Text("name", "<script>alert('x')</script> & \"q\"");
  CHECK(RenderTemplate("<p>{{name}}</p>", v).str() ==
        "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p>");
  // A value that looks like a tag is not expanded again.
  v.Text("a", "{{b}}").Text("b", "B");
  CHECK(RenderTemplate("{{a}}", v).str() == "{{b}}");
  CHECK(RenderTemplate("[{{unset}}]", v).str() == "[]");
}

TEST_CASE("page_template: text keeps readable UTF-8 and hides controls and bad sequences") {
  struct Case {
    std::string in;
    const char* want;
  };
  for (const Case& c : {Case{"caf\xc3\xa9 <b>", "caf\xc3\xa9 &lt;b&gt;"},
                        Case{"\xe2\x82\xac 5 \xf0\x9f\x93\xa7", "\xe2\x82\xac 5 \xf0\x9f\x93\xa7"},
                        Case{"a\nb\x1b[31m\r", "a\nb?[31m?"},
                        Case{"\xc2\x85", "??"},                  // C1 control
                        Case{"x\xe2\x80\xaey", "x???y"},           // right-to-left override
                        Case{"\xc0\xaf", "??"},                  // overlong '/'
                        Case{"\xe0\x80\xaf", "???"},              // overlong, 3 bytes
                        Case{"\xed\xa0\x80", "???"},              // a surrogate
                        Case{"\xf4\x90\x80\x80", "????"},          // beyond U+10FFFF
                        Case{"\xe2\x82", "??"},                  // cut short
                        Case{"\xff\xfe", "??"}}) {
    CAPTURE(c.in);
    CHECK(EscapeText(c.in) == c.want);
  }
}

TEST_CASE("page_template: Markup from the renderer is inserted as is") {
  TemplateValues inner;
  inner.Text("x", "<i>");
  Markup m = RenderTemplate("<b>{{x}}</b>", inner);
  TemplateValues v;
  v.Html("m", m).HtmlList("list", {m, m});
  CHECK(RenderTemplate("{{m}}|{{list}}", v).str() == "<b>&lt;i&gt;</b>|<b>&lt;i&gt;</b><b>&lt;i&gt;</b>");
}

TEST_CASE("page_template: sections") {
  TemplateValues v;
  v.Flag("on", true).Flag("off", false).Text("empty", "").Text("who", "you");
  CHECK(RenderTemplate("{{#on}}A{{/on}}{{#off}}B{{/off}}{{^off}}C{{/off}}", v).str() == "AC");
  CHECK(RenderTemplate("{{#empty}}X{{/empty}}{{^empty}}Y{{/empty}}", v).str() == "Y");
  CHECK(RenderTemplate("{{#on}}1{{#who}}[{{who}}]{{/who}}{{^on}}no{{/on}}2{{/on}}", v).str() ==
        "1[you]2");
  // The same name nested: the depth finds the right end.
  CHECK(RenderTemplate("{{#on}}a{{#on}}b{{/on}}c{{/on}}d", v).str() == "abcd");
  CHECK(RenderTemplate("{{^on}}a{{#on}}b{{/on}}c{{/on}}d", v).str() == "d");
}

TEST_CASE("page_template: malformed tags are reported and left out") {
  TemplateValues v;
  v.Flag("on", true);
  CHECK(TemplateErrors("{{#on}}x{{/on}} {{name_1}}") == "");
  CHECK(TemplateErrors("{{#on}}x") != "");
  CHECK(TemplateErrors("x{{/on}}") != "");
  CHECK(TemplateErrors("{{Bad Name}}") != "");
  CHECK(TemplateErrors("{{open") != "");
  CHECK(RenderTemplate("a{{Bad}}b", v).str() == "ab");
  CHECK(RenderTemplate("a{{#on}}b", v).str() == "a");
  CHECK(RenderTemplate("a{{open", v).str() == "a");
}

TEST_CASE("page_template: URLs are set only when safe") {
  struct Case {
    const char* url;
    bool mailto, safe;
  };
  for (Case c : {Case{"https://relay.example/help?a=1&b=2", false, true},
                 Case{"http://relay.example/", false, true},
                 Case{"mailto:support@relay.example", true, true},
                 Case{"mailto:support@relay.example", false, false},
                 Case{"javascript:alert(1)", true, false},
                 Case{"https://", false, false},
                 Case{"https://x.example/\"onload=alert(1)", false, false},
                 Case{"https://x.example/<script>", false, false},
                 Case{"https://x.example/a b", false, false},
                 Case{"https://x.example/a'b", false, false},
                 Case{"//x.example/", false, false},
                 Case{"", false, false}}) {
    CAPTURE(c.url);
    CHECK(IsSafePageUrl(c.url, c.mailto) == c.safe);
    TemplateValues v;
    v.Url("u", c.url, c.mailto);
    CHECK((v.Find("u") != nullptr) == c.safe);
  }
  TemplateValues v;
  v.Url("u", "https://relay.example/?a=1&b=2");
  CHECK(RenderTemplate("<a href=\"{{u}}\">", v).str() == "<a href=\"https://relay.example/?a=1&amp;b=2\">");
}

TEST_CASE("page_template: UrlOrigin is the logo's origin for the page's CSP") {
  CHECK(UrlOrigin("https://relay.example/img/logo.png") == "https://relay.example");
  CHECK(UrlOrigin("http://relay.example:8080") == "http://relay.example:8080");
  CHECK(UrlOrigin("https://[2001:db8::1]/l.png?v=2") == "https://[2001:db8::1]");
  CHECK(UrlOrigin("https://a;b.example/") == "");  // would end the CSP directive
  CHECK(UrlOrigin("https://a,b.example/") == "");
  CHECK(UrlOrigin("https://user@relay.example/") == "");
  CHECK(UrlOrigin("mailto:a@b.example") == "");
  CHECK(UrlOrigin("javascript:alert(1)") == "");
  CHECK(UrlOrigin("https:///x") == "");
}

TEST_CASE("page_template: every embedded template parses") {
  CHECK(PageTemplateNames().size() >= 10);
  for (std::string_view name : PageTemplateNames()) {
    CAPTURE(name);
    CHECK(TemplateErrors(PageTemplate(name)) == "");
  }
  CHECK(PageTemplate("no-such-template").empty());
}

}  // namespace policyd
