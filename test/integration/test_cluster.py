"""Issue 17: the RedisCluster fixture itself, so the cluster suites that build on it can trust
it: 3 primaries + 3 replicas come up healthy, keys of three slots land on three primaries, a
killed primary's replica takes over its slots with their keys, and reshard moves slots."""

import os
import subprocess
import time
import unittest

from harness import POLICYD, Policyd, RedisCluster, TempDir, key_slot, request_bytes

CLUSTER_CONFIG = """
[redis]
url = "redis://:secret@127.0.0.1:6379/0"
cluster = ["127.0.0.1:7000", "127.0.0.1:7001"]
{more}
[report]
secret = "test-secret-0123456789abcdef"
"""


class RedisClusterFixtureTest(unittest.TestCase):
    def test_create_route_failover_reshard(self):
        started = time.monotonic()
        with TempDir() as tmp:
            cluster = RedisCluster(tmp)
            try:
                primaries = cluster.primaries()
                # harness.key_slot (the tests' and the bench's CRC16) is Redis's own.
                for key in ("123456789", "pd:user:{user:alice}", "foo{}{bar}", "{a}{b}", "x{"):
                    self.assertEqual(key_slot(key.encode()),
                                     cluster.alive()[0].cmd("CLUSTER", "KEYSLOT", key), key)
                self.assertEqual(len(primaries), 3)
                self.assertEqual(len(cluster.nodes), 6)
                keys = [cluster.key_on(p) for p in primaries]
                for key in keys:
                    self.assertEqual(cluster.cmd(key, "SET", key, key), "OK")
                for key, port in zip(keys, primaries):
                    self.assertEqual(cluster.node(port).cmd("GET", key), key)
                # The replica has the write before its primary dies.
                cluster.wait_replicated(primaries[0])

                promoted = cluster.kill_primary(primaries[0])
                self.assertNotIn(primaries[0], cluster.primaries())
                self.assertIn(promoted, cluster.primaries())
                self.assertEqual(cluster.primary_of(keys[0]), promoted)
                self.assertEqual(cluster.cmd(keys[0], "GET", keys[0]), keys[0])

                def owned():
                    return {p: sum(last - first + 1 for first, last, q, _ in cluster.slots()
                                   if q == p) for p in cluster.primaries()}
                before = owned()
                cluster.reshard(primaries[1], primaries[2], 10)
                cluster.wait_healthy()
                after = owned()
                self.assertEqual(after[primaries[1]], before[primaries[1]] - 10)
                self.assertEqual(after[primaries[2]], before[primaries[2]] + 10)
                for key in keys:
                    self.assertEqual(cluster.cmd(key, "GET", key), key)
            finally:
                cluster.stop()
        print(f"\ncluster fixture: {time.monotonic() - started:.1f} s", flush=True)


class ClusterConfigTest(unittest.TestCase):
    """[redis] cluster through the binary: --check-config accepts it and says what excludes
    it; policyd starts on it and reports its seeds' faults clearly."""

    def run_policyd(self, tmp, more, *args):
        path = os.path.join(tmp, "policyd.toml")
        with open(path, "w") as f:
            f.write(CLUSTER_CONFIG.format(more=more))
        return subprocess.run([POLICYD, "-c", path, *args], capture_output=True, text=True,
                              timeout=10)

    def test_check_config_and_start(self):
        with TempDir() as tmp:
            r = self.run_policyd(tmp, "", "--check-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.run_policyd(tmp, 'sentinels = ["127.0.0.1:26379"]', "--check-config")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("redis.cluster: set together with redis.sentinels", r.stderr)

    def test_serves_on_a_cluster(self):
        """policyd -c with [redis] cluster = the nodes of a real cluster answers decisions."""
        with TempDir() as tmp:
            cluster = RedisCluster(tmp)
            p = Policyd(tmp, None, cluster=cluster, extra="""
[plans.default]
limits = [ { subject = "user", metric = "messages", max = 10, window = "1h" } ]
""")
            try:
                p.start()
                p.wait_redis_ready()
                key = "pd:user:{user:cfg}"
                cluster.cmd(key, "HSET", key, "account", "cfg", "mode", "account")
                key = "pd:domains:{account:cfg}"
                cluster.cmd(key, "HSET", key, "example.com", "verified")
                c = p.client()
                c.send(request_bytes(protocol_state="END-OF-MESSAGE", sasl_username="cfg",
                                     sender="cfg@example.com", recipient="r@dest.example",
                                     recipient_count=1, size=10, client_address="192.0.2.9",
                                     client_port=1, instance="cfg.1"))
                self.assertEqual(c.read_reply(), "DUNNO")
                key = "pd:rate:{user:cfg}"
                self.assertEqual(cluster.cmd(key, "HGET", key, "messages:3600:total"), "1")
            finally:
                p.stop()
                cluster.stop()


if __name__ == "__main__":
    unittest.main()
