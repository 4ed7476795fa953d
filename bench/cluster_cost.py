#!/usr/bin/env python3
"""policyd on Redis Cluster (issue 17): throughput and Redis CPU per decision with 1 and with 3
primaries, and how evenly the load spreads over the primaries.

For each cluster size: a cluster of that many primaries (no replicas: a replica's CPU is not
the decision's) on free ports, slots split evenly; policyd on it with the bench's 3-limit plan;
1,000 users seeded (policyd-bench seed, each command sent to its key's primary); then
policyd-bench with 64 connections, half RCPT and half END-OF-MESSAGE, for a fixed number of
requests. Per row: requests/s and p50 as policyd-bench saw them; Redis CPU per decision (the
primaries' utime + stime over the run, summed, / requests); the busiest primary's share of
that CPU (1/3 is an even spread over three); policyd's CPU per decision.

On a 2-core machine three primaries cannot triple the throughput (policyd, the load generator
and the primaries share the two cores); CPU per decision and the spread say what more cores
would give: a fleet's decisions/s per primary core is 1e6 / (Redis CPU per decision x busiest
share x primaries).

Run: python3 bench/cluster_cost.py --build build [--requests N]. Prints one table; exits
non-zero when a reply was not DUNNO or policyd-bench counted an error.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
sys.path.insert(0, HERE)

import systems  # noqa: E402
from harness import CLUSTER_SLOTS, RedisServer, free_cluster_port, key_slot, wait_for  # noqa: E402

CONNECTIONS = 64
USERS = 1000


def resp_commands(data):
    """The commands of a RESP stream of arrays of bulk strings (what policyd-bench seed
    prints), each as (raw bytes, [arguments])."""
    pos, out = 0, []
    while pos < len(data):
        end = data.index(b"\r\n", pos)
        count = int(data[pos + 1:end])
        start, pos, args = pos, end + 2, []
        for _ in range(count):
            end = data.index(b"\r\n", pos)
            size = int(data[pos + 1:end])
            args.append(data[end + 2:end + 2 + size])
            pos = end + 2 + size + 2
        out.append((data[start:pos], args))
    return out


class BenchCluster:
    """`primaries` cluster-enabled redis-servers, no replicas, the slots split evenly among
    them by CLUSTER ADDSLOTSRANGE and joined by CLUSTER MEET (redis-cli --cluster create wants
    at least three primaries; the bench also wants one). .nodes for harness.Policyd(cluster=)."""

    def __init__(self, tmp, primaries):
        self.nodes = []
        try:
            for _ in range(primaries):
                port = free_cluster_port()
                self.nodes.append(RedisServer(tmp, port, extra=[
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", os.path.join(tmp, f"nodes-{port}.conf"),
                    "--save", "", "--appendonly", "no"]))
            per = CLUSTER_SLOTS // primaries
            self.ranges = []
            for i, node in enumerate(self.nodes):
                first = i * per
                last = CLUSTER_SLOTS - 1 if i == primaries - 1 else first + per - 1
                node.cmd("CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
                self.ranges.append((first, last, node))
            for node in self.nodes[1:]:
                node.cmd("CLUSTER", "MEET", "127.0.0.1", str(self.nodes[0].port))
            wait_for(self.healthy, timeout=30, interval=0.1, what="the bench cluster")
        except Exception:
            self.stop()
            raise

    def healthy(self):
        for n in self.nodes:
            info = n.cmd("CLUSTER", "INFO")
            if "cluster_state:ok" not in info or f"cluster_known_nodes:{len(self.nodes)}" not in info:
                return False
        return True

    def node_of(self, slot):
        return next(n for first, last, n in self.ranges if first <= slot <= last)

    def seed(self, config_path, bench_bin, users):
        """policyd-bench seed's commands, each piped to its key's primary."""
        out = subprocess.run([bench_bin, "seed", "-c", config_path, "--users", str(users),
                              "--plan", "bench", "--sender-domain", "example.com"],
                             capture_output=True, check=True).stdout
        per_node = {}
        for raw, args in resp_commands(out):
            node = self.node_of(key_slot(args[1])) if len(args) > 1 else self.nodes[0]
            per_node.setdefault(node.port, []).append(raw)
        for port, cmds in per_node.items():
            r = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=b"".join(cmds),
                               capture_output=True)
            if r.returncode != 0 or b"errors: 0" not in r.stdout:
                raise RuntimeError(f"seeding on {port} failed: {r.stdout!r} {r.stderr!r}")

    def cpu(self):
        return [systems.cpu_seconds([n.proc.pid]) for n in self.nodes]

    def stop(self):
        for n in self.nodes:
            n.stop()


def row(build, primaries, requests):
    tmp = tempfile.mkdtemp(prefix=f"policyd-cluster-bench-{primaries}-")
    cluster = policyd = None
    try:
        cluster = BenchCluster(tmp, primaries)
        extra = f"""
[policy]
default_plan = "bench"
[plans.bench]
limits = {systems.plan_limits(1_000_000_000, True)}
[abuse]
throttle_events = 1000000
"""
        os.environ["POLICYD_THREADS"] = "1"
        policyd = systems.Policyd(tmp, None, extra=extra, max_connections=20000,
                                  log_level="warning", cluster=cluster,
                                  binary=os.path.join(build, "policyd", "policyd"))
        policyd.start()
        policyd.wait_redis_ready(timeout=30)
        bench_bin = os.path.join(build, "policyd", "policyd-bench")
        cluster.seed(policyd.config_path, bench_bin, USERS)
        cpu_before = cluster.cpu()
        policyd_before = systems.cpu_seconds([policyd.proc.pid])
        started = time.monotonic()
        run = subprocess.run([bench_bin, "-t", f"127.0.0.1:{policyd.port}", "-c",
                              str(CONNECTIONS), "--eom-ratio", "0.5", "-u", str(USERS),
                              "-n", str(requests), "-w", "1s", "--json"],
                             capture_output=True, text=True, timeout=900)
        if run.returncode != 0:
            raise RuntimeError(f"policyd-bench failed: {run.stdout[-300:]} {run.stderr[-300:]}")
        wall = time.monotonic() - started
        result = json.loads(run.stdout)
        spent = [after - before for after, before in zip(cluster.cpu(), cpu_before)]
        policyd_cpu = systems.cpu_seconds([policyd.proc.pid]) - policyd_before
        # The warm-up's requests are not in "requests" but are in the CPU: count every reply.
        replies = result["replies_total"] or 1
        total = sum(spent)
        return {
            "primaries": primaries,
            "rps": result["rps"],
            "p50_us": result["latency"].get("p50_us", 0),
            "redis_us": total * 1e6 / replies,
            "busiest_share": max(spent) / total if total else 0,
            "policyd_us": policyd_cpu * 1e6 / replies,
            "actions": result["actions"],
            "errors": result["error_count"],
            "wall_s": wall,
        }
    finally:
        if policyd:
            policyd.stop()
        if cluster:
            cluster.stop()
        subprocess.run(["rm", "-rf", tmp])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="build directory with policyd, policyd-bench")
    ap.add_argument("--requests", type=int, default=60000)
    opts = ap.parse_args()
    rows = [row(opts.build, n, opts.requests) for n in (1, 3)]
    print(f"policyd on Redis Cluster: policyd-bench -c {CONNECTIONS}, half RCPT / half "
          f"END-OF-MESSAGE, {USERS} users, 3 limits, {opts.requests} requests")
    print(f"| primaries | req/s  | p50     | Redis CPU/decision | busiest primary's share "
          f"| policyd CPU/decision | replies |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        actions = ", ".join(f"{k} {v}" for k, v in sorted(r["actions"].items()))
        print(f"| {r['primaries']} | {r['rps']:,.0f} | {r['p50_us']:,.0f} µs | "
              f"{r['redis_us']:.1f} µs | {r['busiest_share'] * 100:.0f}% | "
              f"{r['policyd_us']:.1f} µs | {actions}; errors {r['errors']} |")
    # Every request is within its limits: anything but DUNNO, or an error, is a failed run
    # (scripts/test runs a short one as a smoke test).
    bad = [r for r in rows if r["errors"] or set(r["actions"]) - {"dunno"}]
    if bad:
        sys.exit(f"cluster bench: unexpected replies or errors with {bad[0]['primaries']} "
                 f"primaries")


if __name__ == "__main__":
    main()
