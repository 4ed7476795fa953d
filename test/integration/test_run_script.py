"""Issue 2, acceptance 1: `scripts/run` serves requests. It runs on a copy of the shipped
config whose ports are free ones, so it starts its own redis-server (the configured Redis is
local and does not answer), then policyd in the foreground; a policy request gets a decision
and SIGTERM stops policyd with exit 0. The build is the one scripts/test already made."""

import os
import re
import signal
import subprocess
import unittest

from harness import ROOT, PolicyClient, TempDir, free_port, golden, wait_for

STATE = os.path.join(ROOT, "state", "redis")


def connectable(port):
    try:
        PolicyClient(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class RunScriptTest(unittest.TestCase):
    def test_run_starts_redis_and_serves_requests(self):
        with TempDir() as tmp:
            policy_port, redis_port, http_port = free_port(), free_port(), free_port()
            with open(os.path.join(ROOT, "conf", "policyd.toml")) as f:
                text = f.read()
            text = text.replace('listen = ["127.0.0.1:10040"]',
                                f'listen = ["127.0.0.1:{policy_port}"]', 1)
            text = text.replace('listen = ["127.0.0.1:10041"]',
                                f'listen = ["127.0.0.1:{http_port}"]', 1)
            text, n = re.subn(r'url = "redis://127\.0\.0\.1:6379/0"',
                              f'url = "redis://127.0.0.1:{redis_port}/0"', text)
            self.assertEqual(n, 1, "conf/policyd.toml's [redis] url changed: update this test")
            config = os.path.join(tmp, "policyd.toml")
            with open(config, "w") as f:
                f.write(text)
            # The child writes through its own open file; the test reads the file afresh each
            # time. (A shared "w+" file object shares its offset with the child: a seek(0) here
            # raced the child's writes and read back an empty log about one run in five.)
            log = os.path.join(tmp, "run.log")
            with open(log, "w") as out:
                run = subprocess.Popen([os.path.join(ROOT, "scripts", "run")], stdout=out,
                                       stderr=subprocess.STDOUT,
                                       env=dict(os.environ, POLICYD_CONFIG=config))
            try:
                wait_for(lambda: connectable(policy_port) or run.poll() is not None, timeout=300,
                         what="scripts/run listening")
                self.assertIsNone(run.poll(), self.log_text(log))
                c = PolicyClient(("127.0.0.1", policy_port))
                self.assertEqual(c.ask(golden("rcpt-sasl.req")), "DUNNO", self.log_text(log))
                c.close()
                self.assertIn(f"starting redis-server on 127.0.0.1:{redis_port}", self.log_text(log))
                run.send_signal(signal.SIGTERM)
                self.assertEqual(run.wait(30), 0, self.log_text(log))
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait()
                self.stop_redis()

    @staticmethod
    def log_text(path):
        with open(path) as f:
            return f.read()[-3000:]

    @staticmethod
    def stop_redis():
        pidfile = os.path.join(STATE, "redis.pid")
        try:
            with open(pidfile) as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    unittest.main()
