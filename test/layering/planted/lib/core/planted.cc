// A planted violation for ctest "layering_self_test": the checker must name both lines.
#include "server/server.h"
#include <uv.h>
