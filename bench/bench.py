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


def profile(quick):
    if quick:
        return dict(rounds=1, duration=1.0, warmup=0.5, conns=[8], limits=["high"],
                    scale_conns=[], threads_conns=[], users=[], open_rate=1000, open_conns=8,
                    idle_conns=1000, idle_hold=1.0)
    return dict(rounds=3, duration=10.0, warmup=2.0, conns=[1, 8, 64], limits=["high", "low"],
                scale_conns=[512, 5000], threads_conns=[8, 64, 512],
                users=[1000, 100_000, 1_000_000], open_rate=5000, open_conns=64,
                idle_conns=10000, idle_hold=5.0)


class Bench:
    def __init__(self, env, cfg, log):
        self.env = env
        self.cfg = cfg
        self.log = log
        self.runs = []

    def load(self, target, conns, users=1000, rate=0, duration=None):
        d = duration or self.cfg["duration"]
        cmd = [self.env.bench_bin, "-t", target, "-c", str(conns), "-d", f"{d}s",
               "-w", f"{self.cfg['warmup']}s", "-u", str(users), "--json", "--timeout", "10s",
               "--sender-domain", self.env.sender_domain]
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

    def comparison(self, sut):
        """Every system, every concurrency and limit, rounds interleaved; the order of the
        systems rotates per round so that none always runs first or last."""
        for rnd in range(self.cfg["rounds"]):
            for limit in self.cfg["limits"]:
                for conns in self.cfg["conns"]:
                    order = sut[limit]
                    k = rnd % len(order)
                    for system in order[k:] + order[:k]:
                        if system.kind.startswith("ceiling"):
                            self.ceiling("compare", system, rnd, conns, limit)
                        else:
                            self.policyd_like("compare", system, rnd, conns, limit=limit)

    def scaling(self, p1, p2, p3, ceiling):
        cfg = self.cfg
        for rnd in range(cfg["rounds"]):
            for conns in cfg["scale_conns"]:
                self.policyd_like("conns", p1, rnd, conns, limit="high")
                self.ceiling("conns", ceiling, rnd, conns, "high")
            for conns in cfg["threads_conns"]:
                self.policyd_like("threads", p2, rnd, conns, limit="high")
            for users in cfg["users"]:
                self.memory_row(p3, rnd, users)
            if cfg["open_rate"]:
                self.open_loop(p1, rnd)
        if not cfg["idle_conns"]:
            return
        # A policyd that has not served thousands of busy connections before: its RSS is
        # what idle connections cost, not what earlier bursts left in malloc's arenas.
        fresh = systems.PolicydSystem(self.env, HIGH)
        fresh.start()
        try:
            self.idle_rss(fresh)
        finally:
            fresh.stop()

    def memory_row(self, system, rnd, users):
        """Redis memory per active user (3 limits): used_memory after the run minus after
        seeding, over the users that sent an END-OF-MESSAGE; again without the per-message
        keys (pd:seen, pd:lb), which expire within minutes whatever the user count."""
        system.reset(users)
        base = self.env.redis_info("used_memory")
        res = self.measured(system, lambda: self.load(system.target, 64, users))
        after = self.env.redis_info("used_memory")
        dbsize = self.env.redis.cmd("DBSIZE")
        per_message = self.env.delete_keys("pd:seen:*") + self.env.delete_keys("pd:lb:*")
        counters_only = self.env.redis_info("used_memory")
        active = max(res["users_active"], 1)
        res.update(used_memory_seeded=base, used_memory_after=after, dbsize=dbsize,
                   per_message_keys=per_message,
                   bytes_per_active_user=(after - base) / active,
                   bytes_per_active_user_counters=(counters_only - base) / active)
        return self.record("users", system, rnd, res, conns=64, users=users, limit="high")

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


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build directory with policyd, policyd-bench")
    ap.add_argument("--quick", action="store_true", help="smoke run, well under a minute")
    ap.add_argument("--out", help="write results.md, results.json, results.png here")
    ap.add_argument("--memory-only", action="store_true",
                    help="only the users and Redis memory rows (about 2 min per round)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=float, help="measured seconds per run")
    args = ap.parse_args()
    cfg = profile(args.quick)
    if args.memory_only:
        cfg.update(rounds=1, conns=[], limits=[], scale_conns=[], threads_conns=[], open_rate=0,
                   idle_conns=0)
    if args.rounds:
        cfg["rounds"] = args.rounds
    if args.duration:
        cfg["duration"] = args.duration

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
        bench = Bench(env, cfg, lambda line: print(line, flush=True))
        bench.comparison({k: v for k, v in sut.items() if k in cfg["limits"]})
        p2 = start(systems.PolicydSystem(env, HIGH, threads=2)) if cfg["threads_conns"] else None
        p3 = start(systems.PolicydSystem(env, HIGH, three_limits=True)) if cfg["users"] else None
        bench.scaling(p_high, p2, p3, sut["high"][3])
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
