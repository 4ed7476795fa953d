"""A private Postfix instance for end-to-end tests: its own config_directory, queue and data
directories under a temp folder, started with `postfix -c DIR start`, never the machine's own
Postfix. Not chrooted, no DNS, IPv4 loopback only, every message delivered to the discard
transport, logs in a file (postlogd's maillog_file). SMTP users authenticate for real with AUTH
PLAIN against a Cyrus sasldb in the private config directory.

The instance has three smtpd listeners, each on a free loopback port, all asking one policy
service (the same spec text at RCPT and END-OF-DATA, so Postfix shares one connection):
  "full"     check_policy_service at RCPT and at end of data, default_action=DUNNO
  "eod"      check_policy_service at end of data only
  "defer"    as "full", but default_action=451 4.3.5 (what Postfix does when policyd is down)
"""

import grp
import os
import pwd
import re
import socket
import subprocess

from harness import free_port, wait_for

SASL_REALM = "e2e.test"
DEFER_ACTION = "451 4.3.5 Policy service unavailable, try again later"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {name}.e2e.test
mydomain = e2e.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
relay_domains =
alias_maps =
alias_database =
biff = no
mynetworks = 127.0.0.0/8
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
default_transport = discard:e2e
relay_transport = discard:e2e
local_transport = discard:e2e
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
smtpd_banner = $myhostname ESMTP e2e
# No tarpit after refusals, no arrival-rate throttling: the tests measure the policy path.
smtpd_error_sleep_time = 0s
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
in_flow_delay = 0s
smtpd_client_connection_count_limit = 0
# smtpd processes live through the whole run, so a policy connection's reuse across SMTP
# sessions is visible (by default a process exits after 100 sessions or 100 s idle).
max_idle = 3600s
max_use = 100000
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {dir}/etc/sasl
smtpd_sasl_local_domain = {realm}
smtpd_sasl_security_options = noanonymous
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_policy_service_max_idle = 300s
smtpd_policy_service_max_ttl = 1000s
smtpd_policy_service_timeout = {policy_timeout}
smtpd_policy_service_try_limit = 2
e2e_policy = check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout={policy_timeout}, default_action=DUNNO }}
e2e_policy_defer = check_policy_service {{ inet:127.0.0.1:{policy_port}, timeout={policy_timeout}, {{ default_action = {defer} }} }}
smtpd_recipient_restrictions = $e2e_policy, permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination
smtpd_end_of_data_restrictions = $e2e_policy
e2e_rcpt_eod_only = permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination
e2e_rcpt_defer = $e2e_policy_defer, permit_sasl_authenticated, permit_mynetworks, reject_unauth_destination
"""

# Only the services a relay to the discard transport needs; chroot "n" everywhere.
MASTER_CF = """\
127.0.0.1:{full} inet n - n - - smtpd
127.0.0.1:{eod} inet n - n - - smtpd -o smtpd_recipient_restrictions=$e2e_rcpt_eod_only
127.0.0.1:{defer} inet n - n - - smtpd -o smtpd_recipient_restrictions=$e2e_rcpt_defer -o smtpd_end_of_data_restrictions=$e2e_policy_defer
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

SMTPD_CONF = """\
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: {sasldb}
"""


def _run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {r.returncode}: {r.stdout}{r.stderr}")
    return r.stdout + r.stderr


class PostfixInstance:
    def __init__(self, tmpdir, name, policy_port, policy_timeout="10s", extra_main="",
                 extra_master=""):
        self.name = name
        self.dir = os.path.join(tmpdir, f"postfix-{name}")
        self.etc = os.path.join(self.dir, "etc")
        self.maillog = os.path.join(self.dir, "maillog")
        self.sasldb = os.path.join(self.etc, "sasldb2")
        self.ports = {"full": free_port(), "eod": free_port(), "defer": free_port()}
        self.policy_port = policy_port
        self.started = False
        os.makedirs(os.path.join(self.etc, "sasl"), exist_ok=True)
        # `postfix check` creates what is missing below these (post-install create-missing).
        os.makedirs(os.path.join(self.dir, "spool"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.chown(os.path.join(self.dir, "data"), pwd.getpwnam("postfix").pw_uid, -1)
        # smtpd runs as the postfix user and opens the sasldb by its path.
        for d in (tmpdir, self.dir):
            os.chmod(d, 0o755)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, name=name, realm=SASL_REALM,
                                   policy_port=policy_port, policy_timeout=policy_timeout,
                                   defer=DEFER_ACTION) + extra_main)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(**self.ports) + extra_master)
        with open(os.path.join(self.etc, "sasl", "smtpd.conf"), "w") as f:
            f.write(SMTPD_CONF.format(sasldb=self.sasldb))

    def add_user(self, user, password):
        """A Cyrus sasldb entry user@realm; AUTH PLAIN as `user` then reaches policyd as
        sasl_username=user (smtpd_sasl_local_domain supplies the realm)."""
        subprocess.run(["saslpasswd2", "-p", "-c", "-f", self.sasldb, "-u", SASL_REALM, user],
                       input=password, text=True, check=True, capture_output=True)
        os.chown(self.sasldb, 0, grp.getgrnam("postfix").gr_gid)
        os.chmod(self.sasldb, 0o640)

    def postfix(self, *verb):
        return _run(["postfix", "-c", self.etc, *verb])

    def start(self):
        pwd.getpwnam("postfix")  # the package's mail_owner; fails early when it is missing
        self.postfix("check")
        self.postfix("start")
        self.started = True
        for port in self.ports.values():
            wait_for(lambda p=port: _accepts(p), timeout=30, what=f"postfix {self.name} on {port}")
        return self

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        try:
            self.postfix("stop")
        except RuntimeError:
            pass
        if pid:
            try:
                wait_for(lambda: not _alive(pid), timeout=20, what="postfix master exit")
            except TimeoutError:
                self.postfix("abort")
                wait_for(lambda: not _alive(pid), timeout=10, what="postfix master abort")
        self.started = False

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.maillog)
        except FileNotFoundError:
            return 0

    def log_since(self, offset):
        with open(self.maillog, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def wait_log(self, pattern, offset=0, timeout=20):
        """Until the log after offset matches; returns the match."""
        found = []

        def check():
            m = re.search(pattern, self.log_since(offset))
            if m:
                found.append(m)
            return bool(m)
        wait_for(check, timeout=timeout, interval=0.1, what=f"maillog /{pattern}/")
        return found[0]


def _accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(512).startswith(b"220")
    except OSError:
        return False


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not ours to reap (master is not our child) but no longer runs.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
