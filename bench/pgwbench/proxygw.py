"""proxygw's real binaries in the gateway namespace: proxygw-netd (as its own
uid, keeping CAP_NET_ADMIN only), proxygw-engine (as the engine uid, no
capability) with a config written here, and a client of the engine's ctl
socket (JSON lines, the protocol proxygwctl speaks)."""
import json
import os
import socket
import subprocess
import time

from . import topo
from .util import log, run, wait_for

ENGINE_UID = 65533  # numeric users: no /etc/passwd entries needed
NETD_UID = 65534


class Ctl:
    """A persistent connection to the engine's ctl socket: cheap polls."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.buf = b""
        self.next_id = 1

    def call(self, method, body=None):
        rid = self.next_id
        self.next_id += 1
        self.sock.sendall((json.dumps({"id": rid, "method": method, "body": body or {}}) + "\n").encode())
        while True:
            while b"\n" not in self.buf:
                d = self.sock.recv(1 << 20)
                if not d:
                    raise RuntimeError("ctl socket closed")
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            if not line.strip():
                continue
            m = json.loads(line)
            if m.get("id") == rid:
                if m.get("method") == 1:
                    raise RuntimeError("ctl error: %r" % m.get("body"))
                return m.get("body", {})

    def status(self):
        return self.call(2)

    def target(self, name):
        for t in self.status().get("targets", []):
            if t["name"] == name:
                return t
        raise RuntimeError("no target %s" % name)

    def close(self):
        self.sock.close()


class Gateway:
    def __init__(self, procs, workdir, build, tag="pgw"):
        self.procs = procs
        self.build = build
        self.dir = os.path.join(workdir, tag)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.run_dir = os.path.join(self.dir, "run")
        self.state_dir = os.path.join(self.dir, "state")
        for d in (self.run_dir, self.state_dir):
            os.makedirs(d, exist_ok=True)
            os.chown(d, ENGINE_UID, ENGINE_UID)
        self.netd_sock = os.path.join(self.dir, "netd.sock")
        self.ctl_sock = os.path.join(self.run_dir, "ctl.sock")
        self.netd = self.engine = None
        self.netd_log_path = os.path.join(self.dir, "netd.log")
        self.engine_log_path = os.path.join(self.dir, "engine.log")

    def bin(self, name):
        return os.path.join(self.build, name)

    # --- netd ---
    def start_netd(self, extra=()):
        # --no-policy: the benchmarks map synthetic sets no config declares.
        args = [self.bin("proxygw-netd"), "--socket", self.netd_sock, "--engine-user", ENGINE_UID,
                "--user", NETD_UID, "--no-policy"] + list(extra)
        logf = open(self.netd_log_path, "a")
        self.netd_log_start = logf.tell()
        self.netd = self.procs.start(topo.ns_exec(topo.GATEWAY, args), stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        wait_for(lambda: os.path.exists(self.netd_sock) and "serving" in self.netd_log(), 10,
                 what="proxygw-netd serving (log: %s)" % self.netd_log_path)

    def netd_log(self):
        """This netd's log (the file may hold earlier instances' lines)."""
        with open(self.netd_log_path) as f:
            f.seek(self.netd_log_start)
            return f.read()

    # --- engine ---
    def write_config(self, body, level="INFO"):
        head = ("version: v1\n"
                "log: {output: stderr, level: %s}\n"
                "netd: {socket: %s, user: pgwb-netd}\n"
                "engine: {user: pgwb-engine, state_dir: %s}\n"
                "plugins:\n  ctl: {socket: %s}\n  static: {}\n" % (level, self.netd_sock, self.state_dir,
                                                                  self.ctl_sock))
        path = os.path.join(self.dir, "proxygw.yaml")
        with open(path, "w") as f:
            f.write(head + body)
        os.chmod(path, 0o644)
        run([self.bin("proxygw-engine"), "--check-config", path])
        self.config = path
        return path

    def start_engine(self):
        logf = open(self.engine_log_path, "a")
        self.engine_log_start = logf.tell()
        self.engine = self.procs.start(
            topo.ns_exec(topo.GATEWAY, ["setpriv", "--reuid", ENGINE_UID, "--regid", ENGINE_UID, "--clear-groups",
                                        self.bin("proxygw-engine"), "--config", self.config]),
            stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        wait_for(lambda: "msg=serving" in self.engine_log(), 20, what="engine serving (log: %s)" % self.engine_log_path)
        self.ctl = Ctl(self.ctl_sock)

    def engine_log(self):
        """This engine's log (the file may hold earlier instances' lines)."""
        with open(self.engine_log_path) as f:
            f.seek(self.engine_log_start)
            return f.read()

    def start(self, config_body, netd_extra=(), level="INFO"):
        self.write_config(config_body, level)
        flush_conntrack()
        self.start_netd(netd_extra)
        self.start_engine()
        return self

    def wait_state(self, name, state, timeout=30):
        wait_for(lambda: self.ctl.target(name)["state"] == state, timeout, interval=0.005,
                 what="target %s %s" % (name, state))

    def proxygwctl(self, *args, timeout=15):
        return run([self.bin("proxygwctl"), "--socket", self.ctl_sock] + list(args), timeout=timeout)

    def pids(self):
        return [p.pid for p in (self.netd, self.engine) if p is not None and p.poll() is None]

    def table_present(self):
        return run(topo.ns_exec(topo.GATEWAY, ["nft", "list", "table", "inet", "proxygw"]), check=False).returncode == 0

    def stop(self):
        """Engine first (it drains and asks netd to remove the table; netd exits), then netd."""
        had_engine = self.engine is not None
        if had_engine:
            try:
                self.ctl.close()
            except Exception:
                pass
            t0 = time.monotonic()
            self.procs.stop(self.engine, timeout=30)
            self.engine = None
            self.engine_stop_s = time.monotonic() - t0
        if self.netd is not None:
            if had_engine:
                try:  # the engine's shutdown request makes netd exit
                    self.netd.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self.procs.stop(self.netd)
            self.netd = None
        if topo.exists(topo.GATEWAY) and self.table_present():
            # The engine could not remove it (crash, or a netd-only section):
            # the table is orphaned (netd gone), so plain nft may delete it.
            log("removing the orphaned table inet proxygw from the gateway namespace")
            run(topo.ns_exec(topo.GATEWAY, ["nft", "delete", "table", "inet", "proxygw"]), check=False)
        if topo.exists(topo.GATEWAY):
            flush_conntrack()


def flush_conntrack():
    """Empties the gateway namespace's conntrack table (ours alone): flows marked
    by an earlier netd would otherwise count as flows of the next one's targets."""
    run(topo.ns_exec(topo.GATEWAY, ["conntrack", "-F"]), check=False)
