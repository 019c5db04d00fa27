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



class Requests(NetdTestCase):
    """The request claims: backpressure, a kernel refusal, sync totals."""

    def drain(self, c, timeout=20):
        """Every message `c` receives until netd closes it or goes quiet."""
        seen = []
        while True:
            try:
                m = c.next(timeout=timeout)
            except AssertionError:
                return seen
            if m["type"] != "send-error":  # requests sent after netd closed
                seen.append(m)
            if m["type"] in ("closed", "eof"):
                return seen

    def pipeline(self, n):
        """A new engine connection that stops reading and sends `n` requests
        (each answered with a reply); the replies it reads once it resumes."""
        c = self.client()
        c.hello()
        c.send({"op": "pause"})
        for _ in range(n):
            c.send({"op": "release", "keys": [K("tcp", "198.18.1.1:8080")]})
        return c

    def edit_while_netd_is_away(self, mappings, verb, set_name, elements, check=None):
        """Syncs `mappings`, kills netd (the table stays, orphaned), runs
        `nft <verb> element inet proxygw <set_name> <elements>`, starts netd."""
        c = self.client()
        c.hello()
        self.assertEqual(c.sync(mappings).get("added"), len(mappings))
        if check:
            check()
        os.kill(self.netd.pid, signal.SIGKILL)
        self.netd.wait(timeout=10)
        self.topo.exec(self.topo.gw, ["nft", verb, "element", "inet", "proxygw", set_name, elements])
        self.start_netd()

    def test_backpressure_an_engine_that_does_not_read_is_dropped_past_256_replies(self):
        # Past what the kernel holds for it (netd's send buffer, K replies),
        # netd queues 256 replies for an engine that does not read, then
        # disconnects it; it never reads the ones queued.
        gone = "reason=\"the engine does not read its replies\""
        c = self.pipeline(2000)
        wait_for(lambda: gone in self.log_text(), 30, what="the engine disconnected")
        c.send({"op": "resume"})
        seen = self.drain(c)
        kernel_held = len([m for m in seen if m["type"] == "reply"])
        self.assertEqual(seen[-1]["type"], "closed", seen[-3:])
        self.assertLess(kernel_held, 2000 - 256)
        # K + 256 unread replies are kept: all arrive once the engine reads...
        c = self.pipeline(kernel_held + 256)
        time.sleep(3)
        self.assertEqual(self.log_text().count(gone), 1, "disconnected within the bound")
        c.send({"op": "resume"})
        got = 0
        while got < kernel_held + 256:
            m = c.next(timeout=20)
            self.assertEqual(m["type"], "reply", m)
            got += 1
        self.assertEqual(c.call({"op": "subscribe"}).get("kind"), "empty")
        c.close()
        wait_for(lambda: self.log_text().count("engine disconnected") == 2, 10, what="closed")
        # ...one more is too many.
        c = self.pipeline(kernel_held + 257)
        wait_for(lambda: self.log_text().count(gone) == 2, 30, what="the second disconnect")
        c.send({"op": "resume"})
        seen = self.drain(c)
        self.assertEqual(len([m for m in seen if m["type"] == "reply"]), kernel_held)
        self.client().hello()  # netd serves the next engine

    def test_backpressure_flow_count_pushes_become_one_snapshot(self):
        # While replies wait for the engine, changed counts are not queued
        # behind them: once it has read them all, one snapshot (reset).
        c = self.pipeline(2000)
        wait_for(lambda: "engine disconnected" in self.log_text(), 30, what="the disconnect")
        c.send({"op": "resume"})
        kernel_held = len([m for m in self.drain(c) if m["type"] == "reply"])
        self.serve(("tcp", "198.18.2.2", 80, "be"))
        c = self.client()
        c.hello()
        self.assertEqual(c.sync([M("tcp", "198.18.1.1:8080", "198.18.2.2:80")]).get("added"), 1)
        self.assertEqual(c.call({"op": "subscribe"}).get("kind"), "empty")
        c.pump(0.5)
        c.send({"op": "pause"})
        for _ in range(kernel_held + 100):
            c.send({"op": "release", "keys": [K("tcp", "198.18.1.1:8080")]})
        time.sleep(1)
        hold = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, sys.executable, NS_HELPER, "hold", "tcp",
             "198.18.1.1", "8080", "3", "5"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.assertEqual(hold.stdout.readline().strip(), "open 3")
        time.sleep(1)
        c.send({"op": "resume"})
        order = []
        while "counts" not in order:
            m = c.lines.get(timeout=20)
            order.append(m["type"])
            if m["type"] == "counts":
                push = m
        self.assertEqual(order.count("reply"), kernel_held + 100, order)
        self.assertEqual((push["reset"], push["counts"]),
                         (True, [{"proto": "tcp", "dest": "198.18.2.2:80", "flows": 3}]), push)
        hold.stdin.write("close\n")

    def test_a_request_the_kernel_refuses_is_answered_and_the_connection_stays(self):
        # A hold set edited while netd was away (the orphaned table accepts
        # `nft`; netd does not read hold sets back): the kernel refuses netd's
        # overlapping element with EEXIST.
        self.edit_while_netd_is_away([M("tcp", "198.18.1.1:8080", "198.18.2.2:80")],
                                     "add", "hold4", "{ tcp . 198.18.1.1 . 9100 . 198.18.1.0/25 }")
        self.assertIn("table=adopted", self.log_text())
        before = self.nft_list()
        c = self.client()
        c.hello()
        r = c.call({"op": "hold", "holds": [H("tcp", "198.18.1.1:9100", allow=["198.18.1.0/24"]),
                                            H("tcp", "198.18.1.1:9101")]})
        self.assertEqual((r["type"], r["code"], r["errno"]), ("error", "kernel refused", EEXIST), r)
        self.assertIn("hold4", r["message"])
        self.assertEqual(self.nft_list(), before, "part of a refused transaction was applied")
        self.assertIn('msg="request failed" op=hold', self.log_text())
        # Same connection, next request.
        r = c.call({"op": "change", "enable": [M("tcp", "198.18.1.1:8081", "198.18.2.2:80")]})
        self.assertEqual(r.get("added"), 1, r)
        self.assertIsNone(self.netd.poll())

    def test_a_table_with_half_written_mappings_is_rebuilt_empty(self):
        self.serve(("tcp", "198.18.2.2", 80, "be"))
        # One key left in dnat4 and tmo4 but not in mark4: what no netd
        # transaction leaves.
        self.edit_while_netd_is_away([M("tcp", "198.18.1.1:8080", "198.18.2.2:80"),
                                      M("udp", "0.0.0.0:5300", "198.18.2.2:53")],
                                     "delete", "mark4", "{ tcp . 198.18.1.1 . 8080 }",
                                     check=lambda: self.assertEqual(
                                         self.fetch("tcp", "198.18.1.1", 8080), "be"))
        self.assertIn("table=rebuilt", self.log_text())
        self.assertEqual(self.client().hello()["installed"], 0)
        table = self.nft_list()
        self.assertIn('comment "proxygw-netd layout', table)
        self.assertNotIn("elements", table)
        self.assertIn("refused", self.fetch("tcp", "198.18.1.1", 8080))


class SyncTotals(NetdTestCase):
    def setUp(self):
        super().setUp()
        c = self.client()
        c.hello()
        self.assertEqual(c.sync([M("tcp", "198.18.1.1:8080", "198.18.2.2:80")]).get("added"), 1)
        c.close()
        wait_for(lambda: "engine disconnected" in self.log_text(), 10, what="first client gone")
        self.baseline = self.nft_list()

    def test_a_sync_add_past_its_total_is_refused(self):
        one = M("tcp", "198.18.1.1:8081", "198.18.2.2:80")
        two = M("tcp", "198.18.1.1:8082", "198.18.2.2:80")
        begin = {"op": "sync-begin", "total": 1}
        e = self.assert_refused([begin, {"op": "sync-add", "mappings": [one, two]}], "over limit",
                                installed=1)
        self.assertEqual(e[-1]["message"],
                         "sync-add goes past the 1 mappings and 0 holds announced by sync-begin")
        for adds in ([{"op": "sync-add", "mappings": [one]}, {"op": "sync-add", "mappings": [two]}],
                     [{"op": "sync-add", "mappings": [], "holds": [H("tcp", "198.18.1.1:9000")]}]):
            self.assert_refused([begin] + adds, "over limit", installed=1)

    def test_a_sync_commit_short_of_its_total_is_refused(self):
        e = self.assert_refused([{"op": "sync-begin", "total": 2},
                                 {"op": "sync-add", "mappings": [M("tcp", "198.18.1.1:8081",
                                                                   "198.18.2.2:80")]},
                                 {"op": "sync-commit"}], "out of order", installed=1)
        self.assertEqual(e[-1]["message"],
                         "sync-commit after 1 of the 2 mappings and 0 of the 0 holds announced")

    def test_change_hold_and_a_second_sync_begin_may_not_come_in_a_sync(self):
        for cmd in ({"op": "change", "enable": [M("tcp", "198.18.1.1:8081", "198.18.2.2:80")]},
                    {"op": "hold", "holds": [H("tcp", "198.18.1.1:9000")]},
                    {"op": "sync-begin", "total": 1}):
            e = self.assert_refused([{"op": "sync-begin", "total": 1}, cmd], "out of order",
                                    installed=1)
            self.assertEqual(e[-1]["message"], "a sync is in progress: send sync-add or sync-commit")

    def test_subscribe_only_once(self):
        e = self.assert_refused([{"op": "subscribe"}, {"op": "subscribe"}], "out of order",
                                installed=1)
        self.assertEqual(e[-1]["message"], "already subscribed")


class Framing(NetdTestCase):
    """The msgpack limits netd parses under: strings up to 512 bytes, bins up
    to 16, no ext (arrays, maps and depth are in test_netd's BadInput)."""

    def setUp(self):
        super().setUp()
        self.baseline = self.nft_list()

    def test_strings_bins_and_ext_past_their_limits_are_malformed(self):
        flush = "930601" + "91"  # [flush, id 1, [<item>]]
        for item, bad in (("da0201" + "61" * 513, True), ("da0200" + "61" * 512, False),
                          ("c411" + "00" * 17, True), ("c410" + "00" * 16, False),
                          ("d40100", True)):
            e = self.assert_refused([{"op": "raw", "hex": flush + item}], "malformed")
            self.assertEqual("bad msgpack" in e[0]["message"], bad, (item[:8], e))


class Process(NetdTestCase):
    """What netd holds once it serves, and how it exits."""

    def test_netd_holds_the_sockets_the_docs_list_and_no_other_descriptor(self):
        # The listening socket, one nfnetlink socket for nftables, two for
        # conntrack, one for nfqueue (all NETLINK_NETFILTER, 12); epoll, the
        # signalfd, route_localnet read-only; stdio.
        pid = self.netd_pid()
        links = sorted(os.readlink("/proc/%d/fd/%s" % (pid, fd))
                       for fd in os.listdir("/proc/%d/fd" % pid))
        netlink = {}  # socket inode -> netlink protocol
        for line in self.topo.exec(self.topo.gw, ["cat", "/proc/net/netlink"]).stdout.splitlines()[1:]:
            f = line.split()
            netlink[f[-1]] = int(f[1])
        sockets = [l[len("socket:["):-1] for l in links if l.startswith("socket:")]
        self.assertEqual(sorted(netlink.get(i, -1) for i in sockets), [-1, 12, 12, 12, 12], links)
        rest = [l for l in links if not l.startswith("socket:")]
        self.assertEqual([l for l in rest if l.startswith("anon_inode:")],
                         ["anon_inode:[eventpoll]", "anon_inode:[signalfd]"], links)
        # endswith: under a chroot the link names the path outside it.
        self.assertTrue([l for l in rest if l.endswith("/proc/sys/net/ipv4/conf/all/route_localnet")],
                        links)
        self.assertEqual(len(rest), 3 + 3, links)  # and stdio

    def test_a_bad_command_line_exits_2(self):
        p = run(["ip", "netns", "exec", self.topo.gw, binary("proxygw-netd"), "--bogus"], check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("proxygw-netd: unknown or incomplete option --bogus", p.stderr)

    def test_root_as_netd_s_user_is_refused(self):
        p = run(["ip", "netns", "exec", self.topo.gw, binary("proxygw-netd"), "--socket",
                 self.sock + "2", "--engine-user", str(ENGINE_UID), "--user", "0", "--no-policy"],
                check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("find users: --user must not be root", p.stderr)

    def test_sigterm_exits_0_and_the_table_stays(self):
        c = self.client()
        c.hello()
        self.assertEqual(c.sync([M("tcp", "198.18.1.1:8080", "198.18.2.2:80")]).get("added"), 1)
        self.netd.send_signal(signal.SIGTERM)
        self.assertEqual(self.netd.wait(timeout=10), 0)
        self.assertIn("tcp . 198.18.1.1 . 8080", self.nft_list())


if __name__ == "__main__":
    unittest.main()
