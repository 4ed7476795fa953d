"""Load (issue 6): Postfix's smtp-source drives at least 10,000 messages through one private
Postfix and its policyd. smtp-source cannot authenticate, so policyd counts these clients by
envelope sender ([policy] unauthenticated = "sender"): every request still runs the whole
decision in Redis. Reports messages per second; every policy request must get an answer."""

import os
import re
import subprocess
import time
import unittest

from e2e_env import (metric, policy_warnings, start_stack, summary, wait_for)

MESSAGES = int(os.environ.get("E2E_LOAD_MESSAGES", "10000"))
SESSIONS = int(os.environ.get("E2E_LOAD_SESSIONS", "20"))
SENDER = "load@example.com"


class Load(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        [(cls.pf, cls.policyd)] = start_stack(cls, "e2e-load-", ["load"])

    def test_smtp_source_load(self):
        requests_before = metric(self.policyd, "policyd_requests_total")
        # -d: many messages per session; -N: a distinct recipient per message (no cache hits);
        # without -A, smtp-source stops at the first refusal, so exit 0 means all accepted.
        args = ["smtp-source", "-4", "-d", "-N", "-s", str(SESSIONS), "-m", str(MESSAGES),
                "-l", "512", "-f", SENDER, "-t", "rcpt@dest.example", "-M", "load.e2e.test",
                f"127.0.0.1:{self.pf.ports['full']}"]
        t0 = time.monotonic()
        r = subprocess.run(args, capture_output=True, text=True, timeout=600)
        seconds = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rate = MESSAGES / seconds

        def delivered():
            return len(re.findall(r"postfix/discard\[\d+\]: \w+: to=<\d+rcpt@dest\.example>.*"
                                  r"status=sent", self.pf.log()))
        wait_for(lambda: delivered() >= MESSAGES, timeout=300, interval=0.5,
                 what="every message delivered to discard")
        counted = self.redis.cmd("HGET", f"pd:rate:{{sender:{SENDER}}}", "messages:3600:total")
        self.assertEqual(int(counted), MESSAGES)  # every end of data decided in Redis, once
        answered = metric(self.policyd, "policyd_requests_total") - requests_before
        self.assertEqual(answered, 2 * MESSAGES)  # one RCPT and one END-OF-MESSAGE each
        self.assertEqual(metric(self.policyd, "policyd_failure_replies_total"), 0)
        self.assertEqual(policy_warnings(self.pf), [])
        conns = int(metric(self.policyd, "policyd_connections_total"))
        summary(f"load: smtp-source {MESSAGES} messages, {SESSIONS} sessions in {seconds:.1f}s ="
                f" {rate:.0f} msg/s; {int(answered)} policy requests answered over {conns} "
                f"policy connections, 0 failure replies, no 'problem talking to server'")


if __name__ == "__main__":
    unittest.main()
