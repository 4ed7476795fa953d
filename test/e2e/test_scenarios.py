"""End-to-end scenarios 1-7 (issue 6): a private Postfix instance, a real policyd and a real
redis-server; swaks (and smtplib where one session carries several messages) as SMTP clients,
asserting the exact reply lines the client sees. Tests run in name order (t1_... t7_...)."""

import re
import smtplib
import unittest

from e2e_env import (add_user, block_user, elapsed, http_get, metric, password, policy_warnings,
                     policyctl, rate_total, record_replies, redis_cli, start_stack, summary, swaks)
from postfix_instance import DEFER_ACTION

R = "r@dest.example"
QUEUED = r"^250 2\.0\.0 Ok: queued as ([0-9A-F]+)$"


def url_re(policyd):
    return (rf"(http://127\.0\.0\.1:{policyd.http_port}/report\?id=([0-9a-f]{{20}})"
            rf"&auth=[0-9a-f-]{{36}})")


class Scenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        [(cls.pf, cls.policyd)] = start_stack(cls, "e2e-scenarios-", ["a"])

    def setUp(self):
        self.log_offset = self.pf.log_size()

    def tearDown(self):
        # Wherever policyd was up, Postfix never failed to get an answer.
        self.assertEqual(policy_warnings(self.pf, self.log_offset), [])

    def user(self, name, **kw):
        return add_user(self.redis, [self.pf], name, **kw)

    def send(self, port_name, user, sender, rcpts=(R,), body=None):
        return swaks(self.pf.ports[port_name], user, sender, list(rcpts), body)

    def assert_queued(self, res):
        """The reply to the end of data is "250 ... queued as ID"; returns ID."""
        end = res.reply_to(r"\.$")
        self.assertTrue(end, res.transcript)
        self.assertRegex(end[0], QUEUED)
        return re.match(QUEUED, end[0]).group(1)

    def assert_report_opens(self, url, *texts):
        status, page = http_get(url)
        self.assertEqual(status, 200, url)
        for t in texts:
            self.assertIn(t, page)
        wrong = url[:-1] + ("1" if url[-1] == "0" else "0")  # another auth token
        status, _ = http_get(wrong)
        self.assertEqual(status, 404)

    def test_t1_allowed_user_and_domain(self):
        name = self.user("alice", mode="explicit", grants=["example.com"])
        res = self.send("full", "alice", "alice@example.com")
        self.assertEqual(res.reply_to("AUTH PLAIN"), ["235 2.7.0 Authentication successful"])
        self.assertEqual(res.reply_to("RCPT TO"), ["250 2.1.5 Ok"])
        qid = self.assert_queued(res)
        self.pf.wait_log(rf"{qid}: to=<{R}>, relay=none, .*status=sent \(e2e\)", self.log_offset)
        self.assertEqual(rate_total(self.redis, name, "messages"), 1)
        self.assertRegex(self.policyd.read_log(), rf"state=END-OF-MESSAGE user={re.escape(name)} "
                                                  r".*action=DUNNO rule=counted")
        summary(f"1 allowed user and domain: 250 2.0.0 Ok: queued as {qid}; discarded; counted")

    def test_t2_domain_not_granted(self):
        self.user("bob", mode="explicit", grants=["example.com"],
                  domains=["example.com", "other.example"])
        res = self.send("full", "bob", "bob@other.example")
        rcpt = res.reply_to("RCPT TO")
        self.assertEqual(len(rcpt), 1)
        m = re.match(rf"^550 5\.7\.1 <{R}>: Recipient address rejected: \[ACL\] Blocked\. "
                     rf"See {url_re(self.policyd)}$", rcpt[0])
        self.assertTrue(m, rcpt[0])
        self.assertFalse(res.queued())
        eod = self.send("eod", "bob", "bob@other.example")
        self.assertEqual(eod.reply_to("RCPT TO"), ["250 2.1.5 Ok"])
        end = eod.reply_to(r"\.$")
        m2 = re.match(r"^550 5\.7\.1 <END-OF-MESSAGE>: End-of-data rejected: \[ACL\] Blocked\. "
                      rf"See {url_re(self.policyd)}$", end[0])
        self.assertTrue(m2, end)
        self.assertEqual(m.group(2), m2.group(2))  # one ACL report per (user, domain)
        self.assert_report_opens(m.group(1), "other.example")
        record_replies("2 ACL at RCPT", rcpt)
        record_replies("2 ACL at end of data", end)
        summary(f"2 domain not granted: RCPT and end-of-data 550 5.7.1 [ACL]; report "
                f"{m.group(2)} opens (200), wrong auth 404")

    def test_t3_blocked_user(self):
        name = self.user("carol", account="acme3")
        self.user("dave", account="acme3")
        report = block_user(self.redis, name)
        res = self.send("full", "carol", "carol@example.com")
        rcpt = res.reply_to("RCPT TO")
        m = re.match(rf"^550 5\.7\.1 <{R}>: Recipient address rejected: \[ABUSE\] Sender blocked: "
                     rf"spam or abuse detected\. See: {url_re(self.policyd)}$", rcpt[0])
        self.assertTrue(m, rcpt)
        self.assertEqual(m.group(2), report)
        self.assert_report_opens(m.group(1), "spam")
        other = self.send("full", "dave", "dave@example.com")
        self.assert_queued(other)
        record_replies("3 blocked user", rcpt)
        summary("3 blocked user: RCPT 550 5.7.1 [ABUSE], report opens; same account's other "
                "user queued")

    def test_t4_rate_limits(self):
        lines = []
        # Messages: 3 per hour; the 4th is refused at RCPT by the pre-check, connection closed.
        msgs = self.user("erin", plan="msg3")
        for _ in range(3):
            self.assert_queued(self.send("full", "erin", "erin@example.com"))
        res = self.send("full", "erin", "erin@example.com")
        rcpt = res.reply_to("RCPT TO")
        self.assertRegex(rcpt[0], rf"^421 4\.7\.1 <{R}>: Recipient address rejected: Rate limit "
                                  r"exceeded: messages 3/3 per 1h; try again in \d+s$")
        self.assertTrue(res.closed, res.transcript)
        self.assertEqual(rate_total(self.redis, msgs, "messages"), 3)
        lines += rcpt
        # Recipients: 4 per hour, each recipient of a message counts.
        rcpts = self.user("frank", plan="rcpt4")
        self.assert_queued(self.send("full", "frank", "frank@example.com",
                                     ["a@dest.example", "b@dest.example", "c@dest.example"]))
        self.assertEqual(rate_total(self.redis, rcpts, "recipients"), 3)
        res = self.send("full", "frank", "frank@example.com", ["d@dest.example", "e@dest.example"])
        self.assertEqual(res.reply_to("RCPT TO"), ["250 2.1.5 Ok", "250 2.1.5 Ok"])
        end = res.reply_to(r"\.$")
        self.assertRegex(end[0], r"^421 4\.7\.1 <END-OF-MESSAGE>: End-of-data rejected: Rate "
                                 r"limit exceeded: recipients 3/4 per 1h; try again in \d+s$")
        self.assertTrue(res.closed, res.transcript)
        lines += end
        self.assert_queued(self.send("full", "frank", "frank@example.com", ["f@dest.example"]))
        self.assertEqual(rate_total(self.redis, rcpts, "recipients"), 4)
        # Bytes: 20 KB per hour; the second 12 KB message does not fit.
        size = self.user("grace", plan="bytes20k")
        body = ("x" * 99 + "\n") * 120
        self.assert_queued(self.send("full", "grace", "grace@example.com", body=body))
        first = rate_total(self.redis, size, "bytes")
        self.assertGreater(first, 12000)
        res = self.send("full", "grace", "grace@example.com", body=body)
        end = res.reply_to(r"\.$")
        self.assertRegex(end[0], r"^421 4\.7\.1 <END-OF-MESSAGE>: End-of-data rejected: Rate "
                                 rf"limit exceeded: bytes {first}/20000 per 1h; try again in \d+s$")
        self.assertTrue(res.closed, res.transcript)
        self.assertEqual(rate_total(self.redis, size, "bytes"), first)
        lines += end
        record_replies("4 rate limits", lines)
        summary("4 rate limits: messages 421 at RCPT, recipients and bytes 421 at end of data, "
                "connection closed each time; 3-recipient message counted 3")

    def test_t5_escalation_to_block(self):
        name = self.user("heidi", plan="msg1")
        self.assert_queued(self.send("full", "heidi", "heidi@example.com"))
        lines = []
        for _ in range(3):  # [abuse] throttle_events = 2: the third throttle blocks
            rcpt = self.send("full", "heidi", "heidi@example.com").reply_to("RCPT TO")
            self.assertRegex(rcpt[0], rf"^421 4\.7\.1 <{R}>: Recipient address rejected: Rate "
                                      r"limit exceeded: messages 1/1 per 1h; try again in \d+s$")
            lines += rcpt
        rcpt = self.send("full", "heidi", "heidi@example.com").reply_to("RCPT TO")
        m = re.match(rf"^550 5\.7\.1 <{R}>: Recipient address rejected: \[ABUSE\] Sender blocked: "
                     rf"spam or abuse detected\. See: {url_re(self.policyd)}$", rcpt[0])
        self.assertTrue(m, rcpt)
        lines += rcpt
        block = redis_cli(self.redis, "HGETALL", f"pd:block:{{user:{name}}}").split("\n")
        fields = dict(zip(block[0::2], block[1::2]))
        self.assertEqual(fields["reason"], "rate")
        self.assertEqual(fields["source"], "escalation")
        self.assertEqual(fields["report"], m.group(2))
        self.assert_report_opens(m.group(1), "rate")
        show = policyctl(self.policyd, "block", "show", f"user:{name}")
        self.assertEqual(show.returncode, 0, show.stdout + show.stderr)
        self.assertIn("rate", show.stdout)
        listed = policyctl(self.policyd, "block", "list", "--json")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn(name, listed.stdout)
        ctl = "policyctl block show/list agree"
        record_replies("5 escalation", lines)
        summary(f"5 escalation: 3 x 421 then 550 5.7.1 [ABUSE]; redis-cli block reason=rate "
                f"source=escalation; {ctl}")

    def test_t6_failures(self):
        name = self.user("ivan")
        p, pf = self.policyd, self.pf
        # policyd down: Postfix applies each service's default_action.
        p.stop()
        res, t_dunno = elapsed(lambda: self.send("full", "ivan", "ivan@example.com"))
        self.assert_queued(res)
        res = self.send("defer", "ivan", "ivan@example.com")
        rcpt = res.reply_to("RCPT TO")
        self.assertEqual(rcpt, [f"451 4.3.5 <{R}>: Recipient address rejected: "
                                f"{DEFER_ACTION[len('451 4.3.5 '):]}"])
        self.assertTrue(policy_warnings(pf, self.log_offset))  # expected while policyd is down
        # policyd back: decisions resume, with no further warnings.
        p.start()
        p.wait_redis_ready()
        self.log_offset = pf.log_size()
        before = rate_total(self.redis, name, "messages")
        self.assert_queued(self.send("defer", "ivan", "ivan@example.com"))
        self.assert_queued(self.send("full", "ivan", "ivan@example.com"))
        self.assertEqual(rate_total(self.redis, name, "messages"), before + 2)
        # Redis unresponsive, then down: policyd's own [failure] reply within request_timeout.
        smtp = smtplib.SMTP("127.0.0.1", pf.ports["full"], timeout=30)
        try:
            smtp.ehlo("client.e2e.test")
            smtp.login("ivan", password("ivan"))
            smtp.mail("ivan@example.com")
            self.redis.pause()
            try:
                (code, text), t_pause = elapsed(lambda: smtp.rcpt(R))
            finally:
                self.redis.resume()
            paused = f"{code} {text.decode()}"
            self.assertEqual(paused, f"451 4.3.0 <{R}>: Recipient address rejected: Policy "
                                     "service temporarily unavailable")
            self.assertLess(t_pause, 3.0)  # request_timeout 1s, plus a loaded machine's slack
            # policyd dropped the stalled connection and reconnects by itself.
            _, t_back = elapsed(p.wait_redis_ready)
            self.assertEqual(smtp.rcpt("r2@dest.example")[0], 250)
            self.redis.stop()
            (code, text), t_down = elapsed(lambda: smtp.rcpt("r3@dest.example"))
            self.assertEqual(f"{code} {text.decode()}", paused.replace(R, "r3@dest.example"))
            self.assertLess(t_down, 3.0)
        finally:
            smtp.close()
        self.redis.start()  # empty: this Redis keeps no files
        name = self.user("ivan")
        p.wait_redis_ready()
        self.assert_queued(self.send("full", "ivan", "ivan@example.com"))
        self.assertEqual(rate_total(self.redis, name, "messages"), 1)
        self.assertIn("event=failure_reply", p.read_log())
        record_replies("6 policyd down, default_action 451", rcpt)
        record_replies("6 redis down, [failure] defer", [paused])
        summary(f"6 failures: policyd down -> DUNNO queued ({t_dunno:.1f}s) and 451 4.3.5; "
                f"back -> decisions resume; Redis paused -> 451 4.3.0 in {t_pause:.2f}s (deciding "
                f"again {t_back:.2f}s after resume), stopped -> in {t_down:.2f}s; back -> queued")

    def test_t7_connection_reuse(self):
        name = self.user("judy")
        conns = metric(self.policyd, "policyd_connections_total")
        log_off = len(self.policyd.read_log())
        sessions, per_session, rcpts = 4, 3, ["a@dest.example", "b@dest.example", "c@dest.example"]
        for _ in range(sessions):
            with smtplib.SMTP("127.0.0.1", self.pf.ports["full"], timeout=30) as smtp:
                smtp.ehlo("client.e2e.test")
                smtp.login("judy", password("judy"))
                for i in range(per_session):
                    refused = smtp.sendmail("judy@example.com", rcpts,
                                            f"Subject: reuse {i}\r\n\r\nbody\r\n")
                    self.assertEqual(refused, {})
        requests = sessions * per_session * (len(rcpts) + 1)
        log = self.policyd.read_log()[log_off:]
        decisions = re.findall(rf"event=decision state=\S+ user={re.escape(name)} ", log)
        self.assertEqual(len(decisions), requests)
        self.assertNotIn("event=close", log)
        opened = metric(self.policyd, "policyd_connections_total") - conns
        smtpd = set(re.findall(r"postfix/smtpd\[(\d+)\]: \w+: client=.*sasl_username=judy@",
                               self.pf.log_since(self.log_offset)))
        self.assertLessEqual(opened, len(smtpd))  # at most one per smtpd process, none per request
        self.assertLess(len(smtpd), sessions + 1)
        self.assertEqual(rate_total(self.redis, name, "messages"), sessions * per_session)
        summary(f"7 reuse: {sessions} sessions x {per_session} messages x {len(rcpts)} recipients"
                f" = {requests} policy requests over {int(opened)} new policy connection(s), "
                f"{len(smtpd)} smtpd process(es), 0 closed")


if __name__ == "__main__":
    unittest.main()
