#!/usr/bin/env python3
"""Where Redis's time per decision goes: runs redis-benchmark (-c 8, 60,000 calls, 1,000 users,
the 3-limit plan, explicit-mode users: the full ACL path) with the ARGV policyd builds, and
reads INFO commandstats:

- EVALSHA `return 1`: the cost of a script call itself with policyd's arguments;
- EVALSHA of the `_common.lua` prelude then `return 1`: what defining the helpers adds;
- EVALSHA of the same decide.lua as a self-contained script (how policyd ran it before the
  function library: the difference is what the library saves);
- FCALL decide from the function library, as policyd runs it now.
Each row: Redis time per call and the Redis commands it called (their own time), then the
redis-server process's CPU time per call (utime + stime: includes reading requests and
writing replies). On a machine shared with other work all of them grow with its load: compare
runs made one after the other.

Whatever the full script costs beyond its commands is Lua and the redis.call() bridge. Run by
`scripts/bench --script-cost`; prints one table, writes nothing.

Also measured (issue 16):
- EVALSHA `return 1` with the spec strings (ARGV 17, 23, 27, 29, 31: plans, abuse, score,
  rates, quota) empty: what sending the configuration with every call costs;
- FCALL decide on the fast path (ARGV[33] = '1': policyd's cache already checked blocks, the
  user, the IP allow-list and the ACL), when decide.lua reads ARGV[33];
- FCALL decide with ARGV[29] empty: without count_sent (_rates.lua), what it costs;
- EVALSHA of the commands a fast END-OF-MESSAGE runs, with nothing around them
  (COMMANDS_ONLY): the floor any Lua decision with those commands stands on;
- --quick: only FCALL decide (and its fast path), for measuring one change at a time;
- --sections: where the fast END-OF-MESSAGE's time goes: the library's decide cut short
  (`do return 1 end`) before each section of decide.lua (SECTIONS), one row per cut, each
  row the cost of everything before it (the difference between rows is a section's cost).
"""

import argparse
import contextlib
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


def cpu_seconds(pid):
    """utime + stime of a process (/proc/PID/stat), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def benchmark(env, command):
    """redis-benchmark -c CLIENTS -n CALLS -r USERS of one command (__rand_int__ in it: one of
    USERS). Returns (µs per call of command[0] by INFO commandstats, the commands it ran
    inside as (name, calls, usec), µs of redis-server CPU per call). commandstats times are
    wall-clock: on a busy machine they include time the server was not running; the process's
    CPU time does not (but includes reading requests and writing replies)."""
    env.redis.cmd("CONFIG", "RESETSTAT")
    cpu_before = cpu_seconds(env.redis.proc.pid)
    run = subprocess.run(["redis-benchmark", "-p", str(env.redis.port), "-c", str(CLIENTS),
                          "-n", str(CALLS), "-r", str(USERS), "-q"] + command,
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0 or "rror" in run.stdout + run.stderr:
        raise RuntimeError(f"redis-benchmark failed: {run.stdout[-300:]} {run.stderr[-300:]}")
    cpu = (cpu_seconds(env.redis.proc.pid) - cpu_before) * 1e6 / CALLS
    stats = commandstats(env.redis)
    calls, usec = stats.pop(command[0].lower())
    inner = [(n, c, u) for n, (c, u) in stats.items() if not n.startswith("config")]
    return usec / calls, inner, cpu


def measure(env, args, script):
    """benchmark() of decide's ARGV `args` run by script: Lua text run by EVALSHA, or None
    for FCALL of the library's decide."""
    if script is None:
        call = ["FCALL", env.function, "0"]
    else:
        call = ["EVALSHA", env.redis.cmd("SCRIPT", "LOAD", script), "0"]
    return benchmark(env, call + args)


@contextlib.contextmanager
def ceiling_system(build, name):
    """redis-server and policyd (3-limit plan) in a temporary directory, USERS users seeded:
    yields (env, policyd, ceiling); stops both and removes the directory afterwards."""
    tmp = tempfile.mkdtemp(prefix=f"policyd-{name}-")
    env = systems.Env(tmp, build)
    policyd = systems.PolicydSystem(env, 1_000_000_000, three_limits=True)
    try:
        policyd.start()
        ceiling = systems.Ceiling(env, policyd)
        ceiling.start()
        ceiling.reset(USERS)
        yield env, policyd, ceiling
    finally:
        policyd.stop()
        env.stop()
        subprocess.run(["rm", "-rf", tmp])


SPEC_ARGV = (17, 23, 27, 29, 31)  # decide.lua's ARGV numbers of the configuration strings


def without_specs(args):
    return ["" if i + 1 in SPEC_ARGV else a for i, a in enumerate(args)]


def without_rates(args):
    """ARGV[29] (the rates spec) empty: decide skips count_sent, what issue 18's counting of
    sent messages costs at END-OF-MESSAGE."""
    return ["" if i + 1 == 29 else a for i, a in enumerate(args)]


def access_facts(env, args):
    """access_facts.lua's answer for decide's ARGV `args` (run as one EVAL: the bench library
    holds decide only), with __rand_int__ as user 1. Raises unless it is a plain pass."""
    one = [a.replace("__rand_int__", "000000000001") for a in args]
    script = ""
    for path in systems.prelude_paths() + [os.path.join(systems.LUA_DIR, "access_facts.lua")]:
        with open(path) as f:
            script += f.read() + "\n"
    facts = env.redis.cmd("EVAL", script, "0", *one[:31])
    if facts[0] != "pass":
        raise RuntimeError(f"access_facts answered {facts}: not a plain pass")
    return facts


def fast_path(env, args):
    """decide's ARGV on the fast path, as policyd sends it for a request its access cache
    knows: ARGV[33] = '1' and access_facts' resolved limits, account and quotas in
    ARGV[34-37] (every bench user has the same plan, so user 1's facts serve all)."""
    _, limits_text, account, user_quota, account_quota = access_facts(env, args)[:5]
    out = list(args[:32]) + [""] * max(0, 32 - len(args))
    return out + ["1", limits_text, account, user_quota, account_quota]


# The floor under the fast END-OF-MESSAGE (issue 16): the Redis commands it runs for a new
# message within limits (script_cost's own row lists them: TIME, HMGET of the pd:msg slice and
# of the previous one, EXISTS of the blocks, HMGET and HSET of the rate hash, HINCRBY of the
# three sent counts, HSET of the answer), called from Lua with the same arguments' shape and
# nothing else around them: what decide would cost if its logic cost nothing.
COMMANDS_ONLY = """
local t = redis.call('TIME')
local u = ARGV[6]
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local msg = 'pd:msg:{' .. u .. '}:2999999'
redis.call('HMGET', msg, '%', '%m' .. ARGV[13], ARGV[10])
redis.call('HMGET', 'pd:msg:{' .. u .. '}:2999998', '%m' .. ARGV[13], ARGV[10])
redis.call('EXISTS', 'pd:block:{' .. u .. '}', 'pd:block:{' .. ARGV[7] .. '}')
local rk = 'pd:rate:{' .. u .. '}'
redis.call('HMGET', rk, 'messages:3600:total', 'messages:3600:first', '13600000123',
           'recipients:3600:total', 'recipients:3600:first', '23600000123',
           'bytes:86400:total', 'bytes:86400:first', '3864000123')
redis.call('HSET', rk, '13600000123', now % 1000, 'messages:3600:total', now % 997,
           '23600000123', now % 991, 'recipients:3600:total', now % 983,
           '3864000123', now % 977, 'bytes:86400:total', now % 971)
redis.call('HINCRBY', 'pd:sent:{' .. u .. '}', '2500', '1')
redis.call('HINCRBY', 'pd:sent:{' .. ARGV[7] .. '}', '2500', '1')
redis.call('HINCRBY', 'pd:sent:{account:a}', '2500', '1')
redis.call('HSET', msg, '%m' .. ARGV[13], 'c', ARGV[10], '1')
return 1
"""

# (name, the text of decide.lua a cut is placed before; None = the whole script)
SECTIONS = [("call + ARGV", "local explain = mode == 'explain'"),
            ("+ now (TIME), reply", "-- An earlier identical request"),
            ("+ pd:msg reads", "-- 1-3. Blocks, the user/account/plan"),
            ("+ blocks (fast)", "-- 4. Rate limits: the plan's"),
            ("+ limits, costs", "for _, g in ipairs(groups) do window_read_all"),
            ("+ window HMGET", "local refused = nil"),
            ("+ decision", "  for _, g in ipairs(groups) do window_add_all"),
            ("+ window HSET", "  -- The messages complaint and bounce rates divide by"),
            ("+ count_sent", "-- List-bombing (_common.lua lb_record): each"),
            ("+ list-bombing", "if seen_field and not explain then\n  local answer"),
            ("+ pd:msg HSET", None)]


def sections(env, args):
    """The fast END-OF-MESSAGE cut before each of SECTIONS (a cut whose text decide.lua no
    longer has is skipped). The early returns write nothing, so windows and the per-message
    state stay empty: a cut row is a little cheaper than the same point in a full call."""
    print("fast END-OF-MESSAGE by section (decide cut short; µs per call up to that point):")
    print(f"{'up to':22s} {'per call':>9s} {'commands':>9s} {'calls':>6s} {'server CPU':>10s}")
    library = env.library
    try:
        for name, text in SECTIONS:
            lib = library
            if text:
                at = lib.find(text)
                if at < 0:
                    print(f"{name:22s} (no such section in decide.lua)")
                    continue
                lib = lib[:at] + "do return 1 end\n" + lib[at:]
            env.redis.cmd("FUNCTION", "LOAD", "REPLACE", lib)
            per_call, inner, cpu = measure(env, args, None)
            cmd_us = sum(u for _, _, u in inner) / CALLS
            n = sum(c for _, c, _ in inner) / CALLS
            print(f"{name:22s} {per_call:8.1f}  {cmd_us:8.1f}  {n:6.1f}  {cpu:9.1f}")
    finally:
        env.redis.cmd("FUNCTION", "LOAD", "REPLACE", library)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build directory with policyd, policyd-bench")
    ap.add_argument("--quick", action="store_true", help="only FCALL decide (and its fast path)")
    ap.add_argument("--sections", action="store_true",
                    help="only the fast END-OF-MESSAGE, cut before each section of decide.lua")
    opts = ap.parse_args()
    with ceiling_system(opts.build, "script-cost") as (env, _, ceiling):
        with open(os.path.join(systems.LUA_DIR, "_common.lua")) as f:
            prelude = f.read() + "\n"
        with open(os.path.join(systems.LUA_DIR, "decide.lua")) as f:
            has_fast_path = "ARGV[33]" in f.read()
        if opts.sections:
            sections(env, fast_path(env, ceiling.args["eom"]))
            return
        # (name, script, how the ARGV are changed)
        variants = [("EVALSHA return 1", "return 1", None),
                    ("EVALSHA commands only", COMMANDS_ONLY, None),
                    ("EVALSHA ret1 nospec", "return 1", without_specs),
                    ("EVALSHA prelude", prelude + "return 1", None),
                    ("EVALSHA decide.lua", env.script, None),
                    ("FCALL no count_sent", None, without_rates), ("FCALL decide", None, None)]
        if opts.quick:
            variants = variants[-1:]
        if has_fast_path:
            variants.append(("FCALL decide fast", None, lambda a: fast_path(env, a)))
        else:
            print("(decide.lua reads no ARGV[33]: no fast path to measure)")
        print(f"redis-benchmark -c {CLIENTS} -n {CALLS} -r {USERS}: Redis µs per call "
              f"(INFO commandstats)")
        print(f"{'stage':6s} {'script':20s} {'per call':>9s} {'commands':>9s} {'calls':>6s} "
              f"{'Lua + bridge':>12s} {'server CPU':>10s}")
        totals = {}
        for stage in ("rcpt", "eom"):
            decision = ceiling.sample_decision(stage)
            for name, script, change in variants:
                # Each row on freshly seeded users: a row after others would find the answers
                # they kept (pd:msg, one slice of dedup_ttl) and measure repeats, not decisions.
                ceiling.reset(USERS)
                args = change(ceiling.args[stage]) if change else ceiling.args[stage]
                per_call, inner, cpu = measure(env, args, script)
                cmd_us = sum(u for _, _, u in inner) / CALLS
                n = sum(c for _, c, _ in inner) / CALLS
                print(f"{stage:6s} {name:20s} {per_call:8.1f}  {cmd_us:8.1f}  {n:6.1f} "
                      f"{per_call - cmd_us:11.1f}  {cpu:9.1f}")
                totals.setdefault(name, {})[stage] = per_call
                if script is None:
                    print(f"       ({name}: {' / '.join(decision)}; commands: " +
                          ", ".join(f"{n} {c / CALLS:g}" for n, c, _ in sorted(inner)) + ")")
        print("average of RCPT and END-OF-MESSAGE (half each), µs of Redis per decision:")
        for name, t in totals.items():
            if "decide" in name:
                print(f"  {name:20s} rcpt {t['rcpt']:6.1f}  eom {t['eom']:6.1f}  "
                      f"average {(t['rcpt'] + t['eom']) / 2:6.1f}")


if __name__ == "__main__":
    main()
