"""Processes, commands and clean-up shared by every section.

Everything the harness starts is recorded here and stopped by pid (never by
name); namespaces are deleted by Topology.down(). run.py installs signal
handlers so that Ctrl-C and SIGTERM unwind through the same clean-up.
"""
import os
import signal
import subprocess
import sys
import time

# Processes (stopped by pid), wait_for and delete_namespace are the
# integration tests' own (tests/integration/pgw.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
from pgw import Processes, delete_namespace, wait_for  # noqa: E402,F401


class Interrupted(Exception):
    """SIGINT/SIGTERM arrived: unwind and clean up."""


def install_signal_handlers():
    def handler(signum, _frame):
        # Ignore further signals while we clean up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Interrupted("signal %d" % signum)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def run(args, check=True, timeout=60, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(map(str, args)), p.returncode,
                                                      p.stdout[-2000:], p.stderr[-2000:]))
    return p


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    v = sorted(values)
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def median(values):
    v = sorted(values)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0
