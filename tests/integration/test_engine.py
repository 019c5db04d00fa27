"""proxygw-engine with the real proxygw-netd, real plugins, real processes and
real traffic between namespaces (issue 4's integration tests).

The engine runs as an unprivileged user (uid 65533) in the gateway namespace,
exactly as in production; netd runs as 65534; proxygwctl talks to the ctl
socket."""
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import (ENGINE_UID, NS_HELPER, NetdTestCase, binary, run, wait_for)  # noqa: E402


class EngineTestCase(NetdTestCase):
    """A topology, netd, and an engine with a config written by the test."""

    def setUp(self):
        super().setUp()
        self.run_dir = os.path.join(self.tmp, "run")
        self.state_dir = os.path.join(self.tmp, "state")
        for d in (self.run_dir, self.state_dir):
            os.mkdir(d)
            os.chown(d, ENGINE_UID, ENGINE_UID)
        self.ctl_sock = os.path.join(self.run_dir, "ctl.sock")
        self.engine = None

    def write_config(self, body, plugins=""):
        """Writes the config (`plugins`: more lines of its plugins section)
        and checks it with --check-config."""
        head = ("version: v1\n"
                "log: {output: stderr, level: DEBUG}\n"
                "netd: {socket: %s, user: pgw-test-netd}\n"
                "engine: {user: pgw-test-engine, state_dir: %s}\n"
                "plugins:\n  ctl: {socket: %s}\n  static: {}\n%s" % (
                    self.sock, self.state_dir, self.ctl_sock, plugins))
        path = os.path.join(self.tmp, "proxygw.yaml")
        with open(path, "w") as f:
            f.write(head + body)
        os.chmod(path, 0o644)
        p = run([binary("proxygw-engine"), "--check-config", path], check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.config = path
        return path

    def start_engine(self, log_file=None):
        """Starts the engine; waits until it serves, as its stdout says (or
        `log_file`, for a config whose log.output is that file)."""
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = "detect_leaks=0:" + env.get("ASAN_OPTIONS", "")
        self.engine_log = open(os.path.join(self.tmp, "engine-%d.log" % time.monotonic_ns()), "w+")
        self.addCleanup(self.engine_log.close)
        self.engine = self.procs.start(
            ["ip", "netns", "exec", self.topo.gw, "setpriv", "--reuid", str(ENGINE_UID),
             "--regid", str(ENGINE_UID), "--clear-groups", binary("proxygw-engine"),
             "--config", self.config],
            stdout=self.engine_log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for(lambda: 'msg=serving' in (self.engine_text() if log_file is None
                                               else self.file_text(log_file)),
                     20, what="engine serving")
        except AssertionError:
            raise AssertionError("engine did not start; its log:\n" + self.engine_text())
        return self.engine

    @staticmethod
    def file_text(path):
        """The text of `path`, or "" when it does not exist (yet)."""
        try:
            with open(path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def engine_text(self):
        self.engine_log.flush()
        with open(self.engine_log.name) as f:
            return f.read()

    def ctl(self, *args, check=True):
        p = run([binary("proxygwctl"), "--socket", self.ctl_sock] + list(args), check=False)
        if check and p.returncode != 0:
            raise AssertionError("proxygwctl %s: exit %d: %s\nengine log:\n%s" % (
                " ".join(args), p.returncode, p.stderr, self.engine_text()))
        return p

    def status(self):
        return json.loads(self.ctl("status").stdout)

    def target(self, name):
        for t in self.status().get("targets", []):
            if t["name"] == name:
                return t
        raise AssertionError("no target %s in status" % name)

    def wait_state(self, name, state, timeout=30):
        wait_for(lambda: self.target(name)["state"] == state, timeout,
                 what=lambda: "target %s %s (log:\n%s)" % (name, state, self.engine_text()[-3000:]))

    def backend_pids(self, marker):
        out = run(["pgrep", "-f", marker], check=False).stdout.split()
        return [int(p) for p in out]


class HttpWarmsCmd(EngineTestCase):
    def test_a_web_request_warms_a_command_backend_which_then_idles_out(self):
        # The backend: a real HTTP server the engine starts, on a gateway
        # address that is not loopback.
        self.write_config(
            "targets:\n"
            "  - name: web\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 4s\n"
            "    ready_timeout: 20s\n"
            "    endpoints: [{name: http, protocol: tcp, address: '198.18.100.1:8081'}]\n"
            "    options:\n"
            "      command: exec %s %s serve tcp:198.18.100.1:8081:pgw-web-backend\n"
            "      stop_timeout: 5s\n"
            "frontends:\n"
            "  - name: web\n"
            "    kind: static:http\n"
            "    listen: 0.0.0.0:8080\n"
            "    flow_timeout: 2s\n"
            "    target: web:http\n"
            "    options: {content: \"warming up\\n\"}\n" % (sys.executable, NS_HELPER))
        self.start_engine()
        self.assertEqual(self.target("web")["state"], "inactive")
        self.assertEqual(self.backend_pids("pgw-web-backend"), [])
        # The first request gets the page and warms the target.
        page = self.helper(self.topo.client, "http", "198.18.1.1", 8080).stdout
        self.assertIn("warming up", page)
        self.wait_state("web", "active")
        self.assertEqual(len(self.backend_pids("pgw-web-backend")), 1)
        self.assertIn("tcp . 8080 : 198.18.100.1 . 8081", self.nft_list())
        # The next connection reaches the backend through DNAT.
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8080), "pgw-web-backend")
        # While a connection is open, status shows the flow.
        hold = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, sys.executable, NS_HELPER, "hold", "tcp",
             "198.18.1.1", "8080", "1", "5"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.assertEqual(hold.stdout.readline().strip(), "open 1")
        wait_for(lambda: self.target("web")["flows"] >= 1, 20, what="flows in status")
        table = self.ctl("status", "--output", "table").stdout
        self.assertIn("web", table)
        self.assertIn("active", table)
        # Traffic keeps it active past idle_timeout.
        for _ in range(3):
            time.sleep(2)
            hold.stdin.write("ping\n")
            self.assertEqual(hold.stdout.readline().strip(), "pong 1")
        self.assertEqual(self.target("web")["state"], "active")
        hold.stdin.write("close\n")
        # No traffic: flows end (flow_timeout 2s), then idle_timeout (4s):
        # the backend process is gone and the mapping is off.
        self.wait_state("web", "inactive", timeout=40)
        wait_for(lambda: self.backend_pids("pgw-web-backend") == [], 15, what="backend gone")
        self.assertNotIn("198.18.100.1 . 8081", self.nft_list())
        self.assertIn("backend output", self.engine_text())  # its stderr reached our log
        # And the page is served again.
        self.assertIn("warming up", self.helper(self.topo.client, "http", "198.18.1.1", 8080).stdout)


class UdpAlways(EngineTestCase):
    def test_static_always_warms_a_udp_backend_and_counts_its_flows(self):
        self.write_config(
            "targets:\n"
            "  - name: game\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 4s\n"
            "    endpoints: [{name: game, protocol: udp, address: '198.18.100.1:5300'}]\n"
            "    options:\n"
            "      command: exec %s %s serve udp:198.18.100.1:5300:pgw-game-backend\n"
            "frontends:\n"
            "  - name: game\n"
            "    kind: static:always\n"
            "    listen: 0.0.0.0:5301\n"
            "    flow_timeout: 2s\n"
            "    target: game:game\n" % (sys.executable, NS_HELPER))
        self.start_engine()
        self.wait_state("game", "active")
        # UDP has no handshake: the backend may still be binding; retry.
        wait_for(lambda: self.fetch("udp", "198.18.1.1", 5301, timeout=1) == "pgw-game-backend", 20,
                 what="UDP answer through DNAT")
        wait_for(lambda: self.target("game")["flows"] >= 1, 20, what="UDP flow counted")
        # The UDP flow times out (flow_timeout 2s); static:always keeps the
        # target up past its idle_timeout, until the operator drains it.
        wait_for(lambda: self.target("game")["flows"] == 0, 30, what="UDP flow timed out")
        wait_for(lambda: "idle: no flows for idle_timeout, kept warm" in self.engine_text(), 30,
                 what="the idle timeout passed")
        self.assertEqual(self.target("game")["state"], "active")
        self.ctl("drain", "game")
        self.wait_state("game", "inactive", timeout=40)
        wait_for(lambda: self.backend_pids("pgw-game-backend") == [], 15, what="backend gone")
        self.assertNotIn("198.18.100.1 . 5300", self.nft_list())


class EngineCrash(EngineTestCase):
    def test_kill_engine_during_a_transfer_and_restart_adopts_without_disturbing(self):
        self.serve(("tcp", "198.18.2.2", 9000, "echo"))
        self.write_config(
            "targets:\n"
            "  - name: bulk\n"
            "    kind: static:none\n"
            "    idle_timeout: 5m\n"
            "    endpoints: [{name: data, protocol: tcp, address: '198.18.2.2:9000'}]\n"
            "  - name: game\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 5m\n"
            "    endpoints: [{name: game, protocol: tcp, address: '198.18.100.1:7000'}]\n"
            "    options:\n"
            "      command: exec %s %s serve tcp:198.18.100.1:7000:pgw-crash-backend\n"
            "frontends:\n"
            "  - {name: bulk, kind: 'static:always', listen: '0.0.0.0:9000', flow_timeout: 60s,"
            " target: 'bulk:data'}\n"
            "  - {name: game, kind: 'static:always', listen: '0.0.0.0:7000', flow_timeout: 60s,"
            " target: 'game:game'}\n" % (sys.executable, NS_HELPER))
        self.start_engine()
        self.wait_state("bulk", "active")
        self.wait_state("game", "active")
        backend = self.backend_pids("pgw-crash-backend")
        self.assertEqual(len(backend), 1)
        # A long transfer through the DNAT mapping (echoed back), 10 s long.
        transfer = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, sys.executable, NS_HELPER, "stream",
             "198.18.1.1", "9000", "10"],
            stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        self.assertIsNone(transfer.poll(), "the transfer ended too soon to test anything")
        os.kill(self.engine.pid, signal.SIGKILL)
        self.engine.wait(timeout=10)
        # The backend started by static:cmd survives the engine.
        self.assertEqual(self.backend_pids("pgw-crash-backend"), backend)
        before = self.nft_list()
        self.start_engine()
        self.assertIn("adopted as active after an engine restart", self.engine_text())
        self.assertIn("took over the running backend", self.engine_text())
        wait_for(lambda: "dataplane synchronised" in self.engine_text(), 20, what="re-sync")
        self.assertIn("added=0 removed=0 unchanged=2", self.engine_text())
        self.assertEqual(self.nft_list(), before)
        out, _ = transfer.communicate(timeout=120)
        self.assertRegex(out.strip(), r"^ok \d+$", "the transfer broke")
        self.assertGreater(int(out.split()[1]), 0)
        self.assertEqual(self.target("bulk")["state"], "active")
        self.assertEqual(self.target("game")["state"], "active")
        # The restarted engine still owns the adopted backend: a drain stops it.
        self.ctl("drain", "game")
        self.wait_state("game", "inactive")
        wait_for(lambda: self.backend_pids("pgw-crash-backend") == [], 15, what="adopted backend gone")


class BackendExit(EngineTestCase):
    def test_a_backend_that_exits_on_its_own_is_reported_and_the_target_goes_inactive(self):
        self.write_config(
            "targets:\n"
            "  - name: flaky\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 5m\n"
            "    endpoints: [{name: e, protocol: udp, address: '198.18.100.1:5400'}]\n"
            "    options: {command: 'echo pgw-flaky-started; sleep 2; exit 3'}\n"
            "frontends:\n"
            "  - {name: flaky, kind: 'static:always', listen: '0.0.0.0:5401', flow_timeout: 60s,"
            " target: 'flaky:e'}\n")
        self.start_engine()
        self.wait_state("flaky", "active")
        self.assertIn("udp . 5401 : 198.18.100.1 . 5400", self.nft_list())
        # Observed together: static:always warms it again a second later, so a
        # status and a table read one after the other may straddle that.
        def inactive_and_unmapped():
            t = self.target("flaky")
            gone = t["state"] == "inactive" and "198.18.100.1 . 5400" not in self.nft_list()
            return t if gone else None
        t = wait_for(inactive_and_unmapped, 30,
                     what=lambda: "flaky inactive, its mapping off (log:\n%s)" % self.engine_text()[-3000:])
        self.assertEqual(t["last_error"], "backend exited: exit status 3")
        self.assertIn('line=pgw-flaky-started', self.engine_text())
        # static:always warms it again after a failure (with back-off).
        wait_for(lambda: self.engine_text().count("backend started") >= 2, 20, what="re-warm")


class NetdRestart(EngineTestCase):
    def test_the_engine_rides_out_a_netd_restart(self):
        self.serve(("tcp", "198.18.2.2", 80, "be-tcp4"))
        self.write_config(
            "targets:\n"
            "  - {name: web, kind: 'static:none', idle_timeout: 5m,"
            " endpoints: [{name: http, protocol: tcp, address: '198.18.2.2:80'}]}\n"
            "frontends:\n"
            "  - {name: web, kind: 'static:always', listen: '0.0.0.0:8080', flow_timeout: 60s,"
            " target: 'web:http'}\n")
        self.start_engine()
        self.wait_state("web", "active")
        wait_for(lambda: self.status()["dataplane"] == "connected", 20, what="dataplane connected")
        os.kill(self.netd_pid(), signal.SIGKILL)
        self.netd.wait(timeout=10)
        # The engine keeps serving ctl and says so; the kernel keeps forwarding.
        wait_for(lambda: self.status()["dataplane"] == "disconnected", 20, what="disconnected")
        self.assertEqual(self.target("web")["state"], "active")
        # Flow counts are unknown meanwhile: absent, not 0.
        self.assertNotIn("flows", self.target("web"))
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8080), "be-tcp4")
        # A new netd: the engine reconnects, re-syncs, nothing changes.
        self.start_netd()
        wait_for(lambda: self.status()["dataplane"] == "connected", 30, what="reconnected")
        self.assertEqual(self.engine_text().count("dataplane synchronised"), 2)
        self.assertIn("added=0 removed=0 unchanged=1", self.engine_text())
        self.assertEqual(self.target("web")["state"], "active")
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8080), "be-tcp4")


class OriginalAlways(EngineTestCase):
    def test_the_seed_readmes_always_example_stays_active_past_its_idle_timeout(self):
        # The original README's minimal example (a static:always frontend, a
        # static:cmd target) with test addresses and a 3 s idle_timeout (not
        # 5m): it drained after idle_timeout and never came back, where the
        # original kept it up.
        self.write_config(
            "targets:\n"
            "  - name: backend\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 3s\n"
            "    endpoints: [{name: http, protocol: tcp, address: '198.18.100.1:8080'}]\n"
            "    options:\n"
            "      command: exec %s %s serve tcp:198.18.100.1:8080:pgw-always-backend\n"
            "frontends:\n"
            "  - {name: public-http, kind: 'static:always', listen: '0.0.0.0:8088',"
            " flow_timeout: 60s, target: 'backend:http'}\n" % (sys.executable, NS_HELPER))
        self.start_engine()
        self.wait_state("backend", "active")
        wait_for(lambda: "idle: no flows for idle_timeout, kept warm" in self.engine_text(), 30,
                 what="the idle timeout passed")
        t = self.target("backend")
        self.assertEqual((t["state"], t["kept_warm_by"]), ("active", "public-http"))
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8088), "pgw-always-backend")
        # The operator's drain is respected: it stays cold.
        self.ctl("drain", "backend")
        self.wait_state("backend", "inactive")
        time.sleep(2)
        self.assertEqual(self.target("backend")["state"], "inactive")


class OriginalDualStack(EngineTestCase):
    def test_the_originals_pair_of_frontends_forwards_both_families(self):
        # The original README's dual-stack workaround: 0.0.0.0:P to an IPv4
        # endpoint beside [::]:P to an IPv6-only one. It used to be refused.
        self.serve(("tcp", "198.18.2.2", 80, "be-tcp4"), ("tcp", "2001:db8:2::2", 80, "be-tcp6"))
        self.write_config(
            "targets:\n"
            "  - {name: web4, kind: 'static:none', idle_timeout: 5m,"
            " endpoints: [{name: http, protocol: tcp, address: '198.18.2.2:80'}]}\n"
            "  - {name: web6, kind: 'static:none', idle_timeout: 5m,"
            " endpoints: [{name: http, protocol: tcp, address: '[2001:db8:2::2]:80'}]}\n"
            "frontends:\n"
            "  - {name: web4, kind: 'static:always', listen: '0.0.0.0:8080', flow_timeout: 60s,"
            " target: 'web4:http'}\n"
            "  - {name: web6, kind: 'static:always', listen: '[::]:8080', flow_timeout: 60s,"
            " target: 'web6:http'}\n")
        self.start_engine()
        self.wait_state("web4", "active")
        self.wait_state("web6", "active")
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8080), "be-tcp4")
        self.assertEqual(self.fetch("tcp", "2001:db8:1::1", 8080), "be-tcp6")


class NetdRefusesTheEngine(EngineTestCase):
    def test_a_refused_handshake_backs_off_and_is_logged_once(self):
        # Issue 11 item 3: the back-off was reset by every successful
        # connect(), so a netd refusing the handshake (here: the engine's uid
        # is not the one it lets in) was retried at ~10 Hz forever, with two
        # log lines each time.
        self.procs.stop(self.netd)
        self.start_netd(engine_uid=ENGINE_UID - 1)
        os.chmod(self.sock, 0o666)  # the engine may connect; netd's uid check refuses it
        self.write_config(
            "targets:\n"
            "  - {name: web, kind: 'static:none', idle_timeout: 5m,"
            " endpoints: [{name: http, protocol: tcp, address: '198.18.2.2:80'}]}\n"
            "frontends:\n"
            "  - {name: web, kind: 'static:http', listen: '0.0.0.0:8080', flow_timeout: 60s,"
            " target: 'web:http', options: {content: 'cold'}}\n")
        self.start_engine()
        time.sleep(4)
        refusals = self.log_text().count("refused a peer that is not the engine")
        # Back-off from 100 ms, doubling to 5 s: tries at 0, 0.1, 0.3, 0.7, 1.5, 3.1 s.
        self.assertGreaterEqual(refusals, 1, self.log_text())
        self.assertLessEqual(refusals, 7, self.log_text())
        netd_lines = [l for l in self.engine_text().splitlines()
                      if "component=netd" in l and "level=INFO" not in l]
        self.assertEqual(len(netd_lines), 1, "\n".join(netd_lines))
        self.assertIn('msg="proxygw-netd unavailable, retrying"', netd_lines[0])
        self.assertIn('error="refused by netd: permission denied: uid %d may not use netd"'
                      % ENGINE_UID, netd_lines[0])
        self.assertEqual(self.status()["dataplane"], "disconnected")
        # A netd that lets it in: connected within the longest wait (5 s).
        self.procs.stop(self.netd)
        self.start_netd()
        wait_for(lambda: self.status()["dataplane"] == "connected", 15, what="connected")


class Shutdown(EngineTestCase):
    def test_sigterm_stops_backends_and_removes_the_table(self):
        self.write_config(
            "targets:\n"
            "  - name: game\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 5m\n"
            "    endpoints: [{name: game, protocol: tcp, address: '198.18.100.1:7001'}]\n"
            "    options:\n"
            "      command: exec %s %s serve tcp:198.18.100.1:7001:pgw-stop-backend\n"
            "frontends:\n"
            "  - {name: game, kind: 'static:always', listen: '0.0.0.0:7001', flow_timeout: 60s,"
            " target: 'game:game'}\n" % (sys.executable, NS_HELPER))
        self.start_engine()
        self.wait_state("game", "active")
        os.kill(self.engine.pid, signal.SIGTERM)
        self.assertEqual(self.engine.wait(timeout=30), 0, self.engine_text())
        self.assertEqual(self.backend_pids("pgw-stop-backend"), [])
        self.assertFalse(os.path.exists(self.ctl_sock), "the ctl socket file was left behind")
        wait_for(lambda: self.netd.poll() is not None, 10, what="netd exits")
        self.assertEqual(self.nft_list(), "")


if __name__ == "__main__":
    unittest.main()
