#!/usr/bin/env python3
"""Where Redis's time per decision goes: runs redis-benchmark (-c 8, 60,000 calls, 1,000 users)
with EVALSHA of three scripts and the ARGV policyd builds, and reads INFO commandstats:

- `return 1`: the cost of EVALSHA itself with policyd's 28 arguments;
- the `_common.lua` prelude then `return 1`: what defining the helpers adds;
- decide.lua as policyd embeds it, plus the Redis commands it called (their own time).

Whatever the full script costs beyond its commands is Lua and the redis.call() bridge. Run by
`scripts/bench --script-cost`; prints one table, writes nothing.
"""

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
sys.path.insert(0, HERE)

import systems  # noqa: E402

CALLS = 60000
CLIENTS = 8
USERS = 1000


def commandstats(redis):
    """{command: (calls, usec)} from INFO commandstats."""
    out = {}
    for line in redis.cmd("INFO", "commandstats").splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, rest = line[len("cmdstat_"):].split(":", 1)
        fields = dict(kv.split("=") for kv in rest.split(","))
        out[name] = (int(fields["calls"]), int(fields["usec"]))
    return out


def measure(env, args, script):
    sha = env.redis.cmd("SCRIPT", "LOAD", script)
    env.redis.cmd("CONFIG", "RESETSTAT")
    run = subprocess.run(["redis-benchmark", "-p", str(env.redis.port), "-c", str(CLIENTS),
                          "-n", str(CALLS), "-r", str(USERS), "-q", "EVALSHA", sha, "0"] + args,
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed: {run.stderr[-500:]}")
    stats = commandstats(env.redis)
    calls, usec = stats.pop("evalsha")
    inner = [(n, c, u) for n, (c, u) in stats.items() if not n.startswith("config")]
    return usec / calls, inner


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build directory with policyd, policyd-bench")
    build = ap.parse_args().build
    tmp = tempfile.mkdtemp(prefix="policyd-script-cost-")
    env = systems.Env(tmp, build)
    policyd = systems.PolicydSystem(env, 1_000_000_000)
    try:
        policyd.start()
        ceiling = systems.Ceiling(env, policyd)
        ceiling.start()
        ceiling.reset(USERS)
        with open(os.path.join(systems.LUA_DIR, "_common.lua")) as f:
            prelude = f.read() + "\n"
        variants = [("return 1", "return 1"), ("prelude + return 1", prelude + "return 1"),
                    ("decide.lua", env.script)]
        print(f"redis-benchmark -c {CLIENTS} -n {CALLS} -r {USERS}: Redis µs per EVALSHA "
              f"(INFO commandstats)")
        print(f"{'stage':6s} {'script':20s} {'per call':>9s} {'commands':>9s} {'calls':>6s} "
              f"{'Lua + bridge':>12s}")
        for stage in ("rcpt", "eom"):
            decision = ceiling.sample_decision(stage)
            for name, script in variants:
                per_call, inner = measure(env, ceiling.args[stage], script)
                cmd_us = sum(u for _, _, u in inner) / CALLS
                n = sum(c for _, c, _ in inner) / CALLS
                print(f"{stage:6s} {name:20s} {per_call:8.1f}  {cmd_us:8.1f}  {n:6.1f} "
                      f"{per_call - cmd_us:11.1f}")
            print(f"       ({stage} decision: {' / '.join(decision)}; commands: " +
                  ", ".join(f"{n} {c / CALLS:g}" for n, c, _ in sorted(inner)) + ")")
    finally:
        policyd.stop()
        env.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
