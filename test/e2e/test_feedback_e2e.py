"""Issue 18 end to end with a private Postfix: a message from an SMTP user to several
recipients is delivered (to a file, through pipe(8)) with exactly one signed X-Policyd-Sender
header; a recipient on a local test domain that does not exist makes Postfix bounce it, the
bounce (a real Postfix DSN) goes back through the pipe transport of conf/postfix-master.cf into
policyd-feedback, and the bounce is credited to that user and sender. Rspamd, when installed,
runs as a milter: a GTUBE message from an SMTP user is rejected and its verdict reaches policyd
as a spam signal that shows on the user's report page."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from e2e_env import (POLICY_EXTRA, THROTTLE_EVENTS, add_user, http_get, record_replies,
                     summary, swaks)
from harness import BUILD, Policyd, RedisServer, free_port, wait_for
from postfix_instance import PostfixInstance

FEEDBACK = os.path.join(BUILD, "policyd", "policyd-feedback")
SECRET = "e2e-stamp-secret-0123456789abcdef"
RSPAMD_TOKEN = "e2e-rspamd-token-0123456789abcdef"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

# Test domains: out.e2e.test is delivered to a file; bounce.e2e.test is accepted at RCPT but
# its delivery agent knows no such user (exit 67, EX_NOUSER: Postfix bounces with 5.1.1, as a
# local domain's unknown recipient does); the customer's own domain is where its bounces
# arrive: the feedback pipe, as conf/postfix-main.cf routes a feedback address.
EXTRA_MAIN = """
transport_maps = inline:{{ out.e2e.test=fileout:, bounce.e2e.test=nouser:, customer.e2e.test=policyd-feedback: }}
policyd-feedback_destination_recipient_limit = 1
fileout_destination_recipient_limit = 1
{milter}
"""
EXTRA_MASTER = """
fileout   unix  -       n       n       -       -       pipe
  flags=F user=nobody argv=/usr/bin/tee -a {mbox}
nouser    unix  -       n       n       -       -       pipe
  user=nobody argv={nouser}
policyd-feedback unix - n       n       -       4       pipe
  flags=Rq user=nobody argv={feedback} -c {config}
"""


def start_rspamd(tmp, http_port):
    """Rspamd from the Debian package (its /etc/rspamd/rspamd.conf) with local.d, databases,
    sockets and log in tmp, every worker on a free port: the proxy as a milter with self-scan,
    and metadata_exporter posting spam verdicts to policyd. None when rspamd is not installed."""
    if not shutil.which("rspamd"):
        return None
    d = os.path.join(tmp, "rspamd")
    for sub in ("local.d", "override.d", "db", "run", "log"):
        os.makedirs(os.path.join(d, sub))
    milter = free_port()
    files = {
        "worker-proxy.inc": f'milter = yes;\nbind_socket = "127.0.0.1:{milter}";\n'
                            'timeout = 120s;\nupstream "local" {\n default = yes;\n'
                            ' self_scan = yes;\n}\n',
        "worker-normal.inc": f'bind_socket = "127.0.0.1:{free_port()}";\n',
        "worker-controller.inc": f'bind_socket = "127.0.0.1:{free_port()}";\n',
        "worker-fuzzy.inc": f'bind_socket = "127.0.0.1:{free_port()}";\ncount = 1;\n',
        # A content rule with a reject score, for a verdict that goes through the normal
        # scan (GTUBE ends the scan at once, before metadata_exporter runs).
        "multimap.conf": "POLICYD_E2E_SPAM {\n type = \"content\";\n filter = \"body\";\n"
                         f" map = \"{d}/e2e-spam.map\";\n regexp = true;\n score = 50.0;\n}}\n",
        "metadata_exporter.conf":
            "rules {\n POLICYD_SPAM {\n  backend = \"http\";\n"
            f"  url = \"http://127.0.0.1:{http_port}/api/v1/rspamd\";\n"
            f"  user = \"rspamd\";\n  password = \"{RSPAMD_TOKEN}\";\n"
            "  selector = \"is_spam_authed\";\n  formatter = \"json\";\n"
            "  mime_type = \"application/json\";\n }\n}\n",
    }
    for name, text in files.items():
        with open(os.path.join(d, "local.d", name), "w") as f:
            f.write(text)
    with open(os.path.join(d, "e2e-spam.map"), "w") as f:
        f.write("/POLICYD-E2E-SPAM-TEST/\n")
    for sub in ("", "db", "run", "log"):
        shutil.chown(os.path.join(d, sub), "_rspamd", "_rspamd")
    log = open(os.path.join(d, "stdout.log"), "wb")
    proc = subprocess.Popen(
        ["rspamd", "-f", "-c", "/etc/rspamd/rspamd.conf", "-u", "_rspamd", "-g", "_rspamd",
         f"--var=LOCAL_CONFDIR={d}", f"--var=DBDIR={d}/db", f"--var=RUNDIR={d}/run",
         f"--var=LOGDIR={d}/log"], stdout=log, stderr=subprocess.STDOUT)
    proc.milter_port = milter
    proc.dir = d

    def up():
        if proc.poll() is not None:
            raise RuntimeError(f"rspamd exited {proc.returncode}, see {d}")
        try:
            socket.create_connection(("127.0.0.1", milter), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout=60, what="rspamd milter")
    return proc


class FeedbackEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="e2e-feedback-")
        os.chmod(cls.tmp, 0o755)
        if not os.environ.get("E2E_KEEP"):
            cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        cls.redis = RedisServer(cls.tmp)
        cls.addClassCleanup(cls.redis.stop)
        http_port = free_port()
        extra = POLICY_EXTRA.format(http_port=http_port, throttle_events=THROTTLE_EVENTS)
        # One spam verdict (weight 10 = score_threshold) blocks, so it shows on a report page.
        extra += (f'\n[abuse.weights]\nspam = 10.0\n[feedback]\nstamp_secret = "{SECRET}"\n'
                  f'rspamd_token = "{RSPAMD_TOKEN}"\n')
        cls.policyd = Policyd(cls.tmp, cls.redis.port, extra=extra)
        cls.policyd.http_port = http_port
        text = re.sub(r'base_url = "[^"]*"', f'base_url = "http://127.0.0.1:{http_port}/report"',
                      cls.policyd.config_text)
        with open(cls.policyd.config_path, "w") as f:
            f.write(text)
        # The pipe runs policyd-feedback as nobody: it reads the same config.
        os.chmod(cls.policyd.dir, 0o755)
        os.chmod(cls.policyd.config_path, 0o644)
        cls.addClassCleanup(cls.policyd.stop)
        cls.policyd.start()
        cls.policyd.wait_redis_ready()
        cls.rspamd = start_rspamd(cls.tmp, http_port)
        if cls.rspamd:
            cls.addClassCleanup(lambda: (cls.rspamd.terminate(), cls.rspamd.wait(20)))
        milter = (f"smtpd_milters = inet:127.0.0.1:{cls.rspamd.milter_port}\n"
                  "milter_default_action = accept\n") if cls.rspamd else ""
        nouser = os.path.join(cls.tmp, "nouser.sh")
        with open(nouser, "w") as f:
            f.write("#!/bin/sh\nexit 67\n")
        os.chmod(nouser, 0o755)
        cls.mbox = os.path.join(cls.tmp, "delivered.mbox")
        open(cls.mbox, "w").close()
        os.chmod(cls.mbox, 0o666)
        cls.pf = PostfixInstance(
            cls.tmp, "fb", cls.policyd.port, extra_main=EXTRA_MAIN.format(milter=milter),
            extra_master=EXTRA_MASTER.format(mbox=cls.mbox, feedback=FEEDBACK, nouser=nouser,
                                             config=cls.policyd.config_path))
        cls.addClassCleanup(cls.pf.stop)
        cls.pf.start()
        cls.user = add_user(cls.redis, [cls.pf], "fbuser", domains=("customer.e2e.test",))

    def count(self, key):
        flat = self.redis.cmd("HGETALL", key)
        return sum(int(v) for v in flat[1::2])

    def test_a_stamped_once_and_its_bounce_credited(self):
        rcpts = ["a@out.e2e.test", "b@out.e2e.test", "c@out.e2e.test", "nobody@bounce.e2e.test"]
        res = swaks(self.pf.ports["full"], "fbuser", "news@customer.e2e.test", rcpts)
        record_replies("feedback", res.replies)
        self.assertTrue(res.queued(), res.transcript)
        # Three deliveries (one per recipient), each with exactly one stamp.
        def delivered():
            with open(self.mbox) as f:
                return [m for m in re.split(r"(?m)^From ", f.read()) if m.strip()]
        wait_for(lambda: len(delivered()) >= 3, timeout=30, what="three deliveries")
        messages = delivered()
        self.assertEqual(len(messages), 3)
        for m in messages:
            head = m.split("\n\n", 1)[0]
            self.assertEqual(len(re.findall(r"(?mi)^X-Policyd-Sender: 1\.", head)), 1, head)
            # Nothing else changed: one of each header swaks wrote.
            for name in ("Subject", "From", "To", "Message-Id"):
                self.assertEqual(len(re.findall(rf"(?mi)^{name}: ", head)), 1, head)
        # The bounce for nobody@bounce.e2e.test reaches policyd-feedback and is credited.
        wait_for(lambda: self.count(f"pd:bounces:{{user:{self.user}}}") >= 1, timeout=60,
                 what="bounce credited")
        self.assertEqual(self.count(f"pd:bounces:{{user:{self.user}}}"), 1)
        self.assertEqual(self.count("pd:bounces:{sender:news@customer.e2e.test}"), 1)
        self.assertEqual(self.count(f"pd:sent:{{user:{self.user}}}"), 1)
        evidence = self.redis.cmd("LRANGE", f"pd:evidence:{{user:{self.user}}}", "0", "-1")
        self.assertTrue(any("5.1.1 nobody@bounce.e2e.test" in e for e in evidence), evidence)
        summary("feedback: 1 message, 3 deliveries with one stamp each, its bounce credited "
                f"({self.count(f'pd:bounces:{{user:{self.user}}}')} bounce for {self.user})")

    def test_b_rspamd_rejects_spam_and_its_verdict_is_on_the_report_page(self):
        if not self.rspamd:
            self.skipTest("rspamd is not installed")
        tag = f"user:{self.user}"

        def spam_evidence():
            return [e for e in self.redis.cmd("LRANGE", f"pd:evidence:{{{tag}}}", "0", "-1")
                    if '"kind":"spam"' in e]
        # GTUBE: Rspamd as a milter rejects it.
        res = swaks(self.pf.ports["full"], "fbuser", "news@customer.e2e.test",
                    ["a@out.e2e.test"], body=f"{GTUBE}\n")
        record_replies("rspamd", res.reply_to(r"\.$"))
        self.assertEqual(res.reply_to(r"\.$"), ["554 5.7.1 Gtube pattern"], res.transcript)
        # A message that Rspamd's scan (a content rule scoring 50) rejects: its verdict is
        # posted by metadata_exporter and becomes a spam signal of the user.
        res = swaks(self.pf.ports["full"], "fbuser", "news@customer.e2e.test",
                    ["a@out.e2e.test"], body="POLICYD-E2E-SPAM-TEST\n")
        record_replies("rspamd", res.reply_to(r"\.$"))
        self.assertTrue(res.reply_to(r"\.$")[0].startswith("554 5.7.1"), res.transcript)
        wait_for(lambda: spam_evidence(), timeout=30, what="rspamd verdict as a spam signal")
        evidence = spam_evidence()
        self.assertIn("POLICYD_E2E_SPAM", evidence[0])
        self.assertIn("rspamd reject score", evidence[0])
        # The verdict blocked the user (weight 10 = score_threshold): the next message gets
        # the ABUSE reply, whose report page lists the verdict.
        res = swaks(self.pf.ports["full"], "fbuser", "news@customer.e2e.test",
                    ["a@out.e2e.test"])
        refusal = res.reply_to("RCPT TO")
        record_replies("rspamd", refusal)
        m = re.search(r"See: (\S+)$", refusal[0] if refusal else "")
        self.assertIsNotNone(m, res.transcript)
        status, page = http_get(m.group(1))
        self.assertEqual(status, 200)
        self.assertIn("POLICYD_E2E_SPAM", page)
        self.assertIn("rspamd reject score", page)
        summary(f"rspamd: GTUBE rejected by the milter; a scanned reject became a spam signal "
                f"({len(evidence)} verdict(s) for {tag}), blocked, report page lists it")


if __name__ == "__main__":
    unittest.main()
