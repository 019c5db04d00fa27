"""Section 1: forwarding through the gateway namespace, path by path.

Paths (same client, gateway and backend namespaces, same backend servers):
  routed   the client addresses the backend directly; the gateway only routes
           (no nftables table in its namespace, hence no conntrack): the ceiling
  proxygw  proxygw-netd and proxygw-engine in the gateway; static:none targets
           warmed by static:always frontends, so the mappings are on; the
           kernel DNATs (proxygw's own table, installed by netd)
  haproxy  HAProxy 2.6, mode tcp, maxconn 8000 (the open-file limit is 20000)
  socat    socat with backlog=1024,nodelay (its default backlog of 5 makes HTTP
           runs time out, see forwarding-anchors.md); UDP through UDP-LISTEN,fork
  nft      a hand-written nftables DNAT map (forwarding-anchors.md's layout (b)):
           the least a user could write, to tell what proxygw's table (marks,
           timeout policies, flow events) costs over kernel DNAT itself
  routed-ct    routed as above, with conntrack on in the gateway (an empty nat
               chain) and nobody listening to its events: what conntrack costs
  routed-netd  routed as above while proxygw runs in the gateway (its table,
               netd listening to conntrack events): what proxygw costs the
               traffic it does not forward
Optional (--paths): socat-default (plain options), proxyd (systemd-socket-proxyd),
  proxygw-table (proxygw's table with its mappings on, netd and the engine
  killed: the table stays, nobody listens to conntrack events; tells the
  rules' cost from the events').

Tests, each `duration` seconds, 2 s apart, every client command bounded by a
timeout: iperf3 TCP 1 and 8 streams, UDP 1400 B and 64 B offered at 1 Gbit/s,
wrk keep-alive and wrk Connection: close (-t2 -c50), and sequential
connect+GET+close latency (Python, 1000 iterations after 20 warm-ups).

CPU: every test records /proc/stat deltas (machine and per CPU) and the
utime+stime of the processes in the gateway and backend namespaces; the
client program's own CPU comes from getrusage(RUSAGE_CHILDREN).

Gateway CPU per GB ("pinned pass"): softirq work on veth runs on whichever
CPU sent the packet, so in the shared runs the gateway's kernel work cannot be
told apart from the client's and the backend's. The pinned pass separates it
physically: client and backend processes on CPU 0, gateway processes on
CPU 1, and RPS steering each veth's receive processing to its namespace's
CPU (gateway veths -> CPU 1, client and backend veths -> CPU 0). CPU 1's busy
time is then the gateway's whole cost (forwarding, conntrack, NAT, proxies,
netd, engine), less the background measured on CPU 1 just before.
"""
import json
import os
import resource
import signal
import sys
import time

from . import cpu, topo
from .proxygw import Gateway
from .util import log, run, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)

PROXYGW_CONFIG = """\
targets:
  - name: iperf
    kind: static:none
    idle_timeout: 1h
    endpoints:
      - {name: tcp, protocol: tcp, address: '198.18.11.2:5201'}
      - {name: udp, protocol: udp, address: '198.18.11.2:5201'}
  - name: web
    kind: static:none
    idle_timeout: 1h
    endpoints:
      - {name: http, protocol: tcp, address: '198.18.11.2:80'}
frontends:
  - {name: iperf-tcp, kind: 'static:always', listen: '198.18.10.1:5201', flow_timeout: 60s, target: 'iperf:tcp'}
  - {name: iperf-udp, kind: 'static:always', listen: '198.18.10.1:5201', flow_timeout: 60s, target: 'iperf:udp'}
  - {name: web, kind: 'static:always', listen: '198.18.10.1:8080', flow_timeout: 60s, target: 'web:http'}
"""

HAPROXY_CONFIG = """\
global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend iperf
  bind 198.18.10.1:5201 backlog 4096
  default_backend iperf
backend iperf
  server s1 198.18.11.2:5201
frontend web
  bind 198.18.10.1:8080 backlog 4096
  default_backend web
backend web
  server s1 198.18.11.2:80
"""

NFT_DNAT = """\
table inet bench_dnat {
  map svc { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service
    elements = { tcp . 198.18.10.1 . 5201 : 198.18.11.2 . 5201, udp . 198.18.10.1 . 5201 : 198.18.11.2 . 5201,
                 tcp . 198.18.10.1 . 8080 : 198.18.11.2 . 80 } }
  chain prerouting { type nat hook prerouting priority dstnat; policy accept;
    dnat ip to meta l4proto . ip daddr . th dport map @svc
  }
}
"""

# Conntrack on, no NAT rule: a nat chain registers conntrack's hooks and sees
# only a flow's first packet.
NFT_CT_ONLY = """\
table inet bench_ct {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
}
"""

# Issue 17, goal 6: the kernel's software flowtable for DNATed flows. Once a
# flow is established in both directions, `flow add` puts it in the
# flowtable, and its packets take the ingress fast path past the rest of
# netfilter and the routing decision. A table of its own beside proxygw's.
NFT_FLOWTABLE = """\
table inet bench_ft {
  flowtable ft { hook ingress priority filter; devices = { pb-g0, pb-g1 }; }
  chain forward { type filter hook forward priority filter; policy accept;
    ct status dnat flow add @ft
  }
}
"""

LABELS = {
    "routed": "routed (no NAT, no conntrack)",
    "routed-ct": "routed, conntrack on, no listener",
    "routed-netd": "routed, proxygw running (netd listening)",
    "routed-netd-noevents": "routed, proxygw running, nf_conntrack_events=0",
    "proxygw": "proxygw (kernel DNAT)",
    "nft": "hand-written nft DNAT map",
    "haproxy": "HAProxy 2.6 (mode tcp)",
    "socat": "socat (backlog=1024, nodelay)",
    "socat-default": "socat (defaults)",
    "proxygw-table": "proxygw's table alone (netd stopped)",
    "proxygw-flowtable": "proxygw + a flowtable for DNATed flows",
    "proxygw-table-nohold": "proxygw's table alone, without its hold chains",
    "proxygw-table-dnat": "proxygw's table alone, DNAT chains only (no hold, mark, timeout)",
    "proxyd": "systemd-socket-proxyd",
}
DEFAULT_PATHS = ["routed", "routed-ct", "routed-netd", "proxygw", "nft", "haproxy", "socat"]


# The gateway ports a proxy listens on -> the backend ports (iperf3, nginx).
FORWARDS = ((5201, 5201), (8080, 80))


class Path:
    """One way through the gateway; subclasses start and stop what it needs."""
    name = ""
    udp = True

    def __init__(self, ctx):
        self.ctx = ctx
        self.procs = []

    @property
    def label(self):
        return LABELS[self.name]

    def iperf_addr(self):
        return topo.GW_CLIENT_IP, 5201

    def http_addr(self):
        return topo.GW_CLIENT_IP, 8080

    def setup(self):
        pass

    def teardown(self):
        for p in reversed(self.procs):
            self.ctx.procs.stop(p)
        self.procs = []

    def start(self, args, logname):
        logf = open(os.path.join(self.ctx.workdir, logname), "a")
        p = self.ctx.procs.start(topo.ns_exec(topo.GATEWAY, args), stdout=logf, stderr=logf)
        logf.close()
        self.procs.append(p)
        return p

    def wait_listening(self):
        """Until the proxy listens on every gateway port of FORWARDS."""
        for port, _ in FORWARDS:
            wait_for(lambda: "LISTEN" in run(topo.ns_exec(topo.GATEWAY, ["ss", "-Hltn", "sport = :%d" % port]),
                                             check=False).stdout, 10, what="%s listening on %d" % (self.name, port))

    def gw_pids(self):
        return cpu.ns_pids(topo.net_inode(topo.GATEWAY))


class Routed(Path):
    name = "routed"

    def iperf_addr(self):
        return topo.BACKEND_IP, 5201

    def http_addr(self):
        return topo.BACKEND_IP, 80

    def setup(self):
        tables = run(topo.ns_exec(topo.GATEWAY, ["nft", "list", "tables"])).stdout.strip()
        if tables:
            raise RuntimeError("the gateway namespace still has nftables tables: %s" % tables)


class OwnTable:
    """A path that loads an nftables table of its own (`ruleset`, named
    `table`) into the gateway, and deletes it and the conntrack table after."""
    table = ruleset = ""

    def setup(self):
        path = os.path.join(self.ctx.workdir, self.table + ".nft")
        with open(path, "w") as f:
            f.write(self.ruleset)
        run(topo.ns_exec(topo.GATEWAY, ["nft", "-f", path]))

    def teardown(self):
        run(topo.ns_exec(topo.GATEWAY, ["nft", "delete", "table", "inet", self.table]))
        run(topo.ns_exec(topo.GATEWAY, ["conntrack", "-F"]), check=False)


class RoutedCt(OwnTable, Routed):
    name = "routed-ct"
    table, ruleset = "bench_ct", NFT_CT_ONLY


class Proxygw(Path):
    name = "proxygw"

    def setup(self):
        self.gw = Gateway(self.ctx.procs, self.ctx.workdir, self.ctx.build, tag="pgw-forwarding")
        self.gw.start(PROXYGW_CONFIG)
        for t in ("iperf", "web"):
            self.gw.wait_state(t, "active", timeout=30)
        listing = run(topo.ns_exec(topo.GATEWAY, ["nft", "list", "table", "inet", "proxygw"])).stdout
        for want in ("198.18.10.1 . 5201 : 198.18.11.2 . 5201", "198.18.10.1 . 8080 : 198.18.11.2 . 80"):
            if want not in listing:
                raise RuntimeError("proxygw's table lacks the mapping %s:\n%s" % (want, listing))
        self.ctx.result_meta.setdefault("proxygw_table", listing)

    def teardown(self):
        self.gw.stop()
        if self.gw.table_present():
            raise RuntimeError("proxygw's table is still in the gateway namespace")


class RoutedNetd(Proxygw):
    """proxygw runs with its mappings on, but the client addresses the backend."""
    name = "routed-netd"
    iperf_addr = Routed.iperf_addr
    http_addr = Routed.http_addr


class RoutedNetdNoEvents(RoutedNetd):
    """routed-netd with net.netfilter.nf_conntrack_events=0 in the gateway
    namespace: the kernel then builds conntrack events only for flows a rule
    asked them for (`ct event set`), none here. What netd's listening costs
    foreign traffic, less the events."""
    name = "routed-netd-noevents"

    def setup(self):
        super().setup()
        self.events = run(topo.ns_exec(topo.GATEWAY, ["sysctl", "-n", "net.netfilter.nf_conntrack_events"])).stdout.strip()
        run(topo.ns_exec(topo.GATEWAY, ["sysctl", "-qw", "net.netfilter.nf_conntrack_events=0"]))

    def teardown(self):
        run(topo.ns_exec(topo.GATEWAY, ["sysctl", "-qw", "net.netfilter.nf_conntrack_events=" + self.events]),
            check=False)
        super().teardown()


class ProxygwTable(Proxygw):
    """proxygw's table with its mappings on, after netd and the engine were
    SIGKILLed: the persistent table forwards, nobody reads conntrack events."""
    name = "proxygw-table"

    def setup(self):
        super().setup()
        for p in (self.gw.engine, self.gw.netd):
            self.ctx.procs.stop(p, sig=signal.SIGKILL)
        self.gw.engine = self.gw.netd = None
        if not self.gw.table_present():
            raise RuntimeError("proxygw's table went with netd (no persist flag?)")

    def teardown(self):
        self.gw.stop()  # deletes the orphaned table


class ProxygwFlowtable(Proxygw):
    """proxygw as it runs, plus NFT_FLOWTABLE (bench_ft) beside its table."""
    name = "proxygw-flowtable"

    def setup(self):
        super().setup()
        try:
            OwnTable.setup(self)
        except RuntimeError as e:
            if "No such file or directory" in str(e):
                raise RuntimeError("this kernel has no flowtable support (CONFIG_NF_FLOW_TABLE): %s" % e)
            raise

    def teardown(self):
        run(topo.ns_exec(topo.GATEWAY, ["nft", "delete", "table", "inet", "bench_ft"]), check=False)
        super().teardown()

    table, ruleset = "bench_ft", NFT_FLOWTABLE


class ProxygwTableStripped(ProxygwTable):
    """proxygw's table alone, less some of its chains: what each part of it
    costs a new connection (hold chains: every packet of every flow; mark
    chains: a new flow's ct mark and timeout policy)."""
    strip = ()

    def setup(self):
        super().setup()
        for chain in self.strip:
            run(topo.ns_exec(topo.GATEWAY, ["nft", "delete", "chain", "inet", "proxygw", chain]))


class ProxygwTableNoHold(ProxygwTableStripped):
    name = "proxygw-table-nohold"
    strip = ("hold_pre", "hold_out")


class ProxygwTableDnatOnly(ProxygwTableStripped):
    name = "proxygw-table-dnat"
    strip = ("hold_pre", "hold_out", "mark_pre", "mark_out")


class NftDnat(OwnTable, Path):
    name = "nft"
    table, ruleset = "bench_dnat", NFT_DNAT


class Haproxy(Path):
    name = "haproxy"
    udp = False

    def setup(self):
        cfg = os.path.join(self.ctx.workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CONFIG)
        self.start(["haproxy", "-db", "-f", cfg], "haproxy.log")
        self.wait_listening()


class Socat(Path):
    name = "socat"
    listen_opts = ",backlog=1024,nodelay"
    connect_opts = ",nodelay"

    def setup(self):
        for lport, dport in FORWARDS:
            self.start(["socat", "TCP-LISTEN:%d,bind=%s,fork,reuseaddr%s" % (lport, topo.GW_CLIENT_IP, self.listen_opts),
                        "TCP:%s:%d%s" % (topo.BACKEND_IP, dport, self.connect_opts)], "socat.log")
        self.start(["socat", "-T", "5", "UDP-LISTEN:5201,bind=%s,fork,reuseaddr" % topo.GW_CLIENT_IP,
                    "UDP:%s:5201" % topo.BACKEND_IP], "socat.log")
        self.wait_listening()


class SocatDefault(Socat):
    name = "socat-default"
    listen_opts = ""
    connect_opts = ""


class Proxyd(Path):
    name = "proxyd"
    udp = False

    def setup(self):
        for lport, dport in FORWARDS:
            self.start(["systemd-socket-activate", "-l", "%s:%d" % (topo.GW_CLIENT_IP, lport),
                        "/lib/systemd/systemd-socket-proxyd", "%s:%d" % (topo.BACKEND_IP, dport)], "proxyd.log")
        self.wait_listening()
        # The first connection execs proxyd in place of systemd-socket-activate: do it now.
        for port, _ in FORWARDS:
            run(topo.ns_exec(topo.CLIENT, [sys.executable, "-m", "pgwbench.nsclient", "connect", topo.GW_CLIENT_IP, port, 5]),
                cwd=BENCH_DIR)


PATHS = {c.name: c for c in (Routed, RoutedCt, RoutedNetd, RoutedNetdNoEvents, Proxygw, ProxygwTable, ProxygwTableNoHold,
                              ProxygwTableDnatOnly, ProxygwFlowtable,
                              NftDnat, Haproxy, Socat,
                              SocatDefault, Proxyd)}


# --- tests ------------------------------------------------------------------------

def client_cmd(ctx, args, timeout, pin=None):
    """Runs a client program in the client namespace; returns (stdout, its CPU seconds)."""
    if pin is not None:
        args = ["taskset", "-c", str(pin)] + args
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = run(topo.ns_exec(topo.CLIENT, args), check=False, timeout=timeout, cwd=BENCH_DIR)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return p, cpu_s


def iperf(ctx, path, extra, pin=None):
    addr, port = path.iperf_addr()
    d = ctx.duration
    for attempt in range(2):
        p, ccpu = client_cmd(ctx, ["iperf3", "-c", addr, "-p", port, "-t", d, "-J", "--connect-timeout", "3000"] + extra,
                             timeout=d + 20, pin=pin)
        try:
            j = json.loads(p.stdout)
        except ValueError:
            j = {"error": "no JSON: %s %s" % (p.stdout[-300:], p.stderr[-300:])}
        if "error" not in j:
            break
        log("  iperf3 failed (%s); restarting the iperf3 server and retrying" % j["error"])
        ctx.backends.start_iperf()
        time.sleep(1)
    if "error" in j:
        return {"error": j["error"]}, ccpu
    end = j["end"]
    if "-u" in extra:
        s = end["sum"]
        sent = end.get("sum_sent", s)
        recv = end.get("sum_received", s)
        out = {"sent_mbps": sent["bits_per_second"] / 1e6, "recv_mbps": recv["bits_per_second"] / 1e6,
               "lost_percent": s.get("lost_percent"), "packets": s.get("packets"),
               "recv_bytes": recv["bytes"], "seconds": recv["seconds"]}
        if "lost_packets" in s and s.get("packets"):
            out["recv_kpps"] = (s["packets"] - s["lost_packets"]) / recv["seconds"] / 1e3
    else:
        out = {"gbps": end["sum_received"]["bits_per_second"] / 1e9, "recv_bytes": end["sum_received"]["bytes"],
               "seconds": end["sum_received"]["seconds"], "retransmits": end["sum_sent"].get("retransmits")}
    return out, ccpu


def parse_wrk(text):
    out = {}
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("Requests/sec:"):
            out["rps"] = float(s.split()[1])
        elif " requests in " in s:
            parts = s.split()
            out["requests"] = int(parts[0])
            out["read"] = " ".join(parts[-2:])
        elif s.startswith("Socket errors:"):
            out["socket_errors"] = s[len("Socket errors:"):].strip()
        elif s.startswith("Non-2xx"):
            out["non_2xx"] = int(s.split()[-1])
        else:
            for q in ("50%", "75%", "90%", "99%"):
                if s.startswith(q + " "):
                    out["p%s_ms" % q[:-1]] = wrk_ms(s.split()[1])
    return out


def wrk_ms(v):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 6e4)):
        if v.endswith(unit) and v[:-len(unit)].replace(".", "").isdigit():
            return float(v[:-len(unit)]) * f
    return None


def wrk(ctx, path, close, pin=None):
    addr, port = path.http_addr()
    args = ["wrk", "-t2", "-c50", "-d%ds" % ctx.duration, "--latency", "--timeout", "2s"]
    if close:
        args += ["-H", "Connection: close"]
    p, ccpu = client_cmd(ctx, args + ["http://%s:%d/index.html" % (addr, port)], timeout=ctx.duration + 20, pin=pin)
    out = parse_wrk(p.stdout)
    if "rps" not in out:
        out["error"] = (p.stdout + p.stderr)[-500:]
    return out, ccpu


def seqlat(ctx, path):
    addr, port = path.http_addr()
    p, ccpu = client_cmd(ctx, [sys.executable, "-m", "pgwbench.nsclient", "seqlat", addr, port, ctx.seqlat_n, 20],
                         timeout=120)
    try:
        return json.loads(p.stdout), ccpu
    except ValueError:
        return {"error": (p.stdout + p.stderr)[-500:]}, ccpu


TESTS = [
    ("tcp1", "iperf3 TCP, 1 stream", lambda c, p, pin=None: iperf(c, p, ["-P", "1"], pin), False),
    ("tcp8", "iperf3 TCP, 8 streams", lambda c, p, pin=None: iperf(c, p, ["-P", "8"], pin), False),
    ("udp1400", "iperf3 UDP 1400 B, 1 Gbit/s offered", lambda c, p, pin=None: iperf(c, p, ["-u", "-b", "1G", "-l", "1400"], pin), True),
    ("udp64", "iperf3 UDP 64 B, 1 Gbit/s offered", lambda c, p, pin=None: iperf(c, p, ["-u", "-b", "1G", "-l", "64"], pin), True),
    ("http_ka", "wrk keep-alive", lambda c, p, pin=None: wrk(c, p, False, pin), False),
    ("http_close", "wrk Connection: close", lambda c, p, pin=None: wrk(c, p, True, pin), False),
    ("seqlat", "sequential connect+GET+close", lambda c, p, pin=None: seqlat(c, p), False),
]


def measure(ctx, path, test_id, fn, pin=None):
    sample = cpu.Sample({"gw": topo.net_inode(topo.GATEWAY), "be": topo.net_inode(topo.BACKEND)}).start()
    t0 = time.time()
    res, client_cpu = fn(ctx, path, pin) if pin is not None else fn(ctx, path)
    res["cpu"] = sample.stop()
    res["cpu"]["client_procs_s"] = client_cpu
    res["elapsed_s"] = time.time() - t0
    return res


def summary(test_id, r):
    if "error" in r:
        return "ERROR %s" % r["error"][:200]
    if test_id.startswith("tcp"):
        return "%.2f Gbit/s, %s retransmits" % (r["gbps"], r["retransmits"])
    if test_id.startswith("udp"):
        return "%.0f/%.0f Mbit/s sent/received, loss %s%%" % (r["sent_mbps"], r["recv_mbps"], r["lost_percent"])
    if test_id.startswith("http"):
        return "%.0f req/s, p50 %s ms, p99 %s ms%s" % (r["rps"], r.get("p50_ms"), r.get("p99_ms"),
                                                        ", errors: " + r["socket_errors"] if "socket_errors" in r else "")
    return "p50 %.0f us, p99 %.0f us" % (r["p50_us"], r["p99_us"])


def run_section(ctx):
    """Rounds of every path and test (A B C D, A B C D, ...), then the pinned pass."""
    results = {"rounds": [], "pinned": {}, "paths": ctx.paths, "duration_s": ctx.duration, "seqlat_n": ctx.seqlat_n,
               "labels": {p: LABELS[p] for p in ctx.paths},
               "tests": [(t, label) for t, label, _, _ in TESTS]}
    for rnd in range(1, ctx.rounds + 1):
        rr = {}
        for name in ctx.paths:
            path = PATHS[name](ctx)
            log("section 1, round %d/%d: %s" % (rnd, ctx.rounds, path.label))
            path.setup()
            try:
                rr[name] = {}
                for test_id, _, fn, is_udp in TESTS:
                    if is_udp and not path.udp:
                        continue
                    if ctx.skip_udp64 and test_id == "udp64":
                        continue
                    if getattr(ctx, "tests", None) is not None and test_id not in ctx.tests:
                        continue
                    time.sleep(ctx.pause)
                    r = measure(ctx, path, test_id, fn)
                    rr[name][test_id] = r
                    log("  %-10s %s" % (test_id, summary(test_id, r)))
            finally:
                path.teardown()
        results["rounds"].append(rr)
    if ctx.pinned:
        results["pinned"] = pinned_pass(ctx)
    return results


def pin_all(pids, cpus):
    for pid in pids:
        run(["taskset", "-a", "-p", "-c", cpus, pid], check=False)


def pinned_pass(ctx):
    """The gateway alone on CPU 1 (see the module docstring)."""
    out = {"background": {}, "tests": {}}
    gw_inode = topo.net_inode(topo.GATEWAY)
    for name in ctx.paths:
        path = PATHS[name](ctx)
        log("section 1, pinned pass (gateway on CPU 1): %s" % path.label)
        path.setup()
        try:
            pin_all(cpu.ns_pids(topo.net_inode(topo.BACKEND)), "0")
            pin_all(cpu.ns_pids(gw_inode), "1")
            ctx.topo.set_rps({topo.CLIENT: "1", topo.BACKEND: "1", topo.GATEWAY: "2"})
            time.sleep(ctx.pause)
            # What CPU 1 does with no load (the harness, kernel threads, other users).
            s = cpu.Sample({}).start()
            time.sleep(3)
            bg = s.stop()
            out["background"][name] = bg["per_cpu_busy_s"]["1"] / (bg["wall_cpus"] / 2)
            out["tests"][name] = {}
            for test_id, _, fn, _ in TESTS:
                if test_id not in ("tcp1", "http_close") or (getattr(ctx, "tests", None) is not None and test_id not in ctx.tests):
                    continue
                time.sleep(ctx.pause)
                r = measure(ctx, path, test_id, fn, pin=0)
                out["tests"][name][test_id] = r
                log("  %-10s %s; CPU 1 busy %.2f s" % (test_id, summary(test_id, r), r["cpu"]["per_cpu_busy_s"]["1"]))
        finally:
            ctx.topo.set_rps({topo.CLIENT: "0", topo.BACKEND: "0", topo.GATEWAY: "0"})
            pin_all(cpu.ns_pids(topo.net_inode(topo.BACKEND)), "0-%d" % (os.cpu_count() - 1))
            path.teardown()
    return out
