"""Issue 9, acceptance 1: scripts/install --prefix into a temporary folder, then
systemd-analyze verify on the installed unit."""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import ROOT


class InstallTest(unittest.TestCase):
    def test_install_into_a_prefix_and_verify_the_unit(self):
        prefix = tempfile.mkdtemp(prefix="policyd-install-")
        try:
            r = subprocess.run([os.path.join(ROOT, "scripts", "install"), "--prefix", prefix],
                               capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr[-2000:])
            unit = os.path.join(prefix, "lib", "systemd", "system", "policyd.service")
            binary = os.path.join(prefix, "sbin", "policyd")
            config = os.path.join(prefix, "etc", "policyd", "policyd.toml")
            for path in (unit, binary, config):
                self.assertTrue(os.path.exists(path), path)
            with open(unit) as f:
                text = f.read()
            self.assertIn(f"ExecStart={binary} -c {config}", text)
            self.assertEqual(subprocess.run([binary, "--check-config", "-c", config]).returncode, 0)
            v = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            self.assertNotIn("policyd.service:", v.stderr)  # no warning about our unit
            # A second install keeps the operator's edited config.
            with open(config, "a") as f:
                f.write("# edited by the operator\n")
            r = subprocess.run([os.path.join(ROOT, "scripts", "install"), "--prefix", prefix],
                               capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0)
            with open(config) as f:
                self.assertIn("edited by the operator", f.read())
            self.assertTrue(os.path.exists(config + ".new"))
        finally:
            shutil.rmtree(prefix, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
