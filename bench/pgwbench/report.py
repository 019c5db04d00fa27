"""Writes a run's results: <stem>.json (everything measured), <stem>.md (one
table per section, with the machine, versions and date) and forwarding.png
(section 1, drawn by gnuplot); latest.md is a copy of the newest full run's
markdown."""
import json
import os
import shutil
import subprocess
import tempfile

from .util import median, percentile

HERE = os.path.dirname(os.path.abspath(__file__))
GNUPLOT_SCRIPT = os.path.join(os.path.dirname(HERE), "forwarding.gp")


# --- formatting ---------------------------------------------------------------------

def f(v, digits=2):
    if v is None:
        return "n/a"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return "{:,.0f}".format(v)
    return "{:.{d}f}".format(v, d=digits)


def ratio(v, ref):
    if v is None or not ref:
        return "n/a"
    return "%.2f" % (v / ref)


def spread(values, digits=2):
    """median [min-max] over rounds"""
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f(values[0], digits)
    return "%s [%s-%s]" % (f(median(values), digits), f(min(values), digits), f(max(values), digits))


def add_table(lines, caption, header, rows):
    """A caption, then its table, each followed by a blank line."""
    lines.extend([caption, "", table(header, rows), ""])


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


# --- section 1 -----------------------------------------------------------------------

def values(fwd, path, test, key):
    out = []
    for rnd in fwd["rounds"]:
        r = rnd.get(path, {}).get(test)
        if r is not None and "error" not in r and r.get(key) is not None:
            out.append(r[key])
    return out


def med(fwd, path, test, key):
    v = values(fwd, path, test, key)
    return median(v) if v else None


def errors(fwd, path, test):
    errs = []
    for i, rnd in enumerate(fwd["rounds"]):
        r = rnd.get(path, {}).get(test)
        if r is not None and "error" in r:
            errs.append("round %d: %s" % (i + 1, r["error"][:120].replace("\n", " ")))
        elif r is not None and r.get("socket_errors"):
            errs.append("round %d: wrk socket errors %s" % (i + 1, r["socket_errors"]))
    return errs


def pinned_gateway(fwd, path, test):
    """Gateway CPU seconds (CPU 1 busy less its background) and the work done."""
    p = fwd.get("pinned", {})
    r = p.get("tests", {}).get(path, {}).get(test)
    if not r or "error" in r:
        return None
    elapsed = r["cpu"]["wall_cpus"] / 2.0
    bg = p["background"].get(path, 0.0) * elapsed
    gw = max(0.0, r["cpu"]["per_cpu_busy_s"]["1"] - bg)
    res = {"gw_cpu_s": gw, "background_s": bg, "cpu0_busy_s": r["cpu"]["per_cpu_busy_s"]["0"], "result": r}
    if test == "tcp1":
        res["gb"] = r["recv_bytes"] / 1e9
        res["per_gb"] = gw / res["gb"] if res["gb"] else None
    else:
        res["requests"] = r.get("requests")
        res["per_1k_conn_ms"] = 1e3 * gw / r["requests"] * 1000 if r.get("requests") else None
    return res


def shared_cpu_per_gb(fwd, path):
    """From the shared (unpinned) TCP 1-stream runs: machine and gateway-process CPU s/GB, medians."""
    mach, gwp, sirq = [], [], []
    for rnd in fwd["rounds"]:
        r = rnd.get(path, {}).get("tcp1")
        if not r or "error" in r or not r.get("recv_bytes"):
            continue
        gb = r["recv_bytes"] / 1e9
        mach.append(r["cpu"]["machine_busy_s"] / gb)
        gwp.append(r["cpu"]["procs_s_gw"] / gb)
        sirq.append(r["cpu"]["softirq_irq_s"] / gb)
    return (median(mach) if mach else None, median(gwp) if gwp else None, median(sirq) if sirq else None)


def forwarding_md(fwd, quick):
    paths = fwd["paths"]
    label = fwd["labels"]
    ref = "routed" if "routed" in paths else paths[0]
    n = len(fwd["rounds"])
    lines = ["## 1. Forwarding: client -> gateway -> backend", ""]
    lines.append("Each cell is the median of %d round%s [min-max]; ratios are medians divided by the %s path's "
                 "median (for latencies, above 1 is slower). Higher is better for every rate." % (
                     n, "s" if n > 1 else "", ref))
    lines.append("")
    # Throughput
    rows = []
    for p in paths:
        t1, t8 = values(fwd, p, "tcp1", "gbps"), values(fwd, p, "tcp8", "gbps")
        u14 = values(fwd, p, "udp1400", "recv_mbps")
        u64 = values(fwd, p, "udp64", "recv_mbps")
        k64 = values(fwd, p, "udp64", "recv_kpps")
        loss14 = values(fwd, p, "udp1400", "lost_percent")
        rows.append([label[p],
                     spread(t1), ratio(median(t1) if t1 else None, med(fwd, ref, "tcp1", "gbps")),
                     spread(t8), ratio(median(t8) if t8 else None, med(fwd, ref, "tcp8", "gbps")),
                     spread(u14, 0) if u14 else "n/a (TCP only)",
                     f(median(loss14), 2) if loss14 else "",
                     ratio(median(u14) if u14 else None, med(fwd, ref, "udp1400", "recv_mbps")),
                     ("%s (%s kpps)" % (f(median(u64), 1), f(median(k64), 0))) if u64 else "n/a",
                     ratio(median(u64) if u64 else None, med(fwd, ref, "udp64", "recv_mbps"))])
    add_table(lines, "**Throughput** (iperf3, %d s per test; TCP Gbit/s at the receiver; UDP Mbit/s of payload received "
                     "with 1 Gbit/s offered)" % fwd.get("duration_s", 10),
                     ["path", "TCP 1 stream", "ratio", "TCP 8 streams", "ratio", "UDP 1400 B", "loss %", "ratio",
                      "UDP 64 B", "ratio"], rows)
    # Requests
    rows = []
    for p in paths:
        ka, cl = values(fwd, p, "http_ka", "rps"), values(fwd, p, "http_close", "rps")
        rows.append([label[p],
                     spread(ka, 0), ratio(median(ka) if ka else None, med(fwd, ref, "http_ka", "rps")),
                     f(med(fwd, p, "http_ka", "p50_ms")), f(med(fwd, p, "http_ka", "p99_ms")),
                     spread(cl, 0), ratio(median(cl) if cl else None, med(fwd, ref, "http_close", "rps")),
                     f(med(fwd, p, "http_close", "p50_ms")), f(med(fwd, p, "http_close", "p99_ms")),
                     ratio(med(fwd, p, "http_close", "p99_ms"), med(fwd, ref, "http_close", "p99_ms")),
                     f(med(fwd, p, "seqlat", "p50_us"), 0), f(med(fwd, p, "seqlat", "p99_us"), 0),
                     ratio(med(fwd, p, "seqlat", "p50_us"), med(fwd, ref, "seqlat", "p50_us"))])
    add_table(lines, "**Requests** (wrk -t2 -c50, 128-byte page from nginx; keep-alive = request rate, Connection: close = "
                     "one TCP connection per request; latency percentiles in ms from wrk. Sequential: one connect + "
                     "GET + read to EOF + close at a time, %s iterations, in us)" % fwd.get("seqlat_n", 1000),
                     ["path", "keep-alive req/s", "ratio", "p50 ms", "p99 ms", "Connection: close req/s", "ratio",
                      "p50 ms", "p99 ms", "p99 ratio", "sequential p50 us", "p99 us", "p50 ratio"], rows)
    # CPU
    rows = []
    ref_gb = pinned_gateway(fwd, ref, "tcp1")
    ref_conn = pinned_gateway(fwd, ref, "http_close")
    ref_shared = shared_cpu_per_gb(fwd, ref)
    for p in paths:
        g = pinned_gateway(fwd, p, "tcp1")
        c = pinned_gateway(fwd, p, "http_close")
        mach, gwp, sirq = shared_cpu_per_gb(fwd, p)
        rows.append([label[p],
                     f(g["per_gb"], 3) if g else "n/a", ratio(g["per_gb"] if g else None, ref_gb["per_gb"] if ref_gb else None),
                     ("%s Gbit/s" % f(g["result"]["gbps"])) if g else "",
                     f(c["per_1k_conn_ms"], 1) if c else "n/a",
                     ratio(c["per_1k_conn_ms"] if c else None, ref_conn["per_1k_conn_ms"] if ref_conn else None),
                     ("%s conn/s" % f(c["result"]["rps"], 0)) if c else "",
                     f(mach, 3), ratio(mach, ref_shared[0]), f(gwp, 3), f(sirq, 3)])
    add_table(lines, "**Gateway CPU** (left: pinned pass, the gateway alone on CPU 1, see Method; right: the shared "
                     "TCP 1-stream runs above, whole machine)",
                     ["path", "gateway CPU s per GB", "ratio", "at", "gateway CPU ms per 1,000 connections",
                      "ratio", "at", "machine CPU s per GB (shared)", "ratio", "of which gateway processes",
                      "of which softirq+irq"], rows)
    # Errors and notes
    notes = []
    for p in paths:
        for t, _ in fwd["tests"]:
            for e in errors(fwd, p, t):
                notes.append("- %s, %s: %s" % (label[p], t, e))
    if notes:
        lines.append("Errors and socket errors during the runs:")
        lines.append("")
        lines.extend(notes)
        lines.append("")
    bg = fwd.get("pinned", {}).get("background", {})
    if bg:
        lines.append("Background on CPU 1 before each pinned path (subtracted): %s of a core." % ", ".join(
            "%s %.1f%%" % (p, 100 * v) for p, v in bg.items()))
        lines.append("")
    return "\n".join(lines)


# --- section 2 -----------------------------------------------------------------------

def control_md(ctl):
    lines = ["## 2. Control plane: engine -> netd -> kernel", ""]
    e = ctl.get("engine", {})
    if e:
        rows = []
        for key, what in (("ctl_socket_ms", "warm request on an open ctl connection (what a frontend plugin does)"),
                          ("proxygwctl_ms", "`proxygwctl warm` (a new process)")):
            s = e.get(key, {})
            if s.get("n"):
                rows.append([what, s["n"], f(s["p50"]), f(s["p90"]), f(s["p99"]), f(s["max"])])
        lines.append("**Warm request -> mapping live**, through the real engine (static:none target, static:always "
                     "frontend): from the request to a client's first successful connect through the mapping "
                     "(the client retries every 0.2 ms), in ms")
        lines.append("")
        lines.append(table(["request", "warms", "p50", "p90", "p99", "max"], rows))
        if e.get("failures"):
            lines.append("")
            lines.append("Failed samples: %s" % "; ".join(e["failures"][:5]))
        lines.append("")
    m = ctl.get("many_targets")
    if m:
        lines.append("**The engine with %s targets** (static:none, each behind its own static:always frontend, so "
                     "every mapping is on): all active %s s after the start; RSS engine %s MiB, netd %s MiB; CPU over "
                     "10 idle seconds engine %s s, netd %s s." % (
                         f(m["targets"], 0), f(m["all_active_s"], 1), f(m["engine_rss_kib"] / 1024, 1),
                         f(m["netd_rss_kib"] / 1024, 1), f(m["idle_cpu_s_per_10s"]["engine"], 2),
                         f(m["idle_cpu_s_per_10s"]["netd"], 2)))
        lines.append("")
    n = ctl.get("netd", {})
    if n.get("toggles"):
        rows = []
        for t in n["toggles"]:
            count = str(t["count"]) if t["count"] >= t.get("asked", t["count"]) else \
                "%d of %d (%d s bound)" % (t["count"], t["asked"], n.get("toggle_seconds", 0))
            rows.append([f(t["present"], 0), count,
                         f(t["enable_us"]["p50"], 0), f(t["enable_us"]["p99"], 0),
                         f(t["live_us"].get("p50"), 0), f(t["live_us"].get("p99"), 0),
                         f(t["disable_us"]["p50"], 0), f(t["disable_us"]["p99"], 0), t["probe_failures"]])
        add_table(lines, "**One mapping switched on and off, N others present** (netd-bench as the engine: Change -> "
                         "netd's reply = the nftables transaction committed; live = a TCP connect through the mapping "
                         "succeeded, from the enable request; in us)",
                         ["N present", "toggles", "enable p50", "enable p99", "live p50", "live p99",
                          "disable p50", "disable p99", "never live"], rows)
    if n.get("syncs"):
        by = {}
        for s in n["syncs"]:
            by.setdefault(s["n"], {})[s["kind"]] = s
        rows = []
        for size in sorted(by):
            d = by[size]
            rows.append([f(size, 0)] + [f(d[k]["seconds"] * 1e3, 1) if k in d else "n/a"
                                        for k in ("add", "unchanged", "remove")] +
                        [f(d.get("add", {}).get("netd_rss_kib", 0) / 1024.0, 1)])
        add_table(lines, "**Full sync** (sync-begin, sync-add chunks of 1,024, sync-commit, pipelined as the engine "
                         "sends them; one nftables transaction; ms until the commit's reply)",
                         ["mappings", "into an empty table", "same set again", "back to empty",
                          "netd RSS after, MiB"], rows)
        if n.get("netd_cpu_s") is not None:
            lines.append("netd's CPU for all of the above: %.2f s; its largest RSS %.1f MiB." % (
                n["netd_cpu_s"], n["netd_rss_kib_max"] / 1024.0))
            lines.append("")
    return "\n".join(lines)


# --- section 3 -----------------------------------------------------------------------

def idle_md(idle):
    lines = ["## 3. Idle detection and the cost of other traffic", ""]
    d = idle.get("detection", {})
    if d:
        rows = []
        for proto in ("tcp", "udp"):
            ok = [r for r in d.get(proto, []) if "error" not in r]
            if not ok:
                continue

            def col(k):
                v = [r[k] for r in ok]
                return "%s [%s-%s]" % (f(median(v), 3), f(min(v), 3), f(max(v), 3))
            rows.append([proto.upper(), len(ok), "%d s" % d["flow_timeout_s"], col("last_to_zero_s"),
                         "%d s" % d["idle_timeout_s"], col("zero_to_drain_s"), col("drain_to_inactive_s"),
                         col("last_to_inactive_s")])
        add_table(lines, "**A flow ends -> the engine sees 0 flows -> drain** (seconds, median [min-max]; one short flow "
                         "through a static:none target, engine status read every 2 ms)",
                         ["flow", "samples", "flow_timeout", "last packet -> 0 flows", "idle_timeout",
                          "0 flows -> drain starts", "drain -> inactive", "last packet -> inactive"], rows)
    b = idle.get("background", {})
    if b.get("phases"):
        rows = []
        for ph in b["phases"]:
            rows.append([ph["phase"], f(ph["wall_s"], 1), f(ph["netd_cpu_s"], 2), f(ph["netd_cpu_pct"], 2),
                         f(ph["netd_rss_kib"] / 1024.0, 1), f(ph["engine_cpu_s"], 2), f(ph["engine_cpu_pct"], 2),
                         f(ph["engine_rss_kib"] / 1024.0, 1)])
        add_table(lines, "**netd and engine while conntrack holds other traffic** (%s entries created by ct-fill in "
                         "%.2f s, mark 0x1 outside netd's mask; conntrack count in the gateway namespace: %s before, %s "
                         "after the fill; CPU = utime+stime, tick-sampled)" % (
                         f(b["entries"], 0), b["fill"]["seconds"], b.get("entries_before"),
                         b.get("entries_after_fill")),
                         ["phase", "seconds", "netd CPU s", "netd % of a core", "netd RSS MiB", "engine CPU s",
                          "engine % of a core", "engine RSS MiB"], rows)
    return "\n".join(lines)


# --- section 4 -----------------------------------------------------------------------

def cold_md(cold):
    lines = ["## 4. Cold start", ""]
    ok = [r for r in cold.get("reps", []) if "error" not in r]
    if ok:
        def col(k, digits=1):
            v = [r[k] for r in ok]
            return "%s [%s-%s]" % (f(median(v), digits), f(min(v), digits), f(max(v), digits))
        add_table(lines, "**First connect -> first byte from the backend**, backend (static:cmd) ready %d-%d ms after it "
                         "starts (%d samples spread over the readiness probe's %d ms period), the client retrying every "
                         "%d ms while proxygw's static:http frontend serves its \"starting\" page; ms, median [min-max]" % (
                         min(cold["delays_ms"]), max(cold["delays_ms"]), len(ok), cold.get("probe_period_ms", 200),
                         cold["retry_ms"]),
                         ["first connect -> backend process started", "-> backend listening (its own ready time)",
                          "backend listening -> first byte at the client", "total", "proxygw's overhead (total - ready time)"],
                         [[col("connect_to_start_ms"), col("start_to_listening_ms"),
                          col("listening_to_first_byte_ms"), col("total_ms"), col("overhead_ms")]])
    errs = [r["error"] for r in cold.get("reps", []) if "error" in r]
    if errs:
        lines.append("Failed samples: %s" % "; ".join(errs))
        lines.append("")
    if "hold" in cold:
        hold_md(lines, cold["hold"])
    return "\n".join(lines)


def hold_md(lines, hold):
    def stat(reps, k):
        v = [r[k] for r in reps if k in r]
        return "%s / %s" % (f(median(v), 1), f(max(v), 1)) if v else "-"
    stop, freeze = hold.get("stop", []), hold.get("freeze", [])
    refused = lambda reps: "%d/%d" % (sum(1 for r in reps if r.get("refused") or "error" in r), len(reps))
    add_table(lines, "**static:hold**: one client connect() per cold start, no retry of its own, its SYN held in the "
                     "kernel; backend (static:cmd) ready %d-%d ms after it starts; with `idle: freeze` the backend is "
                     "frozen (SIGSTOP) between samples and resumed by the held client; ms, p50 / max" % (
                         min(hold["delays_ms"]), max(hold["delays_ms"]), ),
              ["backend", "samples", "refused or failed", "backend listening -> client's connect completes",
               "first SYN -> first byte"],
              [["started (idle: stop)", str(len(stop)), refused(stop), stat(stop, "listening_to_connected_ms"),
                stat(stop, "syn_to_first_byte_ms")],
               ["resumed (idle: freeze)", str(len(freeze)), refused(freeze), "-", stat(freeze, "syn_to_first_byte_ms")]])


# --- header, method ----------------------------------------------------------------------

def header_md(res):
    m = res["machine"]
    lines = ["# proxygw benchmarks, %s%s" % (res["started_utc"][:10], " (quick smoke run)" if res["quick"] else ""), ""]
    lines.append("`make bench` (bench/run.py), %s to %s UTC (%.0f min). Generated from `%s`; every number below is "
                 "from this one run." % (res["started_utc"][11:19], res["finished_utc"][11:19], res["duration_s"] / 60,
                                         res.get("json_name", "")))
    lines.append("")
    rows = [
        ["machine", "%s, %s vCPUs (%s), %s GiB RAM" % (m["virtualization"] or "?", m["cpus"], m["cpu"], m["memory_gib"])],
        ["OS, kernel", "%s, %s" % (m["os"], m["kernel"])],
        ["proxygw", "%s (CMAKE_BUILD_TYPE %s, the `make build` binaries)" % (m["proxygw"], m["build_type"])],
        ["other software", "iperf3 %s, HAProxy %s, socat %s, wrk %s, nginx-light %s, nftables %s, systemd %s, "
                           "Python %s (Debian packages)" % (m["iperf3"], m["haproxy"], m["socat"], m["wrk"],
                                                            m["nginx-light"], m["nftables"], m["systemd"], m["python3"])],
        ["load", "load average %s before, %s after; busiest processes before: %s" % (
            res["load_before"], res["load_after"], "; ".join(res.get("busiest_before", [])[:3]))],
    ]
    lines.append(table(["", ""], rows))
    lines.append("")
    return "\n".join(lines)


METHOD = """\
## Method and limits

- **Topology**: three network namespaces created for the run (`pgwb-c` client 198.18.10.2, `pgwb-g` gateway
  198.18.10.1 | 198.18.11.1 with a VIP 198.18.100.1 on lo, `pgwb-b` backend 198.18.11.2), veth pairs with default
  settings, no SNAT (the backend routes back through the gateway). The gateway forwards; client and gateway use
  `tcp_tw_reuse=1` and ports 10000-65000. Nothing outside these namespaces is changed; they are deleted at the end.
- **Paths**: *routed* has no nftables table in the gateway, hence no conntrack (the ceiling); *routed,
  conntrack on* adds only an empty nat chain (conntrack tracks every flow, nobody listens to its events);
  *routed, proxygw running* is routed traffic (the client addresses the backend) while proxygw runs with its
  mappings on: its table's chains and netd's conntrack event socket (filtered by mark in the kernel) are what
  proxygw costs traffic it does not forward; *proxygw* is
  proxygw-netd (own uid, CAP_NET_ADMIN only) and proxygw-engine (engine uid, no capability) with static:none
  targets behind static:always frontends, the mappings switched on by netd in its own table `inet proxygw`
  (flow_timeout 60 s); *nft* is a hand-written table with one DNAT map in a prerouting nat chain (no marks, no
  timeout policy, nobody listening to conntrack events), the least a user could write; *HAProxy* 2.6 `mode tcp`, maxconn 8000 (the open-file limit is 20,000), 2 threads;
  *socat* with `backlog=1024,nodelay` (its default backlog of 5 makes the HTTP runs time out) and one child per
  connection, UDP through `UDP-LISTEN,fork`. Backend: nginx (2 workers, 128-byte page, backlog 4096) and iperf3.
  The proxies' table is gone before the next path starts (checked).
- **Order**: paths run in turn (A B C D E), the whole sequence repeated per round; tests 2 s apart, every client
  command bounded by a timeout. 8-stream TCP is bimodal on this VM (runs land near 12-22 or 30-33 Gbit/s for
  routed and DNAT alike), hence medians with their range, and ratios of medians.
- **UDP 64 B** cannot be generated at 1 Gbit/s: the iperf3 client saturates one core at ~150 kpps, so that
  column compares paths at the client's packet rate, not at the offered rate. HAProxy (mode tcp) has no UDP.
- **Gateway CPU per GB (pinned pass)**: on veth, a packet's softirq processing runs on the CPU of whoever sent
  it, so in the shared runs the gateway's kernel work is charged to the client's and backend's tasks and cannot
  be separated. The pinned pass separates it physically: client and backend processes on CPU 0, the gateway's
  processes (proxies, netd, engine) on CPU 1, and RPS steering each veth's receive processing to its namespace's
  CPU (gateway veths to CPU 1, client and backend veths to CPU 0). CPU 1's busy time (user+nice+system+irq+softirq
  from /proc/stat) is then everything the gateway does: routing, conntrack, NAT, the proxies' syscalls and
  copies, netd's event handling, less CPU 1's background measured for 3 s just before (reported). It is divided
  by the payload the iperf3 receiver got (GB = 10^9 bytes) or by wrk's completed requests. Limits: the accounting
  is tick-sampled (CONFIG_TICK_CPU_ACCOUNTING, HZ=250, no IRQ time accounting), so a 10 s test has ~2,500
  samples per CPU; RPS adds an inter-processor interrupt per batch that the shared runs do not have; one core
  for the gateway caps the proxies (the shared runs give them two); the rates in the pinned pass are therefore
  not the ones of the tables above and are shown next to the cost.
- **Machine CPU per GB (shared runs)**: /proc/stat busy time of both cores over the TCP 1-stream run, per GB. It
  includes the iperf3 client and server, which do the same work on every path, so the difference to routed is
  what the path adds. "Gateway processes" is the utime+stime (with reaped children) of every process in the
  gateway namespace; "softirq+irq" is machine-wide and mostly the three namespaces' packet processing. The two
  overlap (a tick in softirq while a proxy runs counts in both), so they are not added.
- **Control plane**: netd-bench (bench/tools/netd_bench.cc) links proxygw's own protocol code, connects to
  netd's socket as the engine's uid, subscribes to flow counts as the engine does, and runs in the gateway
  namespace; its "live" check connects through the mapping (netd's output-hook DNAT) with SO_LINGER 0. The
  N other mappings are `tcp 198.19.x.y:80 -> 198.18.11.2:80` with one flow_timeout (one ct timeout object).
  netd runs with `--max-mappings 65535`.
- **Idle detection**: conntrack keeps a closed TCP flow for its TIME_WAIT timeout and a UDP flow for its timeout,
  both capped at the frontend's flow_timeout by netd's ct timeout policy; netd looks each flow up just after its
  timeout ("about a second" later, docs/privileged-surface.md). Times come from the client's clock (last packet),
  the harness's status polls (0 flows) and the engine's log (drain, inactive), one wall clock at millisecond
  resolution. The conntrack entries of other traffic are created with libnetfilter_conntrack (bench/tools/ct_fill.cc).
- **Cold start**: see section 4's heading; the backend stamps its own start and listen times.
- Benchmarks are not tests: `make bench` never fails on a number.
"""


def write(results, out, stem, latest):
    results["json_name"] = stem + ".json"
    files = []
    json_path = os.path.join(out, stem + ".json")
    with open(json_path, "w") as fh:
        json.dump(results, fh, indent=1, sort_keys=True)
    files.append(json_path)
    parts = [header_md(results)]
    if "forwarding" in results:
        parts.append(forwarding_md(results["forwarding"], results["quick"]))
    if "control" in results:
        parts.append(control_md(results["control"]))
    if "idle" in results:
        parts.append(idle_md(results["idle"]))
    if "coldstart" in results:
        parts.append(cold_md(results["coldstart"]))
    parts.append(METHOD)
    md = "\n".join(parts)
    md_path = os.path.join(out, stem + ".md")
    with open(md_path, "w") as fh:
        fh.write(md)
    files.append(md_path)
    if latest:
        shutil.copyfile(md_path, os.path.join(out, "latest.md"))
        files.append(os.path.join(out, "latest.md"))
    if "forwarding" in results:
        png = os.path.join(out, "forwarding%s.png" % ("" if latest else "-" + stem))
        if chart(results, png):
            files.append(png)
    return files


def chart(results, png):
    """forwarding.png: throughput and gateway CPU per GB by path (gnuplot)."""
    fwd = results["forwarding"]
    ref = "routed" if "routed" in fwd["paths"] else fwd["paths"][0]
    with tempfile.TemporaryDirectory() as tmp:
        thr = os.path.join(tmp, "throughput.dat")
        cpu = os.path.join(tmp, "cpu.dat")
        with open(thr, "w") as fh:
            fh.write("# path tcp1 tcp1lo tcp1hi tcp8 tcp8lo tcp8hi udp udplo udphi\n")
            for p in fwd["paths"]:
                row = ['"%s"' % fwd["labels"][p].split(" (")[0]]
                for test, key, scale in (("tcp1", "gbps", 1), ("tcp8", "gbps", 1), ("udp1400", "recv_mbps", 1e-3)):
                    v = [x * scale for x in values(fwd, p, test, key)]
                    row += ["%.3f" % median(v), "%.3f" % min(v), "%.3f" % max(v)] if v else ["0", "0", "0"]
                fh.write(" ".join(row) + "\n")
        with open(cpu, "w") as fh:
            fh.write("# path pergb perkconn\n")
            for p in fwd["paths"]:
                g = pinned_gateway(fwd, p, "tcp1")
                c = pinned_gateway(fwd, p, "http_close")
                fh.write('"%s" %.4f %.3f\n' % (fwd["labels"][p].split(" (")[0], g["per_gb"] if g else 0,
                                              c["per_1k_conn_ms"] if c else 0))
        title = "proxygw bench %s, %s vCPUs, kernel %s" % (results["started_utc"][:10], results["machine"]["cpus"],
                                                          results["machine"]["kernel"])
        p = subprocess.run(["gnuplot", "-e", 'thr="%s"; cpu="%s"; out="%s"; ttl="%s"' % (thr, cpu, png, title),
                            GNUPLOT_SCRIPT], capture_output=True, text=True)
        if p.returncode != 0:
            print("gnuplot failed: %s" % p.stderr)
            return False
    return True
