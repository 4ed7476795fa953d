"""The systems scripts/bench measures, each behind the same small interface: start(), reset()
(a fresh state before every run), target ("127.0.0.1:PORT" for policyd-bench), pids() (for
CPU and memory) and stop(). Everything listens on loopback on a free port and keeps its files
in the run's temp dir; nothing uses the packages' system services.

- Policyd: our server (harness.Policyd), with the shared redis-server reset and re-seeded.
- Postfwd: Debian's postfwd2 (Perl, pre-forked children, counters in its cache daemon).
- RateLimit: Debian's policyd-rate-limit (Python, one select() loop, sqlite3).
- Ceiling: redis-benchmark running policyd's own decide.lua with policyd's own ARGV.
- Trivial: policyd-bench dunno-server, answering every request DUNNO without looking at it:
  the physical limit of this machine, load generator and connections (issue 16).
"""

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

from harness import (Policyd, RedisServer, free_port, stop_process,  # noqa: F401 (re-exported)
                     wait_for)

LUA_DIR = os.path.join(os.path.dirname(__file__), "..", "lib", "store", "lua")
RULE_TEXT = "421 4.7.1 Rate limit exceeded"
WINDOW_S = 3600


def tcp_accepts(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def prelude_paths():
    """The '_' preludes in the order cmake/embed_text.cmake joins them: _common.lua first (the
    others use its helpers), then the rest in name order."""
    paths = sorted(glob.glob(os.path.join(LUA_DIR, "_*.lua")))
    common = os.path.join(LUA_DIR, "_common.lua")
    return [common] + [p for p in paths if p != common]


def decide_script():
    """decide.lua as policyd embeds it: the '_' preludes (prelude_paths), each followed by a
    newline, then the script (cmake/embed_text.cmake). Returns (text, sha1)."""
    text = ""
    for path in prelude_paths():
        with open(path) as f:
            text += f.read() + "\n"
    with open(os.path.join(LUA_DIR, "decide.lua")) as f:
        text += f.read()
    return text, hashlib.sha1(text.encode()).hexdigest()


def decide_library():
    """The function library policyd loads (store/script_runner.cc Library()): the preludes
    once at library level, then decide.lua registered as a function. Only decide, under a
    bench-only name. Returns (code, function name)."""
    prelude = ""
    for path in prelude_paths():
        with open(path) as f:
            prelude += f.read() + "\n"
    with open(os.path.join(LUA_DIR, "decide.lua")) as f:
        body = f.read()
    return (f"#!lua name=policyd_bench\n{prelude}\n"
            f"redis.register_function('decide_bench', function(KEYS, ARGV)\n{body}\nend)\n",
            "decide_bench")


def tree_pids(root):
    """root and all its descendants (from /proc)."""
    parents = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(parents.get(pid, []))
    return out


def cpu_seconds(pids):
    """utime + stime of these processes (all their threads), in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def plan_limits(max_messages, three_limits):
    """The per-user rule of every system; the 3-limit plan (memory rows) adds recipients and
    bytes, set so high that they never refuse."""
    limits = [f'{{ subject = "user", metric = "messages", max = {max_messages}, window = "1h" }}']
    if three_limits:
        limits.append('{ subject = "user", metric = "recipients", max = 1000000000, window = "1h" }')
        limits.append('{ subject = "user", metric = "bytes", max = "1000GiB", window = "1d" }')
    return "[\n  " + ",\n  ".join(limits) + ",\n]"


class Env:
    """What every system shares: the temp dir, the build, the redis-server."""

    def __init__(self, tmp, build, sender_domain="example.com"):
        self.tmp = tmp
        self.build = build
        self.bench_bin = os.path.join(build, "policyd", "policyd-bench")
        self.policyd_bin = os.path.join(build, "policyd", "policyd")
        self.sender_domain = sender_domain
        self.redis = RedisServer(tmp)
        self.script, self.sha = decide_script()
        self.library, self.function = decide_library()
        self.seeded = None

    def redis_info(self, field, section="memory"):
        for line in self.redis.cmd("INFO", section).splitlines():
            if line.startswith(field + ":"):
                return int(line.split(":", 1)[1])
        raise KeyError(field)

    def cli(self, *args):
        """A command through redis-cli: no client-side timeout (FLUSHALL of millions of keys
        takes seconds)."""
        return subprocess.run(["redis-cli", "-p", str(self.redis.port)] + list(args),
                              capture_output=True, text=True, check=True, timeout=600).stdout

    def reset_redis(self, config_path, users):
        """FLUSHALL, then U users with accounts, plan, verified domain and grant (redis-cli
        --pipe with policyd-bench seed, so the keys are built by lib/core/redis_keys)."""
        self.cli("FLUSHALL")  # synchronous: the next used_memory must not count freeing
        seed = subprocess.Popen([self.bench_bin, "seed", "-c", config_path, "--users", str(users),
                                 "--plan", "bench", "--sender-domain", self.sender_domain],
                                stdout=subprocess.PIPE)
        out = subprocess.run(["redis-cli", "-p", str(self.redis.port), "--pipe"],
                             stdin=seed.stdout, capture_output=True, text=True)
        seed.stdout.close()
        if seed.wait() != 0 or out.returncode != 0 or "errors: 0" not in out.stdout:
            raise RuntimeError(f"seeding {users} users failed: {out.stdout} {out.stderr}")
        self.seeded = users

    def delete_keys(self, pattern):
        """DEL (synchronous, so used_memory is final) every key matching pattern."""
        keys = subprocess.run(["redis-cli", "-p", str(self.redis.port), "--scan", "--pattern",
                               pattern], capture_output=True, text=True, check=True).stdout.split()
        cmds = "".join(f"*2\r\n$3\r\nDEL\r\n${len(k)}\r\n{k}\r\n" for k in keys)
        if cmds:
            subprocess.run(["redis-cli", "-p", str(self.redis.port), "--pipe"], input=cmds,
                           capture_output=True, text=True, check=True)
        return len(keys)

    def stop(self):
        self.redis.stop()


class PolicydSystem:
    kind = "policyd"

    def __init__(self, env, max_messages, threads=1, three_limits=False):
        self.env = env
        self.threads = threads
        self.max_messages = max_messages
        self.three_limits = three_limits
        self.name = f"policyd ({threads} thread{'s' if threads > 1 else ''})"
        self.proc = None

    def start(self):
        extra = f"""
[policy]
default_plan = "bench"
[plans.bench]
limits = {plan_limits(self.max_messages, self.three_limits)}
[abuse]
# Peers only throttle: keep policyd from escalating throttles to blocks, like for like.
throttle_events = 1000000
"""
        os.environ["POLICYD_THREADS"] = str(self.threads)  # harness.Policyd reads it
        self.proc = Policyd(self.env.tmp, self.env.redis.port, extra=extra,
                            max_connections=20000, log_level="warning",
                            binary=self.env.policyd_bin)
        self.config_path = self.proc.config_path
        self.proc.start()
        self.proc.wait_redis_ready()
        self.target = f"127.0.0.1:{self.proc.port}"

    def reset(self, users):
        self.env.reset_redis(self.config_path, users)

    def pids(self):
        return [self.proc.proc.pid]

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None


class PostfwdSystem:
    kind = "postfwd"
    name = "postfwd2"

    def __init__(self, env, max_messages):
        self.env = env
        self.max_messages = max_messages
        self.dir = os.path.join(env.tmp, f"postfwd-{max_messages}")
        os.makedirs(self.dir, exist_ok=True)
        self.rules = os.path.join(self.dir, "postfwd.cf")
        # rate() counts every later request carrying the same sasl_username once the rule
        # has hit; the rule itself hits at END-OF-MESSAGE, where a message is complete.
        with open(self.rules, "w") as f:
            f.write(f"id=LIMIT; sasl_username=~.; protocol_state==END-OF-MESSAGE; "
                    f"action=rate(sasl_username/{max_messages}/{WINDOW_S}/{RULE_TEXT})\n")
        self.pidfile = os.path.join(self.dir, "master.pid")
        self.port = None
        self.master = None

    def args(self):
        return ["postfwd2", "-u", "root", "-g", "root", "-f", self.rules,
                "--interface", "127.0.0.1", "--port", str(self.port),
                "--cache_socket", "unix::" + os.path.join(self.dir, "cache.sock"),
                "--pidfile", self.pidfile, "--perfmon", "--norulestats", "--summary", "0"]

    def start(self):
        self.port = free_port()
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        # postfwd2 daemonizes (rate() needs its cache daemon, which --nodaemon lacks); the
        # master is re-parented to us (bench.py is a child subreaper) and found by pidfile.
        subprocess.run(self.args(), check=True, capture_output=True)
        wait_for(lambda: os.path.exists(self.pidfile) and tcp_accepts(self.port), 20,
                 what="postfwd2 listening")
        with open(self.pidfile) as f:
            self.master = int(f.read().strip())
        self.target = f"127.0.0.1:{self.port}"

    def reset(self, users):
        self.stop()  # counters live in its cache daemon: a restart is the fresh state
        self.start()

    def pids(self):
        return tree_pids(self.master) if self.master else []

    def stop(self):
        if not self.master:
            return
        pids = self.pids()
        subprocess.run(["postfwd2", "--kill", "--pidfile", self.pidfile, "-f", self.rules],
                       capture_output=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            _reap(pids)
            time.sleep(0.05)
        for p in pids:
            if _alive(p):
                os.kill(p, 9)
        _reap(pids)
        self.master = None


class RateLimitSystem:
    kind = "policyd-rate-limit"
    name = "policyd-rate-limit"

    def __init__(self, env, max_messages):
        self.env = env
        self.max_messages = max_messages
        self.dir = os.path.join(env.tmp, f"ratelimit-{max_messages}")
        os.makedirs(self.dir, exist_ok=True)
        # sqlite3 on tmpfs: its fastest configuration here (no fsync per counted mail).
        self.db_dir = os.path.join("/dev/shm", os.path.basename(env.tmp) + f"-rl-{max_messages}")
        self.proc = None

    def start(self):
        self.port = free_port()
        shutil.rmtree(self.db_dir, ignore_errors=True)
        os.makedirs(self.db_dir)
        config = os.path.join(self.dir, "policyd-rate-limit.yaml")
        with open(config, "w") as f:
            f.write(f"""debug: False
user: "root"
group: "root"
pidfile: "{self.dir}/policyd-rate-limit.pid"
backend: 0
sqlite_config:
    database: "{self.db_dir}/db.sqlite3"
SOCKET: ["127.0.0.1", {self.port}]
limits:
    - [{self.max_messages}, {WINDOW_S}]
limits_by_id: {{}}
limit_by_sasl: True
limit_by_sender: False
limit_by_ip: False
limited_networks: []
success_action: "dunno"
fail_action: "{RULE_TEXT}"
db_error_action: "dunno"
report: False
delay_to_close: 3600
""")
        self.log = open(os.path.join(self.dir, "policyd-rate-limit.log"), "ab")
        self.proc = subprocess.Popen(["policyd-rate-limit", "--file", config],
                                     stdout=self.log, stderr=self.log)
        wait_for(lambda: tcp_accepts(self.port), 20, what="policyd-rate-limit listening")
        self.target = f"127.0.0.1:{self.port}"

    def reset(self, users):
        self.stop()
        self.start()

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.log.close()
            self.proc = None
        shutil.rmtree(self.db_dir, ignore_errors=True)


class TrivialSystem:
    """policyd-bench dunno-server: one libuv loop that answers "action=DUNNO" to every
    request without reading it (it only finds the empty line that ends each one)."""
    kind = "trivial"
    name = "trivial DUNNO server"

    def __init__(self, env):
        self.env = env
        self.proc = None

    def start(self):
        self.port = free_port()
        self.proc = subprocess.Popen([self.env.bench_bin, "dunno-server", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"dunno-server did not start: {line}")
        self.target = f"127.0.0.1:{self.port}"

    def reset(self, users):
        pass  # stateless

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def stop(self):
        if self.proc:
            stop_process(self.proc)
            self.proc.stderr.close()
            self.proc = None


class Ceiling:
    """redis-benchmark -c C running FCALL of decide as policyd loads it, with policyd's ARGV
    (policyd-bench decide-args: BuildDecideArgs of a benchmark request, __rand_int__ for user, recipient and
    message identity), once for END-OF-MESSAGE and once for RCPT. The mix's ceiling is the
    harmonic combination: 1 / (e / eom_rps + (1 - e) / rcpt_rps)."""

    kind = "ceiling"
    name = "redis-benchmark ceiling"

    def __init__(self, env, policyd_system, pipelined=False):
        self.env = env
        self.policyd = policyd_system  # whose config (plans, prefix) the ARGV follow
        # pipelined: one connection with C commands in flight (-c 1 -P C), the way policyd
        # itself talks to Redis: what Redis can do with this script at best.
        self.pipelined = pipelined
        if pipelined:
            self.kind = "ceiling-pipelined"
            self.name = "redis-benchmark 1 conn -P C"
        self.target = None
        self.last_rps = {}

    def start(self):
        self.env.redis.cmd("FUNCTION", "LOAD", "REPLACE", self.env.library)
        self.args = {}
        for stage in ("eom", "rcpt"):
            out = subprocess.run([self.env.bench_bin, "decide-args", "-c",
                                  self.policyd.config_path, "--stage", stage,
                                  "--sender-domain", self.env.sender_domain],
                                 capture_output=True, text=True, check=True)
            self.args[stage] = json.loads(out.stdout)

    def reset(self, users):
        self.env.reset_redis(self.policyd.config_path, users)

    def pids(self):
        return []

    def sample_decision(self, stage):
        """One call for user 1: the decision the benchmark's calls reach (checked by bench.py:
        a ceiling of unknown users or ACL refusals would measure another path)."""
        args = [a.replace("__rand_int__", "000000000001") for a in self.args[stage]]
        return self.env.redis.cmd("FCALL", self.env.function, "0", *args)[:2]

    def run_stage(self, stage, conns, duration, users):
        key = (stage, conns, self.policyd.max_messages)
        n = int(self.last_rps.get(key, 0) * duration)
        if n == 0:  # calibrate on a short run
            self.run_stage_n(stage, conns, users, max(2000, conns * 20))
            n = int(self.last_rps[key] * duration)
        return self.run_stage_n(stage, conns, users, max(n, conns * 10, 1000))

    def run_stage_n(self, stage, conns, users, n):
        clients = ["-c", "1", "-P", str(conns)] if self.pipelined else ["-c", str(conns)]
        out = subprocess.run(["redis-benchmark", "-p", str(self.env.redis.port)] + clients +
                             ["-n", str(n), "-r", str(users), "--csv", "--precision", "3",
                              "FCALL", self.env.function, "0"] + self.args[stage],
                             capture_output=True, text=True, timeout=600)
        lines = [l for l in out.stdout.splitlines() if l.startswith('"')]
        if out.returncode != 0 or len(lines) < 2 or "rror" in out.stderr:
            raise RuntimeError(f"redis-benchmark failed: {out.stdout[-500:]} {out.stderr[-500:]}")
        # The test column repeats the command (commas and all): take the numbers at the end.
        head = [h.strip('"') for h in lines[0].split(",")][1:]
        numbers = re.findall(r'"([0-9.]+)"', lines[-1])[-len(head):]
        values = dict(zip(head, (float(v) for v in numbers)))
        self.last_rps[(stage, conns, self.policyd.max_messages)] = values["rps"]
        values["requests"] = n
        return values

    def stop(self):
        pass


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _reap(pids):
    for p in pids:
        try:
            os.waitpid(p, os.WNOHANG)
        except ChildProcessError:
            pass
