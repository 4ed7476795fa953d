"""Issue 9, acceptance 2: policyd follows a Redis Sentinel failover under load. Three real
redis-sentinel processes, a primary and a replica on loopback; the primary is killed; a new
one is promoted; every request is answered throughout, and decisions are right afterwards."""

import os
import subprocess
import threading
import time
import unittest

from harness import (Policyd, RedisServer, TempDir, free_port, request_bytes, wait_for,
                     _read_resp)
import socket

DEFER = "451 4.3.0 Policy service temporarily unavailable"


def resp(port, *args):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        return _read_resp(s.makefile("rb"))


class Sentinel:
    def __init__(self, tmp, primary_port):
        self.port = free_port()
        self.dir = os.path.join(tmp, f"sentinel-{self.port}")
        os.makedirs(self.dir)
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {primary_port} 2\n"
                    "sentinel down-after-milliseconds mymaster 1000\n"
                    "sentinel failover-timeout mymaster 5000\n"
                    "sentinel parallel-syncs mymaster 1\n")
        self.proc = subprocess.Popen(["redis-server", conf, "--sentinel"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._master() is not None, what="sentinel up")

    def _master(self):
        try:
            return resp(self.port, "SENTINEL", "get-master-addr-by-name", "mymaster")
        except OSError:
            return None

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class SentinelFailoverTest(unittest.TestCase):
    def test_failover_under_load(self):
        with TempDir() as tmp:
            primary = RedisServer(tmp)
            replica = RedisServer(tmp, extra=["--replicaof", "127.0.0.1", str(primary.port)])
            wait_for(lambda: "master_link_status:up" in replica.cmd("INFO", "replication"),
                     timeout=20, what="replica in sync")
            sentinels = [Sentinel(tmp, primary.port) for _ in range(3)]
            listed = ", ".join(f'"127.0.0.1:{s.port}"' for s in sentinels)
            # The url's host and port are unused with sentinels: point them nowhere.
            p = Policyd(tmp, free_port(), request_timeout="300ms",
                        extra='[plans.default]\nlimits = [ { subject = "user", metric = '
                              '"messages", max = 1000000, window = "1h" } ]\n')
            p.config_text = p.config_text.replace(
                '[failure]',
                f'sentinels = [{listed}]\nmaster_name = "mymaster"\n\n[failure]')
            with open(p.config_path, "w") as f:
                f.write(p.config_text)
            try:
                primary.cmd("HSET", "pd:user:{user:ok}", "account", "acme", "mode", "account")
                primary.cmd("HSET", "pd:domains:{account:acme}", "example.com", "verified")
                primary.cmd("HSET", "pd:block:{user:bad}", "reason", "manual", "expires", "",
                            "report", "aaaaaaaaaaaaaaaaaaaa")
                primary.cmd("HSET", "pd:user:{user:bad}", "account", "acme")
                self.assertGreaterEqual(primary.cmd("WAIT", 1, 2000), 1)
                p.start()
                p.wait_redis_ready()
                self.assertIn("event=sentinel_primary", p.read_log())

                results = []  # (sent_at, took, reply)
                stop = threading.Event()

                def load(worker):
                    c = p.client(timeout=5)
                    i = 0
                    while not stop.is_set():
                        i += 1
                        t = time.monotonic()
                        reply = c.ask(request_bytes(
                            protocol_state="END-OF-MESSAGE", sasl_username="ok",
                            sender="ok@example.com", recipient_count=1, size=10,
                            client_address="192.0.2.1", client_port=worker,
                            instance=f"w{worker}.{i}"))
                        results.append((t, time.monotonic() - t, reply))
                        time.sleep(0.01)

                threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
                for t in threads:
                    t.start()
                time.sleep(1)
                killed_at = time.monotonic()
                primary.kill()
                wait_for(lambda: any(s._master() == ["127.0.0.1", str(replica.port)]
                                     for s in sentinels), timeout=30, what="promotion")
                promoted_at = time.monotonic()
                wait_for(lambda: results and results[-1][2] == "DUNNO" and
                         results[-1][0] > promoted_at, timeout=15, what="policyd follows")
                followed_at = time.monotonic()
                time.sleep(1)
                stop.set()
                for t in threads:
                    t.join()

                self.assertTrue(all(r[2] in ("DUNNO", DEFER) for r in results),
                                {r[2] for r in results})
                self.assertLess(max(r[1] for r in results), 0.3 + 0.1)
                failures = sum(1 for r in results if r[2] == DEFER)
                print(f"\nsentinel: {len(results)} requests, all answered; {failures} failure "
                      f"replies; promotion {promoted_at - killed_at:.1f}s after the kill, "
                      f"policyd on the new primary {followed_at - promoted_at:.1f}s later; "
                      f"max latency {max(r[1] for r in results) * 1000:.0f} ms")
                c = p.client()
                self.assertEqual(c.ask(request_bytes(protocol_state="RCPT", sasl_username="bad",
                                                     sender="bad@example.com")),
                                 c.ask(request_bytes(protocol_state="RCPT", sasl_username="bad",
                                                     sender="bad@example.com")))
                self.assertTrue(c.ask(request_bytes(
                    protocol_state="RCPT", sasl_username="bad",
                    sender="bad@example.com")).startswith("550 5.7.1 [ABUSE]"))
                self.assertEqual(c.ask(request_bytes(protocol_state="RCPT", sasl_username="ok",
                                                     sender="ok@example.com")), "DUNNO")
            finally:
                p.stop()
                for s in sentinels:
                    s.stop()
                replica.stop()
                primary.stop()


if __name__ == "__main__":
    unittest.main()
