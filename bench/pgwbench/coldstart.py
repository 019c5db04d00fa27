"""Section 4: cold start.

A static:cmd target runs cold-backend (bench/tools/cold_backend.cc) on the
gateway's VIP; it starts listening `delay` after it starts and prints when it
started and when it listens. A static:http frontend serves proxygw's
"starting" page while the target is cold and warms it on each request. The
client (in the client namespace) sends GET / every 5 ms until the answer is
the backend's body. Per cold start:

  first connect -> backend process started   the warm request, the engine
                                             starting /bin/sh -c 'exec ...'
  backend started -> backend listening       the known ready time (delay)
  backend listening -> first backend byte    what proxygw adds after the
                                             backend is ready: the engine's
                                             readiness probe (a TCP connect
                                             retried after 5 ms, backing
                                             off to every 20 ms), netd
                                             switching the mapping on, and the
                                             client's next retry (<= 5 ms)

After each, `proxygwctl drain` stops the backend and the target is cold again.

Then static:hold (issue 12), N >= 20 cold starts: the client calls connect()
once, with no retry of its own; its SYN is held in the kernel until the
target is active. Per sample: refused or not, and backend listening -> the
client's connect completes. Then the same target with `idle: freeze`, frozen
between samples: the whole cold start from the client's first SYN (its
connect() call) to the first byte from the resumed backend.
"""
import json
import os
import sys
import time

from . import topo
from .proxygw import Gateway
from .util import log, median, run

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DIR = os.path.dirname(HERE)

CONFIG = """\
targets:
  - name: cold
    kind: static:cmd
    idle_timeout: 1h
    ready_timeout: 30s
    endpoints: [{{name: http, protocol: tcp, address: '198.18.100.1:8095'}}]
    options:
      command: exec {tool} --listen 198.18.100.1:8095 --delay-file {delay_file} --body backend
      stop_timeout: 2s
frontends:
  - name: cold
    kind: static:http
    listen: 198.18.10.1:8096
    flow_timeout: 10s
    target: cold:http
    options: {{content: "starting\\n"}}
"""

HOLD_CONFIG = """\
targets:
  - name: held
    kind: static:cmd
    idle_timeout: 1h
    ready_timeout: 30s
    endpoints: [{{name: tcp, protocol: tcp, address: '198.18.100.1:8097'}}]
    options:
      command: exec {tool} --listen 198.18.100.1:8097 --delay-file {delay_file} --body backend
      stop_timeout: 2s
      idle: {idle}
frontends:
  - name: held
    kind: static:hold
    listen: 198.18.10.1:8098
    flow_timeout: 10s
    target: held:tcp
"""

RETRY_MS = 5
PROBE_PERIOD_MS = 20  # proxygw-engine/readiness.cc, kMaxRetry


def stamps(path, offset):
    out = {}
    with open(path) as f:
        f.seek(offset)
        for line in f:
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("start", "listening"):
                out[parts[0]] = int(parts[1]) / 1e9
    return out


def run_section(ctx):
    base = ctx.cold_delay_ms
    # The readiness probe retries every 20 ms once it has backed off: spread
    # the ready times over one period so that the samples do not all hit the
    # same phase.
    delays = [base + int(PROBE_PERIOD_MS * i / ctx.cold_reps) for i in range(ctx.cold_reps)]
    log("section 4: cold start, backend ready %d-%d ms after it starts, %d reps" % (delays[0], delays[-1],
                                                                                   ctx.cold_reps))
    gw = Gateway(ctx.procs, ctx.workdir, ctx.build, tag="pgw-cold")
    delay_file = os.path.join(gw.dir, "delay-ms")
    gw.start(CONFIG.format(tool=os.path.join(ctx.tools, "cold-backend"), delay_file=delay_file))
    reps = []
    try:
        for delay in delays:
            with open(delay_file, "w") as f:
                f.write("%d\n" % delay)
            os.chmod(delay_file, 0o644)
            reps.append(cold_start(gw, delay))
    finally:
        gw.stop()
    out = {"delays_ms": delays, "retry_ms": RETRY_MS, "probe_period_ms": PROBE_PERIOD_MS, "reps": reps}
    out["hold"] = run_hold(ctx, delays)
    return out


def run_hold(ctx, delays):
    n = 3 if ctx.quick else 20
    delays = [delays[0] + int(PROBE_PERIOD_MS * i / n) for i in range(n)]
    log("section 4: static:hold, %d cold starts, then %d frozen" % (n, n))
    out = {"n": n, "delays_ms": delays}
    for idle in ("stop", "freeze"):
        gw = Gateway(ctx.procs, ctx.workdir, ctx.build, tag="pgw-hold-%s" % idle)
        delay_file = os.path.join(gw.dir, "delay-ms")
        with open(delay_file, "w") as f:
            f.write("%d\n" % delays[0])
        os.chmod(delay_file, 0o644)
        gw.start(HOLD_CONFIG.format(tool=os.path.join(ctx.tools, "cold-backend"), delay_file=delay_file, idle=idle))
        reps = []
        try:
            if idle == "freeze":  # boot it once; the samples resume it
                held_start(gw, None)
            for delay in delays:
                with open(delay_file, "w") as f:
                    f.write("%d\n" % delay)
                reps.append(held_start(gw, delay))
        finally:
            gw.stop()
        out[idle] = reps
    return out


def client_run(gw, target, args):
    """Runs nsclient `args` in the client namespace once `target` is
    inactive: the client's JSON, and the backend's stamps printed meanwhile."""
    stdout_path = os.path.join(gw.state_dir, "target-%s.stdout" % target)
    gw.wait_state(target, "inactive", timeout=30)
    offset = os.path.getsize(stdout_path) if os.path.exists(stdout_path) else 0
    p = run(topo.ns_exec(topo.CLIENT, [sys.executable, "-m", "pgwbench.nsclient"] + args), cwd=BENCH_DIR,
            timeout=90)
    c = json.loads(p.stdout)
    time.sleep(0.1)  # the backend's lines reach the file
    return c, stamps(stdout_path, offset)


def held_start(gw, delay):
    """One client connect() to the static:hold frontend of a drained target."""
    c, s = client_run(gw, "held", ["held", topo.GW_CLIENT_IP, 8098, "backend", 60])
    r = {"delay_ms": delay, "refused": c.get("refused", False)}
    if "first_byte" not in c:
        r["error"] = "client %r" % c
    else:
        r["syn_to_first_byte_ms"] = (c["first_byte"] - c["connect_call"]) * 1e3
        if "listening" in s:  # a fresh start (not a resumed frozen backend)
            r["listening_to_connected_ms"] = (c["connected"] - s["listening"]) * 1e3
    log("  hold: %r" % r)
    gw.proxygwctl("drain", "held")
    gw.wait_state("held", "inactive", timeout=30)
    return r


def cold_start(gw, delay):
    c, s = client_run(gw, "cold", ["cold", topo.GW_CLIENT_IP, 8096, "backend", RETRY_MS, 60])
    if "first_byte" not in c or "start" not in s or "listening" not in s:
        r = {"error": "client %r, backend %r" % (c, s), "delay_ms": delay}
        log("  error: %s" % r["error"])
    else:
        r = {"delay_ms": delay,
             "connect_to_start_ms": (s["start"] - c["first_connect"]) * 1e3,
             "start_to_listening_ms": (s["listening"] - s["start"]) * 1e3,
             "listening_to_first_byte_ms": (c["first_byte"] - s["listening"]) * 1e3,
             "total_ms": (c["first_byte"] - c["first_connect"]) * 1e3,
             "pages": c["pages"], "attempts": c["attempts"]}
        r["overhead_ms"] = r["total_ms"] - r["start_to_listening_ms"]
        log("  ready after %d ms: first connect -> backend start %.1f ms, -> listening %.1f ms, -> first byte "
            "%.1f ms; total %.1f ms, overhead %.1f ms" % (delay, r["connect_to_start_ms"], r["start_to_listening_ms"],
                                                          r["listening_to_first_byte_ms"], r["total_ms"],
                                                          r["overhead_ms"]))
    gw.proxygwctl("drain", "cold")
    gw.wait_state("cold", "inactive", timeout=30)
    return r
