#!/usr/bin/python3
"""proxygw's benchmarks (make bench). Needs root: everything runs in three
network namespaces of its own (pgwb-c, pgwb-g, pgwb-b), deleted at the end,
also after an error or Ctrl-C.

  bench/run.py [--build build] [--tools build/bench] [--sections 1,2,3,4]
               [--quick] [--paths routed,proxygw,haproxy,socat] [--rounds N]
               [--duration S] [--out bench/results]

BENCH_QUICK=1 in the environment is the same as --quick: a smoke run of a
couple of minutes with short tests and small counts; its results are written
with a "-quick" suffix and never replace latest.md.

Benchmarks are not tests: a number never makes this exit non-zero. It exits 1
only when it could not measure (a missing binary, a path that failed to
start) and 130 on Ctrl-C.
"""
import argparse
import datetime
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from pgwbench import backends, control, coldstart, forwarding, idle, report, topo  # noqa: E402
from pgwbench.util import Interrupted, Processes, install_signal_handlers, log, run  # noqa: E402


class Context:
    """What every section needs: processes, namespaces, binaries, parameters."""


def versions(build):
    def first_line(args):
        try:
            p = subprocess.run(args, capture_output=True, text=True, timeout=10)
            return ((p.stdout or p.stderr).strip().splitlines() or [""])[0]
        except (OSError, subprocess.TimeoutExpired):
            return "not found"

    def dpkg(pkg):
        try:
            return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout
        except OSError:
            return ""

    git = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    cpu_model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    os_name = ""
    if os.path.exists("/etc/os-release"):
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = line.split("=", 1)[1].strip().strip('"')
    vm = first_line(["systemd-detect-virt", "--vm"])
    container = first_line(["systemd-detect-virt", "--container"])
    virt = ", ".join(x for x in (("VM: " + vm) if vm not in ("", "none") else "",
                                 ("container: " + container) if container not in ("", "none") else "") if x)
    with open("/proc/cpuinfo") as f:
        if " hypervisor" in f.read() and "VM" not in virt:
            virt = ("guest of a hypervisor, " + virt).rstrip(", ")
    return {
        "proxygw": git or "unknown",
        "kernel": platform.release(),
        "os": os_name,
        "virtualization": virt,
        "cpu": cpu_model,
        "cpus": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "iperf3": dpkg("iperf3"),
        "haproxy": dpkg("haproxy"),
        "socat": dpkg("socat"),
        "wrk": dpkg("wrk"),
        "nginx-light": dpkg("nginx-light"),
        "nftables": dpkg("nftables"),
        "systemd": dpkg("systemd"),
        "python3": platform.python_version(),
        "build_type": cmake_build_type(build),
    }


def cmake_build_type(build):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_BUILD_TYPE:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def busiest_processes(n=5):
    """The top CPU users right now (to note in the results whether the machine was idle)."""
    out = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu", "--no-headers"], capture_output=True,
                         text=True).stdout.splitlines()
    return [" ".join(line.split()) for line in out[:n]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--tools", default=None, help="where netd-bench, ct-fill, cold-backend are (default BUILD/bench)")
    ap.add_argument("--sections", default="1,2,3,4")
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK", "") not in ("", "0"))
    ap.add_argument("--paths", default=",".join(forwarding.DEFAULT_PATHS))
    ap.add_argument("--tests", default=None,
                    help="section 1's tests to run, e.g. tcp1,http_close (default: all)")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()

    if os.geteuid() != 0:
        print("bench: needs root (network namespaces)", file=sys.stderr)
        return 1
    build = os.path.abspath(args.build)
    tools = os.path.abspath(args.tools or os.path.join(build, "bench"))
    for b in ("proxygw-netd", "proxygw-engine", "proxygwctl"):
        if not os.path.exists(os.path.join(build, b)):
            print("bench: missing %s/%s (make build)" % (build, b), file=sys.stderr)
            return 1
    for b in ("netd-bench", "ct-fill", "cold-backend"):
        if not os.path.exists(os.path.join(tools, b)):
            print("bench: missing %s/%s (cmake -S bench -B %s && cmake --build %s)" % (tools, b, tools, tools),
                  file=sys.stderr)
            return 1
    for prog in ("iperf3", "wrk", "haproxy", "socat", "nginx", "nft", "taskset", "setpriv", "gnuplot"):
        if shutil.which(prog) is None:
            print("bench: %s not found (make deps)" % prog, file=sys.stderr)
            return 1

    # One run at a time: the namespaces have fixed names.
    lock = open("/run/proxygw-bench.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print("bench: another run is in progress (/run/proxygw-bench.lock)", file=sys.stderr)
        return 1

    ctx = Context()
    ctx.quick = args.quick
    ctx.build, ctx.tools = build, tools
    ctx.paths = [p for p in args.paths.split(",") if p]
    for p in ctx.paths:
        if p not in forwarding.PATHS:
            print("bench: unknown path %s (known: %s)" % (p, ", ".join(forwarding.PATHS)), file=sys.stderr)
            return 2
    ctx.tests = set(args.tests.split(",")) if args.tests else None
    unknown = (ctx.tests or set()) - {t[0] for t in forwarding.TESTS}
    if unknown:
        print("bench: unknown test(s) %s (known: %s)" % (", ".join(sorted(unknown)),
                                                        ", ".join(t[0] for t in forwarding.TESTS)), file=sys.stderr)
        return 2
    ctx.rounds = args.rounds or (1 if ctx.quick else 3)
    ctx.duration = args.duration or (3 if ctx.quick else 10)
    ctx.pause = 1 if ctx.quick else 2
    ctx.seqlat_n = 200 if ctx.quick else 1000
    ctx.skip_udp64 = False
    # Section 2
    ctx.sync_sizes = [1, 1000, 10000] if ctx.quick else [1, 1000, 10000, 50000]
    ctx.many_targets = 1000 if ctx.quick else 10000
    ctx.toggles = 100 if ctx.quick else 1000
    ctx.toggle_seconds = 10 if ctx.quick else 40  # per table size: bounded in time too
    ctx.engine_warms_ctl = 5 if ctx.quick else 50
    ctx.engine_warms_socket = 20 if ctx.quick else 1000
    # Section 3
    ctx.idle_reps = 1 if ctx.quick else 5
    ctx.ct_entries = 10000 if ctx.quick else 100000
    ctx.idle_window = 3 if ctx.quick else 10
    # Section 4
    ctx.cold_delay_ms = 500 if ctx.quick else 1000
    ctx.cold_reps = 2 if ctx.quick else 10
    ctx.pinned = True
    ctx.result_meta = {}
    sections = [int(s) for s in args.sections.split(",") if s]

    started = datetime.datetime.now(datetime.timezone.utc)
    results = {
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": ctx.quick,
        "machine": versions(build),
        "load_before": loadavg(),
        "busiest_before": busiest_processes(),
        "parameters": {"rounds": ctx.rounds, "duration_s": ctx.duration, "paths": ctx.paths, "sections": sections,
                       "tests": sorted(ctx.tests) if ctx.tests else "all"},
    }
    log("proxygw bench%s: sections %s, load average %s" % (" (quick)" if ctx.quick else "", sections,
                                                           results["load_before"]))

    install_signal_handlers()
    ctx.procs = Processes()
    ctx.topo = topo.Topology()
    ctx.workdir = tempfile.mkdtemp(prefix="pgwb-")
    os.chmod(ctx.workdir, 0o755)
    status = 0
    try:
        ctx.topo.up()
        ctx.backends = backends.Backends(ctx.procs, ctx.workdir)
        ctx.backends.start()
        if 1 in sections:
            results["forwarding"] = forwarding.run_section(ctx)
            results["forwarding"]["meta"] = ctx.result_meta
        if 2 in sections:
            results["control"] = control.run_section(ctx)
        if 3 in sections:
            results["idle"] = idle.run_section(ctx)
        if 4 in sections:
            results["coldstart"] = coldstart.run_section(ctx)
    except Interrupted as e:
        log("interrupted (%s): cleaning up" % e)
        status = 130
    except Exception:
        traceback.print_exc()
        log("failed: cleaning up (work files kept in %s)" % ctx.workdir)
        status = 1
    finally:
        ctx.procs.stop_all()
        ctx.topo.down()
        left = [ns for ns in topo.ALL if topo.exists(ns)]
        if left:
            log("WARNING: namespaces left behind: %s" % left)
    if status != 0:
        return status

    finished = datetime.datetime.now(datetime.timezone.utc)
    results["finished_utc"] = finished.strftime("%Y-%m-%dT%H:%M:%SZ")
    results["duration_s"] = (finished - started).total_seconds()
    results["load_after"] = loadavg()
    os.makedirs(args.out, exist_ok=True)
    stem = started.strftime("%Y-%m-%d") + ("-quick" if ctx.quick else "")
    files = report.write(results, args.out, stem, latest=not ctx.quick)
    shutil.rmtree(ctx.workdir, ignore_errors=True)
    log("done in %.0f s: %s" % (results["duration_s"], ", ".join(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
