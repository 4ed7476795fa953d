"""Shared pieces of the end-to-end tests: real redis-server, real policyd (started through
test/integration/harness.py) and private Postfix instances, customers written into Redis as
docs/redis-keys.md documents them, and swaks as the SMTP client.

E2E_REPLIES names a file that collects the exact SMTP reply lines the scenarios saw (scripts/e2e
prints it at the end)."""

import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import POLICYCTL, Policyd, RedisServer, free_port, wait_for  # noqa: E402
from postfix_instance import SASL_REALM, PostfixInstance  # noqa: E402

# Plans: "std" for users who may send, the small ones for the limit scenarios. Unauthenticated
# clients (smtp-source in the load test) are counted per envelope sender under "default".
POLICY_EXTRA = """
[policy]
default_plan = "default"
unauthenticated = "sender"
unknown_user = "dunno"

[abuse]
throttle_events = {throttle_events}
within = "10m"
block_for = "1h"
list_bombing_messages = 1000000

[http]
listen = ["127.0.0.1:{http_port}"]

[plans.default]
limits = [ {{ subject = "sender", metric = "messages", max = 10000000, window = "1h" }} ]

[plans.std]
limits = [ {{ subject = "user", metric = "messages", max = 100000, window = "1h" }},
           {{ subject = "account", metric = "messages", max = 1000000, window = "1d" }} ]

[plans.msg3]
limits = [ {{ subject = "user", metric = "messages", max = 3, window = "1h" }} ]

[plans.msg5]
limits = [ {{ subject = "user", metric = "messages", max = 5, window = "1h" }} ]

[plans.rcpt4]
limits = [ {{ subject = "user", metric = "recipients", max = 4, window = "1h" }} ]

[plans.bytes20k]
limits = [ {{ subject = "user", metric = "bytes", max = "20KB", window = "1h" }} ]

[plans.msg1]
limits = [ {{ subject = "user", metric = "messages", max = 1, window = "1h" }} ]
"""

THROTTLE_EVENTS = 2  # a user throttled a third time within 10 minutes is blocked


def start_policyd(tmp, redis_port, throttle_events=THROTTLE_EVENTS):
    """policyd on the harness's config, with the plans above and an HTTP listener whose
    address is also the report base_url, so a reply's link opens the real report page."""
    http_port = free_port()
    p = Policyd(tmp, redis_port, extra=POLICY_EXTRA.format(http_port=http_port,
                                                           throttle_events=throttle_events))
    p.http_port = http_port
    p.config_text = re.sub(r'base_url = "[^"]*"',
                           f'base_url = "http://127.0.0.1:{http_port}/report"', p.config_text)
    with open(p.config_path, "w") as f:
        f.write(p.config_text)
    p.start()
    p.wait_redis_ready()
    return p


def start_stack(cls, prefix, mta_names):
    """For a test class: a temp dir (cls.tmp, removed at the end unless E2E_KEEP), one
    redis-server (cls.redis), and per name a policyd and a private Postfix pointed at it, all
    stopped when the class ends, even when setUpClass fails half-way. Returns [(postfix,
    policyd)] in the order of mta_names."""
    cls.tmp = tempfile.mkdtemp(prefix=prefix)
    if not os.environ.get("E2E_KEEP"):
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
    cls.redis = RedisServer(cls.tmp)
    cls.addClassCleanup(cls.redis.stop)
    mtas = []
    for name in mta_names:
        p = start_policyd(cls.tmp, cls.redis.port)
        cls.addClassCleanup(p.stop)
        pf = PostfixInstance(cls.tmp, name, p.port)
        cls.addClassCleanup(pf.stop)
        pf.start()
        mtas.append((pf, p))
    return mtas


def sasl_name(user):
    """What Postfix reports as sasl_username for a user who authenticated as `user`."""
    return f"{user}@{SASL_REALM}"


def password(user):
    return "pw-" + user


def add_user(redis, postfixes, user, account="acme", plan="std", mode="account", grants=(),
             domains=("example.com",)):
    """An SMTP user: a sasldb entry in each Postfix and the Redis keys of docs/redis-keys.md."""
    for pf in postfixes:
        pf.add_user(user, password(user))
    name = sasl_name(user)
    redis.cmd("HSET", f"pd:user:{{user:{name}}}", "account", account, "plan", plan, "mode", mode)
    for g in grants:
        redis.cmd("SADD", f"pd:grants:{{user:{name}}}", g)
    for d in domains:
        redis.cmd("HSET", f"pd:domains:{{account:{account}}}", d, "verified")
    redis.cmd("HSET", f"pd:account:{{account:{account}}}", "plan", plan)
    return name


def block_user(redis, name, reason="spam", detail="complaints from recipients"):
    """A manual block as policyctl makes one: the block hash and its report."""
    now = int(float(redis.cmd("TIME")[0]) * 1000)
    report = secrets.token_hex(10)
    tag = f"user:{name}"
    redis.cmd("HSET", f"pd:block:{{{tag}}}", "subject", tag, "reason", reason,
              "evidence", detail, "created", now, "expires", "", "report", report,
              "source", "policyctl")
    redis.cmd("HSET", f"pd:report:{report}", "kind", "block", "subject", tag, "reason", reason,
              "detail", detail, "created", now, "expires", "", "evidence", "[]",
              "review", "none", "source", "policyctl")
    redis.cmd("PEXPIRE", f"pd:report:{report}", 86400000)
    return report


def rate_total(redis, name, metric, window_s=3600):
    v = redis.cmd("HGET", f"pd:rate:{{user:{name}}}", f"{metric}:{window_s}:total")
    return int(v or 0)


class SmtpResult:
    def __init__(self, transcript):
        self.transcript = transcript
        # swaks marks server lines "<-" (expected) and "<**" (an error reply).
        self.replies = [m.group(2) for m in
                        re.finditer(r"^(<-|<\*\*)\s+(.*)$", transcript, re.M)]
        self.closed = "Remote host closed connection unexpectedly" in transcript

    def reply_to(self, prefix_re):
        """The reply lines after the client line that matches prefix_re."""
        lines = self.transcript.splitlines()
        out = []
        for i, line in enumerate(lines):
            if re.match(r"^ ?(->|\*\*)\s+" + prefix_re, line):
                for nxt in lines[i + 1:]:
                    m = re.match(r"^(<-|<\*\*)\s+(.*)$", nxt)
                    if m:
                        out.append(m.group(2))
                    elif out or re.match(r"^ ?->", nxt):
                        break
        return out

    def last(self):
        return self.replies[-1] if self.replies else None

    def queued(self):
        return any(re.match(r"^250 2\.0\.0 Ok: queued as [0-9A-F]+$", r) for r in self.replies)


def swaks(port, user, sender, rcpts, body=None, timeout=60):
    args = ["swaks", "--server", "127.0.0.1", "--port", str(port), "--ehlo", "client.e2e.test",
            "--from", sender, "--to", ",".join(rcpts), "--timeout", "30"]
    if user:
        args += ["--auth", "PLAIN", "--auth-user", user, "--auth-password", password(user)]
    if body is not None:
        args += ["--body", body]
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return SmtpResult(r.stdout + r.stderr)


def http_get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def metric(policyd, name):
    """Sum of a Prometheus counter/gauge over its labels from policyd's /metrics."""
    status, text = http_get(f"http://127.0.0.1:{policyd.http_port}/metrics")
    assert status == 200, status
    return sum(float(m.group(1)) for m in
               re.finditer(r"^" + re.escape(name) + r"(?:\{[^}]*\})? (\S+)$", text, re.M))


def redis_cli(redis, *args):
    r = subprocess.run(["redis-cli", "-p", str(redis.port), *args], capture_output=True,
                       text=True, timeout=10, check=True)
    return r.stdout


def policyctl(policyd, *args):
    """Runs policyctl on policyd's config."""
    return subprocess.run([POLICYCTL, "-c", policyd.config_path, *args], capture_output=True,
                          text=True, timeout=30)


PROBLEM = "problem talking to server"


def policy_warnings(postfix, offset=0):
    return [l for l in postfix.log_since(offset).splitlines() if PROBLEM in l]


def summary(line):
    print(f"E2E {line}", flush=True)


def record_replies(scenario, lines):
    """Keeps the exact reply lines of a scenario for the run's report."""
    path = os.environ.get("E2E_REPLIES")
    if path:
        with open(path, "a") as f:
            for l in lines:
                f.write(f"[{scenario}] {l}\n")


def elapsed(fn):
    t = time.monotonic()
    out = fn()
    return out, time.monotonic() - t

