#!/usr/bin/env python3
"""Redis µs per RCPT pre-check (count_at = "eom", issue 16), the same way bench/script_cost.py
measures scripts: redis-benchmark -c 8, 60,000 calls over 1,000 users of the 3-limit plan
(explicit-mode users: the full ACL path) with the ARGV policyd builds, INFO commandstats and
the redis-server process's CPU time (utime + stime) per call. Rows:

- FCALL decide, full path: a RCPT nobody's cache knows;
- FCALL decide, fast path: the access cache's pass in ARGV[33...] (the resolved limits from
  access_facts for the same request: no plans spec parsed, no user/ACL reads);
- without a script: what policyd sends instead for a cached pass without a quota: EXISTS of
  the block keys + one HMGET of window totals per subject (here one: the user's three
  windows, of which the RCPT costs messages and recipients; bytes cost the size, 0). Each
  command is measured on its own; the row is their sum (policyd pipelines them on one
  connection, so the real cost is at most this).
The windows are filled first by END-OF-MESSAGE calls, as in a running relay.
Then policyd itself, driven by policyd-bench (8 connections, RCPT only, the same 1,000 users):
Redis CPU per RCPT (redis-server utime + stime over the run / requests) and the commands per
RCPT (INFO commandstats): what the pre-check costs Redis end to end, pipelining included.
Run: python3 bench/rcpt_cost.py --build build. Prints one table, writes nothing.
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from script_cost import (CALLS, CLIENTS, USERS, access_facts, benchmark,  # noqa: E402
                         ceiling_system, commandstats, cpu_seconds, fast_path)


def measure(env, command):
    """(µs per call by INFO commandstats, µs of redis-server CPU per call) of one command."""
    us, _, cpu = benchmark(env, command)
    return us, cpu


def key(prefix, ktype, tag):
    return f"{prefix}{ktype}:{{{tag}}}"


def scriptless_commands(args, limits_text, account):
    """lib/core/rcpt_precheck.cc PlanRcptPrecheck for decide.lua's ARGV `args`."""
    prefix, subject, sender_tag, ip_tag = args[2], args[5], args[6], args[8]
    size = float(args[11] or 0)
    exists = ["EXISTS", key(prefix, "block", subject)]
    if sender_tag and sender_tag != subject:
        exists.append(key(prefix, "block", sender_tag))
    tags = {"user": subject, "sender": sender_tag, "ip": ip_tag,
            "account": f"account:{account}" if account else ""}
    reads = {}
    for entry in filter(None, limits_text.split(",")):
        s, m, w, _ = entry.split(":")
        cost = {"messages": 1, "recipients": 1, "bytes": size}.get(m)
        if not tags.get(s) or not cost:
            continue
        fields = reads.setdefault(tags[s], [])
        if f"{m}:{w}:total" not in fields:
            fields.append(f"{m}:{w}:total")
    return [exists] + [["HMGET", key(prefix, "rate", t)] + f for t, f in reads.items()]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build directory with policyd, policyd-bench")
    opts = ap.parse_args()
    with ceiling_system(opts.build, "rcpt-cost") as (env, policyd, ceiling):
        measure(env, ["FCALL", env.function, "0"] + ceiling.args["eom"])  # fill the windows
        rcpt = ceiling.args["rcpt"]
        _, limits_text, account = access_facts(env, rcpt)[:3]
        fast = fast_path(env, rcpt)
        print(f"redis-benchmark -c {CLIENTS} -n {CALLS} -r {USERS}, RCPT pre-check "
              f"(resolved limits '{limits_text}'): Redis µs per RCPT")
        print(f"{'path':34s} {'commandstats':>12s} {'server CPU':>10s}")
        for name, cmd in (("FCALL decide, full path", ["FCALL", env.function, "0"] + rcpt),
                          ("FCALL decide, fast path", ["FCALL", env.function, "0"] + fast)):
            us, cpu = measure(env, cmd)
            print(f"{name:34s} {us:11.1f}  {cpu:9.1f}")
        total_us = total_cpu = 0.0
        for cmd in scriptless_commands(rcpt, limits_text, account):
            us, cpu = measure(env, cmd)
            total_us, total_cpu = total_us + us, total_cpu + cpu
            print(f"  {' '.join(cmd)[:32]:32s} {us:11.1f}  {cpu:9.1f}")
        print(f"{'without a script (sum)':34s} {total_us:11.1f}  {total_cpu:9.1f}")

        n = 40000

        def drive(label):
            """policyd-bench against policyd, every request measured (no warm-up)."""
            env.redis.cmd("CONFIG", "RESETSTAT")
            cpu_before = cpu_seconds(env.redis.proc.pid)
            run = subprocess.run([env.bench_bin, "-t", policyd.target, "-c", str(CLIENTS),
                                  "--eom-ratio", "0", "-u", str(USERS), "-n", str(n), "-w", "0"],
                                 capture_output=True, text=True, timeout=600)
            if run.returncode != 0:
                raise RuntimeError(f"policyd-bench failed: {run.stdout[-300:]} {run.stderr[-300:]}")
            cpu = (cpu_seconds(env.redis.proc.pid) - cpu_before) * 1e6
            stats = commandstats(env.redis)
            print(f"{label:34s} Redis CPU {cpu / n:5.1f} µs per RCPT; per RCPT: " +
                  ", ".join(f"{name} {c / n:.2f}" for name, (c, _) in sorted(stats.items())
                            if not name.startswith("config") and c / n >= 0.01))

        print(f"policyd driven by policyd-bench -c {CLIENTS}, {n} RCPTs of {USERS} users "
              "(commands inside scripts counted too):")
        drive("policyd, pre-check without script")
        # A 'quota' field that is no number: decide.lua sees no quota (tonumber), policyd's
        # pre-check sees a quota field and leaves the RCPT to decide.lua: the fast path as
        # before this change, same users, same run.
        users = [a.replace("__rand_int__", f"{i:012d}") for i in range(USERS) for a in rcpt[5:6]]
        resp = "".join(f"*4\r\n$4\r\nHSET\r\n${len(k)}\r\n{k}\r\n$5\r\nquota\r\n$1\r\n-\r\n"
                       for k in (key(rcpt[2], "user", u) for u in users))
        subprocess.run(["redis-cli", "-p", str(env.redis.port), "--pipe"], input=resp,
                       capture_output=True, text=True, check=True)
        drive("policyd, fast path script (before)")


if __name__ == "__main__":
    main()
