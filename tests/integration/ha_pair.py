"""Two proxygw gateways behind one VRRP address, in network namespaces: what
test_ha.py tests and ha_demo.py (`make ha-demo`) shows (docs/ha.md).

  client ns        bridge ns (front0, back0)        backend ns
  198.18.70.100 --- front0 --- g1 198.18.70.11   ... back0 --- 198.18.71.100
                           \\-- g2 198.18.70.12   .../       (agent + servers)
  VIP 198.18.70.1 (front) and 198.18.71.1 (back, the backend's default
  route) on the master; sync link g1 198.18.72.1/30 -- g2 198.18.72.2/30.

Each gateway runs the real supervisor `proxygw` (netd and engine as the
users proxygw-netd and proxygw), conntrackd (FTFW over the sync link) and
keepalived, whose notify hook is configs/ha/proxygw-notify.sh; keepalived's
and conntrackd's configs are configs/ha/'s examples with this pair's paths
and addresses. Every pid, socket, lock and log file lives in the pair's
temporary directory. The backend is a remote host: the gateways' static:exec
commands ask its agents (ha_traffic.py) to start and stop its servers, and
they count the starts and stops. Two targets: `app` (TCP and UDP endpoints,
followed by a backup through its TCP endpoints) and `game` (one UDP endpoint,
an agent of its own, followed through static:exec's `check`). Nothing here
touches the root namespace; down() kills what runs in the pair's namespaces
and deletes them."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pgw import NS_HELPER, binary, delete_namespace, run, wait_for  # noqa: E402

SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
TRAFFIC = os.path.join(HERE, "ha_traffic.py")
NOTIFY = os.path.join(SOURCE, "configs", "ha", "proxygw-notify.sh")
PYTHON = "/usr/bin/python3"  # the engine's user execs it: not a pyenv under /root

VIP = "198.18.70.1"
BACK_VIP = "198.18.71.1"
BACKEND = "198.18.71.100"
AGENT_PORT = 7000   # bulk 7001, web 7002, udp echo 7003 on the backend
GAME_AGENT_PORT = 7100  # the UDP-only backend's agent; its echo on 7103
WEB_PORT, BULK_PORT, UDP_PORT, GAME_PORT = 7200, 7300, 7400, 7500  # the frontends on the VIP
# How often a node checks `game` while it does not own it, and the master
# while it does: an hour, so that a backup checks once when it starts
# following (before the warm: down) and not again before the failover. The
# new master's promotion probe is what finds it running.
GAME_CHECK_INTERVAL = "1h"
BULK_BYTES = 1 << 20

FIREWALL = """table inet gateway {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state invalid drop
  }
}
"""


def tools_missing():
    """The HA tools that are not installed (`make deps` installs them)."""
    return [t for t in ("keepalived", "conntrackd", "conntrack") if shutil.which(t) is None]


def agent_command(port, word):
    return "%s %s ctl %s:%d %s" % (PYTHON, TRAFFIC, BACKEND, port, word)


def config_text(tmp, node, idle_timeout):
    d = os.path.join(tmp, node)
    return (
        "version: v1\n"
        "log: {output: stderr, level: DEBUG}\n"
        "netd: {socket: %(d)s/netd/netd.sock, user: proxygw-netd}\n"
        "engine: {user: proxygw, state_dir: %(d)s/state}\n"
        "ha: {initial_role: backup}\n"
        "plugins:\n  ctl: {socket: %(d)s/state/ctl.sock}\n  static: {}\n"
        "targets:\n"
        "  - name: app\n"
        "    kind: static:exec\n"
        "    idle_timeout: %(idle)s\n"
        "    ready_timeout: 20s\n"
        "    endpoints:\n"
        "      - {name: bulk, protocol: tcp, address: '%(be)s:%(bulk)d'}\n"
        "      - {name: web, protocol: tcp, address: '%(be)s:%(web)d'}\n"
        "      - {name: echo, protocol: udp, address: '%(be)s:%(udp)d'}\n"
        "    options: {start: '%(start)s', stop: '%(stop)s', timeout: 20s}\n"
        "  - name: game\n"
        "    kind: static:exec\n"
        "    idle_timeout: %(idle)s\n"
        "    endpoints:\n"
        "      - {name: echo, protocol: udp, address: '%(be)s:%(gudp)d'}\n"
        "    options: {start: '%(gstart)s', stop: '%(gstop)s', check: '%(gcheck)s',"
        " check_interval: %(gevery)s, timeout: 20s}\n"
        "frontends:\n"
        "  - {name: web, kind: 'static:http', listen: '0.0.0.0:%(fweb)d', flow_timeout: 5s,"
        " target: 'app:web', options: {content: \"warming up\\n\"}}\n"
        "  - {name: bulk, kind: 'static:hold', listen: '0.0.0.0:%(fbulk)d', flow_timeout: 5s,"
        " target: 'app:bulk'}\n"
        "  - {name: echo, kind: 'static:hold', listen: '0.0.0.0:%(fudp)d', flow_timeout: 5s,"
        " target: 'app:echo'}\n"
        "  - {name: game, kind: 'static:hold', listen: '0.0.0.0:%(fgame)d', flow_timeout: 5s,"
        " target: 'game:echo'}\n"
        % {"d": d, "idle": idle_timeout, "be": BACKEND, "bulk": AGENT_PORT + 1,
           "web": AGENT_PORT + 2, "udp": AGENT_PORT + 3,
           "start": agent_command(AGENT_PORT, "start"), "stop": agent_command(AGENT_PORT, "stop"),
           "gudp": GAME_AGENT_PORT + 3, "gstart": agent_command(GAME_AGENT_PORT, "start"),
           "gstop": agent_command(GAME_AGENT_PORT, "stop"),
           "gcheck": agent_command(GAME_AGENT_PORT, "check"), "gevery": GAME_CHECK_INTERVAL,
           "fweb": WEB_PORT, "fbulk": BULK_PORT, "fudp": UDP_PORT, "fgame": GAME_PORT})


class HaPair:
    def __init__(self, tag, tmp, procs, idle_timeout="15s"):
        self.tag, self.tmp, self.procs = tag, tmp, procs
        self.idle_timeout = idle_timeout
        n = lambda s: "pgw%s-%s" % (tag, s)  # noqa: E731
        self.bridge, self.client, self.backend = n("br"), n("c"), n("b")
        self.gws = {1: n("g1"), 2: n("g2")}
        self.created = []
        self.nodes = {1: {}, 2: {}}  # per gateway: its processes and log files

    # --- topology ---
    def ip(self, ns, *args, check=True):
        return run(["ip", "-n", ns] + [str(a) for a in args], check=check)

    def exec(self, ns, args, **kw):
        return run(["ip", "netns", "exec", ns] + [str(a) for a in args], **kw)

    def up(self):
        for ns in (self.bridge, self.client, self.gws[1], self.gws[2], self.backend):
            run(["ip", "netns", "add", ns])
            self.created.append(ns)
            self.ip(ns, "link", "set", "lo", "up")
        for br in ("front0", "back0"):
            self.ip(self.bridge, "link", "add", br, "type", "bridge")
            self.ip(self.bridge, "link", "set", br, "up")
        ports = [(self.client, "eth0", "front0", "fc"), (self.gws[1], "front", "front0", "f1"),
                 (self.gws[2], "front", "front0", "f2"), (self.gws[1], "back", "back0", "b1"),
                 (self.gws[2], "back", "back0", "b2"), (self.backend, "eth0", "back0", "bb")]
        for ns, ifname, br, port in ports:
            run(["ip", "link", "add", ifname, "netns", ns, "type", "veth", "peer", "name", port,
                 "netns", self.bridge])
            self.ip(self.bridge, "link", "set", port, "master", br, "up")
            self.ip(ns, "link", "set", ifname, "up")
        run(["ip", "link", "add", "sync", "netns", self.gws[1], "type", "veth", "peer", "name",
             "sync", "netns", self.gws[2]])
        addrs = [(self.client, "eth0", "198.18.70.100/24"), (self.backend, "eth0", "198.18.71.100/24")]
        for i in (1, 2):
            addrs += [(self.gws[i], "front", "198.18.70.1%d/24" % i),
                      (self.gws[i], "back", "198.18.71.1%d/24" % i),
                      (self.gws[i], "sync", "198.18.72.%d/30" % i)]
        for ns, dev, a in addrs:
            self.ip(ns, "addr", "add", a, "dev", dev)
            self.ip(ns, "link", "set", dev, "up")
        self.ip(self.client, "route", "add", "default", "via", VIP)
        self.ip(self.backend, "route", "add", "default", "via", BACK_VIP)
        for i in (1, 2):
            self.exec(self.gws[i], ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            # conntrack's sysctls appear once a table exists in the namespace.
            self.exec(self.gws[i], ["conntrack", "-L"], check=False)
            # The gateway's own firewall, as conntrackd wants it (docs/ha.md):
            # a TCP packet from the middle of a connection the kernel does
            # not know is invalid, not a new un-NATed flow, and is dropped:
            # the backend's segments reaching the new master before
            # conntrackd's commit are retransmitted after it, instead of
            # reaching the client from the backend's address (a reset).
            self.exec(self.gws[i], ["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_tcp_loose=0"])
            self.exec(self.gws[i], ["nft", "-f", "-"], input=FIREWALL)
            # netd/ and state/ are the supervisor's to create.
            for sub in ("ka", "ctd", "notify"):
                os.makedirs(os.path.join(self.tmp, "g%d" % i, sub), exist_ok=True)
        return self

    def down(self):
        for ns in reversed(self.created):
            delete_namespace(ns)
        self.created = []

    # --- the backend ---
    def start_agent(self):
        """The backend host's agents: app's, and game's (UDP only)."""
        for name, port, extra in (("agent", AGENT_PORT, []), ("game-agent", GAME_AGENT_PORT, ["udp"])):
            logdir = os.path.join(self.tmp, name)
            os.makedirs(logdir, exist_ok=True)
            p = self.procs.start(["ip", "netns", "exec", self.backend, PYTHON, TRAFFIC, "agent",
                                  BACKEND, port, logdir, BULK_BYTES] + extra,
                                 stdout=subprocess.PIPE, text=True)
            if p.stdout.readline().strip() != "ready":
                raise AssertionError("the backend's %s did not start" % name)

    def agent_count(self, what, target="app"):
        """Lines in the `starts` or `stops` file of target's agent."""
        name = "agent" if target == "app" else "game-agent"
        try:
            with open(os.path.join(self.tmp, name, what)) as f:
                return len(f.read().splitlines())
        except FileNotFoundError:
            return 0

    # --- one gateway ---
    def node_dir(self, i, *sub):
        return os.path.join(self.tmp, "g%d" % i, *sub)

    def write_configs(self, i):
        """proxygw.yaml, keepalived.conf and conntrackd.conf of gateway i, the
        last two from configs/ha/ with this pair's paths."""
        path = self.node_dir(i, "proxygw.yaml")
        with open(path, "w") as f:
            f.write(config_text(self.tmp, "g%d" % i, self.idle_timeout))
        os.chmod(path, 0o644)
        with open(os.path.join(SOURCE, "configs", "ha", "keepalived.conf")) as f:
            ka = f.read()
        notify = "%s -c %s -s %s -d %s -l %s -x %s" % (
            NOTIFY, self.node_dir(i, "conntrackd.conf"), self.node_dir(i, "state", "ctl.sock"),
            self.node_dir(i, "notify"), self.node_dir(i, "notify.log"), binary("proxygwctl"))
        ka = re.sub(r"^(\s*)router_id \S+", r"\1router_id pgw-g%d" % i, ka, flags=re.M)
        ka = re.sub(r"priority \d+", "priority %d" % (150 if i == 1 else 100), ka)
        ka = re.sub(r'notify ".*"', 'notify "%s"' % notify, ka)
        with open(self.node_dir(i, "keepalived.conf"), "w") as f:
            f.write(ka)
        with open(os.path.join(SOURCE, "configs", "ha", "conntrackd.conf")) as f:
            ctd = f.read()
        peer = 3 - i
        ctd = re.sub(r"IPv4_address 198\.18\.72\.1 ", "IPv4_address 198.18.72.%d " % i, ctd)
        ctd = re.sub(r"IPv4_Destination_Address 198\.18\.72\.2",
                     "IPv4_Destination_Address 198.18.72.%d" % peer, ctd)
        ctd = re.sub(r"LogFile \S+", "LogFile " + self.node_dir(i, "ctd", "conntrackd.log"), ctd)
        ctd = re.sub(r"LockFile \S+", "LockFile " + self.node_dir(i, "ctd", "conntrackd.lock"), ctd)
        ctd = re.sub(r"Path \S+", "Path " + self.node_dir(i, "ctd", "conntrackd.ctl"), ctd)
        with open(self.node_dir(i, "conntrackd.conf"), "w") as f:
            f.write(ctd)
        return path

    def start_conntrackd(self, i):
        log = open(self.node_dir(i, "ctd", "stdout"), "a")
        self.nodes[i]["ctd"] = self.procs.start(
            ["ip", "netns", "exec", self.gws[i], "conntrackd", "-C", self.node_dir(i, "conntrackd.conf")],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for(lambda: os.path.exists(self.node_dir(i, "ctd", "conntrackd.ctl")), 10,
                 what="conntrackd %d's socket" % i)

    def start_proxygw(self, i):
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = "detect_leaks=0:" + env.get("ASAN_OPTIONS", "")
        log = open(self.node_dir(i, "proxygw.log"), "a")
        self.nodes[i]["sup"] = self.procs.start(
            ["ip", "netns", "exec", self.gws[i], binary("proxygw"), "--config",
             self.node_dir(i, "proxygw.yaml")], stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        sup = self.nodes[i]["sup"]

        def serving():
            if sup.poll() is not None:
                raise AssertionError("proxygw %d exited (%s); its log:\n%s" % (
                    i, sup.returncode, self.log(i)[-3000:]))
            return self.status(i).get("role")
        wait_for(serving, 60,
                 what=lambda: "proxygw %d serving; its log:\n%s" % (i, self.log(i)[-3000:]))

    def start_keepalived(self, i):
        log = open(self.node_dir(i, "ka", "stdout"), "a")
        self.nodes[i]["ka"] = self.procs.start(
            ["ip", "netns", "exec", self.gws[i], "keepalived", "-n", "-l", "-D", "-P",
             "-f", self.node_dir(i, "keepalived.conf"), "-p", self.node_dir(i, "ka", "keepalived.pid"),
             "-r", self.node_dir(i, "ka", "vrrp.pid")], stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def start_node(self, i):
        self.write_configs(i)
        self.start_conntrackd(i)
        self.start_proxygw(i)
        self.start_keepalived(i)

    def kill_node(self, i):
        """The node dies: its processes are killed (SIGKILL, by pid) and its
        links go down. Returns the time its links went down."""
        sup = self.nodes[i]["sup"]
        kids = run(["ps", "-o", "pid=", "--ppid", str(sup.pid)], check=False).stdout.split()
        for pid in [sup.pid] + [int(k) for k in kids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for key in ("ka", "ctd"):
            # keepalived's VRRP child is its own process: by its pid file.
            if key == "ka":
                for pidfile in ("vrrp.pid", "keepalived.pid"):
                    try:
                        with open(self.node_dir(i, "ka", pidfile)) as f:
                            os.kill(int(f.read().strip()), signal.SIGKILL)
                    except (OSError, ValueError):
                        pass
            self.procs.stop(self.nodes[i][key], sig=signal.SIGKILL)
        self.procs.stop(sup, sig=signal.SIGKILL)
        for dev in ("front", "back", "sync"):
            self.ip(self.gws[i], "link", "set", dev, "down")
        return time.time()

    def reboot_node(self, i):
        """The dead node comes back as after a reboot: nothing of its old
        runtime state (addresses keepalived left, conntrack entries, the nft
        table, the engine's state directory), links up, then its daemons."""
        g = self.gws[i]
        self.ip(g, "addr", "del", VIP + "/24", "dev", "front", check=False)
        self.ip(g, "addr", "del", BACK_VIP + "/24", "dev", "back", check=False)
        self.exec(g, ["conntrack", "-F"], check=False)
        self.exec(g, ["nft", "delete", "table", "inet", "proxygw"], check=False)
        for sub in ("state", "netd", "notify", "ctd"):
            shutil.rmtree(self.node_dir(i, sub), ignore_errors=True)
        os.rename(self.node_dir(i, "notify.log"), self.node_dir(i, "notify.log.before"))
        for sub in ("notify", "ctd"):
            os.makedirs(self.node_dir(i, sub))
        for dev in ("front", "back", "sync"):
            self.ip(g, "link", "set", dev, "up")
        self.start_node(i)

    # --- looking at a gateway ---
    def ctl(self, i, *args):
        return run([binary("proxygwctl"), "--socket", self.node_dir(i, "state", "ctl.sock")]
                   + list(args), check=False)

    def status(self, i):
        p = self.ctl(i, "status")
        return json.loads(p.stdout) if p.returncode == 0 else {}

    def target(self, i, name="app"):
        for t in self.status(i).get("targets", []):
            if t["name"] == name:
                return t
        return {}

    def log(self, i):
        with open(self.node_dir(i, "proxygw.log")) as f:
            return f.read()

    def notify_events(self, i):
        """(time, STATE) of each notify keepalived ran, from the script's log."""
        try:
            with open(self.node_dir(i, "notify.log")) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("MASTER", "BACKUP", "FAULT", "STOP"):
                out.append((float(parts[0]), parts[1]))
        return out

    def has_vip(self, i):
        return VIP + "/" in self.ip(self.gws[i], "-4", "addr", "show", "dev", "front",
                                    check=False).stdout

    # --- clients ---
    def client_cmd(self, *args):
        return ["ip", "netns", "exec", self.client, PYTHON, TRAFFIC] + [str(a) for a in args]

    def get(self, port=WEB_PORT):
        """One HTTP request to the virtual address: the body, "" on failure."""
        return run(["ip", "netns", "exec", self.client, PYTHON, NS_HELPER, "http", VIP, str(port)],
                   check=False, timeout=20).stdout.strip()

    def udp_exchange(self, port=GAME_PORT, seconds=1):
        """A UDP request/response stream to the virtual address for `seconds`
        (ha_traffic.py udp): its JSON result."""
        p = run(self.client_cmd("udp", VIP, port, seconds), check=False, timeout=seconds + 20)
        if not p.stdout.strip():
            raise AssertionError("udp client printed nothing: %s" % p.stderr)
        return json.loads(p.stdout)

    def background(self, *args):
        """ha_traffic.py `args` in the client namespace; .result() is its JSON."""
        p = self.procs.start(self.client_cmd(*args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)

        def result(wait=120):
            out, err = p.communicate(timeout=wait)
            if not out.strip():
                raise AssertionError("client %s printed nothing: %s" % (args, err))
            return json.loads(out)
        p.result = result
        return p
