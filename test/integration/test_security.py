"""Issue 8, security: hostile bytes in every attribute that reaches a reply, a log line, a Redis
key or the report page; forged report links and API tokens; Redis AUTH with a password and
with an ACL user. Real policyd, real redis-server, real sockets. Each test prints one
`SECURITY ...` line for docs/reliability.md. test_http.py already covers the basic 404 cases
(missing, flipped, other report's auth, random ids) and a missing or wrong API token; these
add the near misses, the review form, the key layout and the logs."""

import hashlib
import hmac
import http.client
import json
import os
import re
import socket
import time
import unittest
import urllib.parse

from faultload import report_line
from harness import (ROOT, Policyd, RedisServer, ServedTestCase, TempDir, request_bytes, wait_for,
                     _read_resp)

SECRET = "test-secret-0123456789abcdef"
TOKEN = "api-token-0123456789abcdef"
DEFER = "451 4.3.0 Policy service temporarily unavailable"
CONFIG = """
[policy]
unauthenticated = "sender"
unknown_user = "tiny"

[abuse]
throttle_events = 2
score_threshold = 1

[http]
listen = ["127.0.0.1:{http_port}"]
api_token = "{token}"

[messages]
acl = "550 [ACL] {{user}} may not send from {{domain}}. See {{report_url}}"
abuse = "550 5.7.1 [ABUSE] {{user}} is blocked. See: {{report_url}}"
rate = "421 4.7.1 {{user}}: {{metric}} {{count}}/{{max}} per {{window}}; try again in {{retry_after}}s"

[plans.default]
limits = [ {{ subject = "user", metric = "messages", max = 1000, window = "1h" }},
           {{ subject = "sender", metric = "messages", max = 1000, window = "1h" }},
           {{ subject = "ip", metric = "messages", max = 1000, window = "1h" }} ]

[plans.tiny]
limits = [ {{ subject = "user", metric = "messages", max = 1, window = "1h" }},
           {{ subject = "ip", metric = "messages", max = 1000, window = "1h" }} ]
"""
# Hostile values: CR, terminal escapes, DEL and C0 bytes, UTF-8 and invalid UTF-8, log-field
# and reply look-alikes, HTML, and a 3,000-byte value (under max_line_bytes, 4 KiB).
HOSTILE = [b"evil\rX-Injected: 1", b"a\x1b[31mred\x07", b"\x7f\x01\x02\x1f", b"caf\xc3\xa9",
           b"\xff\xfe", b'q" level=error event=fake x="', b"DUNNO\raction=OK",
           b"<script>alert(1)</script>", b"x" * 3000, b"trail\r"]
REPLY_LINE = re.compile(rb"action=[\x20-\x7e]{1,400}\n\n")
LOG_TOKEN = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ "]*)')


def escape(name):
    """EscapeKeyName as docs/redis-keys.md states it."""
    return "".join(chr(b) if 0x21 <= b <= 0x7e and b not in b"{}%" else "%%%02X" % b
                   for b in name)


def report_auth(secret, rid):
    """The auth of a report id (DESIGN §4): HMAC-SHA256, 16 bytes shown as a UUID."""
    h = hmac.new(secret.encode(), rid.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def raw_ask(port, data):
    """One request on its own connection; every byte that came back before the close."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        out = b""
        while not out.endswith(b"\n\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


class SecurityTest(ServedTestCase):
    CONFIG = CONFIG
    CONFIG_ARGS = {"token": TOKEN}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        r = cls.redis
        r.cmd("HSET", "pd:user:{user:alice}", "account", "acme", "mode", "account",
              "plan", "default")
        r.cmd("HSET", "pd:domains:{account:acme}", "example.com", "verified")

    def ask(self, **attrs):
        return raw_ask(self.p.port, request_bytes(**attrs))

    def line(self, scenario, what, checks, wrong, **extra):
        report_line("SECURITY", scenario, self.id(), what, checks=checks, wrong=wrong,
                    crashes=int(self.p.proc.poll() is not None), **extra)

    def test_hostile_bytes_never_reach_a_reply_or_a_log_raw(self):
        log_before = len(self.p.read_log().splitlines())
        checks, wrong = 0, []

        def expect(reply, kind, what):
            nonlocal checks
            checks += 1
            text = reply[len(b"action="):].decode("ascii", "replace")
            ok = REPLY_LINE.fullmatch(reply) and text.startswith(kind)
            if not ok:
                wrong.append((what, reply[:200]))

        for n, v in enumerate(HOSTILE):
            tag = f"h{n}"
            # An unknown user (plan tiny, no account): refused by the ACL template with {user}.
            expect(self.ask(protocol_state="RCPT", sasl_username=v, sender="x@foreign.example",
                            recipient=v, client_address=v, queue_id=v, instance=v),
                   "550 [ACL]", (tag, "acl"))
            # A blocked user: the ABUSE template with {user}.
            self.redis.cmd("HSET", f"pd:block:{{user:{escape(v + b'B')}}}", "reason", "manual",
                           "expires", "", "report", "c" * 20)
            expect(self.ask(protocol_state="RCPT", sasl_username=v + b"B", sender=""),
                   "550 5.7.1 [ABUSE]", (tag, "block"))
            # Counted with the null sender (no ACL): the second message is over the tiny limit,
            # and its throttle evidence records client, recipient and queue_id.
            for i, kind in enumerate(("DUNNO", "421 4.7.1")):
                expect(self.ask(protocol_state="END-OF-MESSAGE", sasl_username=v + b"R",
                                sender="", recipient=v, client_address=v, queue_id=v,
                                recipient_count=1, size=10, instance=f"{tag}.{i}"),
                       kind, (tag, "rate"))
            # A known user with a hostile sender (no valid domain) and recipient.
            expect(self.ask(protocol_state="RCPT", sasl_username="alice", sender=v + b"@x",
                            recipient=v, client_address="192.0.2.9"), "550 [ACL]",
                   (tag, "sender"))
            # A hostile protocol_state is just an unknown stage.
            expect(self.ask(protocol_state=v, sasl_username="alice", sender="a@example.com"),
                   "DUNNO", (tag, "state"))
        # Bad requests are closed; the logged "near ..." excerpt is escaped too.
        for v in (b"\x1b[2J\rEVIL", b"\xff" * 100):
            checks += 1
            if raw_ask(self.p.port, b"request=smtpd_access_policy\n" + v + b"\n\n") != b"":
                wrong.append(("bad request answered", v))
        # A LF can only end a line: what follows is another attribute, not part of a value.
        expect(raw_ask(self.p.port, b"request=smtpd_access_policy\nprotocol_state=RCPT\n"
                       b"sasl_username=alice\nsender=a@example.com\naction=OK\n\n"), "DUNNO",
               ("lf", "attribute"))

        raw_log = open(self.p.log_path, "rb").read()
        lines = raw_log.split(b"\n")[log_before:-1]
        bad_bytes = sorted({b for b in raw_log if not (0x20 <= b <= 0x7e or b == 0x0a)})
        bad_lines = []
        for line in lines:
            text = line.decode("ascii", "replace")
            head = re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z ", text)
            rest = text[head.end():] if head else ""
            tokens = LOG_TOKEN.findall(rest)
            rebuilt = " ".join(f"{k}={v}" for k, v in tokens)
            keys = [k for k, _ in tokens]
            if not head or rebuilt != rest or len(keys) != len(set(keys)):
                bad_lines.append(text[:300])
        decisions = sum(1 for line in lines if b"event=decision" in line)
        self.line("reply_log_injection", "CR, C0/DEL, ESC, UTF-8, invalid UTF-8, quotes, HTML "
                  "and 3,000-byte values in sasl_username, sender, recipient, client_address, "
                  "queue_id, instance, protocol_state; reply templates with {user}",
                  checks, len(wrong), log_lines=len(lines), bad_log_lines=len(bad_lines),
                  raw_control_bytes=len(bad_bytes))
        self.assertEqual(wrong, [])
        self.assertEqual(bad_bytes, [])
        self.assertEqual(bad_lines, [])
        self.assertGreaterEqual(decisions, len(HOSTILE) * 6)

    def test_hostile_names_never_touch_another_subjects_keys(self):
        r = self.redis
        eom = lambda i, **kw: request_bytes(protocol_state="END-OF-MESSAGE", recipient_count=1,
                                            size=10, instance=f"k{i}", **kw)
        # The victims' state: user alice, senders alice@ and victim@example.com, ip 192.0.2.1.
        raw_ask(self.p.port, eom(0, sasl_username="alice", sender="alice@example.com",
                                 client_address="192.0.2.1"))
        raw_ask(self.p.port, eom(1, sender="victim@example.com", client_address="192.0.2.1"))
        victims = ["user:alice", "sender:alice@example.com", "sender:victim@example.com",
                   "ip:192.0.2.1"]

        def state():
            out = {}
            for k in r.cmd("KEYS", "*"):
                kind = r.cmd("TYPE", k)
                v = r.cmd("HGETALL", k) if kind == "hash" else r.cmd("DUMP", k)
                out[k] = (kind, v, r.cmd("PTTL", k) > 0)
            return out

        before = state()
        self.assertTrue(all(any("{" + v + "}" in k for k in before) for v in victims))
        users = [b"alice}", b"{user:alice}", b"alice:messages:3600", b"user:alice", b"alice*",
                 b"*", b"alice%7D", b"alice ", b"al ice", b"alice\r", b"alice\t", b"}" * 1000,
                 b"alice}:x{user:alice", b"A" * 3500, b"ALICE"]
        senders = [b"victim@example.com}", b"{sender:victim@example.com}", b"victim@example.com ",
                   b"*@example.com", b"victim@example.com\r", b"victim%40example.com"]
        ips = [b"192.0.2.1}", b"{ip:192.0.2.1}", b"192.0.2.1 ", b"*", b"192.0.2.1:1"]
        expected = set()
        for i, u in enumerate(users):
            ip = ips[i % len(ips)]
            reply = raw_ask(self.p.port, eom(100 + i, sasl_username=u, sender="",
                                             client_address=ip))
            self.assertEqual(reply, b"action=DUNNO\n\n", u[:40])
            expected |= {"user:" + escape(u), "ip:" + escape(ip)}
        for i, s in enumerate(senders):
            ip = ips[i % len(ips)]
            reply = raw_ask(self.p.port, eom(200 + i, sender=s, client_address=ip))
            self.assertEqual(reply, b"action=DUNNO\n\n", s)
            expected |= {"sender:" + escape(s.lower()), "ip:" + escape(ip)}
        after = state()
        touched = [k for k in before if after.get(k) != before[k]]
        # Every window's total is the sum of its buckets (two limits on one window once
        # counted an unauthenticated sender twice in its buckets).
        for k in r.cmd("KEYS", "pd:rate:*"):
            flat = r.cmd("HGETALL", k)
            h = dict(zip(flat[::2], flat[1::2]))
            # One hash per subject: per limit METRIC:WINDOW_S:total and :first, and bucket
            # fields M WINDOW_S IIII (docs/redis-keys.md).
            for limit in {f.rsplit(":", 1)[0] for f in h if not f.isdigit()}:
                metric, window = limit.split(":")
                num = {"messages": "1", "recipients": "2", "bytes": "3"}[metric] + window
                buckets = sum(int(v) for f, v in h.items() if f.isdigit() and f[:-4] == num)
                self.assertEqual(int(h[limit + ":total"]), buckets, (k, limit))
        new = [k for k in after if k not in before]
        tags = set()
        malformed = []
        for k in new:
            # pd:rate (one hash per subject) and pd:sent (issue 18, the messages rates divide
            # by) have no suffix.
            m = (re.fullmatch(r"pd:(msg):\{([^{}]+)\}:[^{}]+", k) or
                 re.fullmatch(r"pd:(rate|sent):\{([^{}]+)\}", k))
            if not m:
                malformed.append(k[:120])
            else:
                tags.add(m.group(2))
        self.line("key_injection", "sasl_username, sender and client_address with spaces, colons, "
                  "braces, stars, percent signs, CR, TAB, 1,000 closing braces and 3,500 bytes, "
                  "aimed at another subject's keys", len(users) + len(senders), len(touched) + len(malformed),
                  keys_before=len(before), keys_created=len(new), tags=len(tags),
                  victim_keys_touched=len(touched))
        self.assertEqual(touched, [])
        self.assertEqual(malformed, [])
        self.assertEqual(tags, expected)
        self.assertFalse(expected & set(victims))

    def test_html_in_reports_is_escaped(self):
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        payloads = {
            "subject": b"<img src=x onerror=alert(1)>",
            "evidence": "<script>alert('evidence')</script>",
            "user": b"</title><script>alert(2)</script>",
            "queue_id": b"<svg onload=alert(3)>",
            "client": b'"><iframe src=javascript:alert(4)>',
        }
        status, body, _ = self.http("POST", "/api/v1/signals", json.dumps({"signals": [
            {"subject": "user:" + payloads["subject"].decode(), "kind": "spam",
             "evidence": payloads["evidence"]}]}), auth)
        self.assertEqual(status, 200, body)
        replies = [self.ask(protocol_state="RCPT", sasl_username=payloads["subject"],
                            sender="")]
        # A hostile unknown user refused by the ACL, then throttled into a block (plan tiny).
        user = payloads["user"]
        replies.append(self.ask(protocol_state="RCPT", sasl_username=user,
                                sender="a@foreign.example", queue_id=payloads["queue_id"],
                                client_address=payloads["client"]))
        for i in range(5):
            last = self.ask(protocol_state="END-OF-MESSAGE", sasl_username=user, sender="",
                            queue_id=payloads["queue_id"], client_address=payloads["client"],
                            recipient="<b>r</b>@x.example", recipient_count=1, size=1,
                            instance=f"html{i}")
        replies.append(last)
        pages, leaks = 0, []
        for reply in replies:
            m = re.search(rb"See:? \S+\?(id=[0-9a-f]{20}&auth=[0-9a-f-]{36})\n", reply)
            self.assertIsNotNone(m, reply)
            status, page, resp = self.http("GET", "/report?" + m.group(1).decode())
            self.assertEqual(status, 200)
            self.assertIn("default-src 'none'", resp.getheader("Content-Security-Policy"))
            pages += 1
            # None of these is a tag the page uses itself; each payload shows up escaped.
            leaks += [(tag, reply) for tag in ("<script", "<img", "<svg", "<iframe", "<b>")
                      if tag in page]
            if "&lt;" not in page:
                leaks.append(("payload not shown escaped", reply))
        self.line("html_injection", "<script>, <img onerror>, <svg onload>, <iframe> and quote "
                  "breaks in signal evidence, block subject, SMTP user, queue_id, client and "
                  "recipient; three report pages fetched", pages, len(leaks))
        self.assertEqual(leaks, [])

    def acl_report(self, user):
        reply = self.ask(protocol_state="RCPT", sasl_username=user, sender="x@foreign.example")
        q = dict(urllib.parse.parse_qsl(re.search(rb"\?(\S+)\n", reply).group(1).decode()))
        return q["id"], q["auth"]

    def test_forged_report_links_and_review_forms_get_one_404(self):
        rid, auth = self.acl_report("forge-victim")
        other_id, other_auth = self.acl_report("forge-other")
        self.assertEqual(auth, report_auth(SECRET, rid))  # we know how auth is made ...
        forged = report_auth("another-secret-0123456789", rid)  # ... so forge it elsewhere
        cases = [auth[:-1], auth[:8], auth + "0", auth.replace("-", ""), forged, other_auth,
                 auth[:-1] + ("1" if auth[-1] == "0" else "0"), " " + auth, auth + "%00",
                 "%00" * 36, auth.replace("-", "_")]
        bodies, wrong = set(), 0
        for a in cases:
            status, body, _ = self.http("GET", f"/report?id={rid}&auth={urllib.parse.quote(a)}")
            wrong += status != 404
            bodies.add(body)
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for a in (forged, other_auth, auth[:-1]):
            status, body, _ = self.http("POST", "/report", urllib.parse.urlencode(
                {"id": rid, "auth": a, "action": "review"}), form)
            wrong += status != 404
            bodies.add(body)
        self.assertEqual(self.redis.cmd("HGET", f"pd:report:{rid}", "review"), "none")
        # A report that is gone, with its valid auth, and an unknown path: the same page.
        self.redis.cmd("DEL", f"pd:report:{other_id}")
        for path in (f"/report?id={other_id}&auth={other_auth}", "/nothing-here"):
            status, body, _ = self.http("GET", path)
            wrong += status != 404
            bodies.add(body)
        self.assertEqual(self.http("GET", f"/report?id={rid}&auth={auth}")[0], 200)
        self.line("report_forgery", "truncated, extended, undashed, other-secret, other-report, "
                  "one-digit-off and NUL auths on GET and on the review form; deleted report; "
                  "unknown path", len(cases) + 5, wrong, distinct_404_bodies=len(bodies))
        self.assertEqual(wrong, 0)
        self.assertEqual(len(bodies), 1, "a 404 differs by cause")

    def test_tokens_are_compared_in_constant_time(self):
        """Behaviour is in the other tests; this checks the source: secrets and tokens are
        compared with CRYPTO_memcmp after a length check, never with ==, strcmp or memcmp."""
        tokenish = r"\w*(?:auth|token|secret|hmac|digest|expected)\w*"
        plain = re.compile(rf"(?:\b{tokenish}(?:\(\))?\)?\s*[!=]=(?!=))|(?:[!=]=\s*[\w:]*?"
                           rf"{tokenish}\b)|\bstrn?cmp\b|(?<!CRYPTO_)\bmemcmp\b|\bbcmp\b"
                           r"|std::equal|\.compare\(", re.IGNORECASE)
        size_check = re.compile(r"\.(?:size|length|empty)\(\)\s*[!=]=|[!=]=\s*\w+\.(?:size|"
                                r"length)\(\)|[!=]=\s*(?:nullptr|std::string::npos)")
        found, files = [], 0
        for top in ("lib", "policyd"):
            for d, _, names in os.walk(os.path.join(ROOT, top)):
                for n in names:
                    if not n.endswith((".cc", ".h")):
                        continue
                    files += 1
                    path = os.path.join(d, n)
                    for no, line in enumerate(open(path, errors="replace"), 1):
                        code = line.split("//")[0]
                        if plain.search(code) and not size_check.search(code):
                            found.append(f"{os.path.relpath(path, ROOT)}:{no}: {line.strip()}")
        uses = {f: "CRYPTO_memcmp" in open(os.path.join(ROOT, f)).read()
                for f in ("lib/core/report_token.cc", "lib/core/http_message.cc")}
        self.line("constant_time_compare", f"source scan of {files} files under lib/ and "
                  "policyd/ for ==, strcmp, memcmp on auth/token/secret values",
                  files, len(found), crypto_memcmp_sites=sum(uses.values()))
        self.assertEqual(found, [])
        self.assertEqual(uses, {f: True for f in uses})

    def test_signals_api_takes_only_the_exact_bearer_token(self):
        url, subject = "/api/v1/signals", "user:api-target"
        body = json.dumps({"signals": [{"subject": subject, "kind": "bounce",
                                        "evidence": "api test"}]})
        near = [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
                f"Bearer  {TOKEN}", f"Bearer {TOKEN.upper()}", f"Basic {TOKEN}", TOKEN,
                f"Bearer {TOKEN[:-1]}\x01", f"Bearer {'x' * len(TOKEN)}"]
        wrong = 0
        for a in near:
            headers = {} if a is None else {"Authorization": a}
            try:
                status, _, resp = self.http("POST", url, body, headers)
            except http.client.HTTPException:
                status, resp = 400, None  # a control byte: refused before routing
            wrong += status not in (400, 401)
            if resp is not None and status == 401:
                wrong += resp.getheader("WWW-Authenticate") != "Bearer"
        self.assertEqual(self.redis.cmd("EXISTS", "pd:evidence:{user:api-target}"), 0)
        status, answer, _ = self.http("POST", url, body, {"Authorization": f"Bearer {TOKEN}"})
        wrong += status != 200
        self.assertEqual(self.redis.cmd("EXISTS", "pd:evidence:{user:api-target}"), 1)
        self.line("api_bearer_token", "POST /api/v1/signals without, with 11 near-miss and with "
                  "the right bearer token", len(near) + 1, wrong)
        self.assertEqual(wrong, 0)


class AuthRedis(RedisServer):
    """redis-server with requirepass and an ACL user; our own commands authenticate."""

    def __init__(self, tmp):
        self.password = "sekrit-default-pw"
        super().__init__(tmp, extra=["--requirepass", self.password, "--user", "policyd", "on",
                                     ">sekrit-acl-pw", "~*", "+@all"])

    def cmd(self, *args):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            out = b""
            for command in (("AUTH", self.password), args):
                out += b"*%d\r\n" % len(command)
                for a in command:
                    a = a if isinstance(a, bytes) else str(a).encode()
                    out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            _read_resp(f)
            return _read_resp(f)


class RedisAuthTest(unittest.TestCase):
    def test_password_and_acl_user_work_and_a_wrong_password_is_a_clear_failure(self):
        with TempDir() as tmp:
            redis = AuthRedis(tmp)
            redis.cmd("HSET", "pd:user:{user:u}", "account", "acme", "mode", "account")
            redis.cmd("HSET", "pd:domains:{account:acme}", "example.com", "verified")
            urls = {"password": "redis://:sekrit-default-pw@127.0.0.1:{}/0",
                    "acl_user": "redis://policyd:sekrit-acl-pw@127.0.0.1:{}/0",
                    "wrong_password": "redis://:not-the-pw@127.0.0.1:{}/0",
                    "wrong_acl_password": "redis://policyd:not-the-acl-pw@127.0.0.1:{}/0",
                    "no_password": "redis://127.0.0.1:{}/0"}
            procs = {}
            try:
                for name, url in urls.items():
                    p = Policyd(tmp, redis.port, request_timeout="300ms")
                    p.config_text = p.config_text.replace(
                        f'url = "redis://127.0.0.1:{redis.port}/0"', f'url = "{url.format(redis.port)}"')
                    with open(p.config_path, "w") as f:
                        f.write(p.config_text)
                    procs[name] = p.start()
                procs["password"].wait_redis_ready()
                procs["acl_user"].wait_redis_ready()
                acl = request_bytes(protocol_state="RCPT", sasl_username="u", sender="u@other.example")
                ok = request_bytes(protocol_state="RCPT", sasl_username="u", sender="u@example.com")
                checks, wrong, max_ms = 0, 0, 0.0
                for name, p in procs.items():
                    good = name in ("password", "acl_user")
                    c = p.client()
                    for req, want in ((ok, "DUNNO"), (acl, "550 [ACL]")):
                        t = time.monotonic()
                        reply = c.ask(req)
                        max_ms = max(max_ms, (time.monotonic() - t) * 1000)
                        checks += 1
                        wrong += not reply.startswith(want if good else DEFER)
                    c.close()
                for name in ("wrong_password", "wrong_acl_password", "no_password"):
                    wait_for(lambda: "handshake refused" in procs[name].read_log(),
                             what=f"{name} logged")
                logs = {n: p.read_log() for n, p in procs.items()}
                crashes = sum(p.proc.poll() is not None for p in procs.values())
                leaked = sum(pw in log for log in logs.values()
                             for pw in ("sekrit-default-pw", "sekrit-acl-pw", "not-the-pw"))
                report_line("SECURITY", "redis_auth", self.id(), "redis-server with requirepass "
                            "and ACL user policyd: url with password, with user:password, "
                            "wrong password, wrong ACL password, none", checks=checks,
                            wrong=wrong, crashes=crashes, passwords_in_logs=leaked,
                            max_latency_ms=round(max_ms, 1))
                self.assertEqual((wrong, crashes, leaked), (0, 0, 0))
                self.assertRegex(logs["wrong_password"], r"event=redis_dropped .*handshake "
                                 r"refused: WRONGPASS")
                self.assertRegex(logs["no_password"], r"handshake refused: NOAUTH")
                self.assertLess(max_ms, 400)
            finally:
                for p in procs.values():
                    p.stop()
                redis.stop()


if __name__ == "__main__":
    unittest.main()
