"""Issue 17: policyd's loop services on a real Redis Cluster (3 primaries + 3 replicas, started
here), through a real policyd: events written by a script in a subject's slot reach a webhook
receiver once (the event relay moves the slot's outbox to pd:events, webhook delivery reads it
on pd:events's primary), a block's expiry is swept in its slot and emits block.expired, a report
written in a slot is served by the report page and takes a review request, score signals for
subjects on three primaries block each in its slot (complaints answer 503), the caches hear a
write on every primary (/metrics), and after kill -9 of a primary the caches are forgotten and
policyd is ready again once the replica is promoted.

State is written as policyd's own scripts write it: FCALL of the loaded function library on the
primary of the subject's slot, with the slot's home (SubjectSlotTag) and a report id in the slot.
Decisions are not used (their cluster shape is another piece of issue 17)."""

import hashlib
import hmac
import http.client
import itertools
import json
import re
import time
import unittest
import urllib.parse

from harness import Policyd, RedisCluster, RedisError, TempDir, free_port, healthz_ok, wait_for
from test_webhooks import Receiver, webhooks_config

REPORT_SECRET = "test-secret-0123456789abcdef"  # harness BASE_CONFIG [report] secret
API_TOKEN = "test-token-0123456789abcdef"
EVENTS = ["block.created", "block.expired", "review.requested"]


def _crc16_table():
    table = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC16 = _crc16_table()
_TAG_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def crc16(data):
    """CRC16/XMODEM, Redis Cluster's key hash."""
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ b) & 0xFF]
    return crc


def tag_slot(hash_tag):
    return crc16(hash_tag.encode()) % 16384


def slot_tag(slot):
    """lib/core/report_slot.h SlotTag: the shortest [0-9a-z] string (length, then alphabet
    order) whose slot is `slot`."""
    for length in range(1, 5):
        for chars in itertools.product(_TAG_ALPHABET, repeat=length):
            tag = "".join(chars)
            if tag_slot(tag) == slot:
                return tag
    raise LookupError(slot)


def home(subject):
    """SubjectSlotTag: where a script call for `subject` writes its outbox and expiry index."""
    return slot_tag(tag_slot(subject))


def report_id(subject, n):
    """NewReportId(subject): a report id in the subject's slot (20 hex after the slot-tag)."""
    return f"{home(subject)}.{n:020x}"


def report_auth(rid):
    mac = hmac.new(REPORT_SECRET.encode(), rid.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{mac[:8]}-{mac[8:12]}-{mac[12:16]}-{mac[16:20]}-{mac[20:]}"


def function_name(node, script):
    """The loaded library's function for `script` ('block_add_<version>'), or None."""
    for lib in node.cmd("FUNCTION", "LIST") or []:
        fields = dict(zip(lib[::2], lib[1::2]))
        for fn in fields.get("functions") or []:
            name = dict(zip(fn[::2], fn[1::2]))["name"]
            if re.fullmatch(re.escape(script) + r"_[0-9a-f]+", name):
                return name
    return None


def subject_on(cluster, port, stem):
    """A user subject ('user:STEMn') whose slot the primary on `port` serves."""
    ranges = [(first, last) for first, last, p, _ in cluster.slots() if p == port]
    for i in itertools.count():
        subject = f"user:{stem}{i}"
        slot = tag_slot(subject)
        if any(first <= slot <= last for first, last in ranges):
            return subject


def block_add(cluster, subject, duration_ms, rid):
    """block_add.lua in the subject's slot, as policyctl block add runs it on a cluster."""
    key = f"pd:block:{{{subject}}}"
    node = cluster.node(cluster.primary_of(key))
    fn = function_name(node, "block_add")
    return node.cmd("FCALL", fn, 1, key, "pd:", 0, subject, "manual", "test", duration_ms, rid,
                    3600000, 10, 3600000, "policyctl", home(subject))


def metric(text, name):
    m = re.search(rf"^{re.escape(name)} (\d+)", text, re.M)
    return int(m.group(1)) if m else None


class ClusterServicesCase(unittest.TestCase):
    """One cluster, one webhook receiver and one policyd (HTTP on, webhooks to the receiver)
    per test class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp_ctx = TempDir()
        cls.tmp = cls.tmp_ctx.__enter__()
        cls.cluster = cls.p = cls.receiver = None
        try:
            started = time.monotonic()
            cls.cluster = RedisCluster(cls.tmp)
            cls.receiver = Receiver()
            cls.http_port = free_port()
            extra = webhooks_config(cls.receiver, [("all", "/hook", EVENTS)],
                                    extra=f'[http]\nlisten = ["127.0.0.1:{cls.http_port}"]\n'
                                          f'api_token = "{API_TOKEN}"\n')
            cls.p = Policyd(cls.tmp, None, cluster=cls.cluster, extra=extra)
            cls.p.start()
            cls.wait_ready()
            print(f"\n{cls.__name__}: cluster + policyd ready in "
                  f"{time.monotonic() - started:.1f} s", flush=True)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.p:
            cls.p.stop()
        if cls.receiver:
            cls.receiver.stop()
        if cls.cluster:
            cls.cluster.stop()
        cls.tmp_ctx.__exit__(None, None, None)

    @classmethod
    def http(cls, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", cls.http_port, timeout=5)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        return r.status, data

    @classmethod
    def metrics(cls):
        status, text = cls.http("GET", "/metrics")
        assert status == 200, status
        return text

    @classmethod
    def wait_ready(cls, timeout=20):
        """/healthz answers 200 (the ClusterClient is ready), the library is on every primary
        and every endpoint's consumer group exists on pd:events (a group starts at the stream's
        end: events before it would not be delivered)."""
        wait_for(lambda: healthz_ok(cls.http_port), timeout, interval=0.05, what="/healthz 200")
        wait_for(lambda: all(function_name(cls.cluster.node(p), "block_add")
                             for p in cls.cluster.primaries()),
                 timeout, interval=0.05, what="the function library on every primary")

        def group():
            try:
                groups = cls.cluster.cmd("pd:events", "XINFO", "GROUPS", "pd:events")
            except RedisError:
                return False
            return any(g[1] == "webhook:all" for g in groups)
        wait_for(group, timeout, interval=0.05, what="the webhook consumer group")

    def delivered(self, subject, etype):
        return self.receiver.events("/hook", subject=subject, etype=etype)

    def wait_quiet(self, subject):
        """Until the subject's outbox is empty and no event waits for delivery: after that a
        duplicate could no longer be on its way."""
        outbox = f"pd:events:{{{home(subject)}}}"

        def quiet():
            if self.cluster.cmd(outbox, "XLEN", outbox) != 0:
                return False
            return self.cluster.cmd("pd:events", "XPENDING", "pd:events", "webhook:all")[0] == 0
        wait_for(quiet, 10, interval=0.05, what="outbox relayed and events acknowledged")

    def wait_invalidation_heard(self, port, stem):
        """A write to a user key on the primary at `port` is heard (the invalidations counter
        grows): the caches' listener on that primary is up."""
        before = metric(self.metrics(), "policyd_cache_invalidations_total")
        subject = subject_on(self.cluster, port, stem)
        key = f"pd:user:{{{subject}}}"

        def heard():
            self.cluster.node(port).cmd("HSET", key, "note", str(time.monotonic()))
            return metric(self.metrics(), "policyd_cache_invalidations_total") > before
        wait_for(heard, 10, interval=0.1, what=f"a write on {port} heard")
        return metric(self.metrics(), "policyd_cache_invalidations_total") - before


class ClusterServicesTest(ClusterServicesCase):
    def test_block_event_reaches_webhook_once_and_its_expiry_is_swept(self):
        # One subject per primary: every primary's outbox is relayed.
        subjects = [subject_on(self.cluster, p, "blocked") for p in self.cluster.primaries()]
        for i, subject in enumerate(subjects):
            rid = report_id(subject, 0x100 + i)
            reply = block_add(self.cluster, subject, 1500, rid)
            self.assertEqual(reply[0], rid)
        for subject in subjects:
            wait_for(lambda: self.delivered(subject, "block.created"), 15, interval=0.05,
                     what=f"block.created of {subject} delivered")
        for subject in subjects:
            # The block key ends by its TTL; the sweep finds it in the slot's expiry index.
            wait_for(lambda: self.delivered(subject, "block.expired"), 15, interval=0.05,
                     what=f"block.expired of {subject} delivered")
            index = f"pd:block_expiries:{{{home(subject)}}}"
            self.assertIsNone(self.cluster.cmd(index, "ZSCORE", index, subject))
        for subject in subjects:
            self.wait_quiet(subject)
            self.assertEqual(len(self.delivered(subject, "block.created")), 1, subject)
            self.assertEqual(len(self.delivered(subject, "block.expired")), 1, subject)
            event = self.delivered(subject, "block.created")[0]
            self.assertTrue(event[5], "signature verifies")
        moved = self.cluster.cmd("pd:events", "XLEN", "pd:events")
        print(f"\nevents: {len(subjects)} subjects on {len(self.cluster.primaries())} primaries,"
              f" {moved} entries in pd:events, each event delivered once", flush=True)

    def test_report_in_a_slot_is_served_and_takes_a_review_request(self):
        subject = subject_on(self.cluster, self.cluster.primaries()[1], "reported")
        rid = report_id(subject, 0xabc)
        block_add(self.cluster, subject, 0, rid)
        report_key = f"pd:report:{{{home(subject)}}}.{rid.split('.', 1)[1]}"
        self.assertEqual(self.cluster.primary_of(report_key),
                         self.cluster.primary_of(f"pd:block:{{{subject}}}"))
        auth = report_auth(rid)
        status, page = self.http("GET", f"/report?id={rid}&auth={auth}")
        self.assertEqual(status, 200, page[:300])
        self.assertIn("Request review", page)
        status, _ = self.http("GET", f"/report?id={rid}&auth={report_auth(rid + 'x')}")
        self.assertEqual(status, 404)

        form = urllib.parse.urlencode({"id": rid, "auth": auth, "action": "review",
                                       "text": "We fixed the script."})
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"}
        status, page = self.http("POST", "/report", form, hdrs)
        self.assertEqual(status, 200, page[:300])
        self.assertIn("Review requested", page)
        status, page = self.http("POST", "/report", form, hdrs)
        self.assertIn("already pending", page)
        self.assertEqual(self.cluster.cmd(report_key, "HGET", report_key, "review"), "requested")
        # The review.requested event was written in the report's slot and relayed.
        wait_for(lambda: self.receiver.events("/hook", etype="review.requested"), 15,
                 interval=0.05, what="review.requested delivered")
        self.wait_quiet(subject)
        self.assertEqual(len(self.receiver.events("/hook", etype="review.requested")), 1)

    def test_score_signals_in_three_slots_block_each_subject_in_its_slot(self):
        # spam weighs 5, the threshold is 10 (defaults): the second spam signal blocks.
        subjects = [subject_on(self.cluster, p, "spammer") for p in self.cluster.primaries()]
        batch = [{"subject": s, "kind": "spam", "evidence": f"trap {i}"}
                 for i in range(2) for s in subjects]
        auth = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
        status, body = self.http("POST", "/api/v1/signals", json.dumps(batch), auth)
        self.assertEqual(status, 200, body)
        reply = json.loads(body)
        self.assertEqual(reply["accepted"], 6)
        self.assertEqual(sorted(b["subject"] for b in reply["blocked"]), sorted(subjects))
        for subject in subjects:
            block_key = f"pd:block:{{{subject}}}"
            block = self.cluster.cmd(block_key, "HGETALL", block_key)
            fields = dict(zip(block[::2], block[1::2]))
            self.assertEqual(fields["reason"], "spam")
            report_key = "pd:" + "report:{" + fields["report"].replace(".", "}.", 1)
            self.assertEqual(self.cluster.primary_of(report_key), self.cluster.primary_of(block_key))
            self.assertIn("trap 1", self.cluster.cmd(report_key, "HGET", report_key, "evidence"))
            wait_for(lambda: self.delivered(subject, "block.created"), 15, interval=0.05,
                     what=f"block.created of {subject} delivered")
        # Complaints and bounces also count in the account's slot: built on a cluster too
        # (the subject is blocked already, so the complaint is counted only).
        status, body = self.http("POST", "/api/v1/signals", json.dumps(
            [{"subject": subjects[0], "kind": "complaint"}]), auth)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["accepted"], 1)
        complaints_key = f"pd:complaints:{{{subjects[0]}}}"
        self.assertTrue(self.cluster.cmd(complaints_key, "HGETALL", complaints_key))

    def test_caches_hear_a_write_on_every_primary(self):
        text = self.metrics()
        self.assertEqual(metric(text, "policyd_redis_up"), 1)
        counts = [self.wait_invalidation_heard(p, "cached") for p in self.cluster.primaries()]
        print(f"\ninvalidations heard per primary write: {counts}", flush=True)


class ClusterFailoverServicesTest(ClusterServicesCase):
    def test_kill_primary_forgets_caches_and_is_ready_after_promotion(self):
        primaries = self.cluster.primaries()
        for p in primaries:
            self.wait_invalidation_heard(p, "before")
        resets_before = metric(self.metrics(), "policyd_cache_resets_total")
        victim = primaries[0]
        self.cluster.wait_replicated(victim)
        killed_at = time.monotonic()
        self.cluster.node(victim).kill()
        # The lost connection forgets the caches at once (not waiting for the promotion).
        wait_for(lambda: metric(self.metrics(), "policyd_cache_resets_total") > resets_before,
                 10, interval=0.02, what="caches forgotten")
        saw_unready = self.http("GET", "/healthz")[0] == 503

        def promoted():
            return victim not in self.cluster.primaries() and self.cluster.healthy()
        wait_for(promoted, 20, interval=0.05, what="a replica promoted")
        new_primary = next(p for p in self.cluster.primaries() if p not in primaries)
        self.wait_ready()
        ready_s = time.monotonic() - killed_at
        self.assertEqual(metric(self.metrics(), "policyd_redis_up"), 1)
        # The promoted primary is heard, and its slots' events flow again.
        self.wait_invalidation_heard(new_primary, "after")
        subject = subject_on(self.cluster, new_primary, "afterfailover")
        block_add(self.cluster, subject, 0, report_id(subject, 0xf00))
        wait_for(lambda: self.delivered(subject, "block.created"), 15, interval=0.05,
                 what="block.created on the promoted primary delivered")
        resets = metric(self.metrics(), "policyd_cache_resets_total") - resets_before
        print(f"\nfailover: ready again {ready_s:.1f} s after kill -9, cache resets {resets}, "
              f"/healthz 503 seen while down: {saw_unready}", flush=True)


if __name__ == "__main__":
    unittest.main()
