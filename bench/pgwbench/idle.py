"""Section 3: idle detection, and what netd and the engine cost while other
traffic fills conntrack.

A. For a TCP and a UDP target (static:none, behind static:hold frontends,
   which do not keep their target warm as static:always does; flow_timeout
   and idle_timeout both short), `reps` times: warm the target,
   run one short flow from the client (TCP: connect, GET, read to EOF, close;
   UDP: one datagram and its answer), then watch the engine's status on an
   open ctl connection every 2 ms:
     last packet -> the engine shows 0 flows   (conntrack's timeout of the
        closed flow, netd's lookup after it, the push to the engine)
     0 flows -> drain starts                    (idle_timeout; from the
        engine's log line "idle: no flows for idle_timeout, draining")
     drain starts -> inactive                    (mappings off, flows flushed;
        from the engine's log)
   The engine logs wall-clock times to the millisecond; the client and the
   harness use the same clock.

B. netd's and the engine's CPU time (utime+stime) and RSS: idle with an
   empty conntrack table; while ct-fill creates 100,000 entries of other
   traffic (mark 0x1, outside netd's mask 0xffff0000, 30 min timeout) in the
   gateway namespace; idle with them present; and during wrk
   Connection: close traffic routed through the gateway (conntracked, not
   netd's). netd has no periodic dump: the kernel's BPF filter drops the
   events of other traffic before netd wakes, so its CPU should stay near 0.
"""
import datetime
import json
import os
import re
import subprocess
import sys
import time

from . import cpu, topo
from .proxygw import Gateway
from .util import log, median, run, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)

FLOW_TIMEOUT_S = 2
IDLE_TIMEOUT_S = 2

CONFIG = """\
targets:
  - name: idle-tcp
    kind: static:none
    idle_timeout: {idle}s
    endpoints: [{{name: http, protocol: tcp, address: '198.18.11.2:80'}}]
  - name: idle-udp
    kind: static:none
    idle_timeout: {idle}s
    endpoints: [{{name: echo, protocol: udp, address: '198.18.11.2:7'}}]
frontends:
  - {{name: idle-tcp, kind: 'static:hold', listen: '198.18.10.1:8091', flow_timeout: {flow}s, target: 'idle-tcp:http'}}
  - {{name: idle-udp, kind: 'static:hold', listen: '198.18.10.1:8092', flow_timeout: {flow}s, target: 'idle-udp:echo'}}
"""

UDP_ECHO = ("import socket\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.bind(('198.18.11.2', 7))\n"
            "while True:\n"
            "    d, peer = s.recvfrom(65536)\n"
            "    s.sendto(d, peer)\n")

LOG_TIME = re.compile(r"^time=(\S+) ")


def log_time(line):
    """The wall-clock time (epoch seconds) of an engine log line."""
    m = LOG_TIME.match(line)
    if not m:
        return None
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def find_after(text, t_min, *needles):
    for line in text.splitlines():
        if all(n in line for n in needles):
            t = log_time(line)
            if t is not None and t >= t_min - 0.002:
                return t
    return None


def one_flow(ctx, gw, target, proto, port):
    wait_for(lambda: gw.ctl.target(target)["state"] in ("active", "inactive"), 30, what=target + " settled")
    gw.ctl.call(8, {"name": target})
    gw.wait_state(target, "active", timeout=30)
    p = run(topo.ns_exec(topo.CLIENT, [sys.executable, "-m", "pgwbench.nsclient", "flow", proto, topo.GW_CLIENT_IP,
                                       port]), cwd=BENCH_DIR, timeout=30)
    t_last = json.loads(p.stdout)["last_packet"]
    seen_flow = False
    t_zero = t_inactive = None
    deadline = time.time() + FLOW_TIMEOUT_S + IDLE_TIMEOUT_S + 30
    while time.time() < deadline:
        t = gw.ctl.target(target)
        now = time.time()
        if t["flows"] > 0:
            seen_flow = True
        elif seen_flow and t_zero is None:
            t_zero = now
        if t["state"] == "inactive":
            t_inactive = now
            break
        time.sleep(0.002)
    text = gw.engine_log()
    t_drain = find_after(text, t_last, "target=%s" % target, "idle: no flows")
    t_inactive_log = find_after(text, t_last, "target=%s" % target, "msg=\"target state\"", "state=inactive")
    if not seen_flow or t_zero is None or t_drain is None:
        return {"error": "flow seen %s, zero %s, drain %s" % (seen_flow, t_zero, t_drain)}
    return {"last_to_zero_s": t_zero - t_last, "zero_to_drain_s": t_drain - t_zero,
            "drain_to_inactive_s": (t_inactive_log or t_inactive) - t_drain,
            "last_to_inactive_s": (t_inactive_log or t_inactive) - t_last}


def detection(ctx, gw):
    out = {"flow_timeout_s": FLOW_TIMEOUT_S, "idle_timeout_s": IDLE_TIMEOUT_S, "tcp": [], "udp": []}
    for rep in range(ctx.idle_reps):
        for proto, target, port in (("tcp", "idle-tcp", 8091), ("udp", "idle-udp", 8092)):
            r = one_flow(ctx, gw, target, proto, port)
            out[proto].append(r)
            if "error" in r:
                log("  %s: %s" % (proto, r["error"]))
            else:
                log("  %s: last packet -> 0 flows %.3f s, -> drain %.3f s, -> inactive %.3f s" % (
                    proto, r["last_to_zero_s"], r["zero_to_drain_s"], r["drain_to_inactive_s"]))
    return out


class Watch:
    """CPU and RSS of netd and the engine over a window."""

    def __init__(self, gw):
        self.pids = {"netd": gw.netd.pid, "engine": gw.engine.pid}

    def start(self):
        self.t0 = time.monotonic()
        self.c0 = {k: cpu.proc_times(p) for k, p in self.pids.items()}
        return self

    def stop(self, label):
        wall = time.monotonic() - self.t0
        res = {"phase": label, "wall_s": wall}
        for k, p in self.pids.items():
            c1 = cpu.proc_times(p)
            res[k + "_cpu_s"] = c1 - self.c0[k]
            res[k + "_cpu_pct"] = 100.0 * (c1 - self.c0[k]) / wall
            res[k + "_rss_kib"] = cpu.proc_rss_kib(p)
        log("  %-40s %5.1f s: netd %.2f s CPU (%.2f%%), %d KiB; engine %.2f s CPU (%.2f%%), %d KiB" % (
            label, wall, res["netd_cpu_s"], res["netd_cpu_pct"], res["netd_rss_kib"], res["engine_cpu_s"],
            res["engine_cpu_pct"], res["engine_rss_kib"]))
        return res


def ct_count():
    p = run(topo.ns_exec(topo.GATEWAY, ["conntrack", "-C"]), check=False)
    try:
        return int(p.stdout.strip())
    except ValueError:
        return None


def background(ctx, gw):
    out = {"entries": ctx.ct_entries, "window_s": ctx.idle_window, "phases": []}
    # Let the flows of part A expire first, so that netd tracks nothing.
    time.sleep(FLOW_TIMEOUT_S + 2)
    out["entries_before"] = ct_count()
    out["phases"].append(_window(gw, ctx.idle_window, "idle, conntrack nearly empty"))
    w = Watch(gw).start()
    p = run(topo.ns_exec(topo.GATEWAY, [os.path.join(ctx.tools, "ct-fill"), "--count", ctx.ct_entries, "--mark", "0x1",
                                        "--timeout", "1800"]), timeout=300)
    fill = json.loads(p.stdout)
    out["fill"] = fill
    out["phases"].append(w.stop("creating %d entries (%.2f s)" % (fill["created"], fill["seconds"])))
    out["entries_after_fill"] = ct_count()
    log("  conntrack entries in the gateway namespace: %s" % out["entries_after_fill"])
    out["phases"].append(_window(gw, ctx.idle_window, "idle, %d other entries" % ctx.ct_entries))
    # Other traffic: wrk Connection: close, routed to the backend through the
    # gateway (conntracked there, no mark).
    w = Watch(gw).start()
    p = run(topo.ns_exec(topo.CLIENT, ["wrk", "-t2", "-c50", "-d%ds" % ctx.idle_window, "-H", "Connection: close",
                                       "http://%s:80/index.html" % topo.BACKEND_IP]), timeout=ctx.idle_window + 20)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
    label = "%d entries + routed wrk Connection: close (%s conn/s)" % (ctx.ct_entries, rps.group(1) if rps else "?")
    out["phases"].append(w.stop(label))
    out["entries_end"] = ct_count()
    return out


def _window(gw, seconds, label):
    w = Watch(gw).start()
    time.sleep(seconds)
    return w.stop(label)


def run_section(ctx):
    echo = ctx.procs.start(topo.ns_exec(topo.BACKEND, [sys.executable, "-c", UDP_ECHO]))
    gw = Gateway(ctx.procs, ctx.workdir, ctx.build, tag="pgw-idle")
    gw.start(CONFIG.format(idle=IDLE_TIMEOUT_S, flow=FLOW_TIMEOUT_S))
    try:
        for t in ("idle-tcp", "idle-udp"):  # cold until warmed
            gw.wait_state(t, "inactive", timeout=30)
        log("section 3: idle detection (flow_timeout %ds, idle_timeout %ds, %d reps)" % (
            FLOW_TIMEOUT_S, IDLE_TIMEOUT_S, ctx.idle_reps))
        res = {"detection": detection(ctx, gw)}
        log("section 3: netd and engine with %d conntrack entries of other traffic" % ctx.ct_entries)
        res["background"] = background(ctx, gw)
    finally:
        gw.stop()
        ctx.procs.stop(echo)
    return res
