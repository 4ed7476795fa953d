"""Issue 4: policyctl against a real redis-server and a real policyd. 1. every verb round-trips
(text and --json); 2. explain prints policyd's reply (ACL, ABUSE, 421, DUNNO), usage its counts;
3. explain and usage change no key (DUMP); 4. bad input: named, non-zero exit, nothing written.
Issue 17: 1, 2, 3 and 4 run again on a real Redis Cluster (the Cluster* classes at the end),
with accounts and users whose keys live on different primaries."""

import json
import os
import re
import subprocess
import unittest
import urllib.parse
import urllib.request

from harness import POLICYCTL, ServedTestCase, free_port, golden, request_bytes, wait_for

PLANS = """
[http]
listen = ["127.0.0.1:{http_port}"]
[abuse]
throttle_events = 1000
[abuse.weights]
complaint = 5.0
[plans.default]
limits = [ {{ subject = "user", metric = "messages", max = 1000, window = "1h" }} ]

[plans.starter]
limits = [
  {{ subject = "user",    metric = "messages",   max = 3,    window = "1h" }},
  {{ subject = "account", metric = "recipients", max = 1000, window = "1d" }},
  {{ subject = "sender",  metric = "messages",   max = 100,  window = "1h" }},
  {{ subject = "ip",      metric = "messages",   max = 100,  window = "1h" }},
]

[plans.business]
allow_any_domain = true
limits = [ {{ subject = "user", metric = "messages", max = 5000, window = "1h" }} ]
"""


def rcpt(user, sender):
    return dict(protocol_state="RCPT", sasl_username=user, sender=sender,
                recipient="r@dest.example", client_address="192.0.2.7", client_port="4000",
                instance="rcpt.1")


def eom(user, sender, n):
    return dict(protocol_state="END-OF-MESSAGE", sasl_username=user, sender=sender,
                recipient="r@dest.example", recipient_count="2", size="1000",
                client_address="192.0.2.7", client_port=str(5000 + n), instance=f"msg.{n}",
                queue_id=f"Q{n}")


def as_args(attrs):
    return [f"{k}={v}" for k, v in attrs.items()]


class PolicyctlBase(ServedTestCase):
    """One redis-server and one policyd for the class; Redis is emptied before each test."""

    CONFIG = PLANS

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(POLICYCTL):
            raise unittest.SkipTest(f"{POLICYCTL} not built")
        super().setUpClass()
        cls.policyd = cls.p

    def setUp(self):
        self.redis.cmd("FLUSHALL")

    def ctl(self, *args, stdin=None, config=None):
        """(exit status, stdout, stderr) of policyctl -c CONFIG ARGS."""
        r = subprocess.run([POLICYCTL, "-c", config or self.policyd.config_path, *args],
                           input=stdin, capture_output=True, text=True, timeout=60)
        self.assertNotIn("Sanitizer", r.stderr)
        self.assertNotIn("runtime error:", r.stderr)
        return r.returncode, r.stdout, r.stderr

    def ok(self, *args, stdin=None):
        code, out, err = self.ctl(*args, stdin=stdin)
        self.assertEqual(code, 0, f"policyctl {' '.join(args)}: {err}")
        return out

    def js(self, *args, stdin=None):
        return json.loads(self.ok(*args, "--json", stdin=stdin))

    def ask(self, attrs):
        """policyd's reply to a request: a dict of attributes, or bytes as Postfix sends."""
        c = self.policyd.client()
        try:
            return c.ask(attrs if isinstance(attrs, bytes) else request_bytes(**attrs))
        finally:
            c.close()

    def snapshot(self):
        """Every key with its DUMP (type, value, encoding): what "no key changed" compares."""
        if self.CLUSTER:
            # policyd's event relay moves each slot's outbox (pd:events:{TAG}) to pd:events in
            # the background: a snapshot waits until they are all moved, so that two
            # snapshots differ only by what the test's own calls wrote.
            wait_for(lambda: not any(self.redis.cmd("XLEN", k)
                                     for k in self.redis.cmd("KEYS", "pd:events:*")),
                     what="every event outbox relayed")
        return {k: self.redis.cmd("DUMP", k) for k in sorted(self.redis.cmd("KEYS", "*"))}

    def count(self, tag, messages=1, recipients=1, size=1000, limits=(("messages", 3600, 1000),)):
        """Counts a message on `tag`'s windows as a decision does (subject_count.lua, in the
        subject's slot), so that usage has counts to read without a decision."""
        self.msg = getattr(self, "msg", 0) + 1
        args = ["", "pd:", tag, f"seed.{self.msg}", 60, 60000, messages, recipients, size, ""]
        for metric, window, max_ in limits:
            args += [metric, window, max_]
        key = f"pd:rate:{{{tag}}}"
        reply = self.redis_on(key, "FCALL", self.function(key, "subject_count"), 0, *args)
        self.assertEqual(reply[0], "counted")

    def function(self, key, script):
        """The name policyd's function library gives `script` (NAME_VERSION), as loaded on
        key's Redis or primary."""
        def names(v):
            if isinstance(v, list):
                for x in v:
                    yield from names(x)
            elif isinstance(v, str) and v.startswith(script + "_"):
                yield v
        found = set(names(self.redis_on(key, "FUNCTION", "LIST")))
        self.assertEqual(len(found), 1, found)
        return found.pop()

    def customer(self):
        """acme on starter with example.com verified; alice explicit with a grant, bob in mode
        account, dave explicit without grants."""
        self.ok("account", "set", "acme", "--plan", "starter")
        self.ok("domain", "add", "acme", "example.com", "--verified")
        self.ok("user", "set", "alice", "--account", "acme")
        self.ok("grant", "alice", "example.com")
        self.ok("user", "set", "bob", "--account", "acme", "--mode", "account")
        self.ok("user", "set", "dave", "--account", "acme")


class RoundTripTest(PolicyctlBase):
    def test_account_set_and_show(self):
        out = self.ok("account", "set", "acme", "--plan", "starter")
        self.assertIn("account acme created: plan starter", out)
        self.assertEqual(self.redis.cmd("HGETALL", "pd:account:{account:acme}")[1], "starter")
        j = self.js("account", "show", "acme")
        self.assertEqual((j["account"], j["plan"], j["effective_plan"]),
                         ("acme", "starter", "starter"))
        self.assertEqual([(l["subject"], l["metric"], l["max"], l["window_s"])
                          for l in j["limits"]],
                         [("user", "messages", 3, 3600), ("account", "recipients", 1000, 86400),
                          ("sender", "messages", 100, 3600), ("ip", "messages", 100, 3600)])
        text = self.ok("account", "show", "acme")
        self.assertRegex(text, r"(?m)^plan +starter$")
        self.assertRegex(text, r"(?m)^user +messages +1h +3$")
        # Without --plan the plan stays; an empty plan falls back to [policy] default_plan.
        self.ok("account", "set", "acme")
        self.assertEqual(self.js("account", "show", "acme")["plan"], "starter")
        self.ok("account", "set", "acme", "--plan", "")
        j = self.js("account", "show", "acme")
        self.assertEqual((j["plan"], j["effective_plan"]), ("", "default"))
        self.assertEqual(self.ctl("account", "show", "nosuch")[0], 1)

    def test_domain_add_verify_list_del(self):
        self.ok("account", "set", "acme")
        self.assertIn("example.com on account acme: unverified",
                      self.ok("domain", "add", "acme", "Example.COM"))
        self.assertEqual(self.js("domain", "list", "acme"),
                         [{"domain": "example.com", "state": "unverified"}])
        self.assertEqual(self.js("domain", "verify", "acme", "example.com")["state"], "verified")
        self.ok("domain", "add", "acme", "example.com")  # adding again keeps it verified
        self.ok("domain", "add", "acme", "other.org", "--verified")
        self.assertEqual(self.redis.cmd("HGETALL", "pd:domains:{account:acme}"),
                         ["example.com", "verified", "other.org", "verified"])
        text = self.ok("domain", "list", "acme")
        self.assertRegex(text, r"(?m)^DOMAIN +STATE\nexample\.com +verified\nother\.org +verified$")
        self.assertEqual(self.js("account", "show", "acme")["domains"],
                         {"example.com": "verified", "other.org": "verified"})
        self.ok("domain", "del", "acme", "other.org")
        self.assertEqual([d["domain"] for d in self.js("domain", "list", "acme")], ["example.com"])
        self.assertEqual(self.ctl("domain", "del", "acme", "other.org")[0], 1)
        code, _, err = self.ctl("domain", "verify", "acme", "missing.org")
        self.assertEqual(code, 1)
        self.assertIn("policyctl domain add acme missing.org", err)

    def test_user_set_show_del_with_overrides(self):
        self.ok("account", "set", "acme", "--plan", "starter")
        self.ok("user", "set", "alice", "--account", "acme", "--plan", "business", "--mode",
                "any", "--limit", "user:messages:1h=7", "--limit", "ip:bytes:1d=2GiB")
        stored = self.redis.cmd("HGETALL", "pd:user:{user:alice}")
        self.assertEqual(dict(zip(stored[::2], stored[1::2])),
                         {"account": "acme", "plan": "business", "mode": "any",
                          "limit:user:messages:3600": "7", "limit:ip:bytes:86400": "2147483648"})
        j = self.js("user", "show", "alice")
        self.assertEqual((j["user"], j["account"], j["plan"], j["effective_plan"], j["mode"]),
                         ("alice", "acme", "business", "business", "any"))
        self.assertEqual(j["overrides"], {"user:messages:1h": "7", "ip:bytes:1d": "2147483648"})
        self.assertIn({"subject": "user", "metric": "messages", "window_s": 3600, "max": 7,
                       "override": True}, j["limits"])
        text = self.ok("user", "show", "alice")
        self.assertRegex(text, r"(?m)^mode +any$")
        self.assertRegex(text, r"(?m)^user +messages +1h +7 +override$")
        self.assertRegex(text, r"(?m)^ip +bytes +1d +2GiB +override$")
        # Only given fields change; an override can be removed; "" plan inherits the account's.
        self.ok("user", "set", "alice", "--plan", "", "--unset-limit", "ip:bytes:1d")
        j = self.js("user", "show", "alice")
        self.assertEqual((j["plan"], j["effective_plan"], j["mode"]), ("", "starter", "any"))
        self.assertEqual(j["overrides"], {"user:messages:1h": "7"})
        code, _, err = self.ctl("user", "show", "alice")
        self.assertIn("mode any acts as mode account", err)  # starter has no allow_any_domain
        out = self.ok("user", "set", "carol", "--account", "acme")
        self.assertRegex(out, r"(?m)^mode +explicit$")
        self.ok("user", "del", "carol")
        self.assertEqual(self.redis.cmd("EXISTS", "pd:user:{user:carol}"), 0)
        self.assertEqual(self.ctl("user", "show", "carol")[0], 1)
        self.assertEqual(self.ctl("user", "del", "carol")[0], 1)

    def test_grant_and_revoke(self):
        self.ok("account", "set", "acme")
        self.ok("domain", "add", "acme", "example.com")
        self.ok("user", "set", "alice", "--account", "acme")
        code, out, err = self.ctl("grant", "alice", "example.com")
        self.assertEqual(code, 0, err)
        self.assertIn("granted example.com to alice", out)
        self.assertIn("policyctl domain verify acme example.com", err)  # not verified yet
        self.ok("grant", "alice", "*.Mail.Example.com")  # covered by the account's example.com
        self.assertEqual(self.js("user", "show", "alice")["grants"],
                         ["*.mail.example.com", "example.com"])
        self.assertRegex(self.ok("user", "show", "alice"),
                         r"(?m)^grants +\*\.mail\.example\.com, example\.com$")
        self.assertEqual(sorted(self.redis.cmd("SMEMBERS", "pd:grants:{user:alice}")),
                         ["*.mail.example.com", "example.com"])
        self.assertEqual(self.js("revoke", "alice", "example.com")["revoked"], True)
        self.assertEqual(self.js("user", "show", "alice")["grants"], ["*.mail.example.com"])
        self.assertEqual(self.ctl("revoke", "alice", "example.com")[0], 1)
        # grant.lua given what a cluster's first reads found (ARGV 5-7) grants only while the
        # user is still in that account; then it answers conflict and writes nothing.
        key = "pd:user:{user:alice}"
        before = self.snapshot()
        self.assertEqual(self.redis_on(key, "FCALL", self.function(key, "grant"), 0, "pd:",
                                       "grant", "user:alice", "x.org", "beta", "x.org",
                                       "verified")[0], "conflict")
        self.assertEqual(self.snapshot(), before)
        self.redis_on(key, "FCALL", self.function(key, "grant"), 0, "pd:", "grant", "user:alice",
                      "x.org", "acme", "x.org", "verified")
        self.assertIn("x.org", self.redis.cmd("SMEMBERS", "pd:grants:{user:alice}"))
        self.ok("user", "del", "alice")
        self.assertEqual(self.redis.cmd("EXISTS", "pd:grants:{user:alice}"), 0)

    def test_block_add_list_show_del(self):
        j = self.js("block", "add", "user:alice", "--reason", "manual", "--ttl", "1h",
                    "--evidence", "phishing, FBL 1234")
        # On a cluster a report id starts with its subject's slot-tag (core/report_slot.h).
        self.assertRegex(j["report"], r"^[0-9a-z]{1,4}\.[0-9a-f]{20}$" if self.CLUSTER
                         else r"^[0-9a-f]{20}$")
        self.assertTrue(j["report_url"].startswith(
            f"https://policy.example.test/report?id={j['report']}&auth="))
        self.assertTrue(3590000 < self.redis.cmd("PTTL", "pd:block:{user:alice}") <= 3600000)
        self.ok("block", "add", "sender:Bob@Example.com", "--reason", "spam")
        shown = self.js("block", "show", "user:alice")
        self.assertEqual((shown["subject"], shown["reason"], shown["evidence"], shown["source"],
                          shown["report"], shown["expires"]),
                         ("user:alice", "manual", "phishing, FBL 1234", "policyctl", j["report"],
                          j["expires"]))
        self.assertEqual(shown["evidence_entries"][0]["detail"], "manual: phishing, FBL 1234")
        text = self.ok("block", "show", "user:alice")
        self.assertRegex(text, r"(?m)^reason +manual$")
        self.assertIn(j["report_url"], text)
        listed = self.js("block", "list")
        self.assertEqual([b["subject"] for b in listed], ["sender:bob@example.com", "user:alice"])
        self.assertEqual(listed[0]["expires"], "")
        self.assertEqual([b["subject"] for b in self.js("block", "list", "--reason", "spam")],
                         ["sender:bob@example.com"])
        text = self.ok("block", "list")
        self.assertRegex(text, r"(?m)^sender:bob@example\.com +spam +.* block del +policyctl")
        self.assertRegex(text, r"(?m)^user:alice +manual +.*phishing, FBL 1234$")
        self.assertIn("unblocked user:alice", self.ok("block", "del", "user:alice"))
        self.assertEqual(self.ctl("block", "show", "user:alice")[0], 1)
        self.assertEqual(self.ctl("block", "del", "user:alice")[0], 1)

    def test_signal_scores_and_blocks_like_the_api(self):
        j = self.js("signal", "user:carol", "complaint", "--evidence", "FBL 1")
        self.assertEqual((j["subject"], j["kind"], j["score"], j["blocked"]),
                         ("user:carol", "complaint", "5", ""))
        out = self.ok("signal", "user:carol", "spam", "--evidence", "FBL 2")
        self.assertIn("user:carol is now blocked (spam)", out)
        b = self.js("block", "show", "user:carol")
        self.assertEqual((b["reason"], b["source"]), ("spam", "policyctl"))
        self.assertEqual([e["kind"] for e in b["evidence_entries"]], ["spam", "complaint"])

    def test_report_show_and_review_list(self):
        report = self.js("block", "add", "user:alice", "--reason", "abuse", "--evidence", "x")
        j = self.js("report", "show", report["report"])
        self.assertEqual((j["id"], j["kind"], j["subject"], j["reason"], j["review"]),
                         (report["report"], "block", "user:alice", "abuse", "none"))
        self.assertEqual(j["url"], report["report_url"])
        self.assertEqual(j["evidence"][0]["kind"], "block")
        self.assertEqual(self.js("review", "list"), [])
        # The customer asks for a review on the report page (policyd's HTTP side).
        query = urllib.parse.urlparse(report["report_url"]).query
        body = urllib.parse.urlencode(dict(urllib.parse.parse_qsl(query))).encode()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/report", body, 10) as r:
            self.assertEqual(r.status, 200)
        self.assertRegex(self.ok("report", "show", report["report"]),
                         r"(?m)^review +requested at \d{4}-\d\d-\d\d ")
        listed = self.js("review", "list")
        self.assertEqual([(r["id"], r["kind"], r["subject"], r["reason"]) for r in listed],
                         [(report["report"], "block", "user:alice", "abuse")])
        self.assertRegex(self.ok("review", "list"),
                         rf"(?m)^{report['report']} +\d{{4}}-.* UTC +block +user:alice +abuse +-$")
        self.assertEqual(self.ctl("report", "show", "0" * 20)[0], 1)

    def test_usage_reads_each_subject_s_windows(self):
        self.customer()
        starter = {"user": [("messages", 3600, 3)], "account": [("recipients", 86400, 1000)],
                   "sender": [("messages", 3600, 100)], "ip": [("messages", 3600, 100)]}
        for _ in range(2):
            self.count("user:alice", limits=starter["user"])
            self.count("account:acme", recipients=2, limits=starter["account"])
            self.count("sender:alice@example.com", limits=starter["sender"])
        self.count("ip:192.0.2.7", limits=starter["ip"])
        j = self.js("usage", "user:alice", "--sender", "alice@example.com", "--ip", "192.0.2.7")
        self.assertEqual((j["subject"], j["plan"], j["account"]), ("user:alice", "starter", "acme"))
        self.assertEqual([(l["subject"], l["counter"], l["count"], l["max"])
                          for l in j["limits"]],
                         [("user", "user:alice", 2, 3), ("account", "account:acme", 4, 1000),
                          ("sender", "sender:alice@example.com", 2, 100),
                          ("ip", "ip:192.0.2.7", 1, 100)])
        text = self.ok("usage", "user:alice")
        self.assertRegex(text, r"(?m)^account recipients +account:acme +1d +4 +1000 +now$")
        self.assertRegex(text, r"(?m)^sender messages +- +1h +- +100 +-$")
        self.assertEqual([(l["subject"], l["count"]) for l in self.js("usage", "account:acme")
                          ["limits"]], [("account", 4)])
        self.assertEqual(self.ctl("usage", "user:nobody")[0], 1)
        # The user's own override is read where the user lives, the account's plan where it does.
        self.ok("user", "set", "alice", "--limit", "account:recipients:1d=9")
        j = self.js("usage", "user:alice")
        self.assertIn({"subject": "account", "counter": "account:acme", "metric": "recipients",
                       "window_s": 86400, "max": 9, "count": 4, "retry_after_s": 0,
                       "override": True}, j["limits"])

    def test_every_verb_has_help(self):
        out = self.ok("--help")
        verbs = re.findall(r"(?m)^  ([a-z]+(?: [a-z-]+)?)  +\S", out.split("verbs:")[1])
        self.assertEqual(len(verbs), 25, out)
        for verb in verbs:
            with self.subTest(verb=verb):
                code, text, _ = self.ctl(*verb.split(), "--help")
                self.assertEqual(code, 0)
                self.assertTrue(text.startswith(f"usage: policyctl {verb}"), text)
                self.assertIn("--json", text)


class ExplainMatchesPolicydTest(PolicyctlBase):
    def explain(self, attrs):
        out = self.ok("explain", *as_args(attrs))
        first = out.splitlines()[0]
        self.assertTrue(first.startswith("action="), out)
        return first[len("action="):], out

    def assert_same_reply(self, attrs):
        """policyd's reply to attrs equals explain's (text and --json). A 421's retry-after
        counts down, so both explains are bracketed by two policyd replies; when they agree, the
        explains must too. attrs may be a function giving a new request each time
        (END-OF-MESSAGE of new messages)."""
        make = attrs if callable(attrs) else (lambda: attrs)
        for _ in range(5):
            before = self.ask(make())
            said, out = self.explain(make())
            said_json = self.js("explain", *as_args(make()))["reply"]
            after = self.ask(make())
            if before == after:
                self.assertEqual(said, before, out)
                self.assertEqual(said_json, before)
                return before, out
        self.fail(f"policyd's reply kept changing: {before!r} {after!r}")

    def test_dunno_acl_abuse_and_throttle_replies_are_policyds(self):
        self.customer()
        # DUNNO
        reply, out = self.assert_same_reply(rcpt("alice", "alice@example.com"))
        self.assertEqual(reply, "DUNNO")
        self.assertRegex(out, r"(?m)^granted +yes \(example\.com\)$")
        # ACL: a domain the account does not have, and a verified one not granted to dave
        reply, out = self.assert_same_reply(rcpt("alice", "alice@other.org"))
        self.assertTrue(reply.startswith("550 [ACL] Blocked. See https://policy.example.test/"
                                         "report?id="), reply)
        self.assertIn("domain other.org is not a verified domain of account acme", out)
        self.assertRegex(out, r"(?m)^verified domain +no$")
        reply, out = self.assert_same_reply(rcpt("dave", "dave@example.com"))
        self.assertTrue(reply.startswith("550 [ACL]"), reply)
        self.assertIn("domain example.com is not granted to user:dave", out)
        self.assertRegex(out, r"(?m)^user's grants +-$")
        # Throttle: starter admits 3 messages an hour; the 4th is refused at END-OF-MESSAGE
        # and from then on already at RCPT.
        replies = [self.ask(eom("alice", "alice@example.com", n)) for n in range(4)]
        self.assertEqual(replies[:3], ["DUNNO"] * 3)
        self.assertTrue(replies[3].startswith("421 4.7.1 Rate limit exceeded: messages 3/3 per 1h"))
        reply, out = self.assert_same_reply(rcpt("alice", "alice@example.com"))
        self.assertTrue(reply.startswith("421 4.7.1 Rate limit exceeded: messages 3/3 per 1h; "
                                         "try again in "), reply)
        self.assertRegex(out, r"(?m)^user:alice +messages +1h +3 +3 +in \d")
        n = iter(range(100, 200))
        reply, _ = self.assert_same_reply(lambda: eom("alice", "alice@example.com", next(n)))
        self.assertTrue(reply.startswith("421 4.7.1 Rate limit exceeded: messages 3/3"), reply)
        # bob (mode account) is still admitted: his own window is empty
        self.assert_same_reply(rcpt("bob", "bob@example.com"))
        # ABUSE: a block is checked before anything else
        self.ok("block", "add", "user:alice", "--reason", "spam", "--ttl", "1h")
        reply, out = self.assert_same_reply(rcpt("alice", "alice@example.com"))
        self.assertTrue(reply.startswith("550 5.7.1 [ABUSE] Sender blocked: spam or abuse "
                                         "detected. See: https://policy.example.test/report?id="))
        self.assertRegex(out, r"(?m)^block +user:alice reason=spam until ")
        self.ok("block", "add", "sender:eve@example.com", "--reason", "abuse")
        reply, _ = self.assert_same_reply(rcpt("bob", "Eve@example.com"))
        self.assertTrue(reply.startswith("550 5.7.1 [ABUSE]"), reply)

    def test_explain_reads_postfix_format_on_stdin(self):
        self.ok("account", "set", "acme")
        self.ok("domain", "add", "acme", "customer.example")  # not verified: ACL refusal
        self.ok("user", "set", "smtpuser", "--account", "acme", "--mode", "account")
        req = golden("rcpt-sasl.req")
        reply = self.ask(req)
        self.assertTrue(reply.startswith("550 [ACL]"), reply)
        out = self.ok("explain", stdin=req.decode())
        self.assertEqual(out.splitlines()[0], "action=" + reply)
        self.ok("domain", "verify", "acme", "customer.example")  # the fix
        self.assertEqual(self.ok("explain", stdin=req.decode()).splitlines()[0], "action=DUNNO")
        self.assertEqual(self.ask(req), "DUNNO")

    def test_usage_counts_what_policyd_admitted(self):
        self.customer()
        replies = [self.ask(eom("alice", "alice@example.com", n)) for n in range(5)]
        admitted = replies.count("DUNNO")
        self.assertEqual(admitted, 3)
        retry = int(re.search(r"try again in (\d+)s", replies[-1]).group(1))
        self.ask(eom("bob", "bob@example.com", 50))
        j = self.js("usage", "user:alice", "--sender", "alice@example.com", "--ip", "192.0.2.7")
        self.assertEqual((j["subject"], j["plan"], j["account"]), ("user:alice", "starter", "acme"))
        by = {(l["subject"], l["metric"]): l for l in j["limits"]}
        self.assertEqual((by["user", "messages"]["count"], by["user", "messages"]["max"]),
                         (admitted, 3))
        self.assertTrue(retry - 2 <= by["user", "messages"]["retry_after_s"] <= retry)
        self.assertEqual(by["account", "recipients"]["count"], 2 * (admitted + 1))  # + bob's
        self.assertEqual(by["account", "recipients"]["retry_after_s"], 0)
        self.assertEqual(by["sender", "messages"]["count"], admitted)
        self.assertEqual(by["ip", "messages"]["count"], admitted + 1)
        text = self.ok("usage", "user:alice")
        self.assertRegex(text, r"(?m)^user messages +user:alice +1h +3 +3 +in ")
        self.assertRegex(text, r"(?m)^account recipients +account:acme +1d +8 +1000 +now$")
        self.assertRegex(text, r"(?m)^sender messages +- +1h +- +100 +-$")
        j = self.js("usage", "account:acme")
        self.assertEqual([(l["subject"], l["count"]) for l in j["limits"]], [("account", 8)])
        j = self.js("usage", "sender:alice@example.com", "--plan", "starter")
        self.assertEqual([(l["subject"], l["count"]) for l in j["limits"]], [("sender", 3)])
        j = self.js("usage", "ip:192.0.2.7", "--plan", "starter")
        self.assertEqual([(l["subject"], l["count"]) for l in j["limits"]], [("ip", 4)])
        self.assertEqual(self.ctl("usage", "user:nobody")[0], 1)

    def test_explain_and_usage_change_no_key(self):
        self.customer()
        for n in range(4):
            self.ask(eom("alice", "alice@example.com", n))
        self.ask(rcpt("alice", "alice@other.org"))
        self.ok("block", "add", "sender:eve@example.com", "--reason", "spam", "--ttl", "1h")
        before = self.snapshot()
        self.assertGreater(len(before), 10)
        requests = [rcpt("alice", "alice@example.com"), eom("alice", "alice@example.com", 9),
                    eom("bob", "bob@example.com", 10), rcpt("bob", "bob@example.com"),
                    rcpt("dave", "dave@example.com"), eom("dave", "dave@other.net", 11),
                    rcpt("bob", "eve@example.com"), rcpt("nobody", "x@example.com"),
                    eom("alice", "alice@elsewhere.org", 12)]
        for attrs in requests:
            self.ok("explain", *as_args(attrs))
            self.ok("explain", "--json", stdin="\n".join(as_args(attrs)) + "\n\n")
        for subject in ("user:alice", "user:bob", "account:acme", "sender:alice@example.com",
                        "ip:192.0.2.7"):
            self.ok("usage", subject)
        self.ok("usage", "user:alice", "--sender", "alice@example.com", "--ip", "192.0.2.7",
                "--json")
        self.ok("user", "show", "alice")
        self.ok("account", "show", "acme")
        self.assertEqual(self.snapshot(), before)


class BadInputTest(PolicyctlBase):
    def assert_refused(self, cases, exit_code):
        """Each (args, text): exit_code, text in the message, nothing printed or written."""
        before = self.snapshot()
        for args, named in cases:
            with self.subTest(args=args):
                code, out, err = self.ctl(*args)
                self.assertEqual((code, out), (exit_code, ""), err)
                self.assertIn(named, err)
                self.assertEqual(self.snapshot(), before)

    def test_bad_values_are_named_and_write_nothing(self):
        self.customer()
        cases = [
            (("user", "set", "bob", "--mode", "sometimes"), "'sometimes'"),
            (("user", "set", "erin", "--account", "acme", "--plan", "gold"), "'gold'"),
            (("account", "set", "acme", "--plan", "gold"), "'gold'"),
            (("account", "set", "ac me"), "'ac me'"),
            (("domain", "add", "acme", "exa mple.com"), "'exa mple.com'"),
            (("domain", "add", "acme", "*.example.com"), "'*.example.com'"),
            (("grant", "alice", "bad_domain..com"), "'bad_domain..com'"),
            (("block", "add", "user:alice", "--reason", "spam", "--ttl", "-5m"), "'-5m'"),
            (("block", "add", "user:alice", "--reason", "spam", "--ttl", "0"), "'0'"),
            (("block", "add", "user:alice", "--reason", "boredom"), "'boredom'"),
            (("block", "add", "alice", "--reason", "spam"), "'alice'"),
            (("block", "add", "sender:no-at-sign", "--reason", "spam"), "'sender:no-at-sign'"),
            (("block", "list", "--reason", "weather"), "'weather'"),
            (("signal", "user:alice", "praise"), "'praise'"),
            (("user", "set", "alice", "--limit", "user:mails:1h=5"), "'mails'"),
            (("user", "set", "alice", "--limit", "user:messages:1h=-1"), "'-1'"),
            (("user", "set", "alice", "--limit", "user:messages:1h=5",
              "--limit", "user:messages:2ms=5"), "'2ms'"),
            (("usage", "robot:x"), "'robot:x'"),
            (("usage", "user:alice", "--plan", "gold"), "'gold'"),
            (("report", "show", "XYZ"), "'XYZ'"),
            (("explain", "protocol_state=RCPT", "garbage"), "'garbage'"),
            (("review", "list", "--limit", "0"), "'0'"),
            (("user", "set", "newbie", "--plan", "starter"), "'newbie'"),
            (("user", "set", "alice"), "nothing to set"),
            (("user", "frob"), "'user frob'"),
            (("block", "add", "user:alice"), "--reason"),
            (("domain", "add", "acme", "example.org", "--colour", "red"), "'--colour'"),
        ]
        self.assert_refused(cases, 2)

    def test_refusals_exit_1_with_a_hint_and_write_nothing(self):
        self.customer()
        cases = [
            (("grant", "alice", "other.org"), "policyctl domain add acme other.org"),
            (("grant", "alice", "*.other.org"), "policyctl domain add acme other.org"),
            (("grant", "nobody", "example.com"), "user 'nobody' not found"),
            (("user", "set", "erin", "--account", "nosuch"), "policyctl account set nosuch"),
            (("user", "set", "alice", "--account", "nosuch", "--mode", "any"), "'nosuch'"),
            (("domain", "add", "nosuch", "example.com"), "account 'nosuch' not found"),
            (("domain", "verify", "acme", "missing.org"), "no domain missing.org"),
            (("revoke", "alice", "other.org"), "no grant other.org"),
            (("block", "del", "user:alice"), "user:alice is not blocked"),
        ]
        self.assert_refused(cases, 1)

    def test_config_errors_exit_2_and_unreachable_redis_exits_3(self):
        code, _, err = self.ctl("user", "show", "alice", config="/nonexistent/policyd.toml")
        self.assertEqual((code, "/nonexistent/policyd.toml" in err), (2, True))
        dead = os.path.join(self.tmp, "dead-redis.toml")
        text = self.policyd.config_text
        if self.CLUSTER:
            text = re.sub(r"(?m)^cluster = .*$", f'cluster = ["127.0.0.1:{free_port()}"]', text)
        else:
            text = text.replace(f"127.0.0.1:{self.redis.port}/0", f"127.0.0.1:{free_port()}/0")
        with open(dead, "w") as f:
            f.write(text)
        for args in (("user", "show", "alice"), ("explain", "protocol_state=RCPT",
                                                 "sasl_username=a", "sender=a@example.com"),
                     ("block", "add", "user:a", "--reason", "spam")):
            with self.subTest(args=args):
                code, _, err = self.ctl(*args, config=dead)
                self.assertEqual(code, 3, err)
                self.assertIn("Redis unreachable at " +
                              ("the [redis] cluster seeds" if self.CLUSTER else "127.0.0.1:"),
                              err)


class ClusterRoundTripTest(RoundTripTest, ExplainMatchesPolicydTest):
    """RoundTripTest's and ExplainMatchesPolicydTest's cases on a Redis Cluster (one cluster
    for both): the same verbs, the same answers; explain gives policyd's replies and changes
    no key."""
    CLUSTER = True

    def test_the_cases_cross_primaries(self):
        """What makes the cluster cases worth running: acme's keys and alice's, bob's and the
        sender's live on different primaries, so grant, user set and usage cross slots."""
        primary = self.redis.cluster.primary_of
        self.assertNotEqual(primary("pd:account:{account:acme}"), primary("pd:user:{user:alice}"))
        self.assertEqual(len({primary(k) for k in (
            "pd:account:{account:acme}", "pd:user:{user:alice}", "pd:user:{user:bob}",
            "pd:rate:{sender:alice@example.com}", "pd:rate:{ip:192.0.2.7}")}), 3)


class ClusterBadInputTest(BadInputTest):
    CLUSTER = True


if __name__ == "__main__":
    unittest.main()
