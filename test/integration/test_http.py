"""Issue 5: report pages, review requests, /metrics, /healthz and the signals API over real
HTTP against a real policyd and redis-server."""

import http.client
import json
import re
import secrets
import subprocess
import unittest
import urllib.parse

from harness import POLICYCTL, Policyd, RedisServer, ServedTestCase, TempDir, free_port, request_bytes

TOKEN = "test-token-0123456789abcdef"
EXTRA = """
[http]
listen = ["127.0.0.1:{http_port}"]
api_token = "{token}"
max_body_bytes = "1MiB"
timeout = "2s"

[abuse]
throttle_events = 5
score_threshold = 10
score_window = "1h"
[abuse.weights]
complaint = 5.0
bounce = 1.0

[plans.default]
limits = [ {{ subject = "user", metric = "messages", max = 1, window = "1h" }} ]
"""


class HttpTest(ServedTestCase):
    CONFIG = EXTRA
    CONFIG_ARGS = {"token": TOKEN}

    def acl_refusal(self, user="webuser", sender="x@not-ours.example"):
        self.redis.cmd("HSET", f"pd:user:{{user:{user}}}", "account", "acme")
        c = self.p.client()
        reply = c.ask(request_bytes(protocol_state="RCPT", sasl_username=user, sender=sender,
                                    instance="web"))
        c.close()
        m = re.search(r"See (\S+)$", reply)
        self.assertIsNotNone(m, reply)
        url = urllib.parse.urlsplit(m.group(1))
        return url.path + "?" + url.query, dict(urllib.parse.parse_qsl(url.query))

    def test_report_from_a_real_550_renders_reason_and_escapes_customer_values(self):
        path, q = self.acl_refusal(user="<b>web</b>", sender="<script>alert(1)</script>@x.example")
        status, page, _ = self.http("GET", path)
        self.assertEqual(status, 200)
        self.assertIn("not a verified domain", page)
        self.assertNotIn("<script>alert", page)
        self.assertIn("&lt;script&gt;", page)
        self.assertIn("Request review", page)

    def test_review_request_is_recorded_once(self):
        path, q = self.acl_refusal(user="reviewer")
        form = urllib.parse.urlencode({"id": q["id"], "auth": q["auth"], "action": "review"})
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        status, page, _ = self.http("POST", "/report", form, hdrs)
        self.assertEqual(status, 200)
        self.assertIn("Review requested", page)
        status, page, _ = self.http("POST", "/report", form, hdrs)
        self.assertIn("already pending", page)
        self.assertEqual(self.redis.cmd("HGET", f"pd:report:{q['id']}", "review"), "requested")
        self.assertEqual(self.redis.cmd("LRANGE", "pd:reviews", 0, -1).count(q["id"]), 1)

    def review(self, q, text):
        form = urllib.parse.urlencode({"id": q["id"], "auth": q["auth"], "action": "review",
                                       "text": text})
        return self.http("POST", "/report", form,
                         {"Content-Type": "application/x-www-form-urlencoded"})

    def test_review_text_round_trips_escaped_to_the_page_policyctl_and_the_event(self):
        _, q = self.acl_refusal(user="texter")
        text = "We fixed it.\r\n<script>alert(1)</script> & \"quoted\"\rDone"
        status, page, _ = self.review(q, text)
        self.assertEqual(status, 200)
        self.assertIn("Review requested", page)
        self.assertNotIn("<script>alert", page)
        self.assertIn("We fixed it.\n&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;\nDone",
                      page)
        stored = "We fixed it.\n<script>alert(1)</script> & \"quoted\"\nDone"
        self.assertEqual(self.redis.cmd("HGET", f"pd:report:{q['id']}", "review_text"), stored)
        out = subprocess.run([POLICYCTL, "-c", self.p.config_path, "review", "list", "--json"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        mine = [r for r in json.loads(out.stdout) if r["id"] == q["id"]]
        self.assertEqual(mine[0]["text"], stored)
        out = subprocess.run([POLICYCTL, "-c", self.p.config_path, "review", "list"],
                             capture_output=True, text=True, timeout=30)
        line = [l for l in out.stdout.splitlines() if q["id"] in l][0]
        self.assertIn("We fixed it. / <script>alert(1)</script>", line)
        events = self.redis.cmd("XRANGE", "pd:events", "-", "+")
        fields = [dict(zip(e[1][::2], e[1][1::2])) for e in events]
        mine = [f for f in fields if f["type"] == "review.requested"
                and json.loads(f["data"])["report"] == q["id"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["subject"], "user:texter")
        self.assertEqual(json.loads(mine[0]["data"])["text"], stored)
        # A second submit, with other words, is refused as already pending and changes nothing.
        status, page, _ = self.review(q, "again")
        self.assertIn("already pending", page)
        self.assertEqual(self.redis.cmd("HGET", f"pd:report:{q['id']}", "review_text"), stored)

    def test_hostile_review_text_is_refused_with_a_clear_message(self):
        _, q = self.acl_refusal(user="hostile")
        status, page, _ = self.review(q, "x" * (100 * 1024))
        self.assertEqual(status, 400)
        self.assertIn("it has 102,400 characters and at most 2,000 are allowed", page)
        self.assertIn(">" + "x" * 2000 + "</textarea>", page)  # kept, cut to the limit
        for bad in ("bell\x07", "esc\x1b[31m", "nul\x00"):
            status, page, _ = self.review(q, bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("contains characters that are not allowed", page)
        self.assertEqual(self.redis.cmd("HGET", f"pd:report:{q['id']}", "review"), "none")
        self.assertEqual(self.redis.cmd("LRANGE", "pd:reviews", 0, -1).count(q["id"]), 0)

    def test_forged_altered_foreign_and_random_ids_all_get_404(self):
        path, q = self.acl_refusal(user="victim")
        _, other = self.acl_refusal(user="other")
        rid, auth = q["id"], q["auth"]
        flipped = ("0" if auth[0] != "0" else "1") + auth[1:]
        cases = [f"/report?id={rid}", f"/report?id={rid}&auth=", f"/report?id={rid}&auth={flipped}",
                 f"/report?id={rid}&auth={auth.upper()}", f"/report?id={rid}&auth={other['auth']}",
                 f"/report?id={other['id']}&auth={auth}", "/report", "/report?id=../../etc",
                 f"/report?id={rid}x&auth={auth}"]
        bodies = set()
        for case in cases:
            status, body, _ = self.http("GET", case)
            self.assertEqual(status, 404, case)
            bodies.add(body)
        self.assertEqual(len(bodies), 1, "a 404 must not differ by cause")
        for _ in range(10000):
            rid = secrets.token_hex(10)
            status, _, _ = self.http("GET", f"/report?id={rid}&auth={auth}")
            self.assertEqual(status, 404)

    def test_signals_api_auth_validation_and_a_batch_of_1000(self):
        url = "/api/v1/signals"
        one = json.dumps({"signals": [{"subject": "user:sig", "kind": "bounce"}]})
        self.assertEqual(self.http("POST", url, one)[0], 401)
        self.assertEqual(self.http("POST", url, one, {"Authorization": "Bearer wrong"})[0], 401)
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        status, body, _ = self.http("POST", url, "{not json", auth)
        self.assertEqual(status, 400)
        self.assertIn("not valid JSON", body)
        status, body, _ = self.http("POST", url, json.dumps(
            {"signals": [{"subject": "user:sig", "kind": "nonsense"}]}), auth)
        self.assertEqual(status, 400)
        self.assertIn("nonsense", body)
        batch = [{"subject": f"user:bulk{i}", "kind": "bounce", "evidence": f"bounce {i}"}
                 for i in range(1000)]
        status, body, _ = self.http("POST", url, json.dumps({"signals": batch}), auth)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["accepted"], 1000)
        too_many = json.dumps({"signals": batch + batch[:1]})
        self.assertEqual(self.http("POST", url, too_many, auth)[0], 400)

    def test_signals_cross_the_threshold_and_block_with_the_signals_as_evidence(self):
        auth = {"Authorization": f"Bearer {TOKEN}"}
        kinds = ["bounce", "bad_recipient", "complaint"]  # weights 1 + 1 + 5 = 7 < 10
        for k in kinds:
            status, body, _ = self.http("POST", "/api/v1/signals", json.dumps(
                [{"subject": "user:scored", "kind": k, "evidence": f"{k} from feedback loop"}]),
                auth)
            self.assertEqual(json.loads(body)["blocked"], [])
        status, body, _ = self.http("POST", "/api/v1/signals", json.dumps(
            [{"subject": "user:scored", "kind": "spam", "evidence": "spam trap hit"}]), auth)
        self.assertEqual(json.loads(body)["blocked"], [{"subject": "user:scored",
                                                          "reason": "spam"}])
        block = self.redis.cmd("HGETALL", "pd:block:{user:scored}")
        fields = dict(zip(block[::2], block[1::2]))
        self.assertEqual(fields["reason"], "spam")
        report = self.redis.cmd("HGET", f"pd:report:{fields['report']}", "evidence")
        for text in ("spam trap hit", "complaint from feedback loop", "bounce from feedback loop"):
            self.assertIn(text, report)

    def test_healthz_and_metrics_move(self):
        self.assertEqual(self.http("GET", "/healthz")[:2], (200, "ok\n"))
        _, before, _ = self.http("GET", "/metrics")
        c = self.p.client()
        for i in range(3):
            c.ask(request_bytes(protocol_state="RCPT", sasl_username="m", sender="", instance=i))
        _, after, _ = self.http("GET", "/metrics")

        def value(text, series):
            m = re.search(re.escape(series) + r" (\S+)", text)
            return float(m.group(1)) if m else 0.0
        series = 'policyd_requests_total{state="RCPT",action="dunno"}'
        self.assertEqual(value(after, series) - value(before, series), 3)
        self.assertGreater(value(after, "policyd_decision_latency_seconds_count"),
                           value(before, "policyd_decision_latency_seconds_count"))
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            self.fail("python3-prometheus-client is needed (scripts/test installs it; run the "
                      "tests with Debian's /usr/bin/python3)")
        names = {f.name for f in text_string_to_metric_families(after)}
        self.assertIn("policyd_requests", names)
        self.assertIn("policyd_decision_latency_seconds", names)

    def test_oversized_headers_and_body_are_refused(self):
        status, _, _ = self.http("GET", "/metrics", headers={"X-Big": "a" * 20000})
        self.assertEqual(status, 431)
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        c.putrequest("POST", "/api/v1/signals")
        c.putheader("Authorization", f"Bearer {TOKEN}")
        c.putheader("Content-Length", str(2 * 1024 * 1024))
        c.endheaders()
        self.assertEqual(c.getresponse().status, 413)
        c.close()

    def test_slow_client_times_out(self):
        """A client that never finishes its request is cut off at [http] timeout (2 s here)."""
        import socket
        import time
        s = socket.create_connection(("127.0.0.1", self.http_port), timeout=5)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        t = time.monotonic()
        data = s.recv(1000)
        self.assertTrue(data.startswith(b"HTTP/1.1 408"), data)
        self.assertLess(time.monotonic() - t, 4)
        s.close()


class HealthzDownTest(unittest.TestCase):
    def get(self, port, path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()

    def test_healthz_is_503_when_redis_is_down(self):
        with TempDir() as tmp:
            redis = RedisServer(tmp)
            port = free_port()
            p = Policyd(tmp, redis.port, extra=f'[http]\nlisten = ["127.0.0.1:{port}"]\n')
            try:
                p.start()
                p.wait_redis_ready()
                # Issue 18: a slow (stopped) Redis, then none: /metrics is still served, with
                # the process's counters and without the accounts' gauges it could not read.
                redis.pause()
                try:
                    status, text = self.get(port, "/metrics")
                finally:
                    redis.resume()
                self.assertEqual(status, 200)
                self.assertIn("policyd_requests_total", text)
                self.assertNotIn("policyd_account_", text)
                redis.kill()
                self.assertEqual(self.get(port, "/healthz")[0], 503)
                status, text = self.get(port, "/metrics")
                self.assertEqual(status, 200)
                self.assertNotIn("policyd_account_", text)
            finally:
                p.stop()
                redis.stop()


if __name__ == "__main__":
    unittest.main()
