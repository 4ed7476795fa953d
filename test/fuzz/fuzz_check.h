// The fuzz targets' assertion: an invariant that does not hold is a crash libFuzzer saves as
// crash-<sha1>, whatever NDEBUG says (RelWithDebInfo turns assert() off).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);  \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
