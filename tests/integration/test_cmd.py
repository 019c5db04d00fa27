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

class CmdBackend(EngineTestCase):
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


if __name__ == "__main__":
    unittest.main()
