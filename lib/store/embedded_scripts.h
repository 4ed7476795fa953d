// The Lua scripts under lib/store/lua/, embedded at build time by cmake/embed_text.cmake.
#pragma once

#include <cstddef>

namespace policyd {

struct EmbeddedScript {
  const char* name;  // file stem, e.g. "decide"
  const char* body;    // the preludes (lib/store/lua/_*.lua), then the file
  const char* source;  // the file alone
};

extern const EmbeddedScript kEmbeddedScripts[];
extern const std::size_t kEmbeddedScriptCount;
extern const char kEmbeddedPrelude[];  // the preludes, concatenated in name order

}  // namespace policyd
