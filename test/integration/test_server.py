"""Issue 2: the daemon's foundation, over real sockets against a real redis-server."""

import asyncio
import os
import resource
import signal
import socket
import subprocess
import threading
import time
import unittest

from harness import (GOLDEN, POLICYD, Policyd, RedisServer, TempDir, free_port,
                     golden, request_bytes, wait_for)

DEFER = "451 4.3.0 Policy service temporarily unavailable"
RCPT = request_bytes(protocol_state="RCPT", sasl_username="nobody-known", sender="a@b.example",
                     recipient="c@d.example", client_address="192.0.2.1", instance="1.2.3")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerTest(unittest.TestCase):
    def setUp(self):
        self.tmp_ctx = TempDir()
        self.tmp = self.tmp_ctx.__enter__()
        self.redis = RedisServer(self.tmp)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        self.redis.stop()
        self.tmp_ctx.__exit__(None, None, None)

    def policyd(self, **kw):
        p = Policyd(self.tmp, self.redis.port, **kw)
        self.procs.append(p)
        p.start()
        p.wait_redis_ready()
        return p

    def test_golden_requests_get_dunno_over_tcp_and_unix(self):
        p = self.policyd()
        for unix in (False, True):
            c = p.client(unix=unix)
            for name in sorted(os.listdir(GOLDEN)):
                if name.endswith(".req"):
                    self.assertEqual(c.ask(golden(name)), "DUNNO", name)
            c.close()

    def test_ipv6_listener_serves(self):
        port = free_port()
        p = Policyd(self.tmp, self.redis.port)
        p.config_text = p.config_text.replace(f'"unix:{p.unix_path}"', f'"[::1]:{port}"')
        with open(p.config_path, "w") as f:
            f.write(p.config_text)
        self.procs.append(p)
        p.start()
        p.wait_redis_ready()
        s = socket.create_connection(("::1", port), timeout=5)
        s.sendall(RCPT)
        self.assertEqual(s.recv(100), b"action=DUNNO\n\n")
        s.close()

    def send_pipeline(self, p, user_prefix, n):
        """A client that sent n RCPT requests in one write, from users PREFIX0..PREFIX{n-1}."""
        c = p.client()
        c.send(b"".join(request_bytes(protocol_state="RCPT", sasl_username=f"{user_prefix}{i}",
                                      sender="a@b.example") for i in range(n)))
        return c

    def assert_answered_in_order(self, p, c, user_prefix, n):
        self.assertEqual([c.read_reply() for _ in range(n)], ["DUNNO"] * n)
        log = p.read_log()
        order = [log.find(f"user={user_prefix}{i} ") for i in range(n)]
        self.assertTrue(all(o >= 0 for o in order) and order == sorted(order), order)

    def test_three_pipelined_requests_get_three_ordered_replies(self):
        p = self.policyd()
        self.assert_answered_in_order(p, self.send_pipeline(p, "u", 3), "u", 3)

    def test_client_that_shuts_down_its_side_after_pipelining_gets_every_reply(self):
        # policyd reads on while a request is in flight, so it sees the EOF before it answers.
        p = self.policyd()
        c = self.send_pipeline(p, "h", 2)
        c.sock.shutdown(socket.SHUT_WR)
        self.assert_answered_in_order(p, c, "h", 2)
        self.assertTrue(c.closed_by_server())
        self.assertIn("client closed", p.read_log())

    def test_a_pipeline_longer_than_the_read_bound_is_answered_in_order(self):
        # While one request is in flight, reading stops once more than max_request_bytes wait
        # unparsed (60 KB here are 15 times that), and resumes as the backlog is answered.
        p = self.policyd(server_extra="max_request_bytes = 4096\n")
        self.assert_answered_in_order(p, self.send_pipeline(p, "p", 300), "p", 300)

    def test_request_fed_one_byte_at_a_time_gets_its_reply(self):
        p = self.policyd()
        c = p.client()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for b in golden("rcpt-sasl.req"):
            c.send(bytes([b]))
        self.assertEqual(c.read_reply(), "DUNNO")

    def test_bad_input_closes_only_the_offending_connection_with_a_logged_reason(self):
        p = self.policyd(server_extra="max_line_bytes = 512\nmax_attributes = 20\n"
                                      "max_request_bytes = 4096")
        cases = {
            "oversized line": b"request=smtpd_access_policy\nsender=" + b"x" * 600 + b"\n\n",
            "oversized request": b"request=smtpd_access_policy\n"
                                 + b"".join(b"a%d=%s\n" % (i, b"y" * 300) for i in range(15)),
            "too many attributes": b"request=smtpd_access_policy\n"
                                   + b"".join(b"k%d=v\n" % i for i in range(25)) + b"\n",
            "NUL byte": b"request=smtpd_access_policy\nsender=a\x00b\n\n",
            "no request=": b"protocol_state=RCPT\nsender=a@b\n\n",
            "line without =": b"request=smtpd_access_policy\ngarbage\n\n",
        }
        for what, data in cases.items():
            with self.subTest(what):
                bystander = p.client()
                bad = p.client()
                bad.send(data)
                self.assertIsNone(bad.read_reply(), what)
                self.assertEqual(bystander.ask(RCPT), "DUNNO")
                bystander.close()
                bad.close()
        log = p.read_log()
        for reason in ("max_line_bytes", "max_request_bytes", "max_attributes", "NUL",
                       "request=", "'='"):
            self.assertIn(reason, log)
        self.assertEqual(log.count("event=close"), log.count("event=close"))  # sanity
        self.assertGreaterEqual(log.count("reason=\"bad request"), len(cases))

    def test_a_thousand_concurrent_connections_all_get_replies(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        p = self.policyd(log_level="warning")

        async def one(i):
            r, w = await asyncio.open_connection("127.0.0.1", p.port)
            w.write(request_bytes(protocol_state="RCPT", sasl_username=f"user{i}",
                                  sender="a@b.example"))
            await w.drain()
            reply = await r.readuntil(b"\n\n")
            w.close()
            return reply

        async def all_of_them():
            return await asyncio.gather(*(one(i) for i in range(1000)))

        replies = asyncio.run(all_of_them())
        self.assertEqual(len(replies), 1000)
        self.assertTrue(all(r == b"action=DUNNO\n\n" for r in replies))

    def test_connection_limit_pauses_accept_without_spinning(self):
        p = self.policyd(max_connections=20, log_level="warning")
        held = [p.client() for _ in range(20)]
        for c in held:
            self.assertEqual(c.ask(RCPT), "DUNNO")
        waiting = []
        for _ in range(10):  # these sit in the kernel backlog
            s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
            s.sendall(RCPT)
            waiting.append(s)
        before = cpu_seconds(p.proc.pid)
        time.sleep(1.0)
        used = cpu_seconds(p.proc.pid) - before
        self.assertLess(used, 0.1, "policyd burns CPU while at its connection limit")
        for s in waiting:
            s.settimeout(0.2)
            with self.assertRaises(socket.timeout):
                s.recv(100)
        for c in held[:10]:
            c.close()
        for s in waiting:
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"action=DUNNO\n\n")
            s.close()

    def test_fd_exhaustion_pauses_accept_and_recovers(self):
        p = Policyd(self.tmp, self.redis.port, log_level="info")
        p.binary = "prlimit"
        self.procs.append(p)
        p.log = open(p.log_path, "ab")
        p.proc = subprocess.Popen(["prlimit", "--nofile=40:40", POLICYD, "-c", p.config_path],
                                  stdout=p.log, stderr=p.log)
        wait_for(p._accepts)
        p.wait_redis_ready()
        clients = []
        for _ in range(60):
            clients.append(socket.create_connection(("127.0.0.1", p.port), timeout=5))
        wait_for(lambda: "event=accept_paused" in p.read_log(), what="accept_paused")
        before = cpu_seconds(p.proc.pid)
        time.sleep(1.0)
        self.assertLess(cpu_seconds(p.proc.pid) - before, 0.1)
        for c in clients:
            c.close()
        c = p.client()
        self.assertEqual(c.ask(RCPT), "DUNNO")

    def _timed_ask(self, client):
        t = time.monotonic()
        reply = client.ask(RCPT)
        return reply, time.monotonic() - t

    def test_redis_killed_gives_failure_reply_in_time_then_recovers(self):
        p = self.policyd(request_timeout="300ms")
        c = p.client()
        self.assertEqual(c.ask(RCPT), "DUNNO")
        self.redis.kill()
        for _ in range(5):
            reply, took = self._timed_ask(c)
            self.assertEqual(reply, DEFER)
            self.assertLess(took, 0.3 + 0.1)
        self.redis.start()
        wait_for(lambda: c.ask(RCPT) == "DUNNO", timeout=5, what="recovery after restart")
        self.assertIn("event=failure_reply", p.read_log())

    def test_redis_paused_gives_failure_reply_in_time_then_recovers(self):
        p = self.policyd(request_timeout="300ms")
        c = p.client()
        self.assertEqual(c.ask(RCPT), "DUNNO")
        self.redis.pause()
        try:
            for _ in range(5):
                reply, took = self._timed_ask(c)
                self.assertEqual(reply, DEFER)
                self.assertLess(took, 0.3 + 0.1)
        finally:
            self.redis.resume()
        wait_for(lambda: c.ask(RCPT) == "DUNNO", timeout=5, what="recovery after SIGCONT")

    def test_sighup_with_a_broken_file_keeps_serving_with_the_old_config(self):
        p = self.policyd()
        c = p.client()
        with open(p.config_path, "a") as f:
            f.write("\n[server]\nrequest_timout = 5\n")
        p.signal(signal.SIGHUP)
        wait_for(lambda: "event=reload_failed" in p.read_log(), what="reload_failed")
        self.assertEqual(c.ask(RCPT), "DUNNO")
        with open(p.config_path, "w") as f:
            f.write(p.config_text.replace('request_timeout = "1s"', 'request_timeout = "2s"'))
        p.signal(signal.SIGHUP)
        wait_for(lambda: "event=reloaded" in p.read_log(), what="reloaded")
        self.assertEqual(c.ask(RCPT), "DUNNO")  # the connection survived both reloads

    def test_sigterm_answers_in_flight_requests_then_exits_zero(self):
        p = self.policyd(request_timeout="5s")
        clients = [p.client() for _ in range(5)]
        idle = p.client()
        failures = p.read_log().count("failure_reply")
        # DEBUG SLEEP keeps Redis busy so the requests are in flight when SIGTERM lands.
        slept = []
        sleeper = threading.Thread(
            target=lambda: slept.append(self.redis.cmd("DEBUG", "SLEEP", "0.5")))
        sleeper.start()
        time.sleep(0.1)
        for c in clients:
            c.send(RCPT)
        time.sleep(0.1)
        p.signal(signal.SIGTERM)
        for c in clients:
            self.assertEqual(c.read_reply(), "DUNNO")
        self.assertIsNone(idle.read_reply())
        self.assertEqual(p.proc.wait(10), 0)
        sleeper.join()
        self.assertEqual(slept, ["OK"])
        self.assertEqual(p.read_log().count("failure_reply"), failures)


class IdleTest(unittest.TestCase):
    def test_idle_connections_outlive_postfix_and_close_at_idle_timeout(self):
        with TempDir() as tmp:
            redis = RedisServer(tmp)
            short = Policyd(tmp, redis.port, server_extra='idle_timeout = "1s"')
            default = Policyd(tmp, redis.port)
            try:
                for p in (short, default):
                    p.start()
                    p.wait_redis_ready()
                a, b = short.client(), default.client()
                self.assertEqual(a.ask(RCPT), "DUNNO")
                self.assertEqual(b.ask(RCPT), "DUNNO")
                time.sleep(1.5)
                self.assertTrue(a.closed_by_server())
                self.assertIn('reason="idle timeout"', short.read_log())
                self.assertEqual(b.ask(RCPT), "DUNNO")  # default 1100 s > Postfix's 1000 s
                r = subprocess.run([POLICYD, "--check-config", "-c", default.config_path])
                self.assertEqual(r.returncode, 0)
            finally:
                short.stop()
                default.stop()
                redis.stop()


class ScriptCacheTest(unittest.TestCase):
    def test_script_flush_is_survived_through_the_eval_fallback(self):
        with TempDir() as tmp:
            redis = RedisServer(tmp)
            p = Policyd(tmp, redis.port)
            try:
                p.start()
                p.wait_redis_ready()
                c = p.client()
                failures = p.read_log().count("failure_reply")
                redis.cmd("SCRIPT", "FLUSH")
                self.assertEqual(c.ask(RCPT), "DUNNO")
                self.assertEqual(c.ask(RCPT), "DUNNO")
                self.assertEqual(p.read_log().count("failure_reply"), failures)
            finally:
                p.stop()
                redis.stop()


class CheckConfigTest(unittest.TestCase):
    def test_check_config_reports_each_error_with_its_line(self):
        with TempDir() as tmp:
            path = os.path.join(tmp, "bad.toml")
            with open(path, "w") as f:
                f.write('[server]\nrequest_timout = "1s"\nmax_connections = "many"\n'
                        '[redis]\nconnect_timeout = "fast"\n'
                        '[report]\nsecret = "0123456789abcdef0123"\n')
            r = subprocess.run([POLICYD, "--check-config", "-c", path], capture_output=True,
                               text=True)
            self.assertNotEqual(r.returncode, 0)
            err = r.stderr
            self.assertIn(f"{path}:2", err)
            self.assertIn("request_timout", err)
            self.assertIn(f"{path}:3", err)
            self.assertIn("max_connections", err)
            self.assertIn(f"{path}:5", err)
            self.assertIn("connect_timeout", err)

    def test_shipped_config_is_valid(self):
        from harness import ROOT
        r = subprocess.run([POLICYD, "--check-config", "-c",
                            os.path.join(ROOT, "conf", "policyd.toml")], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
