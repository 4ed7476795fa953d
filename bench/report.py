"""Turns scripts/bench's runs into the printed table, results.md, results.json and the plot.
Rounds of one configuration are summarised by their median (and min-max range for
throughput); every number written comes from the runs of this invocation."""

import json
import os
import statistics
import subprocess

TARGETS_NOTE = "2-core machine, policyd + Redis + load generator sharing it"


def fmt_us(us):
    if us is None:
        return "-"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def fmt_rps(v):
    return f"{v:,.0f}"


def actions_text(actions, total):
    if not actions or not total:
        return "-"
    parts = sorted(actions.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{k} {v * 100 / total:.0f}%" for k, v in parts[:3])


def run_line(r):
    """One progress line per run."""
    where = f"{r['group']:8s} {r.get('limit', ''):4s} c={r['conns']:<5} u={r.get('users', '')}"
    lat = r.get("latency", {})
    extra = ""
    if r["group"] == "users":
        extra = f" mem/active user {r['bytes_per_active_user']:.0f} B " \
                f"(counters {r['bytes_per_active_user_counters']:.0f} B)"
    if r["group"] == "idle":
        extra = f" RSS {r['rss_idle_kib'] / 1024:.1f} MiB with {r['connected']} connections"
    errors = r.get("error_count", 0)
    return (f"  {where:32s} {r['system']:24s} {fmt_rps(r['rps']):>8} req/s  "
            f"p50 {fmt_us(lat.get('p50_us')):>9}  p99 {fmt_us(lat.get('p99_us')):>9}  "
            f"{actions_text(r.get('actions'), r.get('requests'))}"
            f"{f'  errors {errors}' if errors else ''}{extra}")


class Row:
    """The rounds of one configuration."""

    def __init__(self, runs):
        self.runs = runs
        first = runs[0]
        self.system, self.kind, self.group = first["system"], first["kind"], first["group"]
        self.conns, self.limit, self.users = first["conns"], first.get("limit"), first.get("users")

    def med(self, fn):
        vals = [fn(r) for r in self.runs]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    @property
    def rps(self):
        return self.med(lambda r: r["rps"])

    def rps_range(self):
        vals = [r["rps"] for r in self.runs]
        return f"{fmt_rps(min(vals))}–{fmt_rps(max(vals))}" if len(vals) > 1 else ""

    def lat(self, key):
        return self.med(lambda r: r.get("latency", {}).get(key))

    def per_request(self, key):
        """CPU seconds in r[key] per request, in µs. policyd-bench's runs count warm-up replies
        too (the CPU was sampled over the whole run)."""
        def one(r):
            n = r.get("replies_total", r.get("requests"))
            return r[key] * 1e6 / n if n else None
        return self.med(one)

    def actions(self):
        total, acc = 0, {}
        for r in self.runs:
            for k, v in (r.get("actions") or {}).items():
                acc[k] = acc.get(k, 0) + v
                total += v
        return actions_text(acc, total)

    def errors(self):
        return sum(r.get("error_count", 0) for r in self.runs)


BASELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.json")
SCRIPT_COST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "script_cost.json")


REPRODUCE_ROWS = (
    "The full run (about 12 minutes on the 2-core machine; `--plan` prints its 75 runs) "
    "measures what issue 16's targets and the tables below need: policyd and both peers at 1, 8 "
    "and 64 connections under both limits, 3 rounds each; the redis-benchmark ceiling at 64 "
    "connections, high limit; the trivial DUNNO server at 1, 8 and 64 connections, high limit "
    "(what the transport alone costs; it answers alike under both limits, so the low limit's "
    "\"% of the trivial server\" uses those rows); 1,000 users "
    "with 3 limits in every round (Redis CPU per decision) and 100,000 once (bytes per active "
    "user barely move between rounds); each stage alone through policyd in every round (Redis "
    "CPU per RCPT and per END-OF-MESSAGE: END-OF-MESSAGE only, then RCPT only on the counters "
    "it left); the open loop once; the idle connections. Runs are 6 s "
    "after 1 s of warm-up: the rounds of one row spread by 10–50 % on this machine with 10 s "
    "runs too, so the median of three short rounds says as much as three long ones. "
    "`--all-rows` adds what no target reads: the pipelined ceiling, the ceiling at 1 and 8 "
    "connections and under the low limit, the trivial server under the low limit, 512 and 5,000 connections, 2 "
    "threads, and 1,000,000 users (seeding it takes most of a minute per round).\n")


def bytes_per_message(run):
    """A memory row's per-message keys (pd:msg: answers, list-bombing entries) per message the
    run sent, warm-up included (Redis keeps those too): what grows with throughput, not with
    users, so a faster run holds more of it per active user without costing more per message."""
    messages = run["replies_total"] * run["eom_ratio"]
    per_message = (run["bytes_per_active_user"] - run["bytes_per_active_user_counters"]) * \
        run["users_active"]
    return per_message / messages if messages else 0.0


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class Summary:
    def __init__(self, runs, cfg, facts, elapsed, quick=False, baseline=None, script_cost=None):
        self.runs, self.cfg, self.facts, self.elapsed, self.quick = runs, cfg, facts, elapsed, quick
        # The committed bench/results.json (read before this run overwrites it): issue 16's
        # "no worse than before" targets compare against it.
        self.baseline = baseline if baseline is not None else load_json(BASELINE)
        # `scripts/bench --script-cost` output, when a split-by-stage one was saved there.
        self.script_cost = script_cost if script_cost is not None else load_json(SCRIPT_COST)
        groups = {}
        for r in runs:
            key = (r["group"], r["system"], r.get("limit"), r["conns"], r.get("users"),
                   r.get("rate", 0))
            groups.setdefault(key, []).append(r)
        self.rows = [Row(v) for v in groups.values()]

    def find(self, group, kind=None, system=None, limit=None, conns=None, users=None):
        for row in self.rows:
            if row.group != group or (kind and row.kind != kind) or \
               (system and row.system != system) or (limit and row.limit != limit) or \
               (conns is not None and row.conns != conns) or \
               (users is not None and row.users != users):
                continue
            return row
        return None

    def trivial(self, limit, conns):
        """The trivial DUNNO server's row: it answers alike under both limits, so the full run
        measures it under the high limit only and the low limit's comparisons use that row."""
        return self.find("compare", "trivial", limit=limit, conns=conns) or \
            self.find("compare", "trivial", limit="high", conns=conns)

    # ---- tables ---------------------------------------------------------------------------

    def comparison_rows(self, limit):
        rows = [r for r in self.rows if r.group == "compare" and r.limit == limit]
        order = {"policyd": 0, "postfwd": 1, "policyd-rate-limit": 2, "ceiling": 3,
                 "ceiling-pipelined": 4, "trivial": 5}
        return sorted(rows, key=lambda r: (r.conns, order.get(r.kind, 9)))

    def table(self, rows, md):
        head = ["conns", "system", "req/s (median)", "range", "p50", "p99", "p99.9", "max",
                "replies", "errors", "server CPU/req", "Redis CPU/req"]
        lines = []
        for r in rows:
            server_cpu = r.per_request("server_cpu_s")
            uses_redis = r.kind == "policyd" or r.kind.startswith("ceiling")
            redis_cpu = r.per_request("redis_cpu_s") if uses_redis else None
            lines.append([f"{r.conns:,}", r.system, fmt_rps(r.rps), r.rps_range(),
                          fmt_us(r.lat("p50_us")), fmt_us(r.lat("p99_us")),
                          fmt_us(r.lat("p999_us")), fmt_us(r.lat("max_us")),
                          r.actions() if not r.kind.startswith("ceiling") else "(script)",
                          str(r.errors()) if not r.kind.startswith("ceiling") else "-",
                          fmt_us(server_cpu) if server_cpu else "-",
                          fmt_us(redis_cpu) if redis_cpu else "-"])
        return render(head, lines, md)

    def ratios(self, limit):
        out = []
        for conns in sorted({r.conns for r in self.comparison_rows(limit)}):
            p = self.find("compare", "policyd", limit=limit, conns=conns)
            c = self.find("compare", "ceiling", limit=limit, conns=conns)
            cp = self.find("compare", "ceiling-pipelined", limit=limit, conns=conns)
            peers = [r for r in self.comparison_rows(limit)
                     if r.conns == conns and r.kind in ("postfwd", "policyd-rate-limit")]
            best = max(peers, key=lambda r: r.rps) if peers else None
            t = self.trivial(limit, conns)
            s = f"{conns} connections: policyd {fmt_rps(p.rps)} req/s" if p else ""
            if p and t:
                s += f" = {p.rps / t.rps * 100:.0f}% of the trivial DUNNO server ({fmt_rps(t.rps)})"
            if p and c:
                s += f" = {p.rps / c.rps * 100:.0f}% of the ceiling ({fmt_rps(c.rps)})"
            if p and cp:
                s += f", {p.rps / cp.rps * 100:.0f}% of the pipelined one ({fmt_rps(cp.rps)})"
            if p and best:
                s += f", {p.rps / best.rps:.1f}× the fastest peer ({best.system}, {fmt_rps(best.rps)})"
            out.append(s)
        return out

    def targets(self):
        """(target, measured, met) for the issue's targets; None where not measured."""
        out = []
        p64 = self.find("compare", "policyd", limit="high", conns=64)
        c64 = self.find("compare", "ceiling", limit="high", conns=64)
        peers = [r for r in self.comparison_rows("high")
                 if r.conns == 64 and r.kind in ("postfwd", "policyd-rate-limit")]
        if p64 and peers:
            best = max(peers, key=lambda r: r.rps)
            x = p64.rps / best.rps
            out.append(("throughput at 64 conns ≥ 10× the fastest peer",
                        f"{x:.1f}× ({fmt_rps(p64.rps)} vs {best.system} {fmt_rps(best.rps)})", x >= 10))
        if p64 and c64:
            x = p64.rps / c64.rps
            out.append(("throughput at 64 conns ≥ 60% of the redis-benchmark ceiling",
                        f"{x * 100:.0f}% ({fmt_rps(p64.rps)} vs {fmt_rps(c64.rps)})", x >= 0.6))
        if p64:
            v = p64.lat("p99_us")
            out.append(("p99 at 64 conns < 2 ms", fmt_us(v), v < 2000))
        o = self.find("open")
        if o:
            v = o.lat("p99_us")
            out.append((f"p99 at a fixed {self.cfg['open_rate']:,} req/s < 1 ms "
                        f"({o.conns} conns, from schedule)", fmt_us(v), v < 1000))
        i = self.find("idle")
        if i:
            mib = i.runs[0]["rss_idle_kib"] / 1024
            out.append((f"policyd RSS < 64 MiB with {i.conns:,} idle connections",
                        f"{mib:.1f} MiB", mib < 64))
        mem = [r for r in self.rows if r.group == "users"]
        if mem:
            worst = max(mem, key=lambda r: r.med(lambda x: x["bytes_per_active_user"]))
            v = worst.med(lambda x: x["bytes_per_active_user"])
            out.append(("Redis memory per active user with 3 limits < 1 KiB",
                        f"{v:.0f} B (worst row: {worst.users:,} users)", v < 1024))
        return out + self.issue16_targets()

    def issue16_targets(self):
        """Issue 16 ("Cheap decisions"): (target, measured, met); met None = not measured."""
        out = []
        peers_of = lambda limit, conns: [  # noqa: E731
            r for r in self.comparison_rows(limit)
            if r.conns == conns and r.kind in ("postfwd", "policyd-rate-limit")]
        # Redis CPU per decision: 64 conns, 3 limits, full ACL path (the users row with the
        # fewest users), else the 1-limit comparison row.
        mem = sorted([r for r in self.rows if r.group == "users"], key=lambda r: r.users)
        row = mem[0] if mem else self.find("compare", "policyd", limit="high", conns=64)
        if row:
            v = row.per_request("redis_cpu_s")
            what = f"3 limits, {row.users:,} users" if mem else "1 limit"
            out.append(("issue 16: Redis CPU per decision at 64 conns ≤ 15 µs",
                        f"{fmt_us(v)} ({what})", v is not None and v <= 15))
        # Per stage: the "stages" rows (policyd at 64 connections, one stage at a time), else
        # a saved `scripts/bench --script-cost` (decide.lua alone).
        sc = self.script_cost or {}
        for stage, bound in (("rcpt", 10), ("eom", 25)):
            row = self.find("stages", "policyd", limit=stage, conns=64)
            if row:
                v = row.per_request("redis_cpu_s")
                out.append((f"issue 16: Redis CPU per {stage.upper()} at 64 conns ≤ {bound} µs",
                            f"{fmt_us(v)} (policyd, 3 limits, 1,000 users, "
                            f"{stage.upper()} only)", v is not None and v <= bound))
                continue
            v = sc.get(stage, {}).get("per_call_us") if isinstance(sc.get(stage), dict) else None
            out.append((f"issue 16: --script-cost {stage.upper()} ≤ {bound} µs",
                        f"{v:.1f} µs" if v is not None else
                        "not in this run (scripts/bench --script-cost)",
                        None if v is None else v <= bound))
        for limit in ("high", "low"):
            p = self.find("compare", "policyd", limit=limit, conns=1)
            peers = peers_of(limit, 1)
            if p and peers:
                ok = all(p.rps > r.rps and p.lat("p50_us") < r.lat("p50_us") for r in peers)
                others = ", ".join(f"{r.system} {fmt_rps(r.rps)} req/s p50 {fmt_us(r.lat('p50_us'))}"
                                   for r in peers)
                out.append((f"issue 16: 1 conn, {limit} limit: throughput and p50 better than "
                             f"every peer", f"{fmt_rps(p.rps)} req/s p50 "
                             f"{fmt_us(p.lat('p50_us'))} vs {others}", ok))
                v = p.lat("p50_us")
                out.append((f"issue 16: 1 conn, {limit} limit: p50 ≤ 150 µs", fmt_us(v), v <= 150))
            for conns in (8, 64):
                p = self.find("compare", "policyd", limit=limit, conns=conns)
                peers = peers_of(limit, conns)
                if p and peers:
                    best = max(peers, key=lambda r: r.rps)
                    x = p.rps / best.rps
                    out.append((f"issue 16: {conns} conns, {limit} limit: ≥ 2× the fastest peer",
                                f"{x:.1f}× ({fmt_rps(p.rps)} vs {best.system} "
                                f"{fmt_rps(best.rps)})", x >= 2))
            p = self.find("compare", "policyd", limit=limit, conns=64)
            t = self.trivial(limit, 64)
            if p and t:
                x = p.rps / t.rps
                out.append((f"issue 16: 64 conns, {limit} limit: ≥ 50% of the trivial DUNNO server",
                            f"{x * 100:.0f}% ({fmt_rps(p.rps)} vs {fmt_rps(t.rps)})", x >= 0.5))
        base = Summary(self.baseline["runs"], self.cfg, {}, 0, baseline={}, script_cost={}) \
            if self.baseline and self.baseline.get("runs") else None
        if base:
            # Over the user counts both runs measured (the full run leaves 1,000,000 users to
            # --all-rows).
            counts = {r.users for r in self.rows if r.group == "users"} & \
                {r.users for r in base.rows if r.group == "users"}

            # Per active user, the counters a user keeps; per message, the per-message keys. The
            # sum per active user grows with the messages a run sends (bytes_per_message), so a
            # faster run would look worse by it; the table shows all three.
            def worst(s, value):
                rows = [r for r in s.rows if r.group == "users" and r.users in counts]
                return max((r.med(value) for r in rows), default=None)

            def counters_mem(s):
                return worst(s, lambda x: x["bytes_per_active_user_counters"])

            def message_mem(s):
                return worst(s, bytes_per_message)

            def idle_rss(s):
                i = s.find("idle")
                return i.runs[0]["rss_idle_kib"] / 1024 if i else None

            for name, fn, unit in (("Redis memory per active user (counters)", counters_mem, "B"),
                                   ("Redis memory per message (pd:msg)", message_mem, "B"),
                                   ("policyd RSS with idle connections", idle_rss, "MiB")):
                now, before = fn(self), fn(base)
                if now is not None and before is not None:
                    out.append((f"issue 16: {name} no worse than bench/results.md",
                                f"{now:.1f} {unit} vs {before:.1f} {unit}", now <= before * 1.02))
        return out

    def scaling_tables(self, md):
        parts = []
        conn_rows = [r for r in self.rows if r.group in ("compare", "conns") and r.limit == "high"
                     and r.kind in ("policyd", "ceiling")]
        conn_rows += [r for r in self.rows if r.group == "threads"]
        conn_rows.sort(key=lambda r: (r.kind != "policyd", r.system, r.conns))
        if conn_rows:
            parts.append(("Connections and threads (high limit)", self.table(conn_rows, md)))
        mem = sorted([r for r in self.rows if r.group == "users"], key=lambda r: r.users)
        if mem:
            head = ["users", "req/s", "p99", "active users", "used_memory after seed",
                    "bytes / active user", "… counters only", "per-message keys / message",
                    "keys after run"]
            lines = [[f"{r.users:,}", fmt_rps(r.rps), fmt_us(r.lat("p99_us")),
                      f"{r.med(lambda x: x['users_active']):,.0f}",
                      f"{r.med(lambda x: x['used_memory_seeded']) / 2**20:.1f} MiB",
                      f"{r.med(lambda x: x['bytes_per_active_user']):.0f}",
                      f"{r.med(lambda x: x['bytes_per_active_user_counters']):.0f}",
                      f"{r.med(bytes_per_message):.0f}",
                      f"{r.med(lambda x: x['dbsize']):,.0f}"] for r in mem]
            parts.append(("Users and Redis memory (plan with 3 limits, 64 connections)",
                          render(head, lines, md)))
        st = sorted([r for r in self.rows if r.group == "stages"], key=lambda r: r.limit != "rcpt")
        if st:
            head = ["stage", "req/s", "p50", "p99", "replies", "policyd CPU/req", "Redis CPU/req"]
            lines = [[r.limit.upper(), fmt_rps(r.rps), fmt_us(r.lat("p50_us")),
                      fmt_us(r.lat("p99_us")), r.actions(),
                      fmt_us(r.per_request("server_cpu_s")), fmt_us(r.per_request("redis_cpu_s"))]
                     for r in st]
            parts.append(("Per stage (policyd, 64 connections, 3 limits, 1,000 users; "
                          "END-OF-MESSAGE only, then RCPT only on its counters)",
                          render(head, lines, md)))
        o = [r for r in self.rows if r.group == "open"]
        if o:
            head = ["rate", "conns", "achieved", "p50", "p90", "p99", "p99.9", "max",
                    "service p99", "send lag p99", "errors"]
            lines = [[f"{r.runs[0]['rate']:,.0f}", str(r.conns), fmt_rps(r.rps),
                      fmt_us(r.lat("p50_us")), fmt_us(r.lat("p90_us")), fmt_us(r.lat("p99_us")),
                      fmt_us(r.lat("p999_us")), fmt_us(r.lat("max_us")),
                      fmt_us(r.med(lambda x: x["service"]["p99_us"])),
                      fmt_us(r.med(lambda x: x["send_lag"]["p99_us"])), str(r.errors())]
                     for r in o]
            parts.append(("Open loop (latency from each request's scheduled time)",
                          render(head, lines, md)))
        i = [r for r in self.rows if r.group == "idle"]
        if i:
            head = ["idle connections", "connected", "RSS before", "RSS held", "per connection"]
            lines = [[f"{r.conns:,}", f"{r.runs[0]['connected']:,}",
                      f"{r.runs[0]['rss_before_kib'] / 1024:.1f} MiB",
                      f"{r.runs[0]['rss_idle_kib'] / 1024:.1f} MiB",
                      f"{r.runs[0]['bytes_per_connection']:.0f} B"] for r in i]
            parts.append(("Idle connections (policyd, 1 thread)", render(head, lines, md)))
        return parts

    def bounds(self):
        """What the measurements say limits throughput: CPU per request of each process."""
        out = []
        p = self.find("compare", "policyd", limit="high", conns=64)
        c = self.find("compare", "ceiling", limit="high", conns=64)
        if p:
            pr, rr = p.per_request("server_cpu_s"), p.per_request("redis_cpu_s")
            bench = p.med(lambda x: (x["cpu_user_s"] + x["cpu_sys_s"]) * 1e6 / x["replies_total"])
            out.append(f"At 64 connections each policyd request cost {fmt_us(pr)} of policyd CPU, "
                       f"{fmt_us(rr)} of Redis CPU and {fmt_us(bench)} of policyd-bench CPU; "
                       f"one Redis core at that cost allows at most {fmt_rps(1e6 / rr)} decisions/s.")
        # One connection: each request waits for the one before, so latency is the sum of the
        # hops. The trivial server's request crosses two process wake-ups (load generator ->
        # server -> generator); policyd's, whenever it asks Redis, four (-> Redis -> policyd).
        p1 = self.find("compare", "policyd", limit="high", conns=1)
        t1 = self.trivial("high", 1)
        if p1 and t1:
            out.append(f"At 1 connection the trivial DUNNO server answered at p50 "
                       f"{fmt_us(t1.lat('p50_us'))} ({fmt_rps(t1.rps)} req/s): two process "
                       f"wake-ups on this machine. policyd's requests that ask Redis cross four; "
                       f"a request cost Redis {fmt_us(p1.per_request('redis_cpu_s'))} of CPU and "
                       f"policyd {fmt_us(p1.per_request('server_cpu_s'))} on average (at 64 connections "
                       f"{fmt_us(p.per_request('redis_cpu_s')) if p else '-'} and "
                       f"{fmt_us(p.per_request('server_cpu_s')) if p else '-'}): at one "
                       f"connection most of both is waking up, not deciding.")
        if c:
            out.append(f"Under redis-benchmark (64 clients) Redis spent "
                       f"{fmt_us(c.per_request('redis_cpu_s'))} CPU per FCALL (connection "
                       f"handling included).")
        return out

    # ---- output ---------------------------------------------------------------------------

    def text_table(self):
        out = []
        for limit in self.cfg["limits"]:
            out.append(f"\n== {limit} limit: {'nothing throttled' if limit == 'high' else 'most replies throttled'} ==")
            out.append(self.table(self.comparison_rows(limit), md=False))
            out.extend("  " + s for s in self.ratios(limit))
        for title, text in self.scaling_tables(md=False):
            out.append(f"\n== {title} ==\n{text}")
        t = [] if self.quick else self.targets()  # a smoke run's numbers say nothing
        if t:
            out.append("\n== targets ==")
            for name, value, ok in t:
                mark = "n/a" if ok is None else "met" if ok else "MISSED"
                out.append(f"  [{mark}] {name}: {value}")
        return "\n".join(out)

    def write(self, out_dir):
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump(dict(facts=self.facts, config=self.cfg, runs=self.runs), f, indent=1)
        png = self.plot(out_dir)
        with open(os.path.join(out_dir, "results.md"), "w") as f:
            f.write(self.markdown(png))

    def markdown(self, png):
        f, cfg = self.facts, self.cfg
        md = ["# policyd benchmark results\n",
              f"Measured by `scripts/bench` on {f['date']} at commit `{f['commit']}`: "
              f"{f['cpus']} CPUs ({f['cpu']}), Linux {f['kernel']}, load average "
              f"{f['load'][0]:.1f} when it started; the run took {self.elapsed / 60:.0f} minutes. "
              f"{f['redis']}; postfwd {f['postfwd']}; policyd-rate-limit {f['ratelimit']} "
              f"(Debian packages).\n",
              "## Reproduce\n",
              "```sh\nscripts/bench            # the full run: writes bench/results.md, "
              "results.json, results.png\nscripts/bench --plan     # its runs and estimated "
              "time, running nothing\nscripts/bench --all-rows # also the rows no target needs "
              "(about 23 minutes)\nscripts/bench --quick    # smoke run (< 1 minute), "
              "prints the table only\n```\n",
              REPRODUCE_ROWS,
              "From a fresh clone on Debian 12 as root (or with sudo): it installs what is "
              "missing (build tools, redis, postfwd, policyd-rate-limit, gnuplot), stops and "
              "disables the peers' system services, builds, and runs everything on loopback on "
              "free ports with its files in a temp dir. Numbers vary with the machine and "
              "whatever else runs on it: compare systems within one run, not across runs.\n",
              "## Setup\n",
              f"- One machine: redis-server, the policy servers and the load generator share its "
              f"{f['cpus']} CPUs over loopback.\n"
              f"- Load: `policyd-bench` — persistent connections, each sending a request and "
              f"waiting for the reply, as Postfix's smtpd does (closed loop); half RCPT, half "
              f"END-OF-MESSAGE (each message one RCPT, then its END-OF-MESSAGE), Postfix 3.7 "
              f"attributes; 1,000 SMTP users (unless a row says otherwise), each with its own "
              f"sender address (in a domain granted to it) and client IP; "
              f"{cfg['warmup']:g} s warm-up, then {cfg['duration']:g} s measured; median of "
              f"{cfg['rounds']} rounds (fewer where a row says so), the systems interleaved "
              f"within each round. Latency is "
              f"from send to reply, in an HdrHistogram-style histogram.\n"
              f"- The rule, configured in each system: a per-SMTP-user limit on messages per "
              f"hour — *high* (10⁹: nothing is throttled) and *low* (1: nearly every reply is "
              f"a throttle). Before every run Redis is flushed and re-seeded, and the peers are "
              f"restarted (fresh counters).\n"
              f"- **policyd**: `[server] threads = 1`, log level warning; plan `bench` with the "
              f"one limit; users seeded with account, plan, verified domain and grant (explicit "
              f"mode: the full ACL path); `[abuse] throttle_events = 1000000` so that throttles "
              f"stay throttles (the peers do not escalate to blocks).\n"
              f"- **postfwd2**: `id=LIMIT; sasl_username=~.; protocol_state==END-OF-MESSAGE; "
              f"action=rate(sasl_username/N/3600/421 …)`, Debian's defaults (pre-forked "
              f"children, 10–100), `--perfmon` (no logging).\n"
              f"- **policyd-rate-limit**: `limits: [[N, 3600]]` by `sasl_username`, sqlite3 on "
              f"tmpfs (its fastest backend here); by its design it counts at RCPT and answers "
              f"every END-OF-MESSAGE with `dunno` without a limit check.\n"
              f"- **ceiling**: `redis-benchmark -c C -r 1000` running `FCALL` of decide "
              f"as policyd loads it (its function library), with the ARGV policyd builds "
              f"(`policyd-bench decide-args`"
              f": `BuildDecideArgs` of a benchmark request, `__rand_int__` for user, recipient "
              f"and message identity); END-OF-MESSAGE and RCPT run separately and combine as "
              f"1 / (½/eom + ½/rcpt). Its p50/p99 are the worse of the two runs.\n"
              f"- CPU per request: utime+stime from /proc of the server's processes and of "
              f"redis-server during the run, divided by the measured requests.\n"]
        t = self.targets()
        if t:
            md.append(f"## Targets ({TARGETS_NOTE})\n")
            md.append(render(["target", "measured", ""],
                             [[n, v, "not measured" if ok is None else "met" if ok else "**missed**"]
                              for n, v, ok in t], md=True))
            md.append("")
        for limit in self.cfg["limits"]:
            md.append(f"## Comparison, {limit} limit ({'nothing throttled' if limit == 'high' else 'most replies throttled'})\n")
            md.append(self.table(self.comparison_rows(limit), md=True))
            md.append("")
            md.extend(f"- {s}" for s in self.ratios(limit))
            md.append("")
        md.append("## Scaling\n")
        for title, text in self.scaling_tables(md=True):
            md.append(f"### {title}\n\n{text}\n")
        b = self.bounds()
        if b:
            md.append("## What bounds the numbers\n")
            md.extend(f"- {s}" for s in b)
            md.append("")
        if png:
            md.append("## Plot\n\n![throughput and p99 latency per system and concurrency]"
                      "(results.png)\n")
        md.append("Raw runs: `results.json`.\n")
        return "\n".join(md)

    def plot(self, out_dir):
        """results.png: throughput and p99 against connections, one line per system."""
        series = {}
        for r in self.rows:
            if r.limit != "high" or r.group not in ("compare", "conns", "threads"):
                continue
            series.setdefault(r.system, []).append((r.conns, r.rps, (r.lat("p99_us") or 0) / 1000))
        if not series:
            return None
        data = os.path.join(out_dir, "results.dat")
        names = sorted(series)
        with open(data, "w") as f:
            for name in names:
                f.write(f"# {name}\n")
                for conns, rps, p99 in sorted(series[name]):
                    f.write(f"{conns} {rps:.1f} {p99:.3f}\n")
                f.write("\n\n")
        png = os.path.join(out_dir, "results.png")
        plots = lambda col: ", ".join(  # noqa: E731
            f"'{data}' index {i} using 1:{col} with linespoints title '{n}'"
            for i, n in enumerate(names))
        script = f"""
set terminal pngcairo size 1200,500 font ',10'
set output '{png}'
set multiplot layout 1,2
set logscale x
set xlabel 'connections'
set grid
set key top left
set ylabel 'requests/s'
set logscale y
set title 'Throughput (high limit, closed loop)'
plot {plots(2)}
set ylabel 'p99 latency (ms)'
set title 'p99 latency'
plot {plots(3)}
unset multiplot
"""
        r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
        os.unlink(data)
        if r.returncode != 0:
            print(f"warning: gnuplot failed: {r.stderr[-500:]}")
            return None
        return png


def render(head, rows, md):
    if md:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    fmt = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths))  # noqa: E731
    return "\n".join([fmt(head)] + [fmt(r) for r in rows])
