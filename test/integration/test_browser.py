"""Issue 20 (and 5): a real headless Chromium opens the report pages behind real 550 replies,
an ACL page for each permission mode and an ABUSE page for each block reason, at a phone's
(390 px) and a desktop's (1280 px) width; each page must show its guidance and fit the width
without sideways scrolling. Then it requests a review with the customer's words, which
policyctl review list shows. One redis-server, one policyd, one browser for all pages.
The screenshots are kept in test/artifacts/pages/ (committed)."""

import json
import os
import re
import shutil
import subprocess
import unittest

from harness import POLICYCTL, ROOT, Policyd, RedisServer, TempDir, free_port, request_bytes

BROWSER_DIR = os.path.join(ROOT, "test", "browser")
ARTIFACTS = os.path.join(ROOT, "test", "artifacts", "pages")

EXTRA = """
[http]
listen = ["127.0.0.1:{http_port}"]

[abuse]
throttle_events = 1
score_threshold = 10
weights.bounce = 5

[plans.default]
limits = [ {{ subject = "user", metric = "messages", max = 2, window = "1h" }} ]
"""


def eom(user, sender, i):
    return request_bytes(protocol_state="END-OF-MESSAGE", sasl_username=user, sender=sender,
                         recipient="r@dest.example", recipient_count=1, size=100,
                         client_address="192.0.2.9", client_port=i, instance=f"{user}{i}",
                         queue_id=f"Q{user}{i}")


class BrowserTest(unittest.TestCase):
    def test_report_pages_guide_at_phone_and_desktop_width_and_take_review_text(self):
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules")):
            self.fail("node and test/browser/node_modules are needed (scripts/test installs them)")
        os.makedirs(ARTIFACTS, exist_ok=True)
        with TempDir() as tmp:
            redis = RedisServer(tmp)
            http_port = free_port()
            p = Policyd(tmp, redis.port, extra=EXTRA.format(http_port=http_port))
            # One [report] table: the harness's base_url and secret, this test's branding.
            p.config_text = p.config_text.replace(
                'base_url = "https://policy.example.test/report"',
                f'base_url = "http://127.0.0.1:{http_port}/report"\n'
                'relay_name = "Example Relay"\nsupport_url = "mailto:support@relay.example"')
            with open(p.config_path, "w") as f:
                f.write(p.config_text)
            try:
                p.start()
                p.wait_redis_ready()
                self.run_pages(node, redis, p, tmp)
            finally:
                p.stop()
                redis.stop()

    def run_pages(self, node, redis, p, tmp):
        redis.cmd("HSET", "pd:account:{account:acme}", "plan", "default")
        redis.cmd("HSET", "pd:domains:{account:acme}", "acme.example", "verified",
                  "shop.example", "unverified")
        for user, mode in (("ex", "explicit"), ("ac", "account"), ("an", "any"),
                           ("heavy", "account"), ("spammer", "account"),
                           ("bouncer", "account"), ("held", "account")):
            redis.cmd("HSET", f"pd:user:{{user:{user}}}", "account", "acme", "mode", mode)
        redis.cmd("SADD", "pd:grants:{user:ex}", "acme.example")
        c = p.client()

        def url_of(reply, marker):
            self.assertTrue(reply.startswith(marker), reply)
            return re.search(r"See:? (\S+)$", reply).group(1)

        def policyctl(*args):
            out = subprocess.run([POLICYCTL, "-c", p.config_path, *args],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            return out.stdout

        pages = []
        # ACL, one per mode: explicit (domain on the account, unverified, not assigned),
        # account (domain not on the account), any (the plan does not allow it).
        for name, user, sender, expect in (
                ("acl-explicit", "ex", "ex@shop.example",
                 ["only domains assigned to this user", "Verify shop.example on your account.",
                  "Assign shop.example to the user ex.", "acme.example"]),
                ("acl-account", "ac", "ac@new.example",
                 ["any domain on the account", "Add new.example to your account.",
                  "Verify new.example on your account.", "acme.example"]),
                ("acl-any", "an", "an@other.example",
                 ["this user's plan (default) does not",
                  "move to a plan that allows sending from any domain", "acme.example"])):
            pages.append({"name": name, "expect": expect + ["Example Relay", "Request review"],
                          "url": url_of(c.ask(eom(user, sender, 1)), "550 [ACL]")})
        # ABUSE, one per reason: rate (throttled, escalated), spam and abuse (signals),
        # manual (policyctl).
        replies = [c.ask(eom("heavy", "heavy@acme.example", i)) for i in range(5)]
        pages.append({"name": "abuse-rate", "url": url_of(replies[4], "550 5.7.1 [ABUSE]"),
                      "expect": ["sending rate", "2 messages in the last hour; your plan allows 2",
                                 "slow down, spread the sending", "upgrade your plan",
                                 "the next block lasts 2 times as long", "by itself"]})
        policyctl("signal", "user:spammer", "spam", "--evidence", "rspamd: GTUBE pattern")
        policyctl("signal", "user:spammer", "spam", "--evidence", "rspamd: GTUBE pattern")
        policyctl("signal", "user:bouncer", "bounce", "--evidence", "550 no such user a@x")
        policyctl("signal", "user:bouncer", "bounce", "--evidence", "550 no such user b@x")
        policyctl("block", "add", "user:held", "--reason", "manual")
        for name, user, expect in (
                ("abuse-spam", "spammer", ["spam content", "look at what was flagged",
                                           "rspamd: GTUBE pattern"]),
                ("abuse-abuse", "bouncer", ["abuse signals", "add a working unsubscribe link",
                                            "550 no such user"]),
                ("abuse-manual", "held", ["set by our team", "It does not end by itself",
                                          "The block stays until it is lifted."])):
            reply = c.ask(eom(user, f"{user}@acme.example", 1))
            pages.append({"name": name, "url": url_of(reply, "550 5.7.1 [ABUSE]"),
                          "expect": expect + ["What to do", "Request review"]})
        c.close()

        review_text = "We paused the campaign & spread it over the day."
        spec = {"artifacts": ARTIFACTS, "widths": [390, 1280], "pages": pages,
                "review": {"name": "abuse-rate", "url": pages[3]["url"], "text": review_text,
                           "expect": ["Review requested", review_text]}}
        spec_path = os.path.join(tmp, "pages.json")
        with open(spec_path, "w") as f:
            json.dump(spec, f)
        r = subprocess.run([node, os.path.join(BROWSER_DIR, "pages.mjs"), spec_path],
                           capture_output=True, text=True, timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for page in pages:
            for width in (390, 1280):
                shot = os.path.join(ARTIFACTS, f"{page['name']}-{width}.png")
                self.assertGreater(os.path.getsize(shot), 1000, shot)
        rid = re.search(r"id=([0-9a-f]{20})", pages[3]["url"]).group(1)
        self.assertEqual(redis.cmd("HGET", f"pd:report:{rid}", "review"), "requested")
        listed = json.loads(policyctl("review", "list", "--json"))
        self.assertEqual([r["text"] for r in listed if r["id"] == rid], [review_text])


if __name__ == "__main__":
    unittest.main()
