"""proxygwctl, the real binary, against a fake engine: ctl_test_server (the
real ctl plugin serving a scripted engine::Control, tests/ctl/) on a socket in a
temporary directory, or small Python servers that misbehave on purpose.

No namespaces and no kernel state. The permission test runs proxygwctl as uid
65534 and needs root (it is skipped otherwise). Binaries come from the build
tree in PROXYGW_BUILD_DIR (default /work/main/build).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

BUILD = os.environ.get("PROXYGW_BUILD_DIR", "/work/main/build")
NOBODY = 65534

# proxygwctl --help documents these.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_PERMISSION = 0, 1, 2, 3, 4
EXIT_UNKNOWN_TARGET, EXIT_TIMEOUT, EXIT_PROTOCOL, EXIT_RELOAD_REFUSED = 5, 6, 7, 8

# The fake engine's status (plugins/ctl/fake_control.h), as proxygwctl prints
# it: the original's shape and key order plus dataplane, flows, since,
# addresses and proxyaddresses; protocols as text in either codec.
SAMPLE_STATUS = {
    "closed": False,
    "dataplane": "connected",
    "targets": [
        {"name": "api", "kind": "static:cmd", "state": "active", "flows": 3,
         "since": "2024-05-01T12:00:00Z",
         "endpoints": [
             {"name": "dns", "protocol": "udp", "address": "198.18.2.2:53"},
             {"name": "http", "protocol": "tcp", "address": "198.18.2.2:80",
              "addresses": ["198.18.2.2:80", "[2001:db8::2]:80"]},
         ]},
        {"name": "web", "kind": "static:cmd", "state": "inactive",
         "last_error": "backend exited: status 1", "flows": 0, "since": "2024-05-01T12:01:30Z",
         "endpoints": [{"name": "http", "protocol": "tcp", "address": "198.18.2.3:8080"}]},
    ],
    "frontends": [
        {"name": "dns", "kind": "static:always", "state": "stopped",
         "last_error": "bind: address in use", "protocol": "udp", "listen": "0.0.0.0:53",
         "target_name": "api", "endpoint_name": "dns", "proxyaddress": "198.18.2.2:53"},
        {"name": "public", "kind": "static:always", "state": "running", "protocol": "tcp",
         "listen": "[::]:80", "target_name": "api", "endpoint_name": "http",
         "proxyaddress": "198.18.2.2:80",
         "proxyaddresses": ["198.18.2.2:80", "[2001:db8::2]:80"]},
    ],
}
# Python's json.dumps(indent=2) writes what nlohmann's dump(2) writes.
SAMPLE_STATUS_TEXT = json.dumps(SAMPLE_STATUS, indent=2) + "\n"


def binary(name):
    path = os.path.join(BUILD, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError("missing binary %s: build the targets proxygwctl and ctl_test_server "
                           "(or set PROXYGW_BUILD_DIR)" % path)
    return path


class FakeEngine:
    """ctl_test_server on `sock`, stopped (SIGTERM, by its pid) in stop()."""

    def __init__(self, sock, *args):
        self.proc = subprocess.Popen([binary("ctl_test_server"), "--socket", sock, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line != "ready\n":
            self.proc.kill()
            _, err = self.proc.communicate(timeout=10)
            raise RuntimeError("ctl_test_server did not start: %r %s" % (line, err))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        return self.proc.returncode


class ScriptedServer:
    """A Unix socket server in a thread: accepts connections and runs
    `handle(conn)` on each (None: never accept)."""

    def __init__(self, sock, handle, backlog=8):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(sock)
        self.sock.listen(backlog)
        self.handle = handle
        self.done = threading.Event()
        if handle is not None:
            self.thread = threading.Thread(target=self._serve, daemon=True)
            self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                self.handle(conn)

    def close(self):
        self.done.set()
        if self.handle is not None:
            self.thread.join(timeout=5)
        self.sock.close()


def read_request(conn):
    conn.settimeout(5)
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


class ProxygwctlTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="proxygwctl-test.")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "ctl.sock")
        self.cleanups = []

    def tearDown(self):
        for c in reversed(self.cleanups):
            c()
        shutil.rmtree(self.dir, ignore_errors=True)

    def engine(self, *args):
        e = FakeEngine(self.sock, *args)
        self.cleanups.append(e.stop)
        return e

    def server(self, handle, **kw):
        s = ScriptedServer(self.sock, handle, **kw)
        self.cleanups.append(s.close)
        return s

    def ctl(self, *args, **kw):
        return subprocess.run([binary("proxygwctl"), *args], capture_output=True, text=True,
                              timeout=30, **kw)

    def assertExit(self, p, code, stderr=None):
        self.assertEqual(p.returncode, code, "stdout=%r stderr=%r" % (p.stdout, p.stderr))
        if code != EXIT_OK:
            self.assertEqual(p.stdout, "")
            self.assertRegex(p.stderr, r"\Aproxygwctl: [^\n]+\n\Z")  # one line
        if stderr is not None:
            self.assertEqual(p.stderr, stderr)

    def config(self, text):
        path = os.path.join(self.dir, "proxygw.yaml")
        with open(path, "w") as f:
            f.write(text)
        return path

    # --- status -------------------------------------------------------------

    def test_status_json(self):
        self.engine()
        p = self.ctl("--socket", self.sock, "status")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(p.stdout, SAMPLE_STATUS_TEXT)

    def test_status_over_cbor_prints_text_protocols(self):
        self.engine("--codec", "cbor")
        p = self.ctl("--socket", self.sock, "--codec", "cbor", "status", "--output", "json")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(p.stdout, SAMPLE_STATUS_TEXT)

    def test_status_table(self):
        self.engine()
        p = self.ctl("--socket", self.sock, "status", "--output", "table")
        self.assertExit(p, EXIT_OK, stderr="")
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0], "engine: running, dataplane connected")
        self.assertEqual(lines[1], "")
        self.assertRegex(lines[2], r"^TARGET +KIND +STATE +FLOWS +SINCE +LAST ERROR$")
        self.assertRegex(lines[3], r"^api +static:cmd +active +3 +2024-05-01T12:00:00Z "
                                   r"\(\d+d\d*h? ago\) +-$")
        self.assertRegex(lines[4], r"^web +static:cmd +inactive +0 +2024-05-01T12:01:30Z "
                                   r"\(\d+d\d*h? ago\) +backend exited: status 1$")
        self.assertEqual(lines[5], "")
        self.assertRegex(lines[6], r"^FRONTEND +KIND +STATE +PROTO +LISTEN +TARGET +FORWARDS TO "
                                   r"+LAST ERROR$")
        self.assertRegex(lines[7], r"^dns +static:always +stopped +udp +0\.0\.0\.0:53 +api:dns "
                                   r"+198\.18\.2\.2:53 +bind: address in use$")
        self.assertRegex(lines[8], r"^public +static:always +running +tcp +\[::\]:80 +api:http "
                                   r"+198\.18\.2\.2:80, \[2001:db8::2\]:80 +-$")
        self.assertEqual(len(lines), 9)
        # Columns line up: each row's KIND starts where the header's does.
        for header, rows in ((lines[2], lines[3:5]), (lines[6], lines[7:9])):
            for row in rows:
                self.assertEqual(row.index("static:"), header.index("KIND"))

    # --- warm and drain -----------------------------------------------------

    def test_warm_and_drain(self):
        self.engine()
        p = self.ctl("--socket", self.sock, "warm", "web")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(p.stdout, 'target "web": warm requested\n')
        p = self.ctl("--socket", self.sock, "drain", "api")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(p.stdout, 'target "api": drain requested\n')

    def test_unknown_target(self):
        self.engine()
        self.assertExit(self.ctl("--socket", self.sock, "warm", "nope"), EXIT_UNKNOWN_TARGET,
                        'proxygwctl: warm request: no target named "nope"\n')
        self.assertExit(self.ctl("--socket", self.sock, "drain", "nope"), EXIT_UNKNOWN_TARGET,
                        'proxygwctl: drain request: no target named "nope"\n')

    def test_engine_refusal_is_exit_1(self):
        self.engine("--closed", "web")
        self.assertExit(self.ctl("--socket", self.sock, "warm", "web"), EXIT_ERROR,
                        'proxygwctl: warm request: target "web" is closed; it cannot warm\n')

    # --- reload ---------------------------------------------------------------

    def test_reload_prints_the_plan(self):
        self.engine()
        p = self.ctl("--socket", self.sock, "reload")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(p.stdout, "config reloaded\n"
                                   "targets added: game\n"
                                   "targets changed: web\n"
                                   "targets unchanged: api\n"
                                   "frontends added: game\n"
                                   "frontends changed: public\n"
                                   "frontends unchanged: dns\n"
                                   "targets remapped: api\n")

    def test_a_refused_reload_prints_its_errors_and_exits_8(self):
        self.engine("--refuse-reload")
        p = self.ctl("--socket", self.sock, "reload")
        self.assertEqual(p.returncode, EXIT_RELOAD_REFUSED, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr,
                         '/etc/proxygw/proxygw.yaml:12:15: targets[1].idle_timeout: must be at '
                         'least 1s, got "0s"\n'
                         '/etc/proxygw/proxygw.yaml: netd.socket: changed from "/run/a.sock" to '
                         '"/run/b.sock"; this needs a restart of proxygw (the engine\'s connection '
                         'to proxygw-netd is set up at start)\n'
                         'proxygwctl: reload refused (2 errors); the running config stays\n')

    # --- connection problems ------------------------------------------------

    def test_engine_not_running_no_socket(self):
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_NOT_RUNNING,
                        'proxygwctl: ctl socket "%s": the engine is not running '
                        '(connect: No such file or directory)\n' % self.sock)

    def test_engine_not_running_stale_socket(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.sock)  # a file, nobody listening: what a killed engine leaves
        self.cleanups.append(s.close)
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_NOT_RUNNING,
                        'proxygwctl: ctl socket "%s": the engine is not running '
                        '(connect: Connection refused)\n' % self.sock)

    def test_engine_stopped_removes_its_socket(self):
        e = self.engine()
        self.assertTrue(os.path.exists(self.sock))
        self.assertEqual(e.stop(), 0)
        self.assertFalse(os.path.exists(self.sock))
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_NOT_RUNNING)

    def test_permission_denied(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run proxygwctl as another user")
        self.engine("--mode", "0660")  # root:root 0660
        st = os.stat(self.sock)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o660))
        # A copy the unprivileged user can surely execute.
        ctl = os.path.join(self.dir, "proxygwctl")
        shutil.copy(binary("proxygwctl"), ctl)
        os.chmod(ctl, 0o755)
        p = subprocess.run([ctl, "--socket", self.sock, "status"], capture_output=True, text=True,
                           timeout=30, user=NOBODY, group=NOBODY, extra_groups=[])
        self.assertExit(p, EXIT_PERMISSION,
                        'proxygwctl: ctl socket "%s": permission denied (run as a user the '
                        "socket's mode lets in, such as root or a member of its group)\n"
                        % self.sock)
        # Root gets in.
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_OK)

    def test_a_user_the_mode_lets_in_is_refused_by_the_allow_lists(self):
        # Bug: the socket's mode was the only authorization (SO_PEERCRED was
        # logged, not checked): with 0666 any local user could drain targets.
        if os.geteuid() != 0:
            self.skipTest("needs root to run proxygwctl as another user")
        self.engine("--mode", "0666")  # root:root 0666; the engine runs as root
        ctl = os.path.join(self.dir, "proxygwctl")
        shutil.copy(binary("proxygwctl"), ctl)
        os.chmod(ctl, 0o755)
        os.chmod(self.dir, 0o755)
        p = subprocess.run([ctl, "--socket", self.sock, "drain", "web"], capture_output=True,
                           text=True, timeout=30, user=NOBODY, group=NOBODY, extra_groups=[])
        self.assertExit(p, EXIT_PERMISSION,
                        "proxygwctl: drain request: uid %d may not use the control socket: only "
                        "root, the engine's user and members of its group may (see "
                        "plugins.ctl.allow_users and allow_groups)\n" % NOBODY)

    def test_timeout_waiting_for_the_answer(self):
        self.server(None)  # listens, never accepts, never answers
        start = time.monotonic()
        p = self.ctl("--socket", self.sock, "--timeout", "500ms", "status")
        elapsed = time.monotonic() - start
        self.assertExit(p, EXIT_TIMEOUT,
                        'proxygwctl: ctl socket "%s": no answer within 500ms (waiting for the '
                        'answer; see --timeout): Connection timed out\n' % self.sock)
        self.assertGreaterEqual(elapsed, 0.5)
        self.assertLess(elapsed, 5)

    def test_timeout_connecting_to_a_full_backlog(self):
        self.server(None, backlog=0)
        # With a backlog of 0, one waiting connection fills the queue.
        filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        filler.connect(self.sock)
        self.cleanups.append(filler.close)
        p = self.ctl("--socket", self.sock, "--timeout", "300ms", "status")
        self.assertExit(p, EXIT_TIMEOUT,
                        'proxygwctl: ctl socket "%s": no answer within 300ms (the engine does '
                        'not accept connections; see --timeout): Connection timed out\n' % self.sock)

    def test_timeout_default_is_five_seconds(self):
        self.server(None)
        start = time.monotonic()
        p = self.ctl("--socket", self.sock, "status")
        self.assertExit(p, EXIT_TIMEOUT)
        self.assertIn("no answer within 5s", p.stderr)
        self.assertGreaterEqual(time.monotonic() - start, 5)

    # --- protocol errors ----------------------------------------------------

    def test_garbage_answer_is_a_protocol_error(self):
        def handle(conn):
            read_request(conn)
            conn.sendall(b"hello\n")
        self.server(handle)
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_PROTOCOL,
                        'proxygwctl: ctl socket "%s": cannot read the engine\'s answer: invalid '
                        "JSON: a packet must be an object, got 'h'\n" % self.sock)

    def test_hang_up_without_answer_is_a_protocol_error(self):
        self.server(read_request)
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_PROTOCOL,
                        'proxygwctl: ctl socket "%s": the engine closed the connection before '
                        "answering\n" % self.sock)

    def test_codec_mismatch_is_a_protocol_error(self):
        self.engine("--codec", "cbor")
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_PROTOCOL,
                        'proxygwctl: ctl socket "%s": cannot read the engine\'s answer: invalid '
                        "JSON: a packet must be an object, got byte 0xa3\n" % self.sock)

    def test_engine_that_cannot_read_the_request_is_a_protocol_error(self):
        def handle(conn):
            read_request(conn)
            conn.sendall(b'{"id":0,"method":1,"body":{"msg":"invalid JSON: something",'
                         b'"code":"protocol_error"}}\n')
        self.server(handle)
        self.assertExit(self.ctl("--socket", self.sock, "status"), EXIT_PROTOCOL,
                        "proxygwctl: status request: invalid JSON: something\n")

    def test_original_engine_answers_are_understood(self):
        # What the Go engine sends: no additions; warm was "unsupported".
        seen = []

        def handle(conn):
            req = json.loads(read_request(conn))
            seen.append(req)
            if req["method"] == 2:
                conn.sendall(b'{"id":1,"method":3,"body":{"closed":false,"targets":[{"name":'
                             b'"backend","kind":"static:cmd","state":"inactive","endpoints":[{'
                             b'"name":"http","protocol":"tcp","address":"127.0.0.1:8080"}]}]}}\n')
            else:
                conn.sendall(b'{"id":1,"method":1,"body":{"msg":"unsupported method 8"}}\n')
        self.server(handle)
        p = self.ctl("--socket", self.sock, "status")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(json.loads(p.stdout), {
            "closed": False,
            "targets": [{"name": "backend", "kind": "static:cmd", "state": "inactive",
                         "endpoints": [{"name": "http", "protocol": "tcp",
                                        "address": "127.0.0.1:8080"}]}]})
        p = self.ctl("--socket", self.sock, "status", "--output", "table")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertRegex(p.stdout, r"\nbackend +static:cmd +inactive +- +- +-\n")
        self.assertExit(self.ctl("--socket", self.sock, "warm", "backend"), EXIT_ERROR,
                        "proxygwctl: warm request: unsupported method 8\n")
        self.assertEqual(seen[0], {"id": 1, "method": 2, "body": {}})
        self.assertEqual(seen[-1], {"id": 1, "method": 8, "body": {"name": "backend"}})

    # --- finding the socket -------------------------------------------------

    def test_config_with_errors_elsewhere_still_finds_the_socket(self):
        # B25: the original validated the whole config, so any mistake in it
        # (or a newer format) also broke the client.
        self.engine("--codec", "cbor")
        path = self.config(
            "version: v9\n"
            "log: {level: NOISY}\n"
            "plugins:\n"
            "  static: [broken]\n"
            "  ctl:\n"
            "    socket: %s\n"
            "    codec: CBOR\n"
            "targets:\n"
            "  - name: 'bad name!'\n"
            "frontends: 12\n" % self.sock)
        p = self.ctl("--config", path, "status")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(p.stdout, SAMPLE_STATUS_TEXT)

    def test_config_problems(self):
        path = self.config("version: v1\nplugins: {static: {}}\n")
        self.assertExit(self.ctl("--config", path, "status"), EXIT_ERROR,
                        'proxygwctl: config "%s" does not define plugins.ctl\n' % path)
        path = self.config("plugins:\n  ctl:\n    codec: json\n")
        self.assertExit(self.ctl("--config", path, "status"), EXIT_ERROR,
                        'proxygwctl: config "%s" is missing plugins.ctl.socket\n' % path)
        path = self.config("plugins:\n  ctl:\n    socket: /x.sock\n    codec: xml\n")
        self.assertExit(self.ctl("--config", path, "status"), EXIT_ERROR,
                        'proxygwctl: config "%s" has invalid plugins.ctl.codec "xml"\n' % path)
        missing = os.path.join(self.dir, "missing.yaml")
        self.assertExit(self.ctl("--config", missing, "status"), EXIT_ERROR,
                        'proxygwctl: config "%s": No such file or directory\n' % missing)

    def test_codec_flag_overrides_the_config(self):
        self.engine()  # json
        path = self.config("plugins:\n  ctl:\n    socket: %s\n    codec: cbor\n" % self.sock)
        p = self.ctl("--config", path, "--codec", "json", "status")
        self.assertExit(p, EXIT_OK, stderr="")
        self.assertEqual(p.stdout, SAMPLE_STATUS_TEXT)

    # --- usage --------------------------------------------------------------

    def test_usage_errors(self):
        for args in ([], ["frobnicate"], ["warm"], ["status", "extra"],
                     ["--config", "a", "--socket", "b", "status"],
                     ["--socket", self.sock, "--output", "xml", "status"],
                     ["--socket", self.sock, "--codec", "xml", "status"],
                     ["--socket", self.sock, "--timeout", "0s", "status"],
                     ["--socket", self.sock, "--timeout", "5", "status"]):
            with self.subTest(args=args):
                self.assertExit(self.ctl(*args), EXIT_USAGE)
        # The duration's own message is the config library's (Go syntax).
        p = self.ctl("--socket", self.sock, "--timeout", "5", "status")
        self.assertExit(p, EXIT_USAGE)
        self.assertTrue(p.stderr.startswith('proxygwctl: --timeout: invalid duration "5"'),
                        p.stderr)
        self.assertExit(self.ctl("--socket", self.sock, "--timeout", "0s", "status"), EXIT_USAGE,
                        'proxygwctl: --timeout: must be positive, got "0s"\n')
        self.assertExit(self.ctl("status", "--codec", "xml"), EXIT_USAGE,
                        'proxygwctl: --codec: expected json or cbor, got "xml"\n')
        self.assertExit(self.ctl("warm"), EXIT_USAGE,
                        "proxygwctl: NAME is required (see --help)\n")

    def test_help_documents_the_exit_codes(self):
        p = self.ctl("--help")
        self.assertExit(p, EXIT_OK)
        self.assertIn("Exit codes:", p.stdout)
        for code, what in ((3, "the engine is not running"), (4, "permission denied"),
                           (5, "unknown target name"), (6, "timeout"), (7, "protocol error")):
            self.assertRegex(p.stdout, r"\n  %d  %s" % (code, re.escape(what)))


if __name__ == "__main__":
    unittest.main()
