"""Signed webhooks (issue 20), end to end: real policyd instances, a real redis-server and a
real HTTP receiver in this process that verifies every signature the way the operator guide's
sample does (hmac.compare_digest). Events come from the real causes (policyctl block add/del,
a block's expiry, throttled requests, a review request) or, for the delivery-only cases, are
XADDed to the stream in the form emit_event writes.

Timing: delays are shortened by [webhooks] retry_delays/poll_interval/claim_after; assertions
are on order and lower bounds that the code guarantees, never on how fast something happens."""

import hashlib
import hmac
import json
import re
import signal
import subprocess
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import POLICYCTL, Policyd, ServedTestCase, free_port, request_bytes, wait_for

SECRET = "webhook-secret-0123456789"
REPLAY_WINDOW_S = 300


def verify(secret, header, body, now=None):
    """The operator guide's receiver check: t within the replay window, v1 = HMAC-SHA256 of
    "<t>.<body>", compared in constant time."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t = int(parts.get("t", "0"))
    if abs((now or time.time()) - t) > REPLAY_WINDOW_S:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Receiver:
    """An HTTP server on a free port. Each POST is recorded as (arrival time, path, headers,
    body bytes, parsed JSON, signature ok) and answered with the status that `statuses` maps
    its path to (default 200). A request whose event subject is in `hold` is held open until
    release() (a delivery in flight), then answered."""

    def __init__(self, statuses=None):
        self.statuses = statuses or {}
        self.received = []
        self.lock = threading.Lock()
        self.hold = set()
        self.fail_prefix = None  # events whose subject starts with it get 500
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                event = json.loads(body)
                ok = verify(SECRET, self.headers.get("X-Policyd-Signature", ""), body)
                with receiver.lock:
                    receiver.received.append((time.time(), self.path, dict(self.headers), body,
                                               event, ok))
                if event.get("subject") in receiver.hold:
                    receiver.released.wait(20)
                status = receiver.statuses.get(self.path, 200)
                if receiver.fail_prefix and event.get("subject", "").startswith(receiver.fail_prefix):
                    status = 500
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender was killed while we held its request

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self, path=None, subject=None, etype=None):
        with self.lock:
            return [r for r in self.received
                    if (path is None or r[1] == path) and (subject is None or r[4]["subject"] == subject)
                    and (etype is None or r[4]["type"] == etype)]

    def release(self):
        self.released.set()

    def stop(self):
        self.release()
        self.server.shutdown()
        self.server.server_close()


def endpoint(name, url, events):
    return (f'[[webhooks.endpoints]]\nname = "{name}"\nurl = "{url}"\nsecret = "{SECRET}"\n'
            f"events = {json.dumps(events)}\n")


def webhooks_config(receiver, endpoints, claim_after="5s", timeout="2s",
                    retry_delays=("200ms", "400ms", "800ms"), extra=""):
    text = (f"[webhooks]\nretry_delays = {json.dumps(list(retry_delays))}\n"
            f'poll_interval = "50ms"\nclaim_after = "{claim_after}"\ntimeout = "{timeout}"\n')
    for name, path, events in endpoints:
        text += endpoint(name, receiver.url(path), events)
    return extra + "\n" + text


def wait_groups(redis, names, timeout=10):
    """Until every endpoint's consumer group exists: a group starts at the stream's end, so
    events written before it would not be delivered."""
    def ready():
        try:
            groups = redis.cmd("XINFO", "GROUPS", "pd:events")
        except Exception:
            return False
        have = {g[1] for g in groups}
        return all(f"webhook:{n}" in have for n in names)
    wait_for(ready, timeout, interval=0.05, what="consumer groups")


def pending_count(redis, endpoint_name):
    return redis.cmd("XPENDING", "pd:events", f"webhook:{endpoint_name}")[0]


def add_event(redis, etype, subject, data=None):
    """An entry as _common.lua emit_event writes it."""
    return redis.cmd("XADD", "pd:events", "*", "type", etype, "subject", subject, "time",
                     str(int(time.time() * 1000)), "data", json.dumps(data or {}))


class WebhookDeliveryTest(ServedTestCase):
    """One redis, one policyd, one receiver with four endpoints: /ok (block events, reviews,
    throttles), /fail500, /bad400 (block.created only), and /none (an event type it never gets)."""

    CONFIG = ('[http]\nlisten = ["127.0.0.1:{http_port}"]\n'
              '[plans.default]\nlimits = [{{ subject = "user", metric = "messages", '
              'max = 1, window = "1h" }}]\n{webhooks}')

    @classmethod
    def setUpClass(cls):
        cls.receiver = Receiver({"/fail500": 500, "/bad400": 400})
        cls.CONFIG_ARGS = {"webhooks": webhooks_config(cls.receiver, [
            ("ok", "/ok", ["block.created", "block.lifted", "block.expired",
                           "review.requested", "throttle.started"]),
            ("fail500", "/fail500", ["block.created"]),
            ("bad400", "/bad400", ["block.created"]),
            ("none", "/none", ["quota.warning"]),
        ]) + endpoint("down", f"http://localhost:{free_port()}/", ["block.lifted"])}
        super().setUpClass()  # on a failed start it calls tearDownClass (the receiver too)
        try:
            wait_groups(cls.redis, ["ok", "fail500", "bad400", "none", "down"])
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.receiver.stop()

    def policyctl(self, *args):
        r = subprocess.run([POLICYCTL, "-c", self.p.config_path, *args], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def metrics(self):
        return self.http("GET", "/metrics")[1]

    def test_block_created_and_lifted_are_signed_json_with_report_url(self):
        self.policyctl("block", "add", "user:sig.user", "--reason", "spam", "--evidence", "x")
        wait_for(lambda: self.receiver.events("/ok", "user:sig.user", "block.created"),
                 what="block.created")
        self.policyctl("block", "del", "user:sig.user")
        wait_for(lambda: self.receiver.events("/ok", "user:sig.user", "block.lifted"),
                 what="block.lifted")
        for _, _, headers, body, event, ok in self.receiver.events("/ok", "user:sig.user"):
            self.assertTrue(ok, headers.get("X-Policyd-Signature"))
            self.assertRegex(headers["X-Policyd-Signature"], r"^t=\d+,v1=[0-9a-f]{64}$")
            self.assertEqual(set(event), {"id", "type", "time", "subject", "data"})
            self.assertRegex(event["id"], r"^\d+-\d+$")
            self.assertRegex(event["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual(headers["X-Policyd-Event-Id"], event["id"])
            # A changed body or another secret fails the same check.
            self.assertFalse(verify(SECRET, headers["X-Policyd-Signature"], body + b" "))
            self.assertFalse(verify("another-secret-000000", headers["X-Policyd-Signature"], body))
        created = self.receiver.events("/ok", "user:sig.user", "block.created")[0][4]
        self.assertEqual(created["data"]["reason"], "spam")
        self.assertTrue(created["data"]["report_url"].startswith(
            "https://policy.example.test/report?id=" + created["data"]["report"]))
        self.assertEqual(len(self.receiver.events("/ok", "user:sig.user", "block.created")), 1)
        # Only the endpoints that want the type get it; "none" wants quota warnings only.
        self.assertEqual(self.receiver.events("/none"), [])
        self.assertRegex(self.metrics(), r'policyd_webhook_deliveries_total\{endpoint="ok",'
                                         r'outcome="delivered"\} [1-9]')

    def test_block_expiry_is_one_block_expired_event(self):
        self.policyctl("block", "add", "user:short.block", "--reason", "manual", "--ttl", "1s")
        wait_for(lambda: self.receiver.events("/ok", "user:short.block", "block.expired"),
                 timeout=15, what="block.expired")
        entries = [e for e in self.redis.cmd("XRANGE", "pd:events", "-", "+")
                   if e[1][1] == "block.expired" and e[1][3] == "user:short.block"]
        self.assertEqual(len(entries), 1)
        self.assertEqual(self.redis.cmd("ZSCORE", "pd:block_expiries", "user:short.block"), None)

    def test_500_is_retried_with_growing_delays_then_fails(self):
        add_event(self.redis, "block.created", "user:retry.me", {"reason": "spam"})
        # 1 attempt + 3 retries (200ms, 400ms, 800ms), then the event fails for good.
        wait_for(lambda: pending_count(self.redis, "fail500") == 0 and
                 len(self.receiver.events("/fail500", "user:retry.me")) == 4, timeout=20,
                 what="four attempts, then failure")
        times = [r[0] for r in self.receiver.events("/fail500", "user:retry.me")]
        gaps = [b - a for a, b in zip(times, times[1:])]
        for gap, delay in zip(gaps, (0.2, 0.4, 0.8)):
            self.assertGreaterEqual(gap, delay - 0.02, gaps)  # never before its delay
        ids = {r[4]["id"] for r in self.receiver.events("/fail500", "user:retry.me")}
        self.assertEqual(len(ids), 1)  # the same event id on every attempt
        self.assertEqual(self.redis.cmd("HLEN", "pd:webhook:fail500"), 0)
        metrics = self.metrics()
        self.assertRegex(metrics, r'policyd_webhook_deliveries_total\{endpoint="fail500",'
                                  r'outcome="retried"\} [3-9]')
        self.assertRegex(metrics, r'policyd_webhook_deliveries_total\{endpoint="fail500",'
                                  r'outcome="failed"\} [1-9]')

    def test_400_is_not_retried(self):
        add_event(self.redis, "block.created", "user:refused", {"reason": "spam"})
        wait_for(lambda: self.receiver.events("/bad400", "user:refused") and
                 pending_count(self.redis, "bad400") == 0, what="a final 400")
        # Acknowledged: nothing left pending that could be sent again.
        self.assertEqual(len(self.receiver.events("/bad400", "user:refused")), 1)
        self.assertEqual(self.redis.cmd("HLEN", "pd:webhook:bad400"), 0)
        self.assertRegex(self.metrics(), r'policyd_webhook_deliveries_total\{endpoint="bad400",'
                                         r'outcome="failed"\} [1-9]')

    def test_throttle_started_once_per_subject_per_window(self):
        self.redis.cmd("HSET", "pd:user:{user:thr}", "account", "acme", "mode", "any")
        self.redis.cmd("HSET", "pd:account:{account:acme}", "plan", "default")
        self.redis.cmd("HSET", "pd:domains:{account:acme}", "x.example", "verified")
        c = self.p.client()
        try:
            for i in range(4):
                c.ask(request_bytes(protocol_state="END-OF-MESSAGE", sasl_username="thr",
                                    sender="a@x.example", instance=f"thr{i}",
                                    client_address="192.0.2.7", recipient_count=1, size=100))
        finally:
            c.close()
        wait_for(lambda: self.receiver.events("/ok", "user:thr", "throttle.started"),
                 what="throttle.started")
        entries = [e for e in self.redis.cmd("XRANGE", "pd:events", "-", "+")
                   if e[1][1] == "throttle.started" and e[1][3] == "user:thr"]
        self.assertEqual(len(entries), 1)  # three throttles, one event

    def test_unreachable_endpoint_is_retried_then_fails(self):
        # "down" names localhost (resolved with getaddrinfo) on a port nobody listens on.
        add_event(self.redis, "block.lifted", "user:nobody.home")
        wait_for(lambda: re.search(r'policyd_webhook_deliveries_total\{endpoint="down",'
                                   r'outcome="failed"\} [1-9]', self.metrics()), timeout=20,
                 what="the unreachable endpoint's event failed")
        self.assertRegex(self.metrics(), r'policyd_webhook_deliveries_total\{endpoint="down",'
                                         r'outcome="retried"\} [3-9]')
        self.assertIn("event=webhook_failed endpoint=down", self.p.read_log())

    def test_review_request_is_an_event(self):
        out = self.policyctl("block", "add", "user:reviewer", "--reason", "spam",
                             "--evidence", "x")
        url = re.search(r"https://\S+", out).group(0)
        query = urllib.parse.urlparse(url).query
        status, _, _ = self.http("POST", "/report?" + query, body=query,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 200)
        wait_for(lambda: self.receiver.events("/ok", "user:reviewer", "review.requested"),
                 what="review.requested")
        event = self.receiver.events("/ok", "user:reviewer", "review.requested")[0][4]
        self.assertEqual(event["data"]["kind"], "block")
        self.assertIn("report_url", event["data"])


class WebhookFailoverTest(ServedTestCase):
    """Several instances on one Redis: each event goes to one of them, and an event pending at
    a killed instance is delivered by another. Each test starts its own instances and receiver
    on the class's redis-server, emptied first."""

    START_POLICYD = False

    def setUp(self):
        self.redis.cmd("FLUSHALL")
        self.receiver = Receiver()
        self.instances = []

    def tearDown(self):
        self.receiver.release()
        for p in self.instances:
            if p.proc.poll() is None:
                p.stop()
        self.receiver.stop()

    def start(self, claim_after, retry_delays=("200ms", "400ms", "800ms")):
        p = Policyd(self.tmp, self.redis.port, extra=webhooks_config(
            self.receiver, [("dedup", "/dedup", ["*"])], claim_after=claim_after,
            timeout=claim_after,  # at most claim_after (--check-config)
            retry_delays=retry_delays))
        p.start()
        self.instances.append(p)
        return p

    def delivered_ids(self):
        return [r[4]["id"] for r in self.receiver.events("/dedup")]

    def test_four_instances_deliver_each_event_once(self):
        for _ in range(4):
            self.start("5s").wait_redis_ready()
        wait_groups(self.redis, ["dedup"])
        ids = []
        for i in range(40):  # spread over several polls, so that several instances take part
            ids.append(add_event(self.redis, "block.created", f"user:u{i}"))
            time.sleep(0.01)
        wait_for(lambda: set(self.delivered_ids()) == set(ids) and
                 pending_count(self.redis, "dedup") == 0, timeout=20, what="40 deliveries")
        time.sleep(0.3)  # a duplicate would have been sent before the last acknowledgement
        self.assertEqual(sorted(self.delivered_ids()), sorted(ids))

    def test_killed_deliverer_event_is_delivered_by_the_next_instance(self):
        first = self.start("1s")
        wait_groups(self.redis, ["dedup"])
        self.receiver.hold.add("user:in.flight")
        event_id = add_event(self.redis, "block.created", "user:in.flight")
        wait_for(lambda: self.delivered_ids() == [event_id], what="the first attempt")
        consumer = self.redis.cmd("XPENDING", "pd:events", "webhook:dedup", "-", "+", 10)[0][1]
        self.assertIn(f":{first.proc.pid}:", consumer)  # pending at the instance we kill
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        self.receiver.hold.clear()
        self.receiver.release()
        self.start("1s")
        wait_for(lambda: pending_count(self.redis, "dedup") == 0, timeout=15,
                 what="the event acknowledged by the second instance")
        # The receiver saw the id twice (the killed attempt never got its answer through) and,
        # deduplicating by id, processed it once; nothing is pending, so no third copy comes.
        self.assertEqual(self.delivered_ids(), [event_id, event_id])
        self.assertEqual(len(set(self.delivered_ids())), 1)
        # The killed instance's consumer, now with nothing pending, is forgotten.
        def dead_consumer_gone():
            names = [c[1] for c in self.redis.cmd("XINFO", "CONSUMERS", "pd:events",
                                                  "webhook:dedup")]
            return not any(f":{first.proc.pid}:" in n for n in names)
        wait_for(dead_consumer_gone, timeout=10, what="the dead consumer deleted")

    def test_a_lost_stream_is_delivered_from_its_start_when_the_group_is_made_again(self):
        # Redis lost the stream and its groups (a restart without persistence); the events
        # written before the instance notices are still delivered.
        self.start("5s")
        wait_groups(self.redis, ["dedup"])
        self.redis.cmd("DEL", "pd:events")
        event_id = add_event(self.redis, "block.created", "user:after.loss")
        wait_for(lambda: self.delivered_ids() == [event_id] and
                 pending_count(self.redis, "dedup") == 0, what="the event after the loss")

    def test_events_waiting_for_a_retry_do_not_hold_back_the_ones_behind_them(self):
        # 150 events wait an hour for their retry: more than one poll's batch (100) of the
        # instance's pending events; the event behind them still goes out at once.
        self.receiver.fail_prefix = "user:poison"
        self.start("5s", retry_delays=("1h",))
        wait_groups(self.redis, ["dedup"])
        for i in range(150):
            add_event(self.redis, "block.created", f"user:poison{i}")
        wait_for(lambda: len(self.receiver.events("/dedup")) == 150, what="150 first attempts")
        good = add_event(self.redis, "block.created", "user:good")
        # Acknowledged after the receiver answered: the receiver can have it while it is still
        # pending (a fresh-clone run of scripts/test once read 151 here).
        wait_for(lambda: good in self.delivered_ids() and
                 pending_count(self.redis, "dedup") == 150,
                 what="the event behind them delivered and acknowledged")
        self.assertEqual(pending_count(self.redis, "dedup"), 150)

    def test_shutdown_with_a_delivery_in_flight_leaves_the_event_pending(self):
        p = self.start("5s")
        wait_groups(self.redis, ["dedup"])
        self.receiver.hold.add("user:at.shutdown")
        add_event(self.redis, "block.created", "user:at.shutdown")
        wait_for(lambda: self.delivered_ids(), what="the attempt in flight")
        p.stop()  # SIGTERM: the attempt is abandoned, not acknowledged (sanitizers checked)
        self.assertEqual(p.proc.returncode, 0)
        self.assertEqual(pending_count(self.redis, "dedup"), 1)


if __name__ == "__main__":
    unittest.main()
