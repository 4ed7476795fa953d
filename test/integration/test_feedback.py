"""Issue 18 through the real processes: policyd stamps the first RCPT of a message (PREPEND,
one per message whatever the recipient count), counts it at END-OF-MESSAGE, and
policyd-feedback credits ARF reports and DSNs quoting it (exit 0), counts a report once,
credits nobody for a forged stamp, and exits 75 writing nothing when Redis is down. Customer C
of the issue (6 complaints in 1,000 messages) is blocked and the report page states the rate.
The account's rates (acme, of alice and carol) are gauges on /metrics. ClusterFeedbackTest runs
the same cases on a Redis Cluster (issue 17), where a user's complaint also counts in its
account's slot."""

import base64
import json
import os
import re
import subprocess
import unittest
import urllib.parse

from harness import BUILD, ROOT, RedisServer, ServedTestCase, free_port, request_bytes, wait_for

FEEDBACK = os.path.join(BUILD, "policyd", "policyd-feedback")
SAMPLES = os.path.join(ROOT, "test", "data", "feedback")
SECRET = "stamp-secret-for-tests-0123456789"
RSPAMD_TOKEN = "rspamd-token-for-tests-0123456789"
CONFIG = """
[http]
listen = ["127.0.0.1:{http_port}"]
[feedback]
stamp_secret = "{secret}"
rspamd_token = "{rspamd_token}"
"""
# What Rspamd 3.4's metadata_exporter (formatter "json") posts for a GTUBE reject.
RSPAMD_JSON = json.dumps({
    "ip": "127.0.0.1", "user": "alice", "qid": "4TqZ3k0Y6Qz9sRb", "subject": "test",
    "action": "reject", "score": 15.0, "rspamd_server": "mx", "fuzzy": [],
    "rcpt": ["r@dest.example"], "from": "news@customer.example",
    "symbols": [{"name": "GTUBE", "score": 0.0, "options": []},
                {"name": "MISSING_DATE", "score": 1.0}], "scan_time": 1,
    "header_from": ["news@customer.example"], "message_id": "m@x"})
HEADER = "X-Policyd-Sender"


def sample(name, stamp, message_id=None):
    with open(os.path.join(SAMPLES, name)) as f:
        text = f.read().replace("{{STAMP}}", stamp)
    if message_id:
        text = re.sub(r"(?m)^Message-I[Dd]: <[^>]*>", f"Message-ID: <{message_id}>", text, 1)
    return text


class FeedbackTest(ServedTestCase):
    CONFIG = CONFIG
    CONFIG_ARGS = {"secret": SECRET, "rspamd_token": RSPAMD_TOKEN}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for user in ("alice", "carol"):
            cls.redis.cmd("HSET", f"pd:user:{{user:{user}}}", "account", "acme", "mode",
                          "account")
        cls.redis.cmd("HSET", "pd:domains:{account:acme}", "customer.example", "verified")
        cls.instance = 0

    def message(self, user, recipients, client=None, sender="news@customer.example"):
        """One message: its RCPT replies, then the END-OF-MESSAGE reply."""
        type(self).instance += 1
        c = client or self.p.client()
        attrs = dict(sasl_username=user, sender=sender,
                     client_address="192.0.2.9", client_port="5000",
                     instance=f"msg.{self.instance}")
        replies = [c.ask(request_bytes(protocol_state="RCPT", recipient=r, **attrs))
                   for r in recipients]
        eom = c.ask(request_bytes(protocol_state="END-OF-MESSAGE", recipient="",
                                  recipient_count=len(recipients), size=100, **attrs))
        if client is None:
            c.close()
        return replies, eom

    def stamp(self, user):
        replies, _ = self.message(user, ["r@dest.example"])
        m = re.match(rf"PREPEND {HEADER}: (\S+)$", replies[0])
        self.assertIsNotNone(m, replies[0])
        return m.group(1)

    def ingest(self, text, config=None):
        r = subprocess.run([FEEDBACK, "-c", config or self.p.config_path], input=text.encode(),
                           capture_output=True, timeout=30)
        return r.returncode, r.stderr.decode()

    def count(self, key):
        flat = self.redis.cmd("HGETALL", key)
        return sum(int(v) for v in flat[1::2])

    def test_one_stamp_per_message_at_its_first_rcpt_whatever_the_recipient_count(self):
        replies, eom = self.message("alice", [f"r{i}@dest.example" for i in range(5)])
        self.assertRegex(replies[0], rf"^PREPEND {HEADER}: 1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
        self.assertEqual(replies[1:], ["DUNNO"] * 4)
        self.assertEqual(eom, "DUNNO")
        # The next message on the same connection gets its own stamp; unauthenticated or
        # other stages stay DUNNO.
        c = self.p.client()
        first, _ = self.message("alice", ["a@dest.example", "b@dest.example"], client=c)
        second, _ = self.message("alice", ["a@dest.example"], client=c)
        self.assertTrue(first[0].startswith("PREPEND ") and second[0].startswith("PREPEND "))
        self.assertEqual(first[1], "DUNNO")
        self.assertNotEqual(first[0], second[0])
        self.assertEqual(c.ask(request_bytes(protocol_state="DATA", sasl_username="alice",
                                             instance="x")), "DUNNO")
        c.close()

    def test_an_arf_report_is_credited_once_and_a_forged_one_never(self):
        stamp = self.stamp("alice")
        before = self.count("pd:complaints:{user:alice}")
        code, err = self.ingest(sample("arf-abuse-full.eml", stamp, "arf-once@fbl.example"))
        self.assertEqual(code, 0, err)
        self.assertEqual(self.count("pd:complaints:{user:alice}"), before + 1)
        self.assertEqual(self.count("pd:complaints:{sender:news@customer.example}") >= 1, True)
        code, err = self.ingest(sample("arf-abuse-full.eml", stamp, "arf-once@fbl.example"))
        self.assertEqual(code, 0, err)
        self.assertEqual(self.count("pd:complaints:{user:alice}"), before + 1)  # counted once
        forged = stamp[:-3] + ("AAA" if not stamp.endswith("AAA") else "BBB")
        code, err = self.ingest(sample("arf-abuse-full.eml", forged, "arf-forged@fbl.example"))
        self.assertEqual(code, 0, err)
        self.assertEqual(self.count("pd:complaints:{user:alice}"), before + 1)
        code, err = self.ingest(sample("not-a-report.eml", stamp))
        self.assertEqual(code, 0, err)

    def test_a_dsn_counts_its_permanent_failures_only(self):
        stamp = self.stamp("alice")
        before = self.count("pd:bounces:{user:alice}")
        self.assertEqual(self.ingest(sample("dsn-soft-only.eml", stamp))[0], 0)
        self.assertEqual(self.count("pd:bounces:{user:alice}"), before)  # 4.x.x: nothing
        self.assertEqual(self.ingest(sample("dsn-rfc3464.eml", stamp))[0], 0)
        self.assertEqual(self.count("pd:bounces:{user:alice}"), before + 2)

    def test_redis_down_exits_75_and_writes_nothing(self):
        stamp = self.stamp("alice")
        config = os.path.join(self.tmp, "down.toml")
        with open(self.p.config_path) as f:
            text = f.read()
        with open(config, "w") as f:
            if self.CLUSTER:  # the nodes are the seeds: one seed where nothing listens
                f.write(re.sub(r'(?m)^cluster = \[.*\]$',
                               f'cluster = ["127.0.0.1:{free_port()}"]', text))
            else:
                f.write(re.sub(r"redis://127\.0\.0\.1:\d+/0",
                               f"redis://127.0.0.1:{free_port()}/0", text))
        keys = sorted(self.redis.cmd("KEYS", "*"))
        code, err = self.ingest(sample("arf-abuse-full.eml", stamp, "arf-down@fbl.example"),
                                config)
        self.assertEqual(code, 75, err)
        self.assertIn("feedback_deferred", err)
        self.assertEqual(sorted(self.redis.cmd("KEYS", "*")), keys)

    def test_customer_c_is_blocked_and_the_report_page_states_the_rate(self):
        c = self.p.client()
        stamp = None
        for i in range(1000):
            replies, eom = self.message("carol", ["r@dest.example"], client=c,
                                        sender="offers@customer.example")
            stamp = stamp or replies[0].split(": ", 1)[1]
            self.assertEqual(eom, "DUNNO")
        for i in range(6):
            code, err = self.ingest(sample("arf-headers-only-redacted.eml", stamp,
                                           f"c-{i}@fbl.example"))
            self.assertEqual(code, 0, err)
        replies, _ = self.message("carol", ["r@dest.example"], client=c,
                                  sender="offers@customer.example")
        c.close()
        self.assertTrue(replies[0].startswith("550 5.7.1 [ABUSE]"), replies[0])
        url = urllib.parse.urlsplit(replies[0].rsplit(" ", 1)[1])
        status, page, _ = self.http("GET", url.path + "?" + url.query)
        self.assertEqual(status, 200)
        self.assertIn("complaint rate 0.6 % — 6 complaints in 1,000 messages over 7 days "
                      "(block level 0.5 %)", page)
        # On a cluster policyd's relay moves the event from its slot's outbox to pd:events.
        wait_for(lambda: "rate.warning" in str(self.redis.cmd("XRANGE", "pd:events", "-", "+")),
                 timeout=10, interval=0.05, what="rate.warning in pd:events")

    def test_rspamd_verdicts_are_spam_signals_only_with_the_token(self):
        basic = base64.b64encode(f"rspamd:{RSPAMD_TOKEN}".encode()).decode()
        wrong = base64.b64encode(b"rspamd:not-the-token-0123456789").decode()
        status, body, r = self.http("POST", "/api/v1/rspamd", RSPAMD_JSON,
                                    {"Authorization": f"Basic {wrong}"})
        self.assertEqual(status, 401)
        self.assertEqual(self.http("POST", "/api/v1/rspamd", RSPAMD_JSON)[0], 401)
        status, body, _ = self.http("POST", "/api/v1/rspamd", RSPAMD_JSON,
                                    {"Authorization": f"Basic {basic}"})
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["subject"], "user:alice")
        evidence = self.redis.cmd("LRANGE", "pd:evidence:{user:alice}", "0", "0")[0]
        self.assertIn("rspamd reject score 15.00: MISSING_DATE(1.00), GTUBE(0.00)", evidence)
        self.assertIn('"kind":"spam"', evidence)
        ham = json.dumps({"user": "alice", "action": "no action", "score": 0.1})
        status, body, _ = self.http("POST", "/api/v1/rspamd", ham,
                                    {"Authorization": f"Basic {basic}"})
        self.assertEqual((status, json.loads(body)["accepted"]), (200, 0))
        status, body, _ = self.http("POST", "/api/v1/rspamd", "{",
                                    {"Authorization": f"Bearer {RSPAMD_TOKEN}"})
        self.assertEqual(status, 400)

    def gauge(self, text, name, account="acme"):
        m = re.search(rf'^{name}{{account="{account}"}} (\S+)$', text, re.M)
        return float(m.group(1)) if m else None

    def test_the_account_rates_are_gauges_on_metrics(self):
        # alice and carol are both of acme: the account's gauges sum what both sent and got.
        stamp = self.stamp("alice")
        code, err = self.ingest(sample("arf-abuse-full.eml", stamp, "arf-acct@fbl.example"))
        self.assertEqual(code, 0, err)
        self.assertEqual(self.ingest(sample("dsn-rfc3464.eml", stamp))[0], 0)
        sent = self.count("pd:sent:{account:acme}")
        complaints = self.count("pd:complaints:{account:acme}")
        bounces = self.count("pd:bounces:{account:acme}")
        self.assertGreater(complaints, 0)
        self.assertGreater(bounces, 0)
        status, text, _ = self.http("GET", "/metrics")
        self.assertEqual(status, 200)
        for family in ("policyd_account_messages", "policyd_account_complaint_rate",
                       "policyd_account_bounce_rate"):
            self.assertIn(f"# TYPE {family} gauge\n", text)
        self.assertEqual(self.gauge(text, "policyd_account_messages"), sent)
        self.assertAlmostEqual(self.gauge(text, "policyd_account_complaint_rate"),
                               complaints / sent)
        self.assertAlmostEqual(self.gauge(text, "policyd_account_bounce_rate"), bounces / sent)
        # One more complaint moves the gauge at the next scrape.
        code, err = self.ingest(sample("arf-abuse-full.eml", stamp, "arf-acct2@fbl.example"))
        self.assertEqual(code, 0, err)
        text = self.http("GET", "/metrics")[1]
        self.assertAlmostEqual(self.gauge(text, "policyd_account_complaint_rate"),
                               (complaints + 1) / sent)


class ClusterFeedbackTest(FeedbackTest):
    CLUSTER = True


if __name__ == "__main__":
    unittest.main()
