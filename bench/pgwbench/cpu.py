"""CPU accounting: /proc/stat (machine-wide and per CPU) and the
utime+stime of every process of a network namespace.

Limits (stated in every report): the kernel's accounting is tick-sampled
(CONFIG_TICK_CPU_ACCOUNTING, HZ=250 here: whatever runs when the tick fires
is charged the whole 4 ms), there is no IRQ time accounting, and softirq work
done on behalf of one namespace is charged to whatever task or CPU happened
to run it. See forwarding.py for how the gateway's share is isolated.
"""
import os

TICK = os.sysconf("SC_CLK_TCK")  # /proc reports in USER_HZ (100)
FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def read_stat():
    """{"all": {...}, 0: {...}, 1: {...}} in seconds."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if not line.startswith("cpu"):
                break
            parts = line.split()
            name = parts[0][3:]
            key = "all" if name == "" else int(name)
            out[key] = {k: int(v) / TICK for k, v in zip(FIELDS, parts[1:1 + len(FIELDS)])}
    return out


def busy(d):
    return d["user"] + d["nice"] + d["system"] + d["irq"] + d["softirq"]


def ns_pids(inode):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if os.stat("/proc/%s/ns/net" % name).st_ino == inode:
                pids.append(int(name))
        except OSError:
            pass
    return pids


def proc_times(pid):
    """utime+stime+cutime+cstime (reaped children included) in seconds, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    # after "(comm) ": state is fields[0]; utime is field 14 of stat -> index 11
    return sum(int(x) for x in fields[11:15]) / TICK


def proc_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_name(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def ns_times(inode):
    """{pid: (name, cpu seconds)} of every process in the namespace."""
    total = {}
    for pid in ns_pids(inode):
        t = proc_times(pid)
        if t is not None:
            total[pid] = (proc_name(pid), t)
    return total


class Sample:
    """CPU use between start() and stop(): machine, per CPU, per namespace."""

    def __init__(self, namespaces):
        self.namespaces = namespaces  # {label: inode}

    def start(self):
        self.stat0 = read_stat()
        self.ns0 = {k: ns_times(i) for k, i in self.namespaces.items()}
        return self

    def stop(self):
        stat1 = read_stat()
        ns1 = {k: ns_times(i) for k, i in self.namespaces.items()}
        d = {}
        for key in stat1:
            d[key] = {f: stat1[key][f] - self.stat0[key][f] for f in FIELDS}
        res = {
            "wall_cpus": sum(d["all"][f] for f in FIELDS),  # elapsed x CPUs, from the same counters
            "machine_busy_s": busy(d["all"]),
            "softirq_irq_s": d["all"]["softirq"] + d["all"]["irq"],
            "system_s": d["all"]["system"],
            "steal_s": d["all"]["steal"],
            "per_cpu_busy_s": {str(k): busy(v) for k, v in d.items() if k != "all"},
            "per_cpu_softirq_s": {str(k): v["softirq"] + v["irq"] for k, v in d.items() if k != "all"},
        }
        for label in self.namespaces:
            # A process gone before stop() was reaped by its parent in the same
            # namespace (cutime/cstime): its start value is subtracted, its
            # whole life counted through the parent.
            by_name = {}
            for sign, snap in ((1, ns1[label]), (-1, self.ns0[label])):
                for name, t in snap.values():
                    by_name[name] = by_name.get(name, 0.0) + sign * t
            res["procs_s_" + label] = max(0.0, sum(by_name.values()))
            res["procs_by_name_" + label] = {k: round(v, 2) for k, v in by_name.items() if abs(v) >= 0.005}
        return res
