// The page templates (lib/core/templates/*.html), embedded at build time by
// cmake/embed_templates.cmake. Read them through core/page_template.h PageTemplate().
#pragma once

#include <cstddef>
#include <string_view>

namespace policyd {

struct EmbeddedTemplate {
  std::string_view name;  // file name without .html
  std::string_view body;
};

extern const EmbeddedTemplate kEmbeddedTemplates[];
extern const std::size_t kEmbeddedTemplateCount;

}  // namespace policyd
