"""The systemd units as `make install` writes them (issue 5), and the polkit
rule it installs (issue 16): each service's exposure score (systemd-analyze
security --offline) is at most 1.5, and systemd-analyze verify is clean on
each installed unit."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import BUILD, run  # noqa: E402

SERVICES = ("proxygw-netd.service", "proxygw.service")
UNITS = ("proxygw-netd.socket",) + SERVICES


class Units(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("systemd-analyze") is None:
            raise unittest.SkipTest("systemd-analyze is not installed")
        cls.root = tempfile.mkdtemp(prefix="pgw-install-")
        env = dict(os.environ, DESTDIR=cls.root)
        run(["cmake", "--install", BUILD, "--prefix", "/usr/local"], env=env, timeout=120)
        cls.unit_dir = os.path.join(cls.root, "usr/local/lib/systemd/system")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, True)

    def test_every_unit_and_binary_is_installed(self):
        for unit in UNITS:
            self.assertTrue(os.path.exists(os.path.join(self.unit_dir, unit)), unit)
        for binary in ("proxygw", "proxygw-engine", "proxygw-netd", "proxygwctl"):
            self.assertTrue(os.access(os.path.join(self.root, "usr/local/bin", binary), os.X_OK))
        self.assertTrue(os.path.exists(os.path.join(self.root, "usr/local/lib/sysusers.d/proxygw.conf")))
        self.assertTrue(os.path.exists(os.path.join(self.root, "etc/proxygw/proxygw.yaml")))
        # The polkit rule for systemd:unit targets, naming no unit until the
        # engine's unit writes it from the config.
        with open(os.path.join(self.root, "etc/polkit-1/rules.d/50-proxygw.rules")) as f:
            self.assertIn("var units = [];", f.read())

    def test_exposure_of_each_service_is_at_most_1_5(self):
        for unit in SERVICES:
            p = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                     os.path.join(self.unit_dir, unit)], check=False)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", p.stdout + p.stderr)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            self.assertLessEqual(float(m.group(1)), 1.5, "%s: %s" % (unit, m.group(0)))

    def test_verify_is_clean(self):
        # verify checks that ExecStart binaries exist: point the installed units
        # at the binaries installed under the temporary root (the host's own
        # units, e.g. sysinit.target, stay in view).
        check = tempfile.mkdtemp(prefix="pgw-verify-")
        self.addCleanup(shutil.rmtree, check, True)
        paths = []
        for unit in UNITS:
            with open(os.path.join(self.unit_dir, unit)) as f:
                text = f.read().replace("/usr/local/bin/", os.path.join(self.root, "usr/local/bin/"))
            paths.append(os.path.join(check, unit))
            with open(paths[-1], "w") as f:
                f.write(text)
        p = run(["systemd-analyze", "verify"] + paths, check=False)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))


if __name__ == "__main__":
    unittest.main()
