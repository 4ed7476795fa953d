#!/usr/bin/env python3
"""Fails on any #include that crosses the architecture's layers (README "Layout").

    check_layering.py [ROOT]

Reads every .h/.cc under ROOT's lib/, tools/ and policyd/ and checks each #include against the
table below: which of the project's components a component may include ("core/...",
"store/...", ...) and which system headers it may not (libuv, hiredis, http-parser, sockets).
Prints one line per forbidden edge, file:line first, and exits 1 if there is any.

The compiler cannot keep these rules: every library's headers are in /usr/include, on every
target's path, and lib/ is one include root. So this reads the sources instead; ctest runs it
(test "layering") and runs it once more over a planted violation (test "layering_self_test").
"""
import pathlib
import re
import sys

# component -> the project components it may include (itself always).
ALLOWED = {
    "core": set(),                                   # pure: std, fmt, toml++, OpenSSL, json
    "log": {"core"},
    "net": {"core", "log"},                          # listener, stream socket (libuv)
    "store": {"core", "log", "net"},                 # Redis client, scripts (hiredis)
    "server": {"core", "log", "net", "store"},       # the policy protocol face
    "ops": {"core", "log", "store"},                 # admin operations: policyctl and HTTP API
    "http": {"core", "log", "net", "store", "ops"},  # the HTTP face
    "policyd": {"core", "log", "net", "store", "ops", "server", "http"},  # the process: both faces
    "policyctl": {"core", "log", "store", "ops"},
    "bench": {"core", "log", "net"},                 # a client: never the server's insides
    "feedback": {"core", "log", "store", "policyctl"},  # policyd-feedback: AdminSession's store
}

# component -> system headers (prefixes) it must not include.
NO_IO = ("uv.h", "hiredis/", "http_parser.h", "sys/socket.h", "netinet/", "sys/un.h")
FORBIDDEN_SYSTEM = {
    "core": NO_IO,
    "log": NO_IO,
    "net": ("hiredis/", "http_parser.h"),
    "store": ("http_parser.h",),
    "ops": ("uv.h", "hiredis/", "http_parser.h", "sys/socket.h", "netinet/", "sys/un.h"),
    "server": ("hiredis/", "http_parser.h"),
    "http": ("hiredis/",),
    "policyd": ("hiredis/", "http_parser.h"),
    "policyctl": ("http_parser.h",),  # runs a libuv loop for the store's Redis client
    "bench": ("hiredis/", "http_parser.h"),
    "feedback": ("http_parser.h", "hiredis/"),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def component_of(rel):
    """lib/core/x.cc -> core, tools/bench/x.cc -> bench, policyd/x.cc -> policyd."""
    parts = rel.parts
    if parts[0] == "lib" and len(parts) > 2:
        return parts[1]
    if parts[0] == "tools" and len(parts) > 2:
        return parts[1]
    if parts[0] == "policyd":
        return "policyd"
    return None


def check(root):
    problems = []
    files = [p for top in ("lib", "tools", "policyd") for p in sorted((root / top).rglob("*"))
             if p.suffix in (".h", ".cc")]
    for path in files:
        rel = path.relative_to(root)
        me = component_of(rel)
        if me is None:
            continue
        if me not in ALLOWED:
            problems.append(f"{rel}: component '{me}' is not in the layering table "
                            f"(add it to {pathlib.Path(__file__).name})")
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            kind, name = m.groups()
            target = name.split("/", 1)[0] if "/" in name else None
            if kind == "<" or (target is not None and target not in ALLOWED):
                for bad in FORBIDDEN_SYSTEM[me]:
                    if name == bad or (bad.endswith("/") and name.startswith(bad)):
                        problems.append(f"{rel}:{number}: {me} may not include <{name}>")
                continue
            if target is None:
                continue  # a header beside the file, same component
            if target != me and target not in ALLOWED[me]:
                problems.append(f"{rel}:{number}: {me} may not include \"{name}\" "
                                f"({me} -> {target}; allowed: "
                                f"{', '.join(sorted(ALLOWED[me])) or 'itself only'})")
    return files, problems


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                        pathlib.Path(__file__).resolve().parents[2])
    files, problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} forbidden include(s) in {len(files)} files")
        return 1
    print(f"layering: {len(files)} files, no forbidden include")
    return 0


if __name__ == "__main__":
    sys.exit(main())
