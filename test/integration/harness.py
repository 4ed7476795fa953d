"""Test fixtures with real processes: a redis-server on a free port, policyd started on a
generated config, and a policy-protocol client over real sockets. Nothing here is a mock.

POLICYD_BUILD points at the build directory (default: build/ in the checkout)."""

import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("POLICYD_BUILD", os.path.join(ROOT, "build"))
POLICYD = os.path.join(BUILD, "policyd", "policyd")
POLICYCTL = os.path.join(BUILD, "policyd", "policyctl")
GOLDEN = os.path.join(ROOT, "test", "data", "requests")


_ports_given = set()


def free_port():
    """A loopback port nobody holds now, never one this process was given before: a test that
    picks ports for several servers before starting any (a fleet, a cluster) must not get the
    same port twice, which the kernel may hand out again once the probe socket is closed."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _ports_given:
            _ports_given.add(port)
            return port


def stop_process(proc, grace=10):
    """SIGTERM, then SIGKILL if it has not exited after `grace` seconds; reaps it."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def healthz_ok(http_port):
    """Whether policyd's HTTP side on http_port answers /healthz 200; False while its listener
    is not bound yet (it binds after the policy listener)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", http_port, timeout=2)
        c.request("GET", "/healthz")
        status = c.getresponse().status
        c.close()
        return status == 200
    except OSError:
        return False


def golden(name):
    with open(os.path.join(GOLDEN, name), "rb") as f:
        return f.read()


def report_key(report_id, prefix="pd:"):
    """The key of report `report_id`, as _common.lua report_key builds it: a cluster's ids
    ("SLOTTAG.HEX") keep the report in that slot, "pd:report:{SLOTTAG}.HEX"."""
    tag, dot, rest = report_id.partition(".")
    return f"{prefix}report:{{{tag}}}.{rest}" if dot else f"{prefix}report:{report_id}"


def request_bytes(**attrs):
    """A policy request; attribute order as given, request=smtpd_access_policy first."""
    lines = [b"request=smtpd_access_policy"]
    for k, v in attrs.items():
        v = v if isinstance(v, bytes) else str(v).encode()
        lines.append(k.encode() + b"=" + v)
    return b"\n".join(lines) + b"\n\n"


class RedisServer:
    """redis-server on a free loopback port, persistence off unless asked."""

    def __init__(self, tmpdir, port=None, extra=()):
        self.port = port or free_port()
        self.dir = os.path.join(tmpdir, f"redis-{self.port}")
        os.makedirs(self.dir, exist_ok=True)
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", self.dir, "--save", "", "--appendonly", "no",
                "--logfile", os.path.join(self.dir, "redis.log"),
                "--enable-debug-command", "yes"] + self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ping, what=f"redis on {self.port}")

    def ping(self):
        try:
            return self.cmd("PING") == "PONG"
        except OSError:
            return False

    def cmd(self, *args):
        """One command over a fresh connection (RESP); returns str/int/list/None."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            return _read_resp(f)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            stop_process(self.proc, 5)


class RedisError(Exception):
    pass


def _read_resp(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_resp(f) for _ in range(n)]
    raise OSError(f"bad RESP line {line!r}")


BASE_CONFIG = """
[server]
listen = {listen}
request_timeout = "{request_timeout}"
max_connections = {max_connections}
threads = {threads}
{server_extra}

[redis]
url = "redis://127.0.0.1:{redis_port}/0"
{redis_cluster}
reconnect_min = "50ms"
reconnect_max = "500ms"
connect_timeout = "500ms"

[failure]
on_redis_error = "{on_redis_error}"

[report]
base_url = "https://policy.example.test/report"
secret = "test-secret-0123456789abcdef"

[log]
level = "{log_level}"

{extra}
"""


class Policyd:
    """policyd on a generated config in its own temp dir; stderr goes to log_path."""

    def __init__(self, tmpdir, redis_port, extra="", listen=None, request_timeout="1s",
                 max_connections=4096, on_redis_error="defer", log_level="info",
                 server_extra="", binary=None, cluster=None):
        """cluster: a RedisCluster to use ([redis] cluster = its nodes as seeds) instead of
        the redis-server on redis_port (then ignored)."""
        self.dir = tempfile.mkdtemp(dir=tmpdir, prefix="policyd-")
        self.port = free_port()
        self.unix_path = os.path.join(self.dir, "policyd.sock")
        listens = listen if listen is not None else [f"127.0.0.1:{self.port}",
                                                      f"unix:{self.unix_path}"]
        self.config_path = os.path.join(self.dir, "policyd.toml")
        self.threads = int(os.environ.get("POLICYD_THREADS", "1"))
        redis_cluster = ""
        if cluster is not None:
            redis_port = 6379  # with cluster, url gives only credentials
            redis_cluster = "cluster = [" + ", ".join(
                f'"127.0.0.1:{n.port}"' for n in cluster.nodes) + "]"
        self.config_text = BASE_CONFIG.format(
            listen="[" + ", ".join(f'"{l}"' for l in listens) + "]",
            request_timeout=request_timeout, max_connections=max_connections,
            redis_port=redis_port, redis_cluster=redis_cluster,
            on_redis_error=on_redis_error, log_level=log_level,
            extra=extra, server_extra=server_extra,
            threads=self.threads)
        with open(self.config_path, "w") as f:
            f.write(self.config_text)
        self.log_path = os.path.join(self.dir, "policyd.log")
        self.binary = binary or POLICYD
        self.proc = None

    def start(self, wait_tcp=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.config_path],
                                     stdout=self.log, stderr=self.log)
        if wait_tcp:
            wait_for(self._accepts, what="policyd listening")
        return self

    def _accepts(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"policyd exited {self.proc.returncode}: {self.read_log()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def wait_redis_ready(self, timeout=10):
        """Until a request is decided by Redis (not by the [failure] reply): RCPT of an
        unknown user counts nothing, so this changes no state."""
        probe = request_bytes(protocol_state="RCPT", sasl_username="probe.unknown.user",
                              sender="", instance="probe")
        def every_loop_ready():
            # Fresh connections: with [server] threads > 1 the kernel spreads them over the
            # loops (SO_REUSEPORT), and each loop has its own Redis connection to wait for.
            failures_before = self.read_log().count("event=failure_reply")
            for _ in range(16 if self.threads > 1 else 1):
                c = self.client()
                try:
                    if c.ask(probe) != "DUNNO":
                        return False
                finally:
                    c.close()
            return self.read_log().count("event=failure_reply") == failures_before

        wait_for(every_loop_ready, timeout, interval=0.05, what="redis ready")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
            self.check_sanitizers()

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                         "WARNING: ThreadSanitizer", "runtime error:")

    def check_sanitizers(self):
        """A sanitizer report in the log fails the test that ran this policyd."""
        log = self.read_log()
        for marker in self.SANITIZER_MARKERS:
            if marker in log:
                at = log.index(marker)
                raise AssertionError(f"policyd log has a sanitizer report:\n{log[max(0, at - 200):at + 3000]}")

    def client(self, unix=False, timeout=5):
        return PolicyClient(self.unix_path if unix else ("127.0.0.1", self.port), timeout)


class PolicyClient:
    def __init__(self, address, timeout=5):
        family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_reply(self):
        """The next reply's action text, or None if the server closed the connection."""
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        reply, self.buf = self.buf.split(b"\n\n", 1)
        assert reply.startswith(b"action="), reply
        return reply[len(b"action="):].decode()

    def ask(self, data):
        self.send(data)
        return self.read_reply()

    def closed_by_server(self):
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


class TempDir:
    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="policyd-test-")
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


class ServedTestCase(unittest.TestCase):
    """One redis-server and one policyd (cls.p) shared by a test class. The policyd config's
    extra part is CONFIG.format(http_port=..., **CONFIG_ARGS); cls.http_port is that port.
    START_POLICYD = False: only the redis-server; the tests start their own policyd.
    CLUSTER = True (issue 17): a RedisCluster of 3 primaries instead of the redis-server, and
    cls.redis a ClusterAsOneRedis over it, so a suite written for one Redis runs its cases on
    a cluster by a subclass that sets only this."""

    CONFIG = ""
    CONFIG_ARGS = {}
    START_POLICYD = True
    CLUSTER = False

    @classmethod
    def setUpClass(cls):
        cls.tmp_ctx = TempDir()
        cls.tmp = cls.tmp_ctx.__enter__()
        cls.redis = cls.p = None
        try:
            cls.redis = ClusterAsOneRedis(RedisCluster(cls.tmp, replicas=0)) if cls.CLUSTER \
                else RedisServer(cls.tmp)
            cls.http_port = free_port()
            if not cls.START_POLICYD:
                return
            cls.p = cls.new_policyd(cls.CONFIG.format(http_port=cls.http_port,
                                                      **cls.CONFIG_ARGS))
            cls.p.start()
            cls.wait_ready(cls.p, cls.http_port)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def new_policyd(cls, extra):
        """A policyd (not started) on the class's Redis or cluster."""
        if cls.CLUSTER:
            return Policyd(cls.tmp, 0, extra=extra, cluster=cls.redis.cluster)
        return Policyd(cls.tmp, cls.redis.port, extra=extra)

    @classmethod
    def wait_ready(cls, policyd, http_port):
        """Until policyd's Redis is ready. On a cluster its HTTP side's /healthz says so (200:
        every slot has a connected primary), which a probe request could not: it touches only
        the slots of its own subjects; http_port must be one it listens on."""
        if not cls.CLUSTER:
            return policyd.wait_redis_ready()

        wait_for(lambda: healthz_ok(http_port), timeout=10, interval=0.05,
                 what="policyd's cluster ready")

    @classmethod
    def tearDownClass(cls):
        if cls.p:
            cls.p.stop()
        if cls.redis:
            cls.redis.stop()
        cls.tmp_ctx.__exit__(None, None, None)

    def redis_on(self, key, *args):
        """A command that names no key first (FCALL) on the Redis or key's primary."""
        if self.CLUSTER:
            return self.redis.cluster.cmd(key, *args)
        return self.redis.cmd(*args)

    def skip_on_cluster(self, why):
        """For a case that needs what is not built on a cluster yet: skipped there, with why."""
        if self.CLUSTER:
            self.skipTest(f"not on Redis Cluster yet: {why}")

    def http(self, method, path, body=None, headers=None):
        """(status, body text, response) of one request to policyd's HTTP listener."""
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=5)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        return r.status, data, r


class ClusterAsOneRedis:
    """A RedisCluster as the suites written for one Redis use it (issue 17): cmd sends a
    command to the primary of its key's slot (args[1]), FLUSHALL to every primary, KEYS to
    every primary (the answers joined), so the same cases seed and check either."""

    def __init__(self, cluster):
        self.cluster = cluster

    def cmd(self, *args):
        name = str(args[0]).upper()
        if name in ("FLUSHALL", "KEYS"):
            answers = [self.cluster.node(p).cmd(*args) for p in self.cluster.primaries()]
            return "OK" if name == "FLUSHALL" else [k for a in answers for k in a]
        return self.cluster.cmd(args[1], *args)

    def stop(self):
        self.cluster.stop()


CLUSTER_SLOTS = 16384


def crc16(data):
    """CRC16-CCITT (XMODEM), the Redis Cluster key hash (cluster specification, appendix A)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    """The slot of a key (bytes), hash tags included."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc16(key) % CLUSTER_SLOTS


def names_in_slots(slots, kind, count, name=None):
    """The first `count` names NAME (name(i) for i = 0, 1, ...; default KIND's initial and i)
    whose subject tag KIND:NAME hashes into `slots` (a set): subjects placed on a primary."""
    name = name or (lambda i: f"{kind[0]}{i}")
    found, i = [], 0
    while len(found) < count:
        if key_slot(f"{kind}:{name(i)}".encode()) in slots:
            found.append(name(i))
        i += 1
        if i > 1000000:
            raise LookupError(f"no {kind} names in the slots given")
    return found


def addresses_in_slots(slots, count):
    """The first `count` client addresses 198.51.A.B whose tag ip:ADDRESS is in `slots`."""
    return names_in_slots(slots, "ip", count, lambda i: f"198.51.{i // 254 + 1}.{i % 254 + 1}")


def _port_pair_free(port):
    """A cluster node listens on port and on its bus port, port + 10000: both must be free."""
    if port + 10000 > 65535:
        return False
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port + 10000))
        except OSError:
            return False
    return True


def free_cluster_port():
    while True:
        port = free_port()
        if _port_pair_free(port):
            _ports_given.add(port + 10000)
            return port


class RedisCluster:
    """A real Redis Cluster (issue 17): `primaries` primaries with `replicas` replicas each, on
    free ports, created by `redis-cli --cluster create`. Node timeout 1 s, so a killed primary's
    replica is promoted in about 2 s. nodes[i] are RedisServers; the current roles come from
    CLUSTER SLOTS, never from the creation order (a failover swaps them)."""

    def __init__(self, tmpdir, primaries=3, replicas=1, node_timeout_ms=1000):
        self.nodes = []
        try:
            for _ in range(primaries * (1 + replicas)):
                port = free_cluster_port()
                self.nodes.append(RedisServer(tmpdir, port, extra=[
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", os.path.join(tmpdir, f"nodes-{port}.conf"),
                    "--cluster-node-timeout", str(node_timeout_ms),
                    # As docs/operator-guide.md advises: with "yes" every node answers
                    # CLUSTERDOWN for every slot between a primary's failure and its
                    # replica's promotion, not only for the failed primary's slots.
                    "--cluster-require-full-coverage", "no",
                    # CLUSTER SLOTS lists a replica once its replication offset is not 0,
                    # after its first sync (which a primary delays repl-diskless-sync-delay,
                    # 5 s, waiting for more replicas) and its primary's first write to it
                    # (an empty primary's is the replication PING, every
                    # repl-ping-replica-period, 10 s): a new cluster took 10 s, not 2, to be
                    # whole.
                    "--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "1"]))
            subprocess.run(["redis-cli", "--cluster", "create"]
                           + [f"127.0.0.1:{n.port}" for n in self.nodes]
                           + ["--cluster-replicas", str(replicas), "--cluster-yes"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=30)
            self.wait_healthy()
        except Exception:
            self.stop()
            raise

    def alive(self):
        return [n for n in self.nodes if n.proc and n.proc.poll() is None]

    def slots(self):
        """[(first, last, primary port, [replica ports])] as a live node sees the map."""
        for n in self.alive():
            try:
                return [(int(r[0]), int(r[1]), int(r[2][1]), [int(x[1]) for x in r[3:]])
                        for r in n.cmd("CLUSTER", "SLOTS")]
            except (OSError, RedisError):
                continue
        raise OSError("no cluster node answers")

    def slots_of(self, port):
        """The set of slots the primary on `port` serves."""
        return {slot for first, last, p, _ in self.slots() if p == port
                for slot in range(first, last + 1)}

    def primaries(self):
        """Ports of the primaries that serve slots, in slot order."""
        ports = []
        for _, _, primary, _ in sorted(self.slots()):
            if primary not in ports:
                ports.append(primary)
        return ports

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def node_id(self, port):
        return self.node(port).cmd("CLUSTER", "MYID")

    def primary_of(self, key):
        slot = self.alive()[0].cmd("CLUSTER", "KEYSLOT", key)
        return next(p for first, last, p, _ in self.slots() if first <= slot <= last)

    def key_on(self, port, prefix="k"):
        """A key (with a hash tag) whose slot the primary on `port` serves."""
        for i in range(100000):
            key = f"{prefix}:{{t{i}}}"
            if self.primary_of(key) == port:
                return key
        raise LookupError(f"no key found for {port}")

    def cmd(self, key, *args):
        """args on the primary serving key's slot."""
        return self.node(self.primary_of(key)).cmd(*args)

    def healthy(self):
        alive = self.alive()
        try:
            for n in alive:
                info = n.cmd("CLUSTER", "INFO")
                if "cluster_state:ok" not in info:
                    return False
            slots = self.slots()
            if sum(last - first + 1 for first, last, _, _ in slots) != 16384:
                return False
            listed = set()
            for _, _, primary, replicas in slots:
                if self.node(primary).proc.poll() is not None:
                    return False  # a dead primary still in the map
                listed.add(primary)
                listed.update(replicas)
                for r in replicas:
                    node = self.node(r)
                    if node.proc.poll() is None and \
                            "master_link_status:up" not in node.cmd("INFO", "replication"):
                        return False
            # Every live node has its role in the map (create's REPLICATE takes a moment).
            if any(n.port not in listed for n in alive):
                return False
        except (OSError, RedisError):
            return False
        return True

    def wait_healthy(self, timeout=20):
        """Every live node says cluster_state:ok and is in the map, every slot has a live
        primary, every live replica of it is in sync."""
        wait_for(self.healthy, timeout=timeout, interval=0.05, what="a healthy redis cluster")

    def wait_replicated(self, port, timeout=10):
        """Until every replica of the primary on `port` has acknowledged all its writes."""
        def caught_up():
            info = dict(line.split(":", 1) for line in
                        self.node(port).cmd("INFO", "replication").splitlines() if ":" in line)
            replicas = [v for k, v in info.items() if k.startswith("slave")]
            offset = info["master_repl_offset"]
            return replicas and all(f"offset={offset}," in v for v in replicas)
        wait_for(caught_up, timeout=timeout, what=f"replicas of {port} in sync")

    def kill_primary(self, port, timeout=20):
        """kill -9 of the primary on `port`; returns the port of the replica promoted in its
        place once the cluster is healthy again."""
        replicas = [r for first, last, p, rs in self.slots() if p == port for r in rs]
        self.node(port).kill()

        def promoted():
            for r in replicas:
                try:
                    if self.node(r).cmd("ROLE")[0] == "master":
                        return True
                except (OSError, RedisError):
                    pass
            return False
        wait_for(promoted, timeout=timeout, interval=0.05, what=f"a replica of {port} promoted")
        self.wait_healthy(timeout)
        return next(r for r in replicas if self.node(r).cmd("ROLE")[0] == "master")

    def reshard(self, from_port, to_port, slots):
        """Moves `slots` slots (with their keys) from one primary to another, by
        `redis-cli --cluster reshard`, while whoever uses the cluster goes on. redis-cli refuses
        to move anything until every node agrees on the configuration, which takes a moment
        after a failover (cluster_state:ok comes first): wait for its own check to pass."""
        def agreed():
            r = subprocess.run(["redis-cli", "--cluster", "check", f"127.0.0.1:{to_port}"],
                               capture_output=True, text=True, timeout=30)
            return r.returncode == 0 and "All nodes agree about slots configuration" in r.stdout
        wait_for(agreed, timeout=20, interval=0.2, what="every node agreeing on the slot map")
        r = subprocess.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{to_port}",
                            "--cluster-from", self.node_id(from_port),
                            "--cluster-to", self.node_id(to_port),
                            "--cluster-slots", str(slots), "--cluster-yes"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster reshard failed: {r.stdout[-1500:]}"
                               f"{r.stderr[-500:]}")

    def stop(self):
        for n in self.nodes:
            n.stop()
