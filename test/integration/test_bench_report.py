"""bench/report.py and bench/bench.py's plan, on made-up runs: what scripts/bench prints and
compares (no policyd, no Redis: the full run takes 12 minutes, so its report logic is checked
here)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "bench"))

import bench  # noqa: E402
import report  # noqa: E402


def memory_run(users, active, rps, counters, per_message, rounds=1):
    """A "users" row's run: `counters` bytes per active user, `per_message` bytes per message
    of a 7 s run at rps (half of its replies END-OF-MESSAGE)."""
    replies = int(rps * 7)
    messages = replies * 0.5
    total = counters + per_message * messages / active
    return [dict(group="users", system="policyd (1 thread)", kind="policyd", round=r, conns=64,
                 users=users, limit="high", rps=rps, requests=int(rps * 6),
                 replies_total=replies, eom_ratio=0.5, users_active=active,
                 bytes_per_active_user=total, bytes_per_active_user_counters=counters,
                 used_memory_seeded=1 << 20, dbsize=6000, server_cpu_s=1, redis_cpu_s=1)
            for r in range(rounds)]


def compare_run(kind, system, conns, rps, p50_us, server_us=30, redis_us=40):
    n = int(rps * 7)
    return dict(group="compare", system=system, kind=kind, round=0, conns=conns, users=1000,
                limit="high", rps=rps, requests=int(rps * 6), replies_total=n,
                latency=dict(p50_us=p50_us, p99_us=p50_us * 3),
                server_cpu_s=server_us * n / 1e6, redis_cpu_s=redis_us * n / 1e6,
                cpu_user_s=0.01 * n / 1e3, cpu_sys_s=0.0)


CFG = dict(rounds=1, duration=6.0, warmup=1.0, conns=[1, 64], limits=["high"], open_rate=0)


def summary(runs, baseline_runs=None):
    baseline = {"runs": baseline_runs} if baseline_runs else {}
    return report.Summary(runs, CFG, {}, 0, baseline=baseline, script_cost={})


def target(s, name):
    found = [t for t in s.targets() if t[0].startswith(name)]
    assert len(found) == 1, [t[0] for t in s.targets()]
    return found[0]


class MemoryTargets(unittest.TestCase):
    def test_bytes_per_message_is_the_per_message_part_over_the_messages_sent(self):
        run = memory_run(1000, 1000, 10_000, counters=700, per_message=100)[0]
        self.assertAlmostEqual(report.bytes_per_message(run), 100.0)

    def test_a_faster_run_keeping_the_same_bytes_is_no_worse(self):
        # Twice the throughput: twice the per-message keys per active user, the same per
        # message and per counter.
        before = memory_run(1000, 1000, 10_000, counters=700, per_message=100)
        now = memory_run(1000, 1000, 20_000, counters=700, per_message=100)
        self.assertGreater(now[0]["bytes_per_active_user"],
                           before[0]["bytes_per_active_user"] * 1.5)
        s = summary(now, before)
        self.assertTrue(target(s, "issue 16: Redis memory per active user (counters)")[2])
        self.assertTrue(target(s, "issue 16: Redis memory per message")[2])

    def test_more_counters_or_more_bytes_per_message_is_worse(self):
        before = memory_run(1000, 1000, 10_000, counters=700, per_message=100)
        more_counters = memory_run(1000, 1000, 10_000, counters=800, per_message=100)
        more_per_message = memory_run(1000, 1000, 10_000, counters=700, per_message=120)
        self.assertFalse(target(summary(more_counters, before),
                                "issue 16: Redis memory per active user (counters)")[2])
        self.assertTrue(target(summary(more_counters, before),
                               "issue 16: Redis memory per message")[2])
        self.assertFalse(target(summary(more_per_message, before),
                                "issue 16: Redis memory per message")[2])

    def test_the_users_table_shows_bytes_per_message(self):
        s = summary(memory_run(1000, 1000, 10_000, counters=700, per_message=100))
        tables = dict(s.scaling_tables(md=True))
        users = tables["Users and Redis memory (plan with 3 limits, 64 connections)"]
        self.assertIn("per-message keys / message", users)
        self.assertIn("| 700 | 100 |", users)


class OneConnectionBound(unittest.TestCase):
    def test_the_trivial_servers_one_connection_row_is_the_latency_bound(self):
        runs = [compare_run("policyd", "policyd (1 thread)", 1, 4000, 240, 100, 110),
                compare_run("trivial", "trivial DUNNO server", 1, 9000, 107, 46, 0),
                compare_run("policyd", "policyd (1 thread)", 64, 19000, 3000, 28, 35)]
        lines = summary(runs).bounds()
        one = [b for b in lines if b.startswith("At 1 connection")]
        self.assertEqual(len(one), 1, lines)
        self.assertIn("p50 107 µs", one[0])
        self.assertIn("a request cost Redis 110 µs of CPU and policyd 100 µs", one[0])
        self.assertIn("(at 64 connections 35 µs and 28 µs)", one[0])

    def test_no_line_without_the_trivial_servers_row(self):
        runs = [compare_run("policyd", "policyd (1 thread)", 1, 4000, 240)]
        self.assertFalse([b for b in summary(runs).bounds() if b.startswith("At 1 connection")])


class Plan(unittest.TestCase):
    def test_the_trivial_server_runs_at_every_concurrency_of_the_high_limit(self):
        cfg = bench.profile(quick=False)
        for conns in (1, 8, 64):
            self.assertTrue(bench.compared(cfg, "trivial", "high", conns))
            self.assertFalse(bench.compared(cfg, "trivial", "low", conns))
        self.assertTrue(bench.compared(cfg, "ceiling", "high", 64))
        self.assertFalse(bench.compared(cfg, "ceiling", "high", 8))
        self.assertFalse(bench.compared(cfg, "ceiling-pipelined", "high", 64))


if __name__ == "__main__":
    unittest.main()
