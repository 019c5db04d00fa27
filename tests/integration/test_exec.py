"""static:exec under the real engine and netd (issue 16, item 2): a backend
that lives outside the engine (a VM, an instance, a container), started and
stopped by commands that run to completion. Here the "VM" is a server that
`start` launches in a session of its own and `stop` kills: it outlives the
start command, as a VM outlives `virsh start`."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import ENGINE_UID, NS_HELPER, wait_for  # noqa: E402
from test_engine import EngineTestCase  # noqa: E402

MARKER = "serve tcp:198.18.100.1:7201:pgw-exec-backend"


def read_env(path):
    with open(path) as f:
        return dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l)


class ExecCase(EngineTestCase):
    def setUp(self):
        super().setUp()
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        os.chown(self.work, ENGINE_UID, ENGINE_UID)
        self.addCleanup(lambda: [os.kill(p, 9) for p in self.backend_pids(MARKER)])

    def config(self, start, stop, extra=""):
        def q(s):
            return "'" + s.replace("'", "''") + "'"
        return self.write_config(
            "targets:\n"
            "  - name: vm\n"
            "    kind: static:exec\n"
            "    idle_timeout: 5m\n"
            "    endpoints: [{name: game, protocol: tcp, address: '198.18.100.1:7201'}]\n"
            "    options:\n"
            "      start: %s\n"
            "      stop: %s\n%s"
            "frontends:\n"
            "  - {name: vm, kind: 'static:http', listen: '0.0.0.0:7200', flow_timeout: 60s,"
            " target: 'vm:game', options: {content: starting}}\n" % (q(start), q(stop), extra))

    def launch(self):
        """A start command that leaves a server running, as `virsh start` does."""
        return ("env > %s/start.env; setsid -f %s %s %s </dev/null >/dev/null 2>&1; echo booting"
                % (self.work, sys.executable, NS_HELPER, MARKER))

    def kill(self):
        return "env > %s/stop.env; pkill -f '%s'" % (self.work, MARKER)


class ExecTarget(ExecCase):
    def test_start_stop_and_check_run_with_the_targets_environment(self):
        self.config(self.launch(), self.kill(),
                    "      check: env > %s/c.tmp && mv %s/c.tmp %s/check.env; pgrep -f '%s' >/dev/null\n"
                    "      check_interval: 1s\n"
                    "      environment: {REGION: eu-west-1}\n" % ((self.work,) * 3 + (MARKER,)))
        self.start_engine()
        self.ctl("warm", "vm")
        self.wait_state("vm", "active")
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 7200), "pgw-exec-backend")
        self.assertIn("line=booting", self.engine_text())
        wait_for(lambda: os.path.exists(os.path.join(self.work, "check.env")), 20,
                 what="the check to run")
        for action in ("start", "check"):
            env = read_env(os.path.join(self.work, action + ".env"))
            self.assertEqual((env.get("PROXYGW_TARGET"), env.get("PROXYGW_ACTION"),
                              env.get("PROXYGW_ENDPOINT_GAME"), env.get("REGION")),
                             ("vm", action, "198.18.100.1:7201", "eu-west-1"))
        time.sleep(3)  # a few checks pass: the target stays up
        self.assertEqual(self.target("vm")["state"], "active")
        self.ctl("drain", "vm")
        self.wait_state("vm", "inactive")
        self.assertEqual(read_env(os.path.join(self.work, "stop.env")).get("PROXYGW_ACTION"),
                         "stop")
        wait_for(lambda: self.backend_pids(MARKER) == [], 15, what="the server stopped")

    def test_a_failing_start_fails_the_warm_with_its_message_and_runs_stop(self):
        self.config("echo 'error: failed to get domain vm1' >&2; exit 1",
                    "touch %s/stopped" % self.work)
        self.start_engine()
        self.ctl("warm", "vm", check=False)
        wait_for(lambda: "failed to get domain vm1" in self.target("vm").get("last_error", ""),
                 30, what="the start's message as the target's error")
        self.assertEqual(self.target("vm")["state"], "inactive")
        self.assertIn("exit status 1", self.target("vm")["last_error"])
        wait_for(lambda: os.path.exists(os.path.join(self.work, "stopped")), 20,
                 what="stop after a failed start")

    def test_a_hanging_command_is_killed_at_its_timeout(self):
        self.config("exec %s -c 'import time; time.sleep(3600)' pgw-exec-hang" % sys.executable,
                    "true", "      timeout: 2s\n")
        self.start_engine()
        self.ctl("warm", "vm", check=False)
        wait_for(lambda: "start timed out after 2s" in self.target("vm").get("last_error", ""),
                 30, what="the start to time out")
        self.assertEqual(self.target("vm")["state"], "inactive")
        wait_for(lambda: self.backend_pids("pgw-exec-hang") == [], 15,
                 what="the hanging command killed")

    def test_a_failing_check_makes_the_target_inactive(self):
        self.config(self.launch(), self.kill(),
                    "      check: test ! -e %s/gone\n"
                    "      check_interval: 1s\n" % self.work)
        self.start_engine()
        self.ctl("warm", "vm")
        self.wait_state("vm", "active")
        open(os.path.join(self.work, "gone"), "w").close()
        self.wait_state("vm", "inactive")
        self.assertIn("check failed", self.target("vm")["last_error"])


if __name__ == "__main__":
    unittest.main()
