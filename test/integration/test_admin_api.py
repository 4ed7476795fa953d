"""Issue 19: the HTTP admin API and the per-user client IP allow-list, curl-level against real
policyd processes and a real redis-server. Two policyd share the Redis: A serves the admin API,
B has no admin token (its admin API is off). 1. the document validates (a real OpenAPI
validator from npm) and its paths are exactly the routes A serves; 2. every route round-trips
and reads the same as policyctl (one implementation, two front ends); 3. bad JSON, wrong
types, unknown fields, oversized bodies, missing/wrong/read-only tokens get their status and
write nothing; 4. an allow-list set through the API is enforced by the next request on both
instances: the issue's addresses, IPv4-mapped IPv6, and an empty list; 5. a monthly quota
with four instances racing: exactly Q messages admitted and exactly one event per warning
level; unlock through the API admits past 100 %. (The month boundary, with an injected clock,
is test/store/store_quota_test.cc.) Issue 17: ClusterAdminApiTest runs 1-3 again on a real Redis
Cluster (4 needs the cluster's decision, not built yet)."""

import http.client
import json
import os
import re
import subprocess
import threading
import unittest
import urllib.parse

from harness import (POLICYCTL, Policyd, RedisServer, ServedTestCase, TempDir, free_port,
                     report_key, request_bytes, wait_for)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OPENAPI_DIR = os.path.join(ROOT, "test", "openapi")
WRITE = "write-token-0123456789abcdef"
READ = "read-token-0123456789abcdef0"
CONFIG = """
[http]
listen = ["127.0.0.1:{http_port}"]
admin_tokens = ["write:%s", "read:%s"]

[plans.default]
limits = [ {{ subject = "user", metric = "messages", max = 1000, window = "1h" }} ]
""" % (WRITE, READ)
ISSUE_LIST = ["203.0.113.0/24", "2001:db8::/64"]


class AdminApiTest(ServedTestCase):
    CONFIG = CONFIG

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(POLICYCTL):
            raise unittest.SkipTest(f"{POLICYCTL} not built")
        super().setUpClass()
        cls.b_http_port = free_port()
        cls.b = cls.new_policyd(f"""
[http]
listen = ["127.0.0.1:{cls.b_http_port}"]
""")
        cls.b.start()
        cls.wait_ready(cls.b, cls.b_http_port)

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "b", None):
            cls.b.stop()
        super().tearDownClass()

    def setUp(self):
        self.redis.cmd("FLUSHALL")
        self.ctl_ok("account", "set", "acme")
        self.ctl_ok("domain", "add", "acme", "example.com", "--verified")
        self.ctl_ok("user", "set", "alice@example.com", "--account", "acme", "--mode", "account")

    # --- helpers -------------------------------------------------------------------------

    def api(self, method, path, body=None, token=WRITE, raw=None, port=None):
        """(status, parsed JSON or text) of one admin API request."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body))
        c = http.client.HTTPConnection("127.0.0.1", port or self.http_port, timeout=5)
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text

    def ctl(self, *args):
        r = subprocess.run([POLICYCTL, "-c", self.p.config_path, *args], capture_output=True,
                           text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def ctl_ok(self, *args):
        code, out, err = self.ctl(*args)
        self.assertEqual(code, 0, f"policyctl {' '.join(args)}: {err}")
        return out

    def ask(self, policyd, client_address, user="alice@example.com"):
        c = policyd.client()
        try:
            return c.ask(request_bytes(protocol_state="RCPT", sasl_username=user,
                                       sender="alice@example.com", recipient="r@dest.example",
                                       client_address=client_address, client_port="4000",
                                       instance="ip.1"))
        finally:
            c.close()

    def snapshot(self):
        if self.CLUSTER:
            # Every instance's event relay moves each slot's outbox (pd:events:{TAG}) to
            # pd:events in the background: a snapshot is taken once they are all moved, so
            # that two snapshots differ only by what the test's own calls wrote.
            wait_for(lambda: not any(self.redis.cmd("XLEN", k)
                                     for k in self.redis.cmd("KEYS", "pd:events:*")),
                     what="every event outbox relayed")
        return {k: self.redis.cmd("DUMP", k) for k in sorted(self.redis.cmd("KEYS", "*"))}

    def events(self):
        """Every event written: PREFIXevents on one Redis; on a cluster also each slot's
        outbox PREFIXevents:{TAG} (_common.lua emit_event) that no relay has moved yet."""
        out = []
        for k in sorted(self.redis.cmd("KEYS", "pd:events*")):
            out += [dict(zip(e[1][::2], e[1][1::2])) for e in
                    self.redis.cmd("XRANGE", k, "-", "+")]
        return out

    # A report id in a URL: on a cluster it starts with its subject's slot-tag.
    REPORT_ID = r"(?:[0-9a-z]{1,4}\.)?[0-9a-f]{20}"

    PATH = "/api/v1/admin/users/alice%40example.com/ip-allow-list"

    # --- 1. the document ---------------------------------------------------------------------

    def test_openapi_document_validates_and_matches_the_served_routes_both_ways(self):
        if not os.path.isdir(os.path.join(OPENAPI_DIR, "node_modules")):
            self.skipTest("test/openapi: run npm ci there (scripts/test does)")
        r = subprocess.run(["node", "check.js", os.path.join(ROOT, "docs", "openapi.yaml")],
                           cwd=OPENAPI_DIR, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        doc = json.loads(r.stdout)
        self.assertTrue(doc["valid"], doc["errors"])
        documented = {(m, p) for p, methods in doc["paths"].items() for m in methods}
        status, body = self.api("GET", "/api/v1/admin/routes", token=READ)
        self.assertEqual(status, 200)
        served = {(r["method"], r["path"]) for r in body["routes"]}
        self.assertEqual(served - documented, set(), "served but not documented")
        self.assertEqual(documented - served, set(), "documented but not served")

    # --- 2. round trips and parity with policyctl --------------------------------------------

    def test_put_then_get_round_trips_and_policyctl_reads_the_same(self):
        status, body = self.api("PUT", self.PATH, {"ip_allow": ISSUE_LIST + ["2001:DB8::/64"]})
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"user": "alice@example.com", "ip_allow": ISSUE_LIST})
        self.assertEqual(self.api("GET", self.PATH, token=READ), (200, body))
        self.assertEqual(json.loads(self.ctl_ok("user", "ip-allow", "alice@example.com",
                                                "--json")), body)
        shown = json.loads(self.ctl_ok("user", "show", "alice@example.com", "--json"))
        self.assertEqual(shown["ip_allow"], ISSUE_LIST)
        # The whole record: the API's is policyctl's without the plan's limits.
        status, user = self.api("GET", "/api/v1/admin/users/alice%40example.com", token=READ)
        self.assertEqual(status, 200, user)
        self.assertEqual(user, {k: v for k, v in shown.items()
                                if k not in ("effective_plan", "limits")})

    def test_policyctl_sets_and_the_api_reads_the_same(self):
        out = json.loads(self.ctl_ok("user", "ip-allow", "alice@example.com", "198.51.100.0/24",
                                     "--json"))
        self.assertEqual(self.api("GET", self.PATH, token=READ), (200, out))
        cleared = json.loads(self.ctl_ok("user", "ip-allow", "alice@example.com", "--clear",
                                         "--json"))
        self.assertEqual(cleared["ip_allow"], [])
        self.assertEqual(self.api("GET", self.PATH)[1]["ip_allow"], [])
        self.assertEqual(self.redis.cmd("HGET", "pd:user:{user:alice@example.com}", "ip_allow"),
                         None)

    def test_quota_set_by_policyctl_reads_the_same_through_the_api_and_back(self):
        made = json.loads(self.ctl_ok("quota", "set", "user:alice@example.com", "500", "--json"))
        path = "/api/v1/admin/users/alice%40example.com/quota"
        self.assertEqual(self.api("GET", path, token=READ), (200, made))
        self.assertEqual((made["quota"], made["used"], made["locked"]), (500, 0, False))
        status, acct = self.api("PUT", "/api/v1/admin/accounts/acme/quota", {"quota": 9000})
        self.assertEqual(status, 200, acct)
        self.assertEqual(json.loads(self.ctl_ok("quota", "show", "account:acme", "--json")), acct)
        usage = json.loads(self.ctl_ok("usage", "user:alice@example.com", "--json"))
        self.assertEqual(usage["quota"], made)
        status, windows = self.api("GET", "/api/v1/admin/usage/user%3Aalice%40example.com"
                                          "?ip=192.0.2.7", token=READ)
        self.assertEqual(status, 200, windows)
        by_ctl = json.loads(self.ctl_ok("usage", "user:alice@example.com", "--ip", "192.0.2.7",
                                        "--json"))
        self.assertEqual(windows, {k: v for k, v in by_ctl.items() if k != "quota"})
        self.assertEqual(self.api("GET", "/api/v1/admin/usage/account%3Aacme?ip=192.0.2.7")[1]
                         ["error"]["field"], "ip")
        self.assertEqual(self.api("GET", "/api/v1/admin/usage/user%3Anobody")[0], 404)

    def test_domains_through_the_api_and_policyctl_are_the_same_operations(self):
        base = "/api/v1/admin/accounts/acme/domains"
        self.assertEqual(self.api("PUT", base + "/Other.ORG", {})[1],
                         {"account": "acme", "domain": "other.org", "state": "unverified"})
        self.assertEqual(self.api("PUT", base + "/third.org", {"verified": True})[1]["state"],
                         "verified")
        status, listed = self.api("GET", base, token=READ)
        self.assertEqual(status, 200)
        self.assertEqual(listed["domains"], json.loads(self.ctl_ok("domain", "list", "acme",
                                                                   "--json")))
        verified = json.loads(self.ctl_ok("domain", "verify", "acme", "other.org", "--json"))
        self.assertEqual(verified["state"], "verified")
        self.assertEqual(self.api("DELETE", base + "/other.org")[1]["deleted"], True)
        before = self.snapshot()
        self.assertEqual(self.api("DELETE", base + "/other.org")[0], 404)
        self.assertEqual(self.api("POST", base + "/missing.org/verify")[0], 404)
        self.assertEqual(self.api("GET", "/api/v1/admin/accounts/nosuch/domains")[0], 404)
        self.assertEqual(self.api("PUT", base + "/*.wild.org", {})[1]["error"]["field"], "domain")
        self.assertEqual(self.api("PUT", base + "/x.org", {"verified": "yes"})[0], 400)
        self.assertEqual(self.api("PUT", base + "/x.org", {"verified": True}, token=READ)[0], 403)
        self.assertEqual(self.snapshot(), before)

    def test_blocks_add_show_lift_through_the_api_are_policyctl_s_operations(self):
        path = "/api/v1/admin/blocks/user%3Aalice%40example.com"
        status, made = self.api("PUT", path, {"reason": "manual", "ttl": "1h",
                                              "evidence": "support ticket 42"})
        self.assertEqual(status, 200, made)
        self.assertEqual((made["subject"], made["reason"]), ("user:alice@example.com", "manual"))
        self.assertRegex(made["report_url"], rf"\?id={self.REPORT_ID}&auth=")
        if not self.CLUSTER:  # the cluster's decision is not built yet
            refused = self.ask(self.b, "192.0.2.1")  # enforced by the other instance at once
            self.assertTrue(refused.startswith("550 5.7.1 [ABUSE]"), refused)
        status, shown = self.api("GET", path, token=READ)
        self.assertEqual(status, 200)
        self.assertEqual(shown, json.loads(self.ctl_ok("block", "show", "user:alice@example.com",
                                                       "--json")))
        self.assertEqual(shown["source"], "api")
        self.assertEqual(shown["evidence_entries"][0]["kind"], "block")
        # Lifting emits block.lifted in the same call; then the user sends again.
        status, lifted = self.api("DELETE", path)
        self.assertEqual((status, lifted["deleted"], lifted["reason"]), (200, True, "manual"))
        lifted_events = [e for e in self.events() if e["type"] == "block.lifted"]
        self.assertEqual(len(lifted_events), 1)
        self.assertEqual(json.loads(lifted_events[0]["data"])["source"], "api")
        if not self.CLUSTER:
            self.assertEqual(self.ask(self.b, "192.0.2.1"), "DUNNO")
        before = self.snapshot()
        self.assertEqual(self.api("DELETE", path)[0], 404)
        self.assertEqual(self.ctl("block", "del", "user:alice@example.com")[0], 1)
        self.assertEqual(self.api("PUT", path, {"reason": "boredom"})[1]["error"]["field"],
                         "reason")
        self.assertEqual(self.api("PUT", path, {"reason": "spam", "ttl": "0"})[1]["error"]
                         ["field"], "ttl")
        self.assertEqual(self.api("PUT", "/api/v1/admin/blocks/alice", {"reason": "spam"})[1]
                         ["error"]["field"], "subject")
        self.assertEqual(self.api("PUT", path, {"reason": "spam"}, token=READ)[0], 403)
        self.assertEqual(self.snapshot(), before)

    def test_block_list_pages_through_every_block_once(self):
        for i in range(25):
            self.ctl_ok("block", "add", f"sender:s{i}@spam.example", "--reason",
                        "spam" if i % 2 else "abuse")
        def walk(query):
            """Every page's subjects (a cluster's pages go primary by primary) and the pages."""
            seen, cursor, pages = [], "0", 0
            while True:
                status, page = self.api("GET", f"/api/v1/admin/blocks?cursor={cursor}&{query}",
                                        token=READ)
                self.assertEqual(status, 200, page)
                seen += [b["subject"] for b in page["blocks"]]
                pages += 1
                cursor = page["next_cursor"]
                if cursor == "0":
                    return seen, pages
        seen, pages = walk("count=5")
        self.assertGreater(pages, 1)
        self.assertEqual(sorted(seen), sorted(f"sender:s{i}@spam.example" for i in range(25)))
        listed = json.loads(self.ctl_ok("block", "list", "--reason", "spam", "--json"))
        self.assertEqual(len(listed), 12)
        self.assertEqual(sorted(walk("count=1000&reason=spam")[0]),
                         [b["subject"] for b in listed])
        for bad, field in (("cursor=x", "cursor"), ("count=0", "count"), ("reason=weather",
                                                                          "reason"),
                           ("colour=red", "colour")):
            status, body = self.api("GET", "/api/v1/admin/blocks?" + bad, token=READ)
            self.assertEqual((status, body["error"].get("field")), (400, field), bad)

    def test_grants_through_the_api_are_policyctl_s_grant_and_revoke(self):
        base = "/api/v1/admin/users/alice%40example.com/grants/"
        status, granted = self.api("PUT", base + "%2A.Mail.Example.com")
        self.assertEqual(status, 200, granted)
        self.assertEqual((granted["domain"], granted["covering_domain"], granted["covering_state"]),
                         ("*.mail.example.com", "example.com", "verified"))
        self.ctl_ok("grant", "alice@example.com", "example.com")
        user = self.api("GET", "/api/v1/admin/users/alice%40example.com", token=READ)[1]
        self.assertEqual(user["grants"], ["*.mail.example.com", "example.com"])
        self.assertEqual(self.api("DELETE", base + "example.com")[1]["revoked"], True)
        self.assertEqual(json.loads(self.ctl_ok("revoke", "alice@example.com",
                                                "*.mail.example.com", "--json"))["revoked"], True)
        before = self.snapshot()
        self.assertEqual(self.api("DELETE", base + "example.com")[0], 404)
        self.assertEqual(self.api("PUT", base + "other.org")[0], 404)  # not the account's
        self.assertEqual(self.api("PUT", "/api/v1/admin/users/ghost/grants/example.com")[0], 404)
        self.assertEqual(self.api("PUT", base + "bad..domain")[1]["error"]["field"], "domain")
        self.assertEqual(self.snapshot(), before)

    def test_accounts_through_the_api_are_policyctl_s_account_set_and_show(self):
        status, made = self.api("PUT", "/api/v1/admin/accounts/beta", {})
        self.assertEqual((status, made["created"], made["plan"]), (200, True, ""))
        self.assertEqual(self.api("PUT", "/api/v1/admin/accounts/beta", {"plan": "default"})[1]
                         ["created"], False)
        shown = json.loads(self.ctl_ok("account", "show", "beta", "--json"))
        status, record = self.api("GET", "/api/v1/admin/accounts/beta", token=READ)
        self.assertEqual(status, 200)
        self.assertEqual(record, {k: v for k, v in shown.items()
                                  if k not in ("effective_plan", "limits")})
        self.assertEqual(record["plan"], "default")
        set_by_ctl = json.loads(self.ctl_ok("account", "set", "gamma", "--json"))
        self.assertEqual(self.api("GET", "/api/v1/admin/accounts/gamma")[1]["plan"],
                         set_by_ctl["plan"])
        before = self.snapshot()
        self.assertEqual(self.api("PUT", "/api/v1/admin/accounts/beta", {"plan": "gold"})[1]
                         ["error"]["field"], "plan")
        self.assertEqual(self.api("PUT", "/api/v1/admin/accounts/be%20ta", {})[1]["error"]
                         ["field"], "account")
        self.assertEqual(self.api("GET", "/api/v1/admin/accounts/nosuch")[0], 404)
        self.assertEqual(self.snapshot(), before)

    def test_users_created_changed_deleted_through_the_api_read_the_same_in_policyctl(self):
        path = "/api/v1/admin/users/carol"
        status, made = self.api("PUT", path, {"account": "acme", "limits":
                                              {"user:messages:1h": 100, "user:bytes:1d": "2GiB"}})
        self.assertEqual((status, made), (200, {"user": "carol", "created": True}))
        shown = json.loads(self.ctl_ok("user", "show", "carol", "--json"))
        self.assertEqual((shown["mode"], shown["account"]), ("explicit", "acme"))
        self.assertEqual(shown["overrides"], {"user:messages:1h": "100",
                                              "user:bytes:1d": str(2 ** 31)})
        self.assertEqual(self.api("PUT", path, {"mode": "account", "unset_limits":
                                                ["user:bytes:1d"]})[1]["created"], False)
        user = self.api("GET", path, token=READ)[1]
        self.assertEqual((user["mode"], user["overrides"]),
                         ("account", {"user:messages:1h": "100"}))
        before = self.snapshot()
        for body, field in (({"mode": "sometimes"}, "mode"), ({"plan": "gold"}, "plan"),
                            ({"limits": {"user:mails:1h": 5}}, "limits"), ({}, "body"),
                            ({"limits": [1]}, "limits")):
            self.assertEqual(self.api("PUT", path, body)[1]["error"]["field"], field, body)
        self.assertEqual(self.api("PUT", "/api/v1/admin/users/newbie", {"mode": "any"})[1]
                         ["error"]["field"], "account")
        self.assertEqual(self.api("PUT", "/api/v1/admin/users/erin", {"account": "nosuch"})[0],
                         404)
        self.assertEqual(self.snapshot(), before)
        self.assertEqual(self.api("DELETE", path)[1], {"user": "carol", "deleted": True})
        self.assertEqual(self.ctl("user", "show", "carol")[0], 1)
        self.assertEqual(self.api("DELETE", path)[0], 404)

    def test_reviews_listed_and_resolved_with_a_note_the_customer_reads(self):
        made = self.api("PUT", "/api/v1/admin/blocks/user%3Aalice%40example.com",
                        {"reason": "abuse"})[1]
        query = urllib.parse.urlsplit(made["report_url"]).query
        form = urllib.parse.urlencode(dict(urllib.parse.parse_qsl(query)))
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        c.request("POST", "/report", form, {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(c.getresponse().status, 200)
        c.close()
        status, listed = self.api("GET", "/api/v1/admin/reviews?limit=10", token=READ)
        self.assertEqual(status, 200, listed)
        self.assertEqual([r["id"] for r in listed["reviews"]], [made["report"]])
        self.assertEqual(listed["reviews"], json.loads(self.ctl_ok("review", "list", "--json")))
        path = f"/api/v1/admin/reviews/{made['report']}/resolve"
        self.assertEqual(self.api("POST", path, {"note": ""})[1]["error"]["field"], "note")
        self.assertEqual(self.api("POST", path, {"note": "lifted"}, token=READ)[0], 403)
        status, done = self.api("POST", path, {"note": "Checked: a false positive, lifted."})
        self.assertEqual((status, done["review"]), (200, "resolved"), done)
        self.assertEqual(self.api("GET", "/api/v1/admin/reviews", token=READ)[1]["reviews"], [])
        self.assertEqual(self.api("POST", path, {"note": "again"})[0], 409)
        code, _, err = self.ctl("review", "resolve", made["report"], "--note", "again")
        self.assertEqual(code, 1, err)
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        c.request("GET", "/report?" + query)
        page = c.getresponse().read().decode()
        c.close()
        self.assertIn("Our team resolved an earlier review: </p><blockquote>"
                      "Checked: a false positive, lifted.</blockquote>", page)
        self.assertEqual(self.api("POST", "/api/v1/admin/reviews/0123456789abcdef0123/resolve",
                                  {"note": "x"})[0], 404)

    def test_unknown_user_is_404_from_both_front_ends_and_nothing_is_written(self):
        before = self.snapshot()
        path = "/api/v1/admin/users/ghost/ip-allow-list"
        self.assertEqual(self.api("PUT", path, {"ip_allow": ["192.0.2.0/24"]})[0], 404)
        self.assertEqual(self.api("GET", path)[0], 404)
        code, _, err = self.ctl("user", "ip-allow", "ghost", "192.0.2.0/24")
        self.assertEqual(code, 1, err)
        self.assertIn("not found", err)
        self.assertEqual(self.snapshot(), before)

    # --- 3. refused requests write nothing ---------------------------------------------------

    def test_bad_requests_get_their_status_name_the_field_and_write_nothing(self):
        self.api("PUT", self.PATH, {"ip_allow": ["192.0.2.0/24"]})
        before = self.snapshot()
        cases = [
            ("bad JSON", dict(raw="{\"ip_allow\": [", token=WRITE), 400, "body"),
            ("not an object", dict(raw="[1]", token=WRITE), 400, "body"),
            ("wrong type", dict(body={"ip_allow": "192.0.2.0/24"}, token=WRITE), 400, "ip_allow"),
            ("wrong entry type", dict(body={"ip_allow": [7]}, token=WRITE), 400, "ip_allow"),
            ("unknown field", dict(body={"ip_allow": [], "ip_alow": []}, token=WRITE), 400,
             "ip_alow"),
            ("missing field", dict(body={}, token=WRITE), 400, "ip_allow"),
            ("bad network", dict(body={"ip_allow": ["203.0.113.9/24"]}, token=WRITE), 400,
             "ip_allow"),
            ("51 networks", dict(body={"ip_allow": [f"10.0.{i}.0/24" for i in range(51)]},
                                 token=WRITE), 400, "ip_allow"),
            ("oversized body", dict(raw=json.dumps({"ip_allow": ["1.2.3.4"] * 8000}),
                                    token=WRITE), 413, "body"),
            ("no token", dict(body={"ip_allow": []}, token=None), 401, None),
            ("wrong token", dict(body={"ip_allow": []}, token=WRITE[:-1] + "X"), 401, None),
            ("read-only token", dict(body={"ip_allow": []}, token=READ), 403, None),
        ]
        for name, kwargs, want, field in cases:
            with self.subTest(name):
                status, body = self.api("PUT", self.PATH, **kwargs)
                self.assertEqual(status, want, body)
                if field:
                    self.assertEqual(body["error"].get("field"), field, body)
        self.assertEqual(self.snapshot(), before)

    def test_unknown_paths_and_methods(self):
        self.assertEqual(self.api("GET", "/api/v1/admin/nothing")[1]["error"]["code"], "no_route")
        self.assertEqual(self.api("DELETE", self.PATH)[0], 405)
        self.assertEqual(self.api("GET", "/api/v1/admin/users//ip-allow-list")[0], 404)
        # B has no admin token: its admin API is off, the same 404 as any unknown path.
        self.assertEqual(self.api("GET", self.PATH, port=self.b_http_port)[0], 404)

    # --- 4. enforced by the next request on every instance -----------------------------------

    def test_an_allow_list_set_through_the_api_is_enforced_by_every_policyd_at_once(self):
        for p in (self.p, self.b):  # warm: the user is allowed from anywhere
            self.assertEqual(self.ask(p, "198.51.100.7"), "DUNNO")
        self.assertEqual(self.api("PUT", self.PATH, {"ip_allow": ISSUE_LIST})[0], 200)
        for p in (self.p, self.b):
            refused = self.ask(p, "198.51.100.7")
            # A cluster's report ids name the user's slot: "SLOTTAG.HEX".
            self.assertRegex(refused, r"^550 5\.7\.1 \[IP\] Client address not authorized for "
                                      r"this SMTP user\. See https://\S+\?id=([0-9a-z]{1,4}\.)?"
                                      r"[0-9a-f]{20}&auth=")
            for ok in ("203.0.113.9", "2001:db8::5", "::ffff:203.0.113.9"):
                self.assertEqual(self.ask(p, ok), "DUNNO", ok)
            self.assertNotEqual(self.ask(p, "::ffff:198.51.100.7"), "DUNNO")
            self.assertNotEqual(self.ask(p, "2001:db8:0:1::5"), "DUNNO")
        # The refusal has a report, and explain names the rule.
        report_id = re.search(r"id=([0-9a-z.]+)&", refused).group(1)
        self.assertEqual(self.redis.cmd("HGET", report_key(report_id), "kind"), "ip")
        self.check_explain_names_the_ip_rule(report_id)
        # An empty list accepts every address again, on both instances.
        self.assertEqual(self.api("PUT", self.PATH, {"ip_allow": []})[0], 200)
        for p in (self.p, self.b):
            self.assertEqual(self.ask(p, "198.51.100.7"), "DUNNO")

    def check_explain_names_the_ip_rule(self, report_id):
        args = dict(protocol_state="RCPT", sasl_username="alice@example.com",
                    sender="alice@example.com", client_address="198.51.100.7")
        out = json.loads(self.ctl_ok("explain", *[f"{k}={v}" for k, v in args.items()],
                                     "--json"))
        self.assertIn("[IP]", out["reply"])
        self.assertEqual(out["report"], report_id)  # the refusal's, found, none made
        before = self.snapshot()
        status, explained = self.api("POST", "/api/v1/admin/explain", {"request": args},
                                     token=READ)
        self.assertEqual(status, 200, explained)
        for j in (explained, out):
            j["facts"].pop("now")  # the clock moved between the two calls
        self.assertEqual(explained, {k: out[k] for k in explained})
        self.assertEqual((explained["action"], explained["facts"]["ip_allow"]["allowed"]),
                         ("ip", False))
        self.assertEqual(self.api("POST", "/api/v1/admin/explain", {"request": {"x": 1}})[1]
                         ["error"]["field"], "request")
        self.assertEqual(self.snapshot(), before)


class ClusterAdminApiTest(AdminApiTest):
    """AdminApiTest's cases on a Redis Cluster: every route answers as on one Redis."""
    CLUSTER = True


def api_call(port, method, path, body=None, token=WRITE):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request(method, path, body=None if body is None else json.dumps(body),
              headers={"Authorization": f"Bearer {token}"})
    r = c.getresponse()
    data = json.loads(r.read().decode() or "null")
    c.close()
    return r.status, data


class QuotaRaceTest(unittest.TestCase):
    """Four policyd on one redis-server; the first serves the admin API."""

    QUOTA = 20

    @classmethod
    def setUpClass(cls):
        cls.tmp_ctx = TempDir()
        cls.tmp = cls.tmp_ctx.__enter__()
        cls.redis, cls.instances = None, []
        try:
            cls.redis = RedisServer(cls.tmp)
            cls.http_port = free_port()
            for i in range(4):
                extra = CONFIG.format(http_port=cls.http_port) if i == 0 else ""
                p = Policyd(cls.tmp, cls.redis.port, extra=extra)
                p.start()
                cls.instances.append(p)
            for p in cls.instances:
                p.wait_redis_ready()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for p in cls.instances:
            p.stop()
        if cls.redis:
            cls.redis.stop()
        cls.tmp_ctx.__exit__(None, None, None)

    def send(self, p, n):
        c = p.client()
        try:
            return c.ask(request_bytes(protocol_state="END-OF-MESSAGE", sasl_username="racer",
                                       sender="racer@example.com", recipient="r@dest.example",
                                       recipient_count="1", size="100",
                                       client_address="192.0.2.9", client_port=str(20000 + n),
                                       instance=f"race.{n}"))
        finally:
            c.close()

    def test_four_instances_admit_exactly_the_quota_and_warn_once_per_level(self):
        r = self.redis
        r.cmd("HSET", "pd:account:{account:acme}", "plan", "")
        r.cmd("HSET", "pd:domains:{account:acme}", "example.com", "verified")
        r.cmd("HSET", "pd:user:{user:racer}", "account", "acme", "mode", "account")
        port = self.http_port
        status, q = api_call(port, "PUT", "/api/v1/admin/users/racer/quota",
                             {"quota": self.QUOTA})
        self.assertEqual(status, 200, q)
        self.assertEqual((q["quota"], q["used"], q["locked"]), (self.QUOTA, 0, False))
        replies, lock = [], threading.Lock()

        def worker(index):
            p = self.instances[index]
            for k in range(10):
                reply = self.send(p, index * 100 + k)
                with lock:
                    replies.append(reply)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(replies), 40)
        self.assertEqual(replies.count("DUNNO"), self.QUOTA, replies)
        refused = [x for x in replies if x != "DUNNO"]
        self.assertTrue(all(x.startswith("550 5.7.1 [QUOTA]") for x in refused), refused)
        events = r.cmd("XRANGE", "pd:events", "-", "+")
        levels = [json.loads(dict(zip(e[1][::2], e[1][1::2]))["data"])["percent"]
                  for e in events if "quota.warning" in e[1]]
        self.assertEqual(sorted(levels), [80, 90, 100])
        status, q = api_call(port, "GET", "/api/v1/admin/users/racer/quota", token=READ)
        self.assertEqual((status, q["used"], q["locked"], q["warned"]),
                         (200, self.QUOTA, True, [80, 90, 100]))
        logged = sum(p.read_log().count("event=quota_warning") for p in self.instances)
        self.assertEqual(logged, 3)
        # Unlock through the API: every instance admits past 100 % at once.
        status, q = api_call(port, "POST", "/api/v1/admin/users/racer/quota/unlock")
        self.assertEqual((status, q["unlocked"], q["locked"]), (200, True, False))
        for i, p in enumerate(self.instances):
            self.assertEqual(self.send(p, 1000 + i), "DUNNO")
        self.assertEqual(r.cmd("HGET", self.quota_key(), "used"), str(self.QUOTA + 4))
        # Unlock without a quota is a conflict; an unknown user is 404.
        self.assertEqual(api_call(port, "PUT", "/api/v1/admin/users/racer/quota",
                                  {"quota": None})[0], 200)
        self.assertEqual(api_call(port, "POST", "/api/v1/admin/users/racer/quota/unlock")[0], 409)
        self.assertEqual(api_call(port, "GET", "/api/v1/admin/users/nobody/quota")[0], 404)
        self.assertEqual(api_call(port, "PUT", "/api/v1/admin/users/racer/quota",
                                  {"quota": "20"})[0], 400)

    def quota_key(self):
        keys = self.redis.cmd("KEYS", "pd:quota:{user:racer}:*")
        self.assertEqual(len(keys), 1)
        return keys[0]


if __name__ == "__main__":
    unittest.main()
