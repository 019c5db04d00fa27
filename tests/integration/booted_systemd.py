"""A Debian 12 root booted with systemd in a container, with proxygw
installed into it by README's `make install`: what test_systemd and
test_systemd_unit share. The root (tests/systemd/debian-root.sh, built once by
`make deps`) is the lower layer of an overlay, so each test class starts from
a clean copy; systemd-nspawn -b boots it (a private network, CAP_NET_ADMIN,
--register=no --keep-unit), and commands run inside with nsenter.

A subclass sets CONFIG (/etc/proxygw/proxygw.yaml), GW, BACKEND and CLIENT
(three addresses of one /24 of its own) and NAME (its namespace's and
machine's prefix), and may override prepare_root() to add files (units,
helpers) before the boot. A client namespace of the test's own is joined to
the container by a veth pair:

  client ns CLIENT/24 --veth-- container GW, BACKEND

Skips with one line when this machine cannot boot a systemd container; the
root namespace is never touched (the veth is created in the client namespace
and its peer moved straight into the container's)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import HERE, Processes, delete_namespace, need_root, run, wait_for  # noqa: E402

SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
RELEASE_BUILD = os.environ.get("PROXYGW_RELEASE_BUILD", os.path.join(SOURCE, "build"))
ROOT_SCRIPT = os.path.join(SOURCE, "tests", "systemd", "debian-root.sh")


def readme_systemd_steps():
    """The first ```sh block after README's "**With systemd**", one command a line."""
    with open(os.path.join(SOURCE, "README.md")) as f:
        text = f.read()
    at = text.index("**With systemd**")
    block = re.search(r"```sh\n(.*?)```", text[at:], re.S)
    lines = [l.split("#", 1)[0].strip() for l in block.group(1).splitlines()]
    return [l for l in lines if l]


class BootedSystemd(unittest.TestCase):
    """One container for the class: booting takes seconds, each check builds on the last.
    No tests of its own."""

    CONFIG = None
    GW = BACKEND = CLIENT = None
    NAME = "pgwsd"

    @classmethod
    def setUpClass(cls):
        need_root(cls)
        if shutil.which("systemd-nspawn") is None:
            raise unittest.SkipTest("systemd-nspawn is not installed (make deps installs it)")
        image = run(["sh", ROOT_SCRIPT, "--path"]).stdout.strip()
        if not os.path.exists(os.path.join(image, ".complete")):
            raise unittest.SkipTest("no Debian root at %s (make deps builds it)" % image)
        if not os.path.exists(os.path.join(RELEASE_BUILD, "proxygw-engine")):
            raise unittest.SkipTest("no release build in %s (make build)" % RELEASE_BUILD)
        cls.image = image
        cls.procs = Processes()
        cls.tmp = tempfile.mkdtemp(prefix=cls.NAME + "-")
        cls.client_ns = "%s-%d" % (cls.NAME, os.getpid())
        cls.mounted = False
        try:
            cls.boot(image)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def prepare_root(cls):
        """Adds files to the container's root (cls.root) before it boots."""

    @classmethod
    def boot(cls, image):
        cls.root = os.path.join(cls.tmp, "root")
        for d in ("upper", "work", "root"):
            os.mkdir(os.path.join(cls.tmp, d))
        p = run(["mount", "-t", "overlay", "overlay", "-o",
                 "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (image, cls.tmp, cls.tmp),
                 cls.root], check=False)
        if p.returncode != 0:
            raise unittest.SkipTest("cannot mount an overlay over %s: %s" % (image, p.stderr.strip()))
        cls.mounted = True
        # README's first step, staged into the container's root.
        steps = readme_systemd_steps()
        assert steps[0] == "make install", steps
        run(["make", "-C", SOURCE, "install", "BUILD=" + RELEASE_BUILD, "DESTDIR=" + cls.root],
            timeout=600)
        cls.steps = steps[1:]
        with open(os.path.join(cls.root, "etc/proxygw/proxygw.yaml"), "w") as f:
            f.write(cls.CONFIG)
        cls.prepare_root()

        cls.console = open(os.path.join(cls.tmp, "console.log"), "w+")
        cls.nspawn = cls.procs.start(
            ["systemd-nspawn", "-D", cls.root, "-b", "--private-network",
             "--capability=CAP_NET_ADMIN", "--register=no", "--keep-unit",
             "-M", "%s%d" % (cls.NAME, os.getpid())],
            stdin=subprocess.DEVNULL, stdout=cls.console, stderr=subprocess.STDOUT)
        try:
            cls.leader = wait_for(cls.container_init, 30, what="the container's init")
            wait_for(lambda: cls.sh("systemctl is-system-running", check=False).stdout.strip()
                     in ("running", "degraded"), 90, interval=0.5, what="systemd booted")
        except AssertionError:
            cls.console.flush()
            with open(cls.console.name) as f:
                tail = f.read()[-300:].replace("\n", " | ")
            raise unittest.SkipTest("systemd does not boot in a container here: " + tail)
        # The client's namespace, and a veth whose peer goes straight into the
        # container's namespace.
        run(["ip", "netns", "add", cls.client_ns])
        run(["ip", "-n", cls.client_ns, "link", "add", "vc", "type", "veth", "peer", "name", "vg",
             "netns", str(cls.leader)])
        run(["ip", "-n", cls.client_ns, "addr", "add", cls.CLIENT + "/24", "dev", "vc"])
        for link in ("lo", "vc"):
            run(["ip", "-n", cls.client_ns, "link", "set", link, "up"])
        cls.sh("ip addr add %s/24 dev vg && ip addr add %s/24 dev vg && ip link set vg up"
               % (cls.GW, cls.BACKEND))

    @classmethod
    def container_init(cls):
        if cls.nspawn.poll() is not None:
            raise AssertionError("systemd-nspawn exited (%d)" % cls.nspawn.returncode)
        try:
            with open("/proc/%d/task/%d/children" % (cls.nspawn.pid, cls.nspawn.pid)) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            return None
        for k in kids:
            try:
                with open("/proc/%d/comm" % k) as f:
                    if f.read().strip() == "systemd":
                        return k
            except OSError:
                pass
        return None

    @classmethod
    def sh(cls, command, check=True, timeout=60):
        """Runs `command` (sh) inside the container, as its root."""
        return run(["nsenter", "-t", str(cls.leader), "-a", "sh", "-c", command], check=check,
                   timeout=timeout)

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "nspawn", None) and cls.nspawn.poll() is None:
                # SIGTERM asks nspawn to shut the container's systemd down cleanly.
                cls.procs.stop(cls.nspawn, signal.SIGTERM, timeout=30)
            cls.procs.stop_all()
        finally:
            delete_namespace(cls.client_ns)
            if cls.mounted:
                run(["umount", "-l", cls.root], check=False)
            shutil.rmtree(cls.tmp, True)

    # -- helpers --------------------------------------------------------------

    def run_readme_steps(self):
        """README's "With systemd" steps after `make install`, inside the container."""
        for step in self.steps:
            p = self.sh(step, check=False, timeout=120)
            if p.returncode != 0:
                self.fail("README step %r failed (%d): %s%s\njournal:\n%s" % (
                    step, p.returncode, p.stdout, p.stderr,
                    self.sh("journalctl -q --no-pager -n 60", check=False).stdout))

    def unit(self, name, prop):
        return self.sh("systemctl show -P %s %s" % (prop, name)).stdout.strip()

    def status(self):
        p = self.sh("proxygwctl status", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else {}

    def target(self, name):
        for t in self.status().get("targets", []):
            if t["name"] == name:
                return t
        return {}

    def table(self):
        return self.sh("nft list tables", check=False).stdout

    def client(self, *args, **kw):
        return self.procs.start(["ip", "netns", "exec", self.client_ns, sys.executable,
                                 os.path.join(HERE, "nshelper.py")] + list(args), **kw)

    def hold(self, n=2, port=8080):
        """N connections from the client through the gateway's `port`, held open."""
        h = self.client("hold", "tcp", self.GW, str(port), str(n), "10", stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.assertEqual(h.stdout.readline().strip(), "open %d" % n)
        self.addCleanup(self.procs.stop, h)
        return h

    def ping(self, h):
        h.stdin.write("ping\n")
        return h.stdout.readline().strip()

    def journal(self, unit):
        return self.sh("journalctl -q --no-pager -u %s" % unit).stdout

    def exposure(self, service):
        """systemd-analyze security's overall exposure of `service`, as a float."""
        out = self.sh("systemd-analyze security --no-pager %s" % service, check=False).stdout
        m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out)
        self.assertIsNotNone(m, out)
        return float(m.group(1))
