"""Two gateways, one address (issue 18, docs/ha.md): real keepalived, real
conntrackd and the real proxygw supervisor on each of two gateway
namespaces (ha_pair.py), a client, and two remote backends started by
static:exec commands that count their starts: `app` (TCP and UDP) and
`game` (UDP only, so followed through static:exec's `check`).

One scenario, in order: the first gateway becomes master and warms the
backends for clients; the second follows app (mappings on, no start), and
saw game down (its one check ran before the warm: the window where the
master starts a backend after the backup's last probe). A long TCP transfer
and a UDP request/response stream run through the virtual address while the
master dies (its proxygw, netd, keepalived and conntrackd killed, its links
down): the backup takes the address, the transfer ends with every byte, the
stream goes on, a new connection is forwarded; game is checked once more and
taken over, and a UDP exchange with it works; each backend was started once.
The old master returns as backup without disturbing flows (and follows game
through its check), and the idle drains are the new master's alone. Figures
are printed (failover time, TCP bytes lost, UDP datagrams lost, backend
starts).
Skips only when keepalived, conntrackd or conntrack is not installed (`make
deps` installs them)."""
import datetime
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import Processes, binary, ensure_user, need_root, wait_for  # noqa: E402
import ha_pair  # noqa: E402
from ha_pair import BULK_BYTES, BULK_PORT, GAME_PORT, UDP_PORT, VIP, HaPair  # noqa: E402


def figure(name, value):
    print("ha figure: %s = %s" % (name, value), flush=True)


def log_time(log, msg, target):
    """The time (seconds since the epoch) of the last engine log line with
    `msg` about `target` (lines start `time=2026-12-01T10:00:00.123+0000`)."""
    for line in reversed(log.splitlines()):
        m = re.search(r"time=(\S+)", line)
        if m and msg in line and "target=%s " % target in line + " ":
            return datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    raise AssertionError("no log line %r for target %s" % (msg, target))


def interrupted(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


class HaFailover(unittest.TestCase):
    def run(self, result=None):
        # unittest runs no cleanup after Ctrl-C (KeyboardInterrupt passes
        # through it), nor after SIGTERM: namespaces and daemons would stay.
        previous = signal.signal(signal.SIGTERM, interrupted)
        try:
            return super().run(result)
        finally:
            self.doCleanups()  # the ones not run yet; each runs once
            signal.signal(signal.SIGTERM, previous)

    def setUp(self):
        need_root(self)
        missing = ha_pair.tools_missing()
        if missing:
            raise unittest.SkipTest("%s not installed (make deps installs them)" % ", ".join(missing))
        binary("proxygw")
        binary("proxygwctl")
        ensure_user("proxygw")
        ensure_user("proxygw-netd")
        self.procs = Processes()
        self.tmp = tempfile.mkdtemp(prefix="pgwha-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pair = HaPair("%03x" % (os.getpid() & 0xfff), self.tmp, self.procs)
        # Cleanups run in reverse: processes by pid first, then namespaces.
        self.addCleanup(self.pair.down)
        self.addCleanup(self.procs.stop_all)
        self.addCleanup(self.dump_on_failure)
        self.pair.up()

    def dump_on_failure(self):
        outcome = getattr(self, "_outcome", None)
        errors = getattr(outcome, "errors", None) or getattr(getattr(outcome, "result", None),
                                                              "failures", [])
        if not errors and not getattr(getattr(outcome, "result", None), "errors", []):
            return
        for i in (1, 2):
            for name in ("proxygw.log", "notify.log", "ka/stdout", "ctd/conntrackd.log"):
                path = self.pair.node_dir(i, name)
                if os.path.exists(path):
                    with open(path) as f:
                        text = f.read()
                    if name == "proxygw.log":  # without the status polls
                        text = "\n".join(l for l in text.splitlines() if "method=2" not in l)
                    print("--- g%d %s (tail) ---\n%s" % (i, name, text[-4000:]))

    def wait_role(self, i, role, timeout=30):
        wait_for(lambda: self.pair.status(i).get("role") == role, timeout,
                 what=lambda: "g%d role %s (status %r)" % (i, role, self.pair.status(i)))

    def test_failover_keeps_flows_and_the_backend_starts_once(self):
        p = self.pair
        p.start_agent()
        # g1 first, so that it is the master; g2 then joins as backup.
        p.start_node(1)
        self.wait_role(1, "master")
        p.start_node(2)
        wait_for(lambda: [s for _, s in p.notify_events(2)] == ["BACKUP"], 20,
                 what="g2's keepalived BACKUP")
        self.wait_role(2, "backup")
        self.assertEqual(p.target(2)["state"], "inactive")

        # Warm through the master: the page, then the backend.
        self.assertEqual(p.get(), "warming up")
        wait_for(lambda: p.target(1).get("state") == "active", 30,
                 what=lambda: "app active on g1: %r" % p.target(1))
        self.assertEqual(p.get(), "pgw-ha-backend")
        # The backup follows: the backend answers, its mappings go on.
        wait_for(lambda: p.target(2).get("follow") == "live", 20,
                 what=lambda: "g2 follows app as live: %r" % p.target(2))
        self.assertEqual(p.target(2)["state"], "inactive")
        self.assertEqual(p.agent_count("starts"), 1)
        # A backup refuses to decide.
        r = p.ctl(2, "warm", "app")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("this node is the HA backup; the master decides warms and drains", r.stderr)
        # Every target can be followed: no warning that one will start twice.
        self.assertNotIn("a backup cannot tell", p.log(1) + p.log(2))

        # The UDP-only backend, warmed by its first datagram (static:hold).
        # The backup checked it once, when it began following, before this
        # start: down, and not checked again before the failover.
        self.assertEqual(p.target(2, "game").get("follow"), "down")
        g = p.udp_exchange(GAME_PORT)
        self.assertGreater(g["answered"], 0, g)
        self.assertEqual(p.target(1, "game")["state"], "active")
        self.assertEqual(p.agent_count("starts", "game"), 1)
        self.assertEqual(p.target(2, "game").get("follow"), "down")

        bulk = p.background("bulk", VIP, BULK_PORT, BULK_BYTES)
        udp = p.background("udp", VIP, UDP_PORT, 16)
        time.sleep(3)  # flows established and replicated
        down_at = p.kill_node(1)

        wait_for(lambda: any(s == "MASTER" for _, s in p.notify_events(2)), 30,
                 what="g2's keepalived MASTER")
        self.wait_role(2, "master")
        master_at = [t for t, s in p.notify_events(2) if s == "MASTER"][0]
        role_at = time.time()
        figure("failover time (links down to keepalived MASTER on g2)", "%.2fs" % (master_at - down_at))
        figure("failover time (links down to the engine's role master, at most)",
               "%.2fs" % (role_at - down_at))
        t = p.target(2)
        self.assertEqual(t["state"], "active", t)
        self.assertNotIn("follow", t)
        figure("flows the new master counts after the failover", t.get("flows"))
        # A new connection after the failover is forwarded.
        self.assertEqual(p.get(), "pgw-ha-backend")
        # game was last seen down: checked once more at the promotion, found
        # running, and taken over without a second start.
        wait_for(lambda: p.target(2, "game").get("state") == "active", 30,
                 what=lambda: "game active on g2: %r" % p.target(2, "game"))
        self.assertIn("msg=leading: the backend answers the promotion probe, active without a "
                      "warm target=game", p.log(2).replace('"', ''))
        figure("UDP-only backend's promotion check (log times)", "%.2fs" % (
            log_time(p.log(2), "leading: the backend answers the promotion probe", "game")
            - log_time(p.log(2), "leading: probing the backend once before deciding", "game")))
        g = p.udp_exchange(GAME_PORT)
        figure("UDP-only backend after the failover: datagrams answered", "%d of %d" % (
            g["answered"], g["sent"]))
        self.assertGreater(g["answered"], 0, g)
        self.assertEqual(g["lost"], 0, g)
        self.assertEqual(p.agent_count("starts", "game"), 1, "game was started again")

        b = bulk.result(wait=90)
        u = udp.result(wait=60)
        figure("TCP bytes lost", "%d of %d (error %r, longest stall %.2fs, %.1fs in all)" % (
            b["expected"] - b["bytes"], b["expected"], b["error"], b["max_gap"], b["seconds"]))
        figure("UDP datagrams lost", "%d of %d (longest gap %.2fs)" % (u["lost"], u["sent"],
                                                                        u["max_gap"]))
        self.assertEqual(b["error"], "")
        self.assertEqual(b["bytes"], BULK_BYTES)
        self.assertGreater(u["answered"], u["sent"] // 2, u)
        # After the switch the stream went on: what was lost is the switch's.
        self.assertLess(u["max_gap"], 15, u)

        # The old master returns as backup (nopreempt) while flows run.
        udp2 = p.background("udp", VIP, UDP_PORT, 10)
        bulk2 = p.background("bulk", VIP, BULK_PORT, BULK_BYTES)
        p.reboot_node(1)
        wait_for(lambda: [s for _, s in p.notify_events(1)] == ["BACKUP"], 30,
                 what="g1's keepalived BACKUP")
        self.wait_role(1, "backup")
        self.assertTrue(p.has_vip(2) and not p.has_vip(1), "the address stays on g2")
        wait_for(lambda: p.target(1).get("follow") == "live", 20,
                 what=lambda: "g1 follows app as live: %r" % p.target(1))
        # Its first check of game, at once: running.
        wait_for(lambda: p.target(1, "game").get("follow") == "live", 20,
                 what=lambda: "g1 follows game as live: %r" % p.target(1, "game"))
        u2, b2 = udp2.result(wait=60), bulk2.result(wait=90)
        figure("UDP datagrams lost while the old master returned", "%d of %d" % (u2["lost"],
                                                                                 u2["sent"]))
        figure("TCP bytes lost while the old master returned", b2["expected"] - b2["bytes"])
        self.assertEqual(b2["bytes"], BULK_BYTES, b2)
        self.assertEqual(u2["lost"], 0, u2)
        self.assertEqual(p.target(2)["state"], "active")

        # Idle drain: decided by the master alone, the backend stopped once.
        wait_for(lambda: p.target(2).get("state") == "inactive", 90,
                 what=lambda: "g2 drains app when idle: %r" % p.target(2))
        wait_for(lambda: p.agent_count("stops") == 1, 20, what="the backend stopped")
        wait_for(lambda: p.target(1).get("follow") == "down", 20,
                 what=lambda: "g1 follows app as down: %r" % p.target(1))
        self.assertIn('msg=draining target=app reason=idle', p.log(2).replace('"', ''))
        # The committed flows came with the kernel's default timeouts (120 s
        # for UDP, 5 days for established TCP); g2's netd cut them to the
        # frontends' flow_timeout, or the drain would have waited for them.
        self.assertIn("flows re-timed to their mapping's flow_timeout", p.log(2))
        self.assertNotIn("msg=draining", p.log(1).replace('"', ''))
        starts = p.agent_count("starts")
        figure("backend starts", starts)
        figure("backend stops", p.agent_count("stops"))
        self.assertEqual(starts, 1, "the backend was started again")
        self.assertEqual(p.target(1)["state"], "inactive")
        wait_for(lambda: p.target(2, "game").get("state") == "inactive", 90,
                 what=lambda: "g2 drains game when idle: %r" % p.target(2, "game"))
        wait_for(lambda: p.agent_count("stops", "game") == 1, 20, what="game stopped")
        figure("UDP-only backend starts", p.agent_count("starts", "game"))
        figure("UDP-only backend stops", p.agent_count("stops", "game"))
        self.assertEqual(p.agent_count("starts", "game"), 1, "game was started again")
        self.assertIn('msg=draining target=game reason=idle', p.log(2).replace('"', ''))
        self.assertEqual(p.target(1, "game")["state"], "inactive")


if __name__ == "__main__":
    unittest.main()
