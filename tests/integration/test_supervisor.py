"""The proxygw supervisor with the real netd and engine, as `make run` and
hosts without systemd use it (issue 5's tests; issue 10's: what it prepares on
the file system, in directories of the test's own). It runs as root in the
gateway namespace and starts netd as proxygw-netd and the engine as proxygw
(the users `make run` and systemd-sysusers create; created here when
missing)."""
import os
import re
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import (NS_HELPER, Processes, Topology, binary, ensure_user, need_root, run,  # noqa: E402
                 wait_for)
import shutil  # noqa: E402
import tempfile  # noqa: E402
import json  # noqa: E402


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)


def children(pid):
    out = run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], check=False).stdout
    return {comm: int(p) for p, comm in (l.split(None, 1) for l in out.splitlines() if l.strip())}


class SupervisorTest(unittest.TestCase):
    _seq = 0

    def setUp(self):
        need_root(self)
        self.engine_user = ensure_user("proxygw")
        self.netd_user = ensure_user("proxygw-netd")
        self.procs = Processes()
        SupervisorTest._seq += 1
        self.topo = Topology("%03x%02x" % (os.getpid() & 0xfff, 0x80 + SupervisorTest._seq))
        self.addCleanup(self.topo.down)
        self.addCleanup(self.procs.stop_all)
        self.tmp = tempfile.mkdtemp(prefix="pgws-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.topo.up()
        # As the default config: the ctl socket in the engine's state directory.
        self.ctl_sock = os.path.join(self.tmp, "state", "ctl.sock")
        self.netd_sock = os.path.join(self.tmp, "netd", "netd.sock")

    def write_config(self, body, engine_user="proxygw", log="stderr", state_dir=None):
        path = os.path.join(self.tmp, "proxygw.yaml")
        with open(path, "w") as f:
            f.write("version: v1\n"
                    "log: {output: %s}\n"
                    "netd: {socket: %s, user: proxygw-netd}\n"
                    "engine: {user: %s, state_dir: %s}\n"
                    "plugins:\n  ctl: {socket: %s}\n  static: {}\n" %
                    (log, self.netd_sock, engine_user,
                     state_dir or os.path.join(self.tmp, "state"), self.ctl_sock)
                    + body)
        os.chmod(path, 0o644)
        return path

    def start(self, config, prefix=()):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = "detect_leaks=0:" + env.get("ASAN_OPTIONS", "")
        self.log = open(os.path.join(self.tmp, "supervisor.log"), "w+")
        self.addCleanup(self.log.close)
        self.sup = self.procs.start(
            list(prefix) + ["ip", "netns", "exec", self.topo.gw, binary("proxygw"), "--config", config],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        return self.sup

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def wait_running(self):
        try:
            wait_for(lambda: 'msg="running"' in self.text(), 60, what="supervisor running")
        except AssertionError:
            raise AssertionError("supervisor did not start:\n" + self.text())

    def status(self):
        p = run([binary("proxygwctl"), "--socket", self.ctl_sock, "status"], check=False)
        return json.loads(p.stdout) if p.returncode == 0 else {}

    def target_state(self, name):
        for t in self.status().get("targets", []):
            if t["name"] == name:
                return t["state"]
        return None

    def nft(self):
        return self.topo.exec(self.topo.gw, ["nft", "list", "table", "inet", "proxygw"], check=False).stdout

    def kids(self):
        return children(self.sup.pid)

    CONFIG = ("targets:\n"
              "  - {name: bulk, kind: 'static:none', idle_timeout: 5m,"
              " endpoints: [{name: data, protocol: tcp, address: '198.18.2.2:9000'}]}\n"
              "frontends:\n"
              "  - {name: bulk, kind: 'static:always', listen: '0.0.0.0:9000', flow_timeout: 60s,"
              " target: 'bulk:data'}\n")

    def serve_echo(self):
        p = self.procs.start(["ip", "netns", "exec", self.topo.backend, sys.executable, NS_HELPER,
                              "serve", "tcp:198.18.2.2:9000:echo"],
                             stdout=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline().strip(), "ready")

    def test_netd_gets_the_config_s_mappings_as_its_policy_and_sighup_renews_it(self):
        # Issue 13: netd refuses what the config does not declare; the
        # supervisor tells it what that is, and again after a config change.
        path = self.write_config(self.CONFIG)
        self.start(path)
        self.wait_running()
        self.assertIn("policy=1 ", self.text())
        netd = self.kids()["proxygw-netd"]
        os.kill(self.sup.pid, signal.SIGHUP)  # the same mappings: netd stays
        time.sleep(2)
        self.assertEqual(self.kids().get("proxygw-netd"), netd)
        self.write_config(self.CONFIG + "  - {name: bulk2, kind: 'static:always', listen:"
                          " '0.0.0.0:9001', flow_timeout: 60s, target: 'bulk:data'}\n")
        os.kill(self.sup.pid, signal.SIGHUP)
        wait_for(lambda: "policy=2 " in self.text(), 30, what="netd restarted with 2 mappings")
        self.assertIn("the config declares other mappings: restarting proxygw-netd", self.text())
        self.assertNotIn("proxygw-netd exited; restarting it", self.text())
        wait_for(lambda: self.kids().get("proxygw-netd") not in (None, netd), 30,
                 what="a new netd")

    def test_privileges_restarts_and_ordered_stop(self):
        self.serve_echo()
        self.start(self.write_config(self.CONFIG))
        self.wait_running()
        kids = self.kids()
        self.assertEqual(set(kids), {"proxygw-netd", "proxygw-engine"}, kids)
        netd, engine = kids["proxygw-netd"], kids["proxygw-engine"]
        ns, es = proc_status(netd), proc_status(engine)
        self.assertEqual(set(ns["Uid"].split()), {str(self.netd_user.pw_uid)})
        self.assertEqual(set(es["Uid"].split()), {str(self.engine_user.pw_uid)})
        self.assertNotEqual(ns["Uid"], es["Uid"])
        self.assertEqual(ns["CapEff"].strip(), "0000000000001000")  # cap_net_admin only
        self.assertEqual(ns["Groups"].strip(), "")
        self.assertEqual(ns["Seccomp"].strip(), "2")
        self.assertEqual(ns["NoNewPrivs"].strip(), "1")
        for key in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
            self.assertEqual(es[key].strip(), "0000000000000000", "engine %s" % key)
        self.assertEqual(es["NoNewPrivs"].strip(), "1")
        wait_for(lambda: self.target_state("bulk") == "active", 30, what="bulk active")

        # kill -9 the engine during a long transfer: restarted, transfer completes.
        transfer = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, sys.executable, NS_HELPER, "stream",
             "198.18.1.1", "9000", "10"], stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        os.kill(engine, signal.SIGKILL)
        wait_for(lambda: self.kids().get("proxygw-engine") not in (None, engine), 30,
                 what="engine restarted")
        wait_for(lambda: self.target_state("bulk") == "active", 30, what="active after restart")
        out, _ = transfer.communicate(timeout=120)
        self.assertRegex(out.strip(), r"^ok \d+$", "the transfer broke")

        # kill -9 netd: restarted, table adopted, an open connection keeps working.
        hold = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, sys.executable, NS_HELPER, "hold", "tcp",
             "198.18.1.1", "9000", "1", "5"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.assertEqual(hold.stdout.readline().strip(), "open 1")
        netd = self.kids()["proxygw-netd"]
        os.kill(netd, signal.SIGKILL)
        wait_for(lambda: self.kids().get("proxygw-netd") not in (None, netd), 30, what="netd restarted")
        wait_for(lambda: "table=adopted" in self.text(), 30, what="table adopted")
        wait_for(lambda: self.status().get("dataplane") == "connected", 30, what="engine re-synced")
        hold.stdin.write("ping\n")
        self.assertEqual(hold.stdout.readline().strip(), "pong 1", "a flow was lost")
        hold.stdin.write("close\n")

        # SIGTERM: everything gone and the table removed, in bounded time.
        pids = list(self.kids().values())
        os.kill(self.sup.pid, signal.SIGTERM)
        self.assertEqual(self.sup.wait(timeout=60), 0, self.text())
        for pid in pids:
            self.assertFalse(os.path.exists("/proc/%d" % pid), "process %d left running" % pid)
        self.assertEqual(self.nft(), "")
        self.assertFalse(os.path.exists(self.netd_sock))
        # Removed although the supervisor can no longer enter the engine's
        # 0750 directory as root.
        self.assertFalse(os.path.exists(self.ctl_sock))

    def make_dir(self, name, mode):
        """A directory of root's with `mode` (chmod: umask and sticky bit)."""
        path = os.path.join(self.tmp, name)
        os.mkdir(path)
        os.chown(path, 0, 0)
        os.chmod(path, mode)
        return path

    def refusal(self):
        """The supervisor's one line after it refused to start (exit 1, no child)."""
        self.assertEqual(self.sup.wait(timeout=30), 1, self.text())
        lines = [l for l in self.text().splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, lines)
        self.assertEqual(self.kids(), {})
        return lines[0]

    # Issue 10: the supervisor chowned and chmodded the parent of the ctl
    # socket, of netd's socket and of the log file, whoever had made it:
    # `plugins.ctl.socket: /run/proxygw.sock` handed /run to the engine user,
    # `log.output: /tmp/proxygw.log` stripped /tmp's sticky bit.
    def test_existing_directories_are_left_alone(self):
        run_like = self.make_dir("run", 0o755)     # like /run: root's, 0755
        tmp_like = self.make_dir("tmp", 0o1777)    # like /tmp: root's, sticky
        self.netd_sock = os.path.join(run_like, "proxygw-netd.sock")
        before = {d: os.stat(d) for d in (self.tmp, run_like, tmp_like)}

        def unchanged(when):
            for d, st in before.items():
                now = os.stat(d)
                self.assertEqual((now.st_uid, now.st_gid, stat.S_IMODE(now.st_mode)),
                                 (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                                 "%s changed %s" % (d, when))

        # The ctl socket and the log in either kind of directory; the third
        # start finds the log file the first one made (the engine's now).
        for ctl_dir, log_dir in ((run_like, tmp_like), (tmp_like, run_like), (run_like, tmp_like)):
            self.ctl_sock = os.path.join(ctl_dir, "proxygw.sock")
            log = os.path.join(log_dir, "proxygw.log")
            self.start(self.write_config(self.CONFIG, log=log))
            self.wait_running()
            unchanged("by the start")
            # proxygwctl works through the socket the supervisor bound.
            self.assertIn("bulk", [t["name"] for t in self.status().get("targets", [])],
                          self.text())
            sock = os.stat(self.ctl_sock)
            self.assertTrue(stat.S_ISSOCK(sock.st_mode))
            self.assertEqual((sock.st_uid, sock.st_gid, stat.S_IMODE(sock.st_mode)),
                             (self.engine_user.pw_uid, self.engine_user.pw_gid, 0o660))
            lf = os.lstat(log)
            self.assertTrue(stat.S_ISREG(lf.st_mode))
            self.assertEqual((lf.st_uid, lf.st_gid, stat.S_IMODE(lf.st_mode)),
                             (self.engine_user.pw_uid, self.engine_user.pw_gid, 0o640))
            with open(log) as f:
                self.assertIn('msg="ctl socket adopted"', f.read())
            netd = os.stat(self.netd_sock)
            self.assertEqual((netd.st_uid, netd.st_gid, stat.S_IMODE(netd.st_mode)),
                             (self.netd_user.pw_uid, self.engine_user.pw_gid, 0o660))
            state = os.stat(os.path.join(self.tmp, "state"))
            self.assertEqual((state.st_uid, stat.S_IMODE(state.st_mode)),
                             (self.engine_user.pw_uid, 0o750))

            # The supervisor keeps the socket while the engine restarts: a
            # request in that gap waits for the next engine.
            engine = self.kids()["proxygw-engine"]
            os.kill(engine, signal.SIGKILL)
            wait_for(lambda: not os.path.exists("/proc/%d" % engine), 10, what="engine reaped")
            p = run([binary("proxygwctl"), "--socket", self.ctl_sock, "--timeout", "30s",
                     "status"], check=False, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr + self.text())
            self.assertNotEqual(self.kids().get("proxygw-engine"), engine)

            os.kill(self.sup.pid, signal.SIGTERM)
            self.assertEqual(self.sup.wait(timeout=60), 0, self.text())
            unchanged("by the stop")
            self.assertFalse(os.path.exists(self.ctl_sock), "ctl socket left behind")
            self.assertFalse(os.path.exists(self.netd_sock), "netd socket left behind")
            self.assertTrue(os.path.exists(log))

    def test_a_state_dir_the_engine_cannot_write_is_refused(self):
        state = self.make_dir("state", 0o755)
        self.start(self.write_config(self.CONFIG, state_dir=state))
        line = self.refusal()
        self.assertEqual(
            line, "proxygw: engine.state_dir: user proxygw cannot write to %s (owner uid 0, mode "
            "0755); chown it to proxygw, or remove it and the supervisor creates it" % state)
        st = os.stat(state)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o755))
        self.assertEqual(os.listdir(state), [])
        # Nothing else was created either.
        self.assertEqual(sorted(os.listdir(self.tmp)), ["proxygw.yaml", "state", "supervisor.log"])

    def test_a_log_file_of_another_user_is_refused(self):
        tmp_like = self.make_dir("tmp", 0o1777)
        log = os.path.join(tmp_like, "proxygw.log")
        with open(log, "w") as f:
            f.write("not the engine's\n")
        os.chown(log, self.netd_user.pw_uid, self.netd_user.pw_gid)
        self.start(self.write_config(self.CONFIG, log=log))
        line = self.refusal()
        self.assertEqual(
            line, "proxygw: log.output: %s is owned by uid %d, neither root nor proxygw "
            "(engine.user); remove it, or choose another path" % (log, self.netd_user.pw_uid))
        st = os.stat(log)
        self.assertEqual(st.st_uid, self.netd_user.pw_uid)
        with open(log) as f:
            self.assertEqual(f.read(), "not the engine's\n")
        self.assertEqual(stat.S_IMODE(os.stat(tmp_like).st_mode), 0o1777)
        # What the supervisor had created before it looked at the log is gone.
        self.assertEqual(sorted(os.listdir(self.tmp)), ["proxygw.yaml", "supervisor.log", "tmp"])

    def test_a_log_path_that_is_a_symlink_is_refused(self):
        target = os.path.join(self.tmp, "target")
        with open(target, "w") as f:
            f.write("keep\n")
        log = os.path.join(self.tmp, "proxygw.log")
        os.symlink(target, log)
        self.start(self.write_config(self.CONFIG, log=log))
        line = self.refusal()
        self.assertEqual(line, "proxygw: log.output: %s is not a regular file; remove it, or "
                         "choose another path" % log)
        self.assertEqual(os.stat(target).st_uid, 0)

    def test_a_missing_user_is_one_line_and_exit_1(self):
        self.start(self.write_config(self.CONFIG, engine_user="pgw-no-such-user"))
        self.assertEqual(self.sup.wait(timeout=30), 1)
        lines = [l for l in self.text().splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, lines)
        self.assertIn('no user "pgw-no-such-user" (engine.user)', lines[0])
        self.assertEqual(self.kids(), {})

    def test_an_unreadable_config_is_an_error(self):
        self.start(os.path.join(self.tmp, "missing.yaml"))
        self.assertEqual(self.sup.wait(timeout=30), 1)
        self.assertIn("missing.yaml: cannot read file: No such file or directory", self.text())

    def test_netd_that_cannot_open_netlink_stops_everything(self):
        # Without CAP_NET_ADMIN netd cannot open its netlink sockets: the
        # supervisor reports it and exits, never starting the engine.
        self.start(self.write_config(self.CONFIG), prefix=["capsh", "--drop=cap_net_admin", "--", "-c", 'exec "$@"', "capsh"])
        self.assertEqual(self.sup.wait(timeout=60), 1, self.text())
        self.assertIn("proxygw: proxygw-netd did not start", self.text())
        self.assertIn("Operation not permitted", self.text())
        self.assertNotIn("started proxygw-engine", self.text())
        self.assertEqual(self.nft(), "")


if __name__ == "__main__":
    unittest.main()
