"""Load for the fault tests (issue 8): a few client threads, each on its own policy connection,
sending a fixed mix of requests back to back and checking every reply against the decision it
must be. A fault test starts a Load, does something bad to Redis or policyd, stops the Load and
asserts on what it recorded. Also the one-line summary every fault and security test prints,
which scripts/faults turns into the table of docs/reliability.md."""

import re
import shlex
import threading
import time

from harness import PolicyClient, request_bytes

DEFER = "451 4.3.0 Policy service temporarily unavailable"
URL = r"https://policy\.example\.test/report\?id=[0-9a-f]{20}&auth=[0-9a-f-]{36}"
EXPECTED = {
    "dunno": re.compile(r"DUNNO"),
    "acl": re.compile(r"550 \[ACL\] Blocked\. See " + URL),
    "block": re.compile(r"550 5\.7\.1 \[ABUSE\] Sender blocked: spam or abuse detected\. See: "
                        + URL),
    "count": re.compile(r"DUNNO"),
}
# One limit far out of reach: END-OF-MESSAGE requests are counted but never throttled.
PLAN = """
[plans.default]
limits = [ { subject = "user", metric = "messages", max = 1000000000, window = "1h" } ]
"""
BLOCK_REPORT = "b" * 20


def seed(redis):
    """The state the mix's answers follow from: user ok (account mode, example.com verified),
    user bad (blocked). Key layout: docs/redis-keys.md."""
    redis.cmd("HSET", "pd:user:{user:ok}", "account", "acme", "mode", "account")
    redis.cmd("HSET", "pd:domains:{account:acme}", "example.com", "verified")
    redis.cmd("HSET", "pd:user:{user:bad}", "account", "acme", "mode", "account")
    redis.cmd("HSET", "pd:block:{user:bad}", "subject", "user:bad", "reason", "manual",
              "expires", "", "report", BLOCK_REPORT, "source", "policyctl")


def mix_request(worker, i):
    """The i-th request of a worker: (kind, bytes). Every END-OF-MESSAGE is its own message."""
    kind = ("dunno", "acl", "block", "count")[i % 4]
    if kind == "dunno":
        return kind, request_bytes(protocol_state="RCPT", sasl_username="ok",
                                   sender="ok@example.com", recipient="r@dest.example",
                                   client_address="192.0.2.1", instance=f"w{worker}.{i}")
    if kind == "acl":
        return kind, request_bytes(protocol_state="RCPT", sasl_username="ok",
                                   sender="ok@foreign.example", recipient="r@dest.example",
                                   client_address="192.0.2.1", instance=f"w{worker}.{i}")
    if kind == "block":
        return kind, request_bytes(protocol_state="RCPT", sasl_username="bad",
                                   sender="bad@example.com", recipient="r@dest.example",
                                   client_address="192.0.2.2", instance=f"w{worker}.{i}")
    return kind, request_bytes(protocol_state="END-OF-MESSAGE", sasl_username="ok",
                               sender="ok@example.com", recipient="r@dest.example",
                               recipient_count=1, size=1000, client_address="192.0.2.1",
                               client_port=worker, instance=f"eom.w{worker}.{i}")


class Record:
    __slots__ = ("kind", "sent", "done", "reply", "attempts", "first_attempt_before")

    def __init__(self, kind, sent):
        self.kind, self.sent, self.done, self.reply, self.attempts = kind, sent, None, None, 1
        self.first_attempt_before = sent

    @property
    def latency(self):
        return self.done - self.sent

    @property
    def failure(self):
        return self.reply == DEFER

    @property
    def correct(self):
        return self.reply is not None and bool(EXPECTED[self.kind].fullmatch(self.reply))


class Load:
    """`workers` threads sending mix_request() back to back until stop(). With reconnect, a
    request whose connection died is sent again on a new connection, as Postfix does; without,
    it is recorded unanswered (reply None)."""

    def __init__(self, policyd, workers=4, reconnect=False, timeout=5.0, give_up_after=15.0):
        self.policyd, self.workers, self.reconnect = policyd, workers, reconnect
        self.timeout, self.give_up_after = timeout, give_up_after
        self.records = [[] for _ in range(workers)]
        self.connections = [0] * workers
        self.malformed = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(w,), daemon=True)
                         for w in range(workers)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.give_up_after + self.timeout + 5)
        return self.all()

    def all(self):
        return sorted((r for rs in self.records for r in rs), key=lambda r: r.sent)

    def _connect(self, w):
        self.connections[w] += 1
        return PolicyClient(("127.0.0.1", self.policyd.port), self.timeout)

    def _run(self, w):
        conn, i = None, 0
        while not self._stop.is_set():
            kind, data = mix_request(w, i)
            i += 1
            rec = Record(kind, time.monotonic())
            while True:
                try:
                    if conn is None:
                        conn = self._connect(w)
                    conn.send(data)
                    rec.reply = conn.read_reply()
                    if rec.reply is None:
                        raise ConnectionError("closed by policyd")
                    if conn.buf:
                        self.malformed.append(conn.buf)
                        rec.reply = "<extra bytes after the reply>"
                    break
                except AssertionError as e:  # not "action=...": a malformed reply
                    self.malformed.append(str(e))
                    rec.reply = "<malformed>"
                    break
                except OSError:  # ConnectionError, reset, timeout
                    if conn is not None:
                        conn.close()
                    conn = None
                    rec.reply = None
                    if not self.reconnect or time.monotonic() - rec.sent > self.give_up_after:
                        break
                    rec.attempts += 1
                    time.sleep(0.02)
            rec.done = time.monotonic()
            self.records[w].append(rec)
        if conn is not None:
            conn.close()


def summarize(records):
    """Counts every fault line reports, from a Load's records."""
    answered = [r for r in records if r.reply is not None]
    return {
        "requests": len(records),
        "replies": len(answered),
        "wrong": sum(1 for r in answered if not r.correct and not r.failure),
        "failure_replies": sum(1 for r in answered if r.failure),
        "lost": len(records) - len(answered),
        "max_latency_ms": round(max((r.latency for r in answered), default=0) * 1000, 1),
    }


def report_line(kind, scenario, test, what, **fields):
    """Prints `KIND scenario=NAME k=v ... test=ID what="..."`: one line per scenario, the
    format scripts/faults parses (shlex) into docs/reliability.md."""
    parts = [kind, f"scenario={scenario}"]
    parts += [f"{k}={v}" for k, v in fields.items()]
    parts += [f"test={test}", "what=" + shlex.quote(what)]
    line = " ".join(parts)
    print("\n" + line, flush=True)
    return line
