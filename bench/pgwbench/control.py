"""Section 2: the control plane, engine -> netd -> kernel.

A. netd alone, driven by netd-bench (bench/tools/netd_bench.cc) speaking the
   real protocol as the engine's uid from the gateway namespace: full syncs of
   N mappings (into an empty table, the same set again, back to empty), and
   with N mappings present, `toggles` times: Change enabling one mapping
   (until netd's reply: the nftables transaction is committed), a TCP connect
   through it from the gateway namespace (until it succeeds: the mapping is
   live), Change disabling it. netd runs with --max-mappings 65535 (the most
   its default mark mask 0xffff0000 allows) so that 50,000 fit with the
   toggled one.

B. The whole engine path: proxygw-engine with a static:none target behind a
   static:always frontend (no socket of its own, so a connect succeeds only
   through the mapping). Each iteration drains the target, then asks for a
   warm - either with `proxygwctl warm` (a new process, as a user types it)
   or on an open ctl connection - while a client in the client namespace,
   refused once just before, connects to the frontend every 0.2 ms; the time
   is from the request to the client's first successful connect.

C. The engine with 10,000 targets (1,000 in a quick run), each a static:none
   target behind its own static:always frontend: the time until all are
   active, the engine's and netd's RSS, and their CPU over 10 idle seconds.
"""
import json
import os
import subprocess
import sys
import time

from . import cpu, topo
from .proxygw import ENGINE_UID, Gateway, flush_conntrack
from .util import log, median, percentile, run, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)

ENGINE_CONFIG = """\
targets:
  - name: probe
    kind: static:none
    idle_timeout: 1h
    endpoints: [{name: http, protocol: tcp, address: '198.18.11.2:80'}]
frontends:
  - {name: probe, kind: 'static:always', listen: '198.18.10.1:8090', flow_timeout: 10s, target: 'probe:http'}
"""


# The endpoints of the many-targets run: 198.18.128.1 onwards, 250 per /24.
MANY_NET = "198.18.128.0/18"


def stats(values):
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": percentile(values, 50), "p90": percentile(values, 90),
            "p99": percentile(values, 99), "min": min(values), "max": max(values),
            "mean": sum(values) / len(values)}


def netd_alone(ctx):
    gw = Gateway(ctx.procs, ctx.workdir, ctx.build, tag="pgw-control-netd")
    flush_conntrack()
    gw.start_netd(["--max-mappings", "65535"])
    netd_pid = gw.netd.pid
    t0 = cpu.proc_times(netd_pid)
    args = [os.path.join(ctx.tools, "netd-bench"), "--socket", gw.netd_sock, "--uid", ENGINE_UID, "--gid", ENGINE_UID,
            "--sizes", ",".join(str(s) for s in ctx.sync_sizes), "--toggles", ctx.toggles,
            "--toggle-listen", "%s:9000" % topo.GW_VIP, "--dest", "%s:80" % topo.BACKEND_IP, "--timeout", "60",
            "--probe", "--subscribe", "--toggle-seconds", ctx.toggle_seconds]
    p = ctx.procs.start(topo.ns_exec(topo.GATEWAY, args), stdout=subprocess.PIPE, text=True)
    out = {"syncs": [], "toggles": [], "netd_rss_kib_max": 0, "toggle_seconds": ctx.toggle_seconds}
    try:
        for line in p.stdout:
            ev = json.loads(line)
            rss = cpu.proc_rss_kib(netd_pid) or 0
            out["netd_rss_kib_max"] = max(out["netd_rss_kib_max"], rss)
            if ev["event"] == "fatal":
                raise RuntimeError("netd-bench: %s" % ev["message"])
            if ev["event"] == "hello":
                out["hello"] = ev
            elif ev["event"] == "sync":
                ev["netd_rss_kib"] = rss
                out["syncs"].append(ev)
                log("  sync %-9s %6d mappings: %.3f s (added %d, removed %d, unchanged %d)" % (
                    ev["kind"], ev["n"], ev["seconds"], ev["added"], ev["removed"], ev["unchanged"]))
            elif ev["event"] == "toggles":
                t = {"present": ev["present"], "count": ev["count"], "asked": ev["asked"],
                     "probe_failures": ev["probe_failures"],
                     "enable_us": stats(ev["enable_us"]), "live_us": stats(ev["live_us"]),
                     "disable_us": stats(ev["disable_us"])}
                out["toggles"].append(t)
                log("  %d toggles with %d present: enable p50 %.0f us p99 %.0f us; live p50 %.0f us p99 %.0f us" % (
                    ev["count"], ev["present"], t["enable_us"]["p50"], t["enable_us"]["p99"],
                    t["live_us"].get("p50", 0), t["live_us"].get("p99", 0)))
            elif ev["event"] == "done":
                out["pushes"] = ev["pushes"]
        p.wait(timeout=30)
    finally:
        ctx.procs.stop(p)
        t1 = cpu.proc_times(netd_pid)
        out["netd_cpu_s"] = (t1 - t0) if (t0 is not None and t1 is not None) else None
        gw.stop()
    return out


def engine_path(ctx):
    gw = Gateway(ctx.procs, ctx.workdir, ctx.build, tag="pgw-control-engine")
    gw.start(ENGINE_CONFIG)
    gw.wait_state("probe", "active", timeout=30)
    poller = ctx.procs.start(topo.ns_exec(topo.CLIENT, [sys.executable, "-m", "pgwbench.nsclient", "poller",
                                                        topo.GW_CLIENT_IP, 8090]),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, cwd=BENCH_DIR)
    samples = {"proxygwctl": [], "ctl_socket": []}
    failures = []
    engine_pid = gw.engine.pid
    cpu0 = {"engine": cpu.proc_times(engine_pid), "netd": cpu.proc_times(gw.netd.pid)}
    try:
        plan = [("proxygwctl", ctx.engine_warms_ctl), ("ctl_socket", ctx.engine_warms_socket)]
        for how, count in plan:
            for i in range(count):
                # The connect can succeed a moment before the engine records
                # the target active (the mapping goes on first); a drain is
                # refused while it is still warming.
                gw.wait_state("probe", "active", timeout=30)
                gw.ctl.call(10, {"name": "probe"})  # drain
                gw.wait_state("probe", "inactive", timeout=30)
                poller.stdin.write("go\n")
                first = poller.stdout.readline().strip()
                if first != "refused":
                    failures.append("%s: %s" % (how, first))
                    continue
                t0 = time.time()
                if how == "proxygwctl":
                    gw.proxygwctl("warm", "probe")
                else:
                    gw.ctl.call(8, {"name": "probe"})
                res = json.loads(poller.stdout.readline())
                if "connected" not in res:
                    failures.append("%s: %s" % (how, res))
                    continue
                samples[how].append((res["connected"] - t0) * 1e3)
        gw.wait_state("probe", "active", timeout=30)
        cpu1 = {"engine": cpu.proc_times(engine_pid), "netd": cpu.proc_times(gw.netd.pid)}
    finally:
        ctx.procs.stop(poller)
        gw.stop()
    return {"proxygwctl_ms": stats(samples["proxygwctl"]), "ctl_socket_ms": stats(samples["ctl_socket"]),
            "failures": failures, "raw_ms": samples,
            "cpu_s": {k: cpu1[k] - cpu0[k] for k in cpu0}}


def engine_many_targets(ctx):
    """The engine's and netd's memory with ctx.many_targets static:none targets,
    each behind its own static:always frontend (so every mapping is on)."""
    n = ctx.many_targets
    # Each target's endpoint is an address of its own in MANY_NET, local to
    # the backend (a local route: any address of the block), where one
    # acceptor answers every readiness probe.
    body = ["targets:"]
    for i in range(n):
        body.append("  - {name: t%d, kind: 'static:none', idle_timeout: 1h, endpoints: "
                    "[{name: http, protocol: tcp, address: '198.18.%d.%d:81'}]}" % (i, 128 + i // 250, 1 + i % 250))
    body.append("frontends:")
    for i in range(n):
        body.append("  - {name: f%d, kind: 'static:always', listen: '%s:%d', flow_timeout: 60s, target: 't%d:http'}" % (
            i, topo.GW_CLIENT_IP, 20000 + i, i))
    run(topo.ns_exec(topo.BACKEND, ["ip", "route", "add", "local", MANY_NET, "dev", "lo"]))
    run(topo.ns_exec(topo.GATEWAY, ["ip", "route", "add", MANY_NET, "via", topo.BACKEND_IP]))
    acceptor = ctx.procs.start(topo.ns_exec(topo.BACKEND, [sys.executable, "-m", "pgwbench.nsclient", "acceptor", 81]),
                               cwd=BENCH_DIR)
    gw = Gateway(ctx.procs, ctx.workdir, ctx.build, tag="pgw-control-many")
    t0 = time.monotonic()
    try:
        gw.start("\n".join(body) + "\n", netd_extra=["--max-mappings", str(max(n, 10000))])
        wait_for(lambda: all(t["state"] == "active" for t in gw.ctl.status()["targets"]), 300, interval=0.5,
                 what="%d targets active" % n)
        out = {"targets": n, "all_active_s": time.monotonic() - t0,
               "engine_rss_kib": cpu.proc_rss_kib(gw.engine.pid), "netd_rss_kib": cpu.proc_rss_kib(gw.netd.pid)}
        e0, d0 = cpu.proc_times(gw.engine.pid), cpu.proc_times(gw.netd.pid)
        time.sleep(10)
        out["idle_cpu_s_per_10s"] = {"engine": cpu.proc_times(gw.engine.pid) - e0,
                                     "netd": cpu.proc_times(gw.netd.pid) - d0}
    finally:
        gw.stop()
        ctx.procs.stop(acceptor)
        run(topo.ns_exec(topo.GATEWAY, ["ip", "route", "del", MANY_NET]), check=False)
        run(topo.ns_exec(topo.BACKEND, ["ip", "route", "del", "local", MANY_NET, "dev", "lo"]), check=False)
    return out


def run_section(ctx):
    log("section 2: control plane, netd alone (netd-bench, sizes %s, %d toggles each)" % (ctx.sync_sizes, ctx.toggles))
    res = {"netd": netd_alone(ctx)}
    log("section 2: control plane through the engine (%d warms with proxygwctl, %d on the ctl socket)" % (
        ctx.engine_warms_ctl, ctx.engine_warms_socket))
    res["engine"] = engine_path(ctx)
    e = res["engine"]
    log("  warm -> live: proxygwctl p50 %.1f ms p99 %.1f ms; ctl socket p50 %.1f ms p99 %.1f ms" % (
        e["proxygwctl_ms"].get("p50", 0), e["proxygwctl_ms"].get("p99", 0), e["ctl_socket_ms"].get("p50", 0),
        e["ctl_socket_ms"].get("p99", 0)))
    log("section 2: the engine with %d targets" % ctx.many_targets)
    res["many_targets"] = m = engine_many_targets(ctx)
    log("  %d targets active after %.1f s; engine RSS %.1f MiB, netd RSS %.1f MiB" % (
        m["targets"], m["all_active_s"], m["engine_rss_kib"] / 1024, m["netd_rss_kib"] / 1024))
    return res
