"""static:cmd backends under the real engine and netd (issue 11, items 1, 6
and 7): a drain gives a wrapper script's server its whole stop_timeout to
save, a backend inherits no descriptor or variable of the engine's but gets
the config's `environment`, and each run's output is logged once."""
import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import ENGINE_UID, HERE, wait_for  # noqa: E402
from test_engine import EngineTestCase  # noqa: E402

class CmdCase(EngineTestCase):
    """A slow-saving server as the backend, and a directory it may write."""

    def setUp(self):
        super().setUp()
        self.work = os.path.join(self.tmp, "work")
        os.mkdir(self.work)
        os.chown(self.work, ENGINE_UID, ENGINE_UID)
        # Readable by the engine's user, unlike the checkout under /root.
        self.server = os.path.join(self.tmp, "slow_save.py")
        shutil.copy(os.path.join(HERE, "slow_save.py"), self.server)
        os.chmod(self.server, 0o644)

    def config(self, command, extra=""):
        return self.write_config(
            "targets:\n"
            "  - name: game\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 5m\n"
            "    endpoints: [{name: game, protocol: tcp, address: '198.18.100.1:7101'}]\n"
            "    options:\n"
            "      command: %s\n"
            "      stop_timeout: 20s\n%s"
            "frontends:\n"
            "  - {name: game, kind: 'static:http', listen: '0.0.0.0:7100', flow_timeout: 60s,"
            " target: 'game:game', options: {content: starting}}\n" % (command, extra))

    def serve_command(self):
        return "%s %s 198.18.100.1 7101 %s/saved" % (sys.executable, self.server, self.work)


class CmdBackend(CmdCase):
    # Bug: when the shell (the group's leader) died of the drain's SIGTERM,
    # the rest of its group was SIGKILLed at once: a server started by a
    # wrapper (`server; cleanup`) lost its shutdown save.
    def test_a_drain_gives_a_wrapped_server_its_stop_timeout_to_save(self):
        self.config("'%s; true'" % self.serve_command())
        self.start_engine()
        self.ctl("warm", "game")
        self.wait_state("game", "active")
        self.ctl("drain", "game")
        self.wait_state("game", "inactive", timeout=60)
        saved = os.path.join(self.work, "saved")
        self.assertTrue(os.path.exists(saved), "the server was killed before it saved:\n" +
                        self.engine_text()[-2000:])
        self.assertEqual(self.backend_pids(self.server), [])

    # Bug: a backend inherited the engine's descriptors (the proxygwctl
    # connection that warmed it) and environment (NOTIFY_SOCKET).
    def test_a_backend_gets_three_descriptors_and_a_clean_environment(self):
        # (In a pipeline, so that the shell's own redirection does not show.)
        self.config("'ls /proc/$$/fd | cat > %s/fds; env > %s/env; exec %s'"
                    % (self.work, self.work, self.serve_command()),
                    "      environment: {GAME_MODE: survival, PATH: /usr/bin:/bin}\n")
        os.environ["NOTIFY_SOCKET"] = "/nonexistent/notify"  # as systemd would set it
        try:
            self.start_engine()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        self.ctl("warm", "game")  # from a ctl connection, open while the backend starts
        self.wait_state("game", "active")
        with open(os.path.join(self.work, "fds")) as f:
            self.assertEqual(f.read().split(), ["0", "1", "2"])
        with open(os.path.join(self.work, "env")) as f:
            env = dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l)
        self.assertEqual(env.get("GAME_MODE"), "survival")
        self.assertEqual(env.get("PATH"), "/usr/bin:/bin")
        self.assertEqual(env.get("PROXYGW_TARGET"), "game")
        self.assertNotIn("NOTIFY_SOCKET", env)
        self.assertNotIn("ASAN_OPTIONS", env)

    # Bug: each warm tailed the output files from their start, logging every
    # earlier run's output again.
    def test_each_run_of_a_backend_is_logged_once(self):
        self.config("'echo pgw-run-output; exec %s'" % self.serve_command())
        self.start_engine()
        for run in (1, 2):
            self.ctl("warm", "game")
            self.wait_state("game", "active")
            wait_for(lambda: self.engine_text().count("line=pgw-run-output") >= run, 20,
                     what="run %d's output logged" % run)
            self.ctl("drain", "game")
            self.wait_state("game", "inactive", timeout=60)
        self.assertEqual(self.engine_text().count("line=pgw-run-output"), 2, self.engine_text())


ACTIVE = 'msg="target state" target=game state=active'


def proc_state(pid):
    """The state letter of /proc/<pid>/stat (R, S, T...), or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class FrozenBackend(CmdCase):
    def config_freeze(self, frozen_for=""):
        return self.write_config(
            "targets:\n"
            "  - name: game\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 2s\n"
            "    endpoints: [{name: game, protocol: tcp, address: '198.18.100.1:7101'}]\n"
            "    options:\n"
            "      command: exec %s\n"
            "      idle: freeze\n%s"
            "frontends:\n"
            "  - {name: game, kind: 'static:http', listen: '0.0.0.0:7100', flow_timeout: 2s,"
            " target: 'game:game', options: {content: starting}}\n"
            % (self.serve_command(), ("      frozen_for: %s\n" % frozen_for) if frozen_for else ""))

    def frozen_pid(self):
        pids = self.backend_pids(self.server)
        self.assertEqual(len(pids), 1, "%r\n%s" % (pids, self.engine_text()[-4000:]))
        wait_for(lambda: proc_state(pids[0]) == "T", 20, what="backend stopped (state T)")
        return pids[0]

    def warmed(self):
        """Warms the target and waits until it was active. (With a 2 s
        idle_timeout the active state is brief: a loaded machine's status
        polls can miss it, the engine's log cannot.)"""
        before = self.engine_text().count(ACTIVE)
        self.ctl("warm", "game")
        wait_for(lambda: self.engine_text().count(ACTIVE) > before, 30, what="target active")

    def test_an_idle_backend_is_frozen_and_a_warm_resumes_the_same_process(self):
        self.config_freeze()
        self.start_engine()
        self.warmed()
        self.wait_state("game", "inactive", timeout=60)  # idle: frozen, not stopped
        pid = self.frozen_pid()
        self.warmed()
        self.assertEqual(self.backend_pids(self.server), [pid])
        self.assertIn('msg="backend resumed (SIGCONT)" target=game pid=%d' % pid,
                      self.engine_text())
        # An engine crash while frozen: the next engine adopts it frozen and
        # resumes it on a warm.
        self.wait_state("game", "inactive", timeout=60)
        self.assertEqual(self.frozen_pid(), pid)
        self.engine.kill()
        self.engine.wait(timeout=10)
        self.start_engine()
        self.assertIn("took over the frozen backend", self.engine_text())
        self.assertEqual(proc_state(pid), "T")
        self.warmed()
        self.assertEqual(self.backend_pids(self.server), [pid])
        # The engine's shutdown stops it for real, frozen or not.
        self.wait_state("game", "inactive", timeout=60)
        self.engine.terminate()
        self.assertEqual(self.engine.wait(timeout=60), 0, self.engine_text())
        self.assertEqual(self.backend_pids(self.server), [])
        self.assertTrue(os.path.exists(os.path.join(self.work, "saved")),
                        "a frozen backend was not let to save on the engine's stop")

    def test_a_backend_frozen_longer_than_frozen_for_is_stopped(self):
        self.config_freeze(frozen_for="2s")
        self.start_engine()
        self.ctl("warm", "game")
        self.wait_state("game", "active")
        self.wait_state("game", "inactive", timeout=60)
        self.frozen_pid()
        wait_for(lambda: self.backend_pids(self.server) == [], 30, what="frozen backend stopped")
        self.assertIn("backend frozen for frozen_for; stopping it", self.engine_text())
        # A warm now starts a new one.
        self.ctl("warm", "game")
        self.wait_state("game", "active")


if __name__ == "__main__":
    unittest.main()
