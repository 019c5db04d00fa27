"""Helpers for proxygw's integration tests: network namespaces, the real
binaries, and real TCP/UDP traffic.

Every test builds its own client, gateway and backend namespaces joined by veth
pairs (addresses from 198.18.0.0/15 and 2001:db8::/32 only), runs the real
proxygw-netd (and later the engine) in the gateway namespace, and tears
everything down in tearDown, also when the test fails: processes are stopped by
the pids this module started, namespaces are deleted. Nothing here touches the
root namespace's ruleset, conntrack table or sysctls.

Topology (Topology class):

  client ns                 gateway ns                      backend ns
  198.18.1.2/24  --veth--  198.18.1.1/24 | 198.18.2.1/24  --veth--  198.18.2.2/24, 198.18.2.3/24
  2001:db8:1::2/64         2001:db8:1::1 | 2001:db8:2::1            2001:db8:2::2/64, ::3
                           lo: 198.18.100.1/32, 2001:db8:100::1/128 (a VIP)

The gateway forwards (net.ipv4.ip_forward=1 inside its namespace); client and
backend route everything via the gateway, so DNATed replies come back through
it without SNAT.
"""
import json
import os
import pwd
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("PROXYGW_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
ENGINE_UID = 65533   # numeric users: no /etc/passwd entries needed
NETD_UID = 65534


def binary(name):
    path = os.path.join(BUILD, name)
    if not os.path.exists(path):
        raise unittest.SkipTest("missing binary %s (build first)" % path)
    return path


def need_root(test):
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root for network namespaces")


def run(args, check=True, timeout=30, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def ensure_user(name):
    """The system user `name`, created when missing (as `make run` and
    systemd-sysusers would)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name])
        return pwd.getpwnam(name)


def wait_for(pred, timeout=20.0, interval=0.05, what="condition"):
    """Polls pred() until it returns a true value; fails with `what` on timeout
    (a string, or a function called then, so that a log in it is the log at
    the failure, not at the start of the wait)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)"
                         % (timeout, what() if callable(what) else what, last))


class Processes:
    """Processes a test (or the benchmark) started; stopped by pid, newest first."""

    def __init__(self):
        self.procs = []

    def start(self, args, **kw):
        p = subprocess.Popen([str(a) for a in args], **kw)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=5):
        """Signals one of ours, waits (SIGKILL after `timeout`), closes its pipes."""
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
            except ProcessLookupError:
                pass
        for f in (p.stdin, p.stdout, p.stderr):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in reversed(list(self.procs)):
            self.stop(p)


def delete_namespace(ns):
    """Kills whatever still runs in one of our namespaces (only our own
    processes live there), then deletes it. No-op when it does not exist."""
    if not os.path.exists("/run/netns/" + ns):
        return
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


class Topology:
    """Three namespaces, two veth pairs; see the module docstring."""

    def __init__(self, tag):
        # Short, unique names: interface names are limited to 15 bytes.
        self.tag = tag
        self.client = "pgw%s-c" % tag
        self.gw = "pgw%s-g" % tag
        self.backend = "pgw%s-b" % tag
        self.created = []

    def up(self):
        for ns in (self.client, self.gw, self.backend):
            run(["ip", "netns", "add", ns])
            self.created.append(ns)
            self.ip(ns, "link", "set", "lo", "up")
        c_if, gc_if, gb_if, b_if = ("v%s-c" % self.tag, "v%s-gc" % self.tag,
                                    "v%s-gb" % self.tag, "v%s-b" % self.tag)
        run(["ip", "link", "add", c_if, "netns", self.client, "type", "veth",
             "peer", "name", gc_if, "netns", self.gw])
        run(["ip", "link", "add", gb_if, "netns", self.gw, "type", "veth",
             "peer", "name", b_if, "netns", self.backend])
        self.ifaces = {"client": c_if, "gw_client": gc_if, "gw_backend": gb_if, "backend": b_if}
        for ns, dev, addrs in ((self.client, c_if, ["198.18.1.2/24", "2001:db8:1::2/64"]),
                               (self.gw, gc_if, ["198.18.1.1/24", "2001:db8:1::1/64"]),
                               (self.gw, gb_if, ["198.18.2.1/24", "2001:db8:2::1/64"]),
                               (self.backend, b_if, ["198.18.2.2/24", "198.18.2.3/24",
                                                     "2001:db8:2::2/64", "2001:db8:2::3/64"])):
            for a in addrs:
                self.ip(ns, "addr", "add", a, "dev", dev, "nodad" if ":" in a else None)
            self.ip(ns, "link", "set", dev, "up")
        self.ip(self.gw, "addr", "add", "198.18.100.1/32", "dev", "lo")
        self.ip(self.gw, "addr", "add", "2001:db8:100::1/128", "dev", "lo")
        self.ip(self.client, "route", "add", "default", "via", "198.18.1.1")
        self.ip(self.client, "-6", "route", "add", "default", "via", "2001:db8:1::1")
        self.ip(self.backend, "route", "add", "default", "via", "198.18.2.1")
        self.ip(self.backend, "-6", "route", "add", "default", "via", "2001:db8:2::1")
        for key in ("net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"):
            self.sysctl(self.gw, key)
        return self

    def ip(self, ns, *args):
        run(["ip", "-n", ns] + [a for a in args if a is not None])

    def sysctl(self, ns, kv):
        run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", kv])

    def exec(self, ns, args, **kw):
        return run(["ip", "netns", "exec", ns] + args, **kw)

    def down(self):
        for ns in reversed(self.created):
            delete_namespace(ns)
        self.created = []


NS_HELPER = os.path.join(HERE, "nshelper.py")


class NetdClient:
    """The netd-test-client in the gateway namespace, as the engine's uid."""

    def __init__(self, procs, topo, sock, uid=ENGINE_UID, gid=None):
        self.proc = procs.start(["ip", "netns", "exec", topo.gw, binary("netd-test-client"),
                                 "--socket", sock, "--uid", str(uid),
                                 "--gid", str(uid if gid is None else gid)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.counts = {}  # (proto, dest) -> flows, as pushed
        self.knocks = []  # knock pushes, in order
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        first = self.next(timeout=10)
        if first.get("type") != "connected":
            raise AssertionError("netd client did not connect: %r" % first)

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                self.lines.put({"type": "garbage", "line": line})
        self.lines.put({"type": "eof"})

    def send(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def next(self, timeout=20):
        """The next non-push message (pushes update self.counts)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no message from netd within %ss" % timeout)
            try:
                m = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if m.get("type") in ("counts", "knock"):
                self._apply_push(m)
                continue
            return m

    def _apply_push(self, m):
        if m["type"] == "knock":
            self.knocks.append(m)
            return
        if m["reset"]:
            self.counts = {}
        for c in m["counts"]:
            key = (c["proto"], c["dest"])
            if c["flows"]:
                self.counts[key] = c["flows"]
            else:
                self.counts.pop(key, None)

    def pump(self, timeout=0.1):
        """Reads pushes for up to `timeout`; returns other messages seen."""
        other = []
        try:
            while True:
                m = self.lines.get(timeout=timeout)
                if m.get("type") in ("counts", "knock"):
                    self._apply_push(m)
                else:
                    other.append(m)
        except queue.Empty:
            pass
        return other

    def wait_count(self, proto, dest, want, timeout=30):
        def ok():
            self.pump(0.1)
            return self.counts.get((proto, dest), 0) == want
        try:
            wait_for(ok, timeout, what="%s %s flows == %d" % (proto, dest, want))
        except AssertionError as e:
            # The counts as they are at the end, not as they were at the start.
            raise AssertionError("%s; counts at the end: %r" % (e, self.counts)) from None

    def call(self, cmd, timeout=30):
        self.send(cmd)
        return self.next(timeout)

    def hello(self):
        r = self.call({"op": "hello", "version": 2})
        assert r.get("kind") == "hello", r
        return r

    def sync(self, mappings, timeout=60, holds=()):
        """Sends a whole sync; returns the commit's reply (or the first error)."""
        self.send({"op": "sync", "mappings": mappings, "holds": list(holds)})
        chunks = (len(mappings) + 1023) // 1024 + (len(holds) + 127) // 128
        for _ in range(1 + chunks):  # begin + adds
            r = self.next(timeout)
            if r.get("type") != "reply":
                return r
        return self.next(timeout)

    def close(self):
        try:
            self.send({"op": "close"})
        except (BrokenPipeError, ValueError):
            pass


def M(proto, listen, dest, timeout=60):
    return {"proto": proto, "listen": listen, "dest": dest, "timeout": timeout}


def K(proto, listen):
    return {"proto": proto, "listen": listen}


def H(proto, listen, hold_s=30, allow=()):
    return {"proto": proto, "listen": listen, "hold_s": hold_s, "allow": list(allow)}


class NetdTestCase(unittest.TestCase):
    """A topology, a netd in its gateway namespace, and cleanup."""

    netd_args = []
    # netd's policy (what may be mapped): lines "tcp LISTEN:PORT DEST:PORT mark ID"
    # written to a root-owned file, or None for --no-policy.
    policy = None
    policy_file = None  # or a policy file of the test's, taken as it is
    _seq = 0

    def setUp(self):
        need_root(self)
        self.procs = Processes()
        NetdTestCase._seq += 1
        self.tag = "%03x%02x" % (os.getpid() & 0xfff, NetdTestCase._seq & 0xff)
        self.topo = Topology(self.tag)
        self.addCleanup(self.topo.down)
        self.addCleanup(self.procs.stop_all)
        self.tmp = tempfile.mkdtemp(prefix="pgwt-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.topo.up()
        self.sock = os.path.join(self.tmp, "netd.sock")
        self.netd = None
        self.start_netd()

    def start_netd(self, extra=None, engine_uid=ENGINE_UID):
        """Starts netd; `engine_uid` is the only uid it lets in (another one
        stages a netd that refuses the engine)."""
        args = ["ip", "netns", "exec", self.topo.gw, binary("proxygw-netd"),
                "--socket", self.sock, "--engine-user", str(engine_uid), "--user", str(NETD_UID)]
        args += self.policy_args() + self.netd_args + (extra or [])
        env = dict(os.environ)
        # LeakSanitizer cannot trace a non-dumpable, seccomp-confined process.
        env["ASAN_OPTIONS"] = "detect_leaks=0:" + env.get("ASAN_OPTIONS", "")
        self.netd_log = open(os.path.join(self.tmp, "netd-%d.log" % time.monotonic_ns()), "w+")
        self.addCleanup(self.netd_log.close)
        self.netd = self.procs.start(args, stdout=self.netd_log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(lambda: os.path.exists(self.sock) and "serving" in self.log_text(), 10,
                     what="netd serving")
        except AssertionError:
            raise AssertionError("netd did not start; its log:\n" + self.log_text())

        return self.netd

    def policy_args(self):
        if self.policy_file:
            return ["--policy", self.policy_file]
        if self.policy is None:
            return ["--no-policy"]
        path = os.path.join(self.tmp, "netd.policy")
        with open(path, "w") as f:
            f.write("".join(line + "\n" for line in self.policy))
        os.chmod(path, 0o644)
        return ["--policy", path]

    def assert_refused(self, commands, code=None, hello=True, uid=ENGINE_UID, gid=None,
                       installed=None):
        """Sends `commands` on a new connection until netd closes it; the last
        error must have `code`. Then netd still serves a good client (which
        sees `installed` mappings, when given), runs, and the table is
        self.baseline. Returns the error replies."""
        c = self.client(uid=uid, gid=gid)
        if hello:
            c.hello()
        for cmd in commands:
            c.send(cmd)
        seen = []
        while True:
            m = c.next(timeout=10)
            seen.append(m)
            if m["type"] in ("closed", "eof"):
                break
        errors = [m for m in seen if m["type"] == "error"]
        if code is not None:
            self.assertTrue(errors, "no error reply: %r" % seen)
            self.assertEqual(errors[-1]["code"], code, seen)
        good = self.client()
        hello_reply = good.hello()
        if installed is not None:
            self.assertEqual(hello_reply["installed"], installed)
        good.close()
        self.assertEqual(self.nft_list(), self.baseline)
        self.assertIsNone(self.netd.poll(), "netd exited")
        return errors

    def log_text(self):
        self.netd_log.flush()
        with open(self.netd_log.name) as f:
            return f.read()

    def netd_pid(self):
        """The pid of proxygw-netd itself (ip netns exec execs it in place)."""
        return self.netd.pid

    def client(self, uid=ENGINE_UID, gid=None):
        c = NetdClient(self.procs, self.topo, self.sock, uid, gid)
        self.addCleanup(c.close)
        return c

    def load_cpus(self, seconds):
        """Keeps every CPU busy beside the test: one busy loop per CPU, each
        ending by itself after `seconds` and stopped at cleanup if still
        running. For behaviour that depends on load (issue 10, item 3)."""
        loop = "import time\nend = time.monotonic() + %g\nwhile time.monotonic() < end: pass\n"
        for _ in range(os.cpu_count() or 1):
            self.procs.start([sys.executable, "-c", loop % seconds])

    def nft_list(self):
        return self.topo.exec(self.topo.gw, ["nft", "list", "table", "inet", "proxygw"],
                              check=False).stdout

    # --- traffic helpers (run nshelper.py inside a namespace) ---
    def helper(self, ns, *args, timeout=30):
        return run(["ip", "netns", "exec", ns, sys.executable, NS_HELPER] + [str(a) for a in args],
                   check=False, timeout=timeout)

    def ns_clients(self, *args):
        """Starts nshelper.py `args` in the client namespace in the background;
        .result() waits for it and gives the JSON it printed."""
        p = self.procs.start(["ip", "netns", "exec", self.topo.client, sys.executable, NS_HELPER] +
                             [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)

        def result(wait=120):
            out, err = p.communicate(timeout=wait)
            self.assertTrue(out.strip(), "clients printed nothing: %s" % err)
            return json.loads(out)
        p.result = result
        return p

    def serve(self, *spec, ns=None):
        """Starts backend servers: ('tcp', '198.18.2.2', 80, 'name'), ...; in
        the backend namespace unless `ns` is given."""
        args = ["ip", "netns", "exec", ns or self.topo.backend, sys.executable, NS_HELPER, "serve"]
        for s in spec:
            args += ["%s:%s:%s:%s" % s]
        p = self.procs.start(args, stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        self.assertEqual(line.strip(), "ready", "backend servers did not start")
        return p

    def fetch(self, proto, addr, port, ns=None, timeout=5):
        """One request; the backend's answer, or an error string."""
        r = self.helper(ns or self.topo.client, "fetch", proto, addr, port, timeout)
        return r.stdout.strip() or r.stderr.strip()
