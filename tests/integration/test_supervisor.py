"""The proxygw supervisor with the real netd and engine, as `make run` and
hosts without systemd use it (issue 5's tests). It runs as root in the gateway
namespace and starts netd as proxygw-netd and the engine as proxygw (the
users `make run` and systemd-sysusers create; created here when missing)."""
import os
import pwd
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import NS_HELPER, Processes, Topology, binary, need_root, run, wait_for  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import json  # noqa: E402


def ensure_user(name):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", name])
        return pwd.getpwnam(name)


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
        self.ctl_sock = os.path.join(self.tmp, "run", "ctl.sock")
        self.netd_sock = os.path.join(self.tmp, "netd", "netd.sock")

    def write_config(self, body, engine_user="proxygw"):
        path = os.path.join(self.tmp, "proxygw.yaml")
        with open(path, "w") as f:
            f.write("version: v1\n"
                    "log: {output: stderr}\n"
                    "netd: {socket: %s, user: proxygw-netd}\n"
                    "engine: {user: %s, state_dir: %s}\n"
                    "plugins:\n  ctl: {socket: %s}\n  static: {}\n" %
                    (self.netd_sock, engine_user, os.path.join(self.tmp, "state"), self.ctl_sock)
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
