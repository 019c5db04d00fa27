"""static:hold end to end (issue 12): the real engine and netd, a static:cmd
backend the engine starts, and real TCP and UDP clients in the client
namespace that connect once, with no retry of their own. The client's first
packet waits in the kernel while the backend starts; then it reaches it."""
import datetime
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import NS_HELPER, wait_for  # noqa: E402
from test_engine import EngineTestCase  # noqa: E402

BACKEND = "198.18.100.1"


class HoldTestCase(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.starts = os.path.join(self.tmp, "starts")

    def backend_command(self, delay, *specs, fail=False):
        """A backend that records each start, waits `delay` seconds, then
        serves `specs` ("tcp:8081:name" on BACKEND, or "tcp:[ADDR]:8081:name");
        or, with `fail`, records the time and exits 1."""
        record = "echo start >> %s; sleep %s; " % (self.starts, delay)
        if fail:
            return record + "date +%%s.%%N > %s/failed_at; exit 1" % self.tmp
        serve = " ".join(s if s.count(":") > 2 else s.replace(":", ":%s:" % BACKEND, 1)
                         for s in specs)
        return record + "exec %s %s serve %s" % (sys.executable, NS_HELPER, serve)

    def configure(self, command, frontends, endpoints=None, idle="30s", ready="30s",
                  extra_target_options=""):
        endpoints = endpoints or "[{name: tcp, protocol: tcp, address: '%s:8081'}]" % BACKEND
        os.chmod(self.tmp, 0o777)  # the backend (engine's uid) records its starts here
        self.write_config(
            "targets:\n"
            "  - name: game\n"
            "    kind: static:cmd\n"
            "    idle_timeout: %s\n"
            "    ready_timeout: %s\n"
            "    endpoints: %s\n"
            "    options:\n"
            "      command: \"%s\"\n"
            "      stop_timeout: 5s\n%s"
            "frontends:\n%s" % (idle, ready, endpoints, command.replace('"', '\\"'),
                                extra_target_options, frontends))
        self.start_engine()

    def starts_count(self):
        try:
            with open(self.starts) as f:
                return len(f.read().split())
        except FileNotFoundError:
            return 0

    def clients(self, proto, port, n=1, timeout=30, mode="once"):
        return self.ns_clients(*([mode, proto, "198.18.1.1", port, n, timeout] if mode == "once"
                                 else [mode, "198.18.1.1", port, timeout]))

    def frontend(self, name="game"):
        for f in self.status().get("frontends", []):
            if f["name"] == name:
                return f
        raise AssertionError("no frontend %s" % name)

    def wait_knocked(self):
        wait_for(lambda: self.frontend().get("knocks", 0) >= 1, 30,
                 what=lambda: "a knock (log:\n%s)" % self.engine_text()[-3000:])


TCP_HOLD = ("  - {name: game, kind: 'static:hold', listen: '0.0.0.0:8080', flow_timeout: 5s,"
            " target: 'game:tcp'%s}\n")


class HoldTcp(HoldTestCase):
    def test_one_connect_waits_for_a_backend_that_starts_in_two_seconds(self):
        self.configure(self.backend_command(2, "tcp:8081:be-game"), TCP_HOLD % "")
        self.assertEqual(self.target("game")["state"], "inactive")
        r = self.clients("tcp", 8080).result()
        self.assertEqual((r["ok"], r["refused"], r["answers"]), (1, 0, ["be-game"]), r)
        self.assertGreaterEqual(r["ok_max_s"], 2, r)  # it did wait for the start
        self.assertEqual(self.starts_count(), 1)
        self.assertEqual(self.target("game")["state"], "active")
        f = self.frontend()
        self.assertGreaterEqual(f["knocks"], 1, f)
        self.assertEqual(f["last_knock_from"], "198.18.1.2", f)
        log = self.engine_text()
        self.assertIn("knock: a client is held; warming the target", log)
        self.assertIn("held clients released into forwarding", log)

    def test_two_hundred_clients_in_one_cold_start_all_connect_with_one_warm(self):
        self.configure(self.backend_command(2, "tcp:8081:be-game"), TCP_HOLD % "")
        r = self.clients("tcp", 8080, n=200, timeout=60).result(wait=180)
        self.assertEqual((r["ok"], r["refused"], r["timeout"], r["other"]), (200, 0, 0, 0), r)
        self.assertEqual(self.starts_count(), 1)

    def test_a_source_outside_allow_does_not_wake_and_is_refused(self):
        self.configure(self.backend_command(0, "tcp:8081:be-game"),
                       TCP_HOLD % ", options: {allow: ['198.18.3.0/24', '2001:db8:3::/48']}")
        r = self.clients("tcp", 8080, timeout=10).result()
        self.assertEqual(r["refused"], 1, r)
        self.assertLess(r["fail_max_s"], 2, r)
        time.sleep(1)
        self.assertEqual(self.starts_count(), 0)
        self.assertEqual(self.target("game")["state"], "inactive")
        self.assertEqual(self.frontend().get("knocks"), 0)

    def test_a_failed_warm_refuses_held_clients_within_100ms(self):
        self.configure(self.backend_command(1, fail=True), TCP_HOLD % ", options: {hold: 60s}")
        r = self.clients("tcp", 8080, n=3, timeout=30).result()
        self.assertEqual(r["refused"], 3, r)
        # The failure is when the engine learns that the command exited (its
        # log line's time; the same wall clock as the client's).
        log = self.engine_text()
        line = [ln for ln in log.splitlines() if 'msg="backend stopped"' in ln][0]
        stamp = line.split()[0][len("time="):]
        failed_at = datetime.datetime.fromisoformat(stamp).timestamp()
        self.assertLess(r["first_fail_at"] - failed_at, 0.1, (r, line, log[-3000:]))
        self.assertIn("held clients refused", log)

    def test_a_hold_shorter_than_the_start_refuses_when_it_runs_out(self):
        self.configure(self.backend_command(8, "tcp:8081:be-game"), TCP_HOLD % ", options: {hold: 2s}")
        r = self.clients("tcp", 8080, timeout=30).result()
        self.assertEqual(r["refused"], 1, r)
        self.assertGreaterEqual(r["fail_max_s"], 1.9, r)
        self.assertLess(r["fail_max_s"], 8, r)

    def test_netd_killed_while_clients_are_held_refuses_none(self):
        self.configure(self.backend_command(5, "tcp:8081:be-game"), TCP_HOLD % "")
        cl = self.clients("tcp", 8080, n=3, timeout=60)
        self.wait_knocked()
        os.kill(self.netd_pid(), signal.SIGKILL)
        self.netd.wait(timeout=10)
        time.sleep(1)
        self.start_netd()
        r = cl.result()
        self.assertEqual((r["ok"], r["refused"], r["answers"]), (3, 0, ["be-game"]),
                         (r, self.engine_text()[-5000:], self.log_text()[-3000:]))
        self.assertEqual(self.starts_count(), 1)

    def test_the_engine_killed_while_clients_are_held_completes_the_warm_after_restart(self):
        # A backend the test runs itself (static:none): the warm is the wait
        # for it to listen, which the restarted engine takes up again.
        self.write_config(
            "targets:\n"
            "  - {name: game, kind: 'static:none', idle_timeout: 30s, ready_timeout: 30s,"
            " endpoints: [{name: tcp, protocol: tcp, address: '198.18.2.2:8081'}]}\n"
            "frontends:\n" + TCP_HOLD % "")
        self.start_engine()
        cl = self.clients("tcp", 8080, n=3, timeout=60)
        self.wait_knocked()
        self.assertEqual(self.target("game")["state"], "warming")
        self.engine.send_signal(signal.SIGKILL)
        self.engine.wait(timeout=10)
        self.start_engine()
        wait_for(lambda: self.target("game")["state"] == "warming", 20,
                 what=lambda: "the restarted engine warming (log:\n%s)" % self.engine_text())
        self.serve(("tcp", "198.18.2.2", 8081, "be-game"))
        r = cl.result()
        self.assertEqual((r["ok"], r["refused"], r["answers"]), (3, 0, ["be-game"]),
                         (r, self.engine_text()[-5000:], self.log_text()[-3000:]))
        self.wait_state("game", "active")


class HoldDualStack(HoldTestCase):
    def test_one_ipv6_and_one_ipv4_client_held_by_one_frontend_and_one_warm(self):
        # `[::]:P` with an endpoint of both families: keys of both, held alike.
        self.configure(self.backend_command(2, "tcp:8081:be-game4", "tcp:[2001:db8:100::1]:8081:be-game6"),
                       "  - {name: game, kind: 'static:hold', listen: '[::]:8080', flow_timeout: 5s,"
                       " target: 'game:tcp'}\n",
                       endpoints="[{name: tcp, protocol: tcp, addresses: ['%s:8081', '[2001:db8:100::1]:8081']}]"
                       % BACKEND)
        v6 = self.ns_clients("once", "tcp", "2001:db8:1::1", 8080, 1, 30)
        v4 = self.clients("tcp", 8080)
        r6, r4 = v6.result(), v4.result()
        self.assertEqual((r6["ok"], r6["refused"], r6["answers"]), (1, 0, ["be-game6"]), r6)
        self.assertEqual((r4["ok"], r4["refused"], r4["answers"]), (1, 0, ["be-game4"]), r4)
        self.assertEqual(self.starts_count(), 1)


UDP_ENDPOINTS = ("[{name: tcp, protocol: tcp, address: '%s:8081'},"
                 " {name: udp, protocol: udp, address: '%s:5301'}]" % (BACKEND, BACKEND))
UDP_HOLD = ("  - {name: game, kind: 'static:hold', listen: '198.18.1.1:5300', flow_timeout: 5s,"
            " target: 'game:udp'%s}\n")


class HoldUdp(HoldTestCase):
    # The target's TCP endpoint is its readiness check: the backend serves it
    # once its UDP socket is bound too.
    def test_the_first_datagram_is_answered(self):
        self.configure(self.backend_command(2, "udp:5301:be-udp", "tcp:8081:be-game"),
                       UDP_HOLD % "", endpoints=UDP_ENDPOINTS)
        r = self.clients("udp", 5300, timeout=30).result()
        self.assertEqual((r["ok"], r["answers"]), (1, ["be-udp"]), r)
        self.assertEqual(self.starts_count(), 1)

    def test_a_client_sending_from_one_socket_while_cold_reaches_the_backend(self):
        # Held a second at a time, then refused: the refusals leave an
        # un-NATed conntrack entry that must not outlive the cold start.
        self.configure(self.backend_command(4, "udp:5301:be-udp", "tcp:8081:be-game"),
                       UDP_HOLD % ", options: {hold: 1s}", endpoints=UDP_ENDPOINTS)
        r = self.clients("udp", 5300, timeout=40, mode="udp-keep").result()
        self.assertEqual(r["answer"], "be-udp", r)
        self.assertGreaterEqual(r["refused"], 1, r)


class HoldFreeze(HoldTestCase):
    def state_of(self, pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return None

    def test_a_frozen_backend_is_woken_by_a_held_client_with_sigcont(self):
        self.configure(self.backend_command(0, "tcp:8081:be-game"), TCP_HOLD % "", idle="2s",
                       extra_target_options="      idle: freeze\n")
        r = self.clients("tcp", 8080).result()
        self.assertEqual(r["answers"], ["be-game"], r)
        pids = self.backend_pids("serve tcp:%s:8081:be-game" % BACKEND)
        self.assertEqual(len(pids), 1, pids)
        wait_for(lambda: self.target("game")["state"] == "inactive", 40, what="idle drain")
        wait_for(lambda: self.state_of(pids[0]) == "T", 10, what="backend stopped (state T)")
        r = self.clients("tcp", 8080).result()
        self.assertEqual((r["ok"], r["answers"]), (1, ["be-game"]), r)
        self.assertEqual(self.backend_pids("serve tcp:%s:8081:be-game" % BACKEND), pids)
        self.assertNotEqual(self.state_of(pids[0]), "T")
        self.assertIn("backend resumed (SIGCONT)", self.engine_text())
        self.assertEqual(self.starts_count(), 1)


if __name__ == "__main__":
    unittest.main()
