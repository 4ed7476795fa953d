#!/usr/bin/env python3
"""scripts/bench's driver: runs the same policyd-bench workloads against policyd, postfwd2 and
policyd-rate-limit (and redis-benchmark with policyd's own decision script, the ceiling),
interleaved over several rounds, then the scaling rows (connections, users and Redis memory,
threads, open-loop latency, idle-connection RSS). Prints a table; with --out writes
results.md, results.json and results.png there.

Every system starts on loopback on a free port with its files in a temp dir, and is reset
(fresh Redis seed, or a restart) before every run, so rounds are independent."""

import argparse
import ctypes
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
sys.path.insert(0, HERE)

import report  # noqa: E402
import systems  # noqa: E402

HIGH = 1_000_000_000  # messages per user per hour: nothing is ever throttled
LOW = 1               # one message per user per hour: almost every reply is a throttle


def profile(quick, all_rows=False):
    """What a run measures. The full run measures what issue 16's targets and results.md's
    readers need in about 12 minutes; all_rows (--all-rows) adds the rows no target needs
    (see bench/results.md, "Reproduce"). "users" is (users, rounds) for the memory rows."""
    if quick:
        return dict(rounds=1, duration=1.0, warmup=0.5, conns=[8], limits=["high"],
                    all_rows=True, scale_conns=[], threads_conns=[], users=[(1000, 1)], stages=True,
                    open_rate=1000, open_conns=8, open_rounds=1, idle_conns=1000, idle_hold=1.0)
    # 6 s measured after 1 s of warm-up: the rounds of one row spread by 10-50 % on this
    # machine whatever the length (bench/results.json of 10 s runs), so the median of three
    # short rounds says as much as that of three long ones.
    return dict(rounds=3, duration=6.0, warmup=1.0, conns=[1, 8, 64], limits=["high", "low"],
                all_rows=all_rows,
                scale_conns=[512, 5000] if all_rows else [],
                threads_conns=[8, 64, 512] if all_rows else [],
                # 1,000 users every round (Redis CPU per decision is a median); bytes per
                # active user barely move between rounds, so the larger counts run once.
                users=[(1000, 3), (100_000, 1)] + ([(1_000_000, 1)] if all_rows else []),
                # Redis CPU per RCPT and per END-OF-MESSAGE through policyd (issue 16's
                # per-stage targets; the successor of --script-cost, which measures decide.lua
                # alone and cannot see an RCPT that runs no script).
                stages=True,
                open_rate=5000, open_conns=64, open_rounds=1, idle_conns=10000, idle_hold=5.0)


def compared(cfg, kind, limit, conns):
    """Whether the comparison runs this system at this limit and concurrency. Always: policyd
    and the two peers (issue 16's targets at 1, 8 and 64 connections, both limits). The
    ceiling only where a target reads it (64 connections, high limit); the trivial DUNNO server
    at every concurrency of the high limit (it answers alike under both limits, so the
    low-limit target uses that row too): at 1 and 8 connections it is what the transport alone
    costs, the bound under policyd's latency; the pipelined ceiling only with all_rows."""
    if cfg["all_rows"] or kind in ("policyd", "postfwd", "policyd-rate-limit"):
        return True
    if kind == "trivial":
        return limit == "high"
    return kind == "ceiling" and limit == "high" and conns == 64


def plan(cfg, kinds):
    """Every run of this configuration, in order: dicts with group, kind, limit, conns, users,
    round. kinds: the comparison's systems per limit (their .kind), in rotation order."""
    steps = []
    step = lambda group, kind, rnd, conns, limit="high", users=1000: steps.append(  # noqa: E731
        dict(group=group, kind=kind, round=rnd, conns=conns, limit=limit, users=users))
    for rnd in range(cfg["rounds"]):
        for limit in cfg["limits"]:
            for conns in cfg["conns"]:
                order = kinds[limit]
                k = rnd % len(order)
                for i in list(range(k, len(order))) + list(range(k)):
                    if compared(cfg, order[i], limit, conns):
                        step("compare", order[i], rnd, conns, limit)
                        steps[-1]["index"] = i  # which of the limit's systems
    for rnd in range(cfg["rounds"]):
        for conns in cfg["scale_conns"]:
            step("conns", "policyd", rnd, conns)
            step("conns", "ceiling", rnd, conns)
        for conns in cfg["threads_conns"]:
            step("threads", "policyd", rnd, conns)
        for users, rounds in cfg["users"]:
            if rnd < rounds:
                step("users", "policyd", rnd, 64, users=users)
        if cfg.get("stages"):
            step("stages", "policyd", rnd, 64)
        if cfg["open_rate"] and rnd < cfg["open_rounds"]:
            step("open", "policyd", rnd, cfg["open_conns"])
    if cfg["idle_conns"]:
        step("idle", "policyd", 0, cfg["idle_conns"])
    return steps


# Seconds besides warm-up and measurement, per run: the reset (FLUSHALL and seeding 1,000
# users; the peers restart), starting policyd-bench, reading /proc; seeding takes about
# 25 µs per user. Calibrated on --quick runs of this machine (bench/results.md, "Reproduce").
RUN_OVERHEAD_S = 2.5
SEED_S_PER_USER = 25e-6
START_S = 20  # starting the systems, building nothing (the build is up to date)


def estimate_seconds(cfg, steps):
    total = START_S
    for s in steps:
        if s["group"] == "idle":
            total += cfg["idle_hold"] + RUN_OVERHEAD_S + s["conns"] / 2000
            continue
        if s["group"] == "stages":  # two runs (END-OF-MESSAGE, then RCPT), one reset
            total += 2 * (cfg["duration"] + cfg["warmup"]) + RUN_OVERHEAD_S + 1.0
            continue
        run = cfg["duration"] + RUN_OVERHEAD_S + s["users"] * SEED_S_PER_USER
        run += 1.0 if s["kind"].startswith("ceiling") else cfg["warmup"]  # calibration
        total += run + s["conns"] / 2000  # connecting thousands of clients
    return total


def print_plan(cfg, steps):
    rows = {}
    for s in steps:
        key = (s["group"], s["kind"], s["limit"], s["conns"], s["users"])
        rows[key] = rows.get(key, 0) + 1
    print(f"{'group':8s} {'system':20s} {'limit':5s} {'conns':>6s} {'users':>9s} rounds")
    for (group, kind, limit, conns, users), n in rows.items():
        print(f"{group:8s} {kind:20s} {limit:5s} {conns:>6,} {users:>9,} {n}")
    est = estimate_seconds(cfg, steps)
    print(f"{len(steps)} runs of {cfg['warmup']:g} s warm-up + {cfg['duration']:g} s measured; "
          f"estimated {est / 60:.1f} minutes")


class Bench:
    def __init__(self, env, cfg, log):
        self.env = env
        self.cfg = cfg
        self.log = log
        self.runs = []

    def load(self, target, conns, users=1000, rate=0, duration=None, eom_ratio=0.5):
        d = duration or self.cfg["duration"]
        cmd = [self.env.bench_bin, "-t", target, "-c", str(conns), "-d", f"{d}s",
               "-w", f"{self.cfg['warmup']}s", "-u", str(users), "--json", "--timeout", "10s",
               "--sender-domain", self.env.sender_domain, "--eom-ratio", str(eom_ratio)]
        if rate:
            cmd += ["-r", str(rate)]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=d + 300)
        if not out.stdout.strip():
            raise RuntimeError(f"policyd-bench failed ({out.returncode}): {out.stderr[-1000:]}")
        return json.loads(out.stdout)

    def measured(self, system, fn):
        """fn()'s result plus the CPU the server and Redis spent meanwhile, per request."""
        pids = set(system.pids())
        redis = [self.env.redis.proc.pid]
        c0, r0 = systems.cpu_seconds(pids), systems.cpu_seconds(redis)
        res = fn()
        pids |= set(system.pids())
        res["server_cpu_s"] = systems.cpu_seconds(pids) - c0
        res["redis_cpu_s"] = systems.cpu_seconds(redis) - r0
        return res

    def record(self, group, system, rnd, res, **params):
        row = dict(group=group, system=system.name, kind=system.kind, round=rnd, **params)
        row.update(res)
        self.runs.append(row)
        self.log(report.run_line(row))
        return row

    def policyd_like(self, group, system, rnd, conns, users=1000, rate=0, **params):
        system.reset(users)
        res = self.measured(system, lambda: self.load(system.target, conns, users, rate))
        return self.record(group, system, rnd, res, conns=conns, users=users, rate=rate, **params)

    def ceiling(self, group, ceiling, rnd, conns, limit, users=1000):
        ceiling.reset(users)
        if limit == "high":
            decision = ceiling.sample_decision("eom")
            if decision != ["dunno", "counted"]:
                raise RuntimeError(f"ceiling calls do not reach the counted path: {decision}")
            ceiling.reset(users)

        def both():
            # END-OF-MESSAGE first: the RCPT pre-checks then see counted messages, as in the
            # mixed workload (with the low limit: over the limit, i.e. throttles).
            eom = ceiling.run_stage("eom", conns, self.cfg["duration"] / 2, users)
            rcpt = ceiling.run_stage("rcpt", conns, self.cfg["duration"] / 2, users)
            e = 0.5
            return dict(rps=1.0 / (e / eom["rps"] + (1 - e) / rcpt["rps"]),
                        requests=eom["requests"] + rcpt["requests"], eom=eom, rcpt=rcpt,
                        latency=dict(p50_us=max(eom["p50_latency_ms"], rcpt["p50_latency_ms"]) * 1000,
                                     p99_us=max(eom["p99_latency_ms"], rcpt["p99_latency_ms"]) * 1000,
                                     max_us=max(eom["max_latency_ms"], rcpt["max_latency_ms"]) * 1000))
        res = self.measured(ceiling, both)
        return self.record(group, ceiling, rnd, res, conns=conns, users=users, limit=limit)

    def run(self, steps, sut, p1, p2, p3):
        """The runs plan() lists. sut: the comparison's systems per limit, in plan's order."""
        ceiling = sut["high"][[s.kind for s in sut["high"]].index("ceiling")]
        for s in steps:
            group, rnd, conns, limit = s["group"], s["round"], s["conns"], s["limit"]
            if group == "compare":
                system = sut[limit][s["index"]]
                if system.kind.startswith("ceiling"):
                    self.ceiling("compare", system, rnd, conns, limit)
                else:
                    self.policyd_like("compare", system, rnd, conns, limit=limit)
            elif group == "conns" and s["kind"] == "ceiling":
                self.ceiling("conns", ceiling, rnd, conns, "high")
            elif group == "conns":
                self.policyd_like("conns", p1, rnd, conns, limit="high")
            elif group == "threads":
                self.policyd_like("threads", p2, rnd, conns, limit="high")
            elif group == "users":
                self.memory_row(p3, rnd, s["users"])
            elif group == "stages":
                self.stage_rows(p3, rnd)
            elif group == "open":
                self.open_loop(p1, rnd)
            elif group == "idle":
                # A policyd that has not served thousands of busy connections before: its RSS
                # is what idle connections cost, not what earlier bursts left in malloc's arenas.
                fresh = systems.PolicydSystem(self.env, HIGH)
                fresh.start()
                try:
                    self.idle_rss(fresh)
                finally:
                    fresh.stop()

    def memory_row(self, system, rnd, users):
        """Redis memory per active user (3 limits): used_memory after the run minus after
        seeding, over the users that sent an END-OF-MESSAGE; again without the per-message
        keys (pd:msg: answers and list-bombing entries, one hash per sender and slice), which
        expire within minutes whatever the user count."""
        system.reset(users)
        base = self.env.redis_info("used_memory")
        res = self.measured(system, lambda: self.load(system.target, 64, users))
        after = self.env.redis_info("used_memory")
        dbsize = self.env.redis.cmd("DBSIZE")
        per_message = self.env.delete_keys("pd:msg:*")
        counters_only = self.env.redis_info("used_memory")
        active = max(res["users_active"], 1)
        res.update(used_memory_seeded=base, used_memory_after=after, dbsize=dbsize,
                   per_message_keys=per_message,
                   bytes_per_active_user=(after - base) / active,
                   bytes_per_active_user_counters=(counters_only - base) / active)
        return self.record("users", system, rnd, res, conns=64, users=users, limit="high")

    def stage_rows(self, system, rnd):
        """Redis CPU per request of each stage through policyd (64 connections, 3 limits, the
        full ACL path, 1,000 users): END-OF-MESSAGE only (each message one END-OF-MESSAGE),
        then RCPT only on the counters that run left (as in the mixed workload, the RCPT
        pre-checks see counted messages). Rows of group "stages", limit "eom" and "rcpt"."""
        system.reset(1000)
        for stage, ratio in (("eom", 1), ("rcpt", 0)):
            res = self.measured(system, lambda: self.load(system.target, 64, 1000,
                                                          eom_ratio=ratio))
            self.record("stages", system, rnd, res, conns=64, users=1000, limit=stage)

    def open_loop(self, system, rnd):
        self.policyd_like("open", system, rnd, self.cfg["open_conns"], rate=self.cfg["open_rate"],
                          limit="high")

    def idle_rss(self, system):
        """policyd's RSS with N idle connections: each connection sends one request (so it
        has been fully used), then all are held open while /proc/PID/status is read."""
        system.reset(1000)
        before = systems.rss_kib(system.pids())
        n, hold = self.cfg["idle_conns"], self.cfg["idle_hold"]
        p = subprocess.Popen([self.env.bench_bin, "-t", system.target, "-c", str(n), "--idle",
                              "-d", f"{hold}s", "--json"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        line = p.stderr.readline()
        time.sleep(min(1.0, hold / 2))
        during = systems.rss_kib(system.pids())
        out, err = p.communicate(timeout=hold + 120)
        if not line.startswith("ready") or not out.strip():
            raise RuntimeError(f"idle run failed: {line} {err[-500:]}")
        res = json.loads(out)
        res.update(rss_before_kib=before, rss_idle_kib=during,
                   bytes_per_connection=(during - before) * 1024 / max(res["connected"], 1))
        return self.record("idle", system, 0, res, conns=n, users=1000, limit="high")


def machine_facts(env):
    def version(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    def pkg(name):
        return version(["dpkg-query", "-W", "-f=${Version}", name])

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    return dict(cpus=os.cpu_count(), cpu=cpu, kernel=platform.release(),
                load=os.getloadavg(), commit=commit,
                redis=version(["redis-server", "--version"]),
                postfwd=pkg("postfwd"), ratelimit=pkg("policyd-rate-limit"),
                date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


# The comparison's systems per limit, in the order sut lists them in main().
KINDS = ["policyd", "postfwd", "policyd-rate-limit", "ceiling", "ceiling-pipelined", "trivial"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build directory with policyd, policyd-bench")
    ap.add_argument("--quick", action="store_true", help="smoke run, well under a minute")
    ap.add_argument("--out", help="write results.md, results.json, results.png here")
    ap.add_argument("--memory-only", action="store_true",
                    help="only the users and Redis memory rows (about 2 min per round)")
    ap.add_argument("--all-rows", action="store_true",
                    help="also the rows no target needs: scaling to 512 and 5,000 connections, "
                         "2 threads, 1,000,000 users, every system at every concurrency")
    ap.add_argument("--plan", action="store_true",
                    help="print the runs and the estimated time, run nothing")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=float, help="measured seconds per run")
    args = ap.parse_args()
    cfg = profile(args.quick, args.all_rows)
    if args.memory_only:
        cfg.update(rounds=1, conns=[], limits=[], scale_conns=[], threads_conns=[], open_rate=0,
                   idle_conns=0, users=[(1000, 1), (100_000, 1), (1_000_000, 1)])
    if args.rounds:
        cfg["rounds"] = args.rounds
        cfg["users"] = [(u, min(r, args.rounds)) for u, r in cfg["users"]]
    if args.duration:
        cfg["duration"] = args.duration
    kinds = {limit: list(KINDS) for limit in cfg["limits"]}
    if args.plan:
        print_plan(cfg, plan(cfg, kinds))
        return

    # postfwd2 daemonizes; as a child subreaper we become its parent and can reap it.
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="policyd-bench-")
    running = []
    try:
        env = systems.Env(tmp, args.build)
        running.append(env)
        facts = machine_facts(env)
        print(f"==> {facts['cpus']} CPUs ({facts['cpu']}), load {facts['load'][0]:.1f}; "
              f"temp dir {tmp}", flush=True)

        def start(system):
            system.start()
            running.append(system)
            return system

        p_high = start(systems.PolicydSystem(env, HIGH))
        p_low = start(systems.PolicydSystem(env, LOW))
        trivial = start(systems.TrivialSystem(env))  # answers alike under both limits
        sut = {"high": [p_high, systems.PostfwdSystem(env, HIGH), systems.RateLimitSystem(env, HIGH),
                        start(systems.Ceiling(env, p_high)),
                        start(systems.Ceiling(env, p_high, pipelined=True)), trivial],
               "low": [p_low, systems.PostfwdSystem(env, LOW), systems.RateLimitSystem(env, LOW),
                       start(systems.Ceiling(env, p_low)),
                       start(systems.Ceiling(env, p_low, pipelined=True)), trivial]}
        for limit in cfg["limits"]:
            for s in sut[limit][1:3]:
                start(s)
        assert all([s.kind for s in sut[limit]] == kinds[limit] for limit in kinds)
        steps = plan(cfg, kinds)
        print(f"==> {len(steps)} runs, estimated {estimate_seconds(cfg, steps) / 60:.0f} minutes",
              flush=True)
        bench = Bench(env, cfg, lambda line: print(line, flush=True))
        p2 = start(systems.PolicydSystem(env, HIGH, threads=2)) if cfg["threads_conns"] else None
        p3 = start(systems.PolicydSystem(env, HIGH, three_limits=True)) if cfg["users"] else None
        bench.run(steps, sut, p_high, p2, p3)
    finally:
        for s in reversed(running):
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                print(f"warning: stopping {getattr(s, 'name', s)}: {e}", file=sys.stderr)
        subprocess.run(["rm", "-rf", tmp])
    elapsed = time.monotonic() - started
    summary = report.Summary(bench.runs, cfg, facts, elapsed, quick=args.quick)
    print(summary.text_table(), flush=True)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        summary.write(args.out)
        print(f"==> wrote {os.path.join(args.out, 'results.md')} and results.png")
    print(f"==> bench finished in {elapsed:.0f}s")


if __name__ == "__main__":
    main()
