"""Several MTAs (issue 6): two private Postfix instances, each with its own policyd, both policyd
sharing one Redis. Limits and blocks hold across the MTAs."""

import re
import unittest
from concurrent.futures import ThreadPoolExecutor

from e2e_env import (add_user, policy_warnings, rate_total, record_replies, start_stack, summary,
                     swaks)

R = "r@dest.example"
RATE = (rf"^421 4\.7\.1 <{R}>: Recipient address rejected: Rate limit exceeded: messages 5/5 "
        r"per 1h; try again in \d+s$")


class SeveralMtas(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.mtas = start_stack(cls, "e2e-multi-", ["mx1", "mx2"])
        cls.postfixes = [pf for pf, _ in cls.mtas]

    def setUp(self):
        self.offsets = [pf.log_size() for pf in self.postfixes]

    def tearDown(self):
        for pf, off in zip(self.postfixes, self.offsets):
            self.assertEqual(policy_warnings(pf, off), [], pf.name)

    def send(self, i, user):
        return swaks(self.postfixes[i].ports["full"], user, f"{user}@example.com", [R])

    def test_limit_is_shared_sending_alternately(self):
        name = add_user(self.redis, self.postfixes, "sam", account="multi", plan="msg5")
        results = [self.send(i % 2, "sam") for i in range(8)]
        queued = [i for i, r in enumerate(results) if r.queued()]
        self.assertEqual(queued, [0, 1, 2, 3, 4])
        refusals = [r.reply_to("RCPT TO")[0] for r in results[5:]]
        for line in refusals:
            self.assertRegex(line, RATE)
        self.assertEqual(rate_total(self.redis, name, "messages"), 5)
        for _, p in self.mtas:  # both policyd decided some of them
            self.assertRegex(p.read_log(), rf"state=END-OF-MESSAGE user={re.escape(name)} .*"
                                           r"rule=counted")
        record_replies("multi-MTA limit", refusals[:1])
        summary("multi-MTA limit: 8 messages alternately through mx1/mx2, limit 5 -> exactly 5 "
                "queued, then 421 4.7.1 on either MTA")

    def test_limit_is_shared_under_concurrency(self):
        name = add_user(self.redis, self.postfixes, "sue", account="multi", plan="msg5")
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda i: self.send(i % 2, "sue"), range(16)))
        self.assertEqual(sum(1 for r in results if r.queued()), 5)
        for r in results:
            if not r.queued():  # refused at RCPT (pre-check) or end of data, never accepted
                self.assertRegex(r.transcript,
                                 r"421 4\.7\.1 |550 5\.7\.1 ")
        self.assertEqual(rate_total(self.redis, name, "messages"), 5)
        summary("multi-MTA race: 16 concurrent sessions over both MTAs, limit 5 -> exactly 5 "
                "queued")

    def test_block_from_one_mta_refuses_on_the_other(self):
        add_user(self.redis, self.postfixes, "tom", account="multi", plan="msg1")
        self.assertTrue(self.send(0, "tom").queued())
        for _ in range(3):  # the third throttle on mx1 blocks the user
            self.assertRegex(self.send(0, "tom").reply_to("RCPT TO")[0], r"^421 4\.7\.1 ")
        rcpt = self.send(1, "tom").reply_to("RCPT TO")
        self.assertRegex(rcpt[0], rf"^550 5\.7\.1 <{R}>: Recipient address rejected: \[ABUSE\] "
                                  r"Sender blocked: spam or abuse detected\. See: http://\S+$")
        record_replies("multi-MTA block on the other MTA", rcpt)
        summary("multi-MTA block: escalated by traffic on mx1, the next RCPT on mx2 gets "
                "550 5.7.1 [ABUSE]")


if __name__ == "__main__":
    unittest.main()
