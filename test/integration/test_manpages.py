"""Issue 22: the manual pages render without warnings, policyd.toml(5) lists exactly the keys
of the table --check-config uses (policyd --list-config-keys) and is what
scripts/manpage-config writes today, and policyctl(8) lists exactly policyctl's verbs."""

import os
import re
import subprocess
import unittest

from harness import POLICYCTL, POLICYD, ROOT

MAN = os.path.join(ROOT, "man")
PAGES = ("policyd.8", "policyctl.8", "policyd-feedback.8", "policyd.toml.5")


def page_text(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def unescape(roff):
    return roff.replace("\\-", "-").replace("\\e", "\\")


class ManPagesTest(unittest.TestCase):
    def test_each_page_renders_without_warnings(self):
        for name in PAGES:
            with self.subTest(page=name):
                r = subprocess.run(["man", "--warnings", "-l", os.path.join(MAN, name)],
                                   capture_output=True, text=True,
                                   env=dict(os.environ, MANPAGER="cat", MANWIDTH="80"))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
                self.assertIn("SEE ALSO", r.stdout)

    def test_config_page_lists_exactly_the_key_table(self):
        table = subprocess.run([POLICYD, "--list-config-keys"], capture_output=True, text=True,
                               check=True).stdout
        keys = [line.split("\t")[0] for line in table.splitlines()]
        self.assertGreater(len(keys), 50)
        # The page's keys: ".SS [section]" then ".TP" / ".B key" rows; [plans.NAME] is prose.
        page, section = [], None
        lines = page_text("policyd.toml.5").splitlines()
        for i, line in enumerate(lines):
            m = re.match(r'\.SS "\[(.*)\]"$', line)
            if m:
                section = None if m.group(1).startswith("plans.") else unescape(m.group(1))
            elif line == ".TP" and section and lines[i + 1].startswith(".B "):
                page.append(f"{section}.{unescape(lines[i + 1][3:])}")
        self.assertEqual(page, keys)

    def test_config_page_is_what_the_generator_writes(self):
        r = subprocess.run([os.path.join(ROOT, "scripts", "manpage-config"), POLICYD, "--check"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_policyctl_page_lists_exactly_its_verbs(self):
        help_text = subprocess.run([POLICYCTL, "--help"], capture_output=True, text=True).stdout
        verbs_part = help_text.split("verbs:\n", 1)[1].split("\n\n", 1)[0]
        verbs = [re.split(r"\s{2,}", line.strip())[0] for line in verbs_part.splitlines()]
        page = page_text("policyctl.8").split(".SH VERBS", 1)[1].split(".SH ", 1)[0]
        documented = []
        for tag in re.findall(r"^\.TP\n(.*)$", page, re.M):
            words = re.sub(r"\\f[BIRP]|^\.BI? |\"", "", tag).split()
            two = " ".join(words[:2])
            documented.append(two if two in verbs else words[0])
        self.assertEqual(documented, verbs)


if __name__ == "__main__":
    unittest.main()
