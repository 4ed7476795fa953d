"""Issue 5, acceptance 3: a real headless Chromium opens the report URL from a real 550 reply,
sees the reason and the evidence, requests a review; policyctl review list shows it.
The screenshots are kept in test/artifacts/."""

import os
import re
import shutil
import subprocess
import unittest

from harness import POLICYCTL, ROOT, Policyd, RedisServer, TempDir, free_port, request_bytes

BROWSER_DIR = os.path.join(ROOT, "test", "browser")
ARTIFACTS = os.path.join(ROOT, "test", "artifacts")


def eom(i):
    return request_bytes(protocol_state="END-OF-MESSAGE", sasl_username="heavy",
                         sender="heavy@example.com", recipient="r@dest.example",
                         recipient_count=1, size=100, client_address="192.0.2.9",
                         client_port=i, instance=f"b{i}", queue_id=f"Q{i}")


class BrowserTest(unittest.TestCase):
    def test_report_page_in_chromium_and_review_request(self):
        node = shutil.which("node")
        if not node or not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules")):
            self.fail("node and test/browser/node_modules are needed (scripts/test installs them)")
        os.makedirs(ARTIFACTS, exist_ok=True)
        with TempDir() as tmp:
            redis = RedisServer(tmp)
            http_port = free_port()
            extra = (f'[http]\nlisten = ["127.0.0.1:{http_port}"]\n'
                     '[abuse]\nthrottle_events = 1\n'
                     '[plans.default]\nlimits = [ { subject = "user", metric = "messages", '
                     'max = 1, window = "1h" } ]\n')
            p = Policyd(tmp, redis.port, extra=extra)
            p.config_text = p.config_text.replace(
                'base_url = "https://policy.example.test/report"',
                f'base_url = "http://127.0.0.1:{http_port}/report"')
            with open(p.config_path, "w") as f:
                f.write(p.config_text)
            try:
                p.start()
                p.wait_redis_ready()
                redis.cmd("HSET", "pd:user:{user:heavy}", "account", "acme", "mode", "account")
                redis.cmd("HSET", "pd:domains:{account:acme}", "example.com", "verified")
                c = p.client()
                replies = [c.ask(eom(i)) for i in range(4)]
                self.assertEqual(replies[0], "DUNNO")
                self.assertTrue(replies[1].startswith("421 4.7.1"))
                self.assertTrue(replies[3].startswith("550 5.7.1 [ABUSE]"), replies)
                url = re.search(r"See: (\S+)$", replies[3]).group(1)
                shot = os.path.join(ARTIFACTS, "report.png")
                r = subprocess.run([node, os.path.join(BROWSER_DIR, "review.mjs"), url, shot,
                                    "rate", "throttle", "messages 1/1", "Q2"],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                self.assertTrue(os.path.getsize(shot) > 1000)
                rid = re.search(r"id=([0-9a-f]{20})", url).group(1)
                self.assertEqual(redis.cmd("HGET", f"pd:report:{rid}", "review"), "requested")
                out = subprocess.run([POLICYCTL, "-c", p.config_path, "review", "list"],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn(rid, out.stdout)
            finally:
                p.stop()
                redis.stop()


if __name__ == "__main__":
    unittest.main()
