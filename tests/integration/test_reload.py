"""Config reload (issue 14 item 4) with the real engine, netd, proxygwctl and
traffic: SIGHUP and `proxygwctl reload` re-read the config; a valid one is
applied as a difference (what did not change keeps its state, flows and
mapping), an invalid one is refused with located errors and nothing changes.

Backends are plain TCP servers in the backend namespace (static:none
targets kept warm by static:always frontends), so every mapping is on while
its target runs and each can be told apart by the name it answers."""
import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import NS_HELPER, binary, run, wait_for  # noqa: E402
from test_engine import EngineTestCase  # noqa: E402


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def target(name, port, addr="198.18.2.2"):
    return ("  - {name: %s, kind: 'static:none', idle_timeout: 5m,"
            " endpoints: [{name: e, protocol: tcp, address: '%s:%d'}]}\n" % (name, addr, port))


def frontend(name, port, target_name):
    return ("  - {name: %s, kind: 'static:always', listen: '0.0.0.0:%d', flow_timeout: 60s,"
            " target: '%s:e'}\n" % (name, port, target_name))


# keep: unchanged throughout; a flow runs through it. chg: its endpoint
# changes (replaced). gone: removed. side: unchanged target whose frontends
# change (side-a moves to another port, side-b goes, side-c comes).
BEFORE = ("targets:\n" + target("keep", 80) + target("chg", 81) + target("gone", 83) +
          target("side", 84) +
          "frontends:\n" + frontend("keep", 8080, "keep") + frontend("chg", 8081, "chg") +
          frontend("gone", 8083, "gone") + frontend("side-a", 8084, "side") +
          frontend("side-b", 8086, "side"))
AFTER = ("targets:\n" + target("keep", 80) + target("chg", 81, addr="198.18.2.3") +
         target("new", 82) + target("side", 84) +
         "frontends:\n" + frontend("keep", 8080, "keep") + frontend("chg", 8081, "chg") +
         frontend("new", 8082, "new") + frontend("side-a", 8085, "side") +
         frontend("side-c", 8087, "side"))


class ReloadTestCase(EngineTestCase):
    def start(self, body):
        self.serve(("tcp", "198.18.2.2", 80, "keep"), ("tcp", "198.18.2.2", 81, "chg-old"),
                   ("tcp", "198.18.2.3", 81, "chg-new"), ("tcp", "198.18.2.2", 82, "new"),
                   ("tcp", "198.18.2.2", 83, "gone"), ("tcp", "198.18.2.2", 84, "side"))
        self.write_config(body)
        self.start_engine()
        for t in self.status()["targets"]:
            self.wait_state(t["name"], "active")
        wait_for(lambda: self.status()["dataplane"] == "connected", 20, what="dataplane connected")

    def hold_flow(self, port):
        """One TCP connection through the gateway, kept open; ping() checks it."""
        hold = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, sys.executable, NS_HELPER, "hold", "tcp",
             "198.18.1.1", str(port), "1", "5"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.assertEqual(hold.stdout.readline().strip(), "open 1")
        return hold

    def ping(self, hold):
        hold.stdin.write("ping\n")
        return hold.stdout.readline().strip()

    def conntrack_ids(self, port):
        """The ids of the gateway's conntrack entries for flows to `port`."""
        out = self.topo.exec(self.topo.gw, ["conntrack", "-L", "-p", "tcp", "--orig-port-dst",
                                            str(port), "-o", "id"], check=False).stdout
        return sorted(re.findall(r"id=(\d+)", out))

    def reload_lines(self):
        return [l for l in self.engine_text().splitlines() if 'msg="config reloaded"' in l]

    def sighup_and_wait(self, what):
        before = self.engine_text().count(what)
        os.kill(self.engine.pid, signal.SIGHUP)
        wait_for(lambda: self.engine_text().count(what) > before, 20, what=what)

    def write_raw(self, body):
        """Rewrites the running config without checking it (it may be invalid)."""
        text = self.file_text(self.config)
        head = text[:text.index("targets:\n")]
        write(self.config, head + body)


class ReloadAppliesTheDifference(ReloadTestCase):
    def test_adding_removing_and_changing_leaves_a_flow_through_an_unchanged_target_alone(self):
        self.start(BEFORE)
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8081), "chg-old")
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8083), "gone")
        hold = self.hold_flow(8080)
        self.assertEqual(self.ping(hold), "pong 1")
        flow_ids = self.conntrack_ids(8080)
        self.assertEqual(len(flow_ids), 1)
        keep_before = self.target("keep")
        side_since = self.target("side")["since"]

        self.write_config(AFTER)
        p = self.ctl("reload")
        self.assertEqual(p.stdout,
                         "config reloaded\n"
                         "targets added: new\n"
                         "targets removed: gone\n"
                         "targets changed: chg\n"
                         "targets unchanged: keep, side\n"
                         "frontends added: new, side-c\n"
                         "frontends removed: gone, side-b\n"
                         "frontends changed: chg, side-a\n"
                         "frontends unchanged: keep\n"
                         "targets remapped: side\n")
        # The plan is logged.
        line = self.reload_lines()[-1]
        for field in ("targets_added=new", "targets_removed=gone", "targets_changed=chg",
                      "targets_unchanged=keep,side", "targets_remapped=side",
                      "frontends_added=new,side-c", "frontends_removed=gone,side-b",
                      "frontends_changed=chg,side-a", "frontends_unchanged=keep"):
            self.assertIn(field, line)

        # The changes take effect.
        wait_for(lambda: self.fetch("tcp", "198.18.1.1", 8081, timeout=2) == "chg-new", 30,
                 what="the changed target's new endpoint")
        wait_for(lambda: self.fetch("tcp", "198.18.1.1", 8082, timeout=2) == "new", 30,
                 what="the added target and frontend")
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8085), "side")
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8087), "side")
        for gone in (8083, 8084, 8086):
            self.assertNotEqual(self.fetch("tcp", "198.18.1.1", gone, timeout=2), "gone")
        wait_for(lambda: "gone" not in [t["name"] for t in self.status()["targets"]], 20,
                 what="the removed target gone from status")
        table = self.nft_list()
        self.assertNotIn("198.18.2.2 . 83", table)
        self.assertNotIn("198.18.2.2 . 81 ", table)
        self.assertIn("198.18.2.3 . 81", table)
        self.assertNotRegex(table, r"\b8084\b")

        # The flow through the unchanged target: the same connection, the same
        # conntrack entry, the target never left active.
        self.assertEqual(self.ping(hold), "pong 1")
        self.assertEqual(self.conntrack_ids(8080), flow_ids)
        keep_after = self.target("keep")
        self.assertEqual((keep_after["state"], keep_after["since"]),
                         (keep_before["state"], keep_before["since"]))
        self.assertEqual(self.target("side")["since"], side_since)  # remapped, not restarted
        self.assertIn("tcp . 8080 : 198.18.2.2 . 80", table)
        hold.stdin.write("close\n")


class ReloadRefused(ReloadTestCase):
    def test_an_invalid_config_is_refused_with_located_errors_and_nothing_changes(self):
        self.start(BEFORE)
        hold = self.hold_flow(8080)
        table = self.nft_list()
        states = [(t["name"], t["state"], t["since"]) for t in self.status()["targets"]]
        self.write_raw(BEFORE.replace("idle_timeout: 5m", "idle_timeout: 0s", 1) +
                       frontend("new", 8082, "nowhere"))
        check = run([binary("proxygw-engine"), "--check-config", self.config], check=False)
        self.assertNotEqual(check.returncode, 0)
        located = [l for l in check.stderr.splitlines() if l.startswith(self.config + ":")]
        self.assertEqual(len(located), 2, check.stderr)
        self.assertRegex(located[0], r":\d+:\d+: targets\[0\]\.idle_timeout: ")

        # proxygwctl: the same errors on stderr, exit 8, nothing on stdout.
        p = self.ctl("reload", check=False)
        self.assertEqual(p.returncode, 8, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(p.stderr.splitlines(),
                         located + ["proxygwctl: reload refused (2 errors); the running config "
                                    "stays"])
        # SIGHUP: refused and logged the same way.
        self.sighup_and_wait("config reload refused: the new config is invalid")
        for l in located:
            self.assertIn(l.replace('"', '\\"'), self.engine_text())

        # A setting only a restart applies: refused, saying so.
        self.write_config(BEFORE)
        text = self.file_text(self.config).replace("ctl: {socket: %s}" % self.ctl_sock,
                                                "ctl: {socket: %s.new}" % self.ctl_sock)
        write(self.config, text)
        p = self.ctl("reload", check=False)
        self.assertEqual(p.returncode, 8, p.stderr)
        self.assertIn("plugins.ctl: changed; this needs a restart of proxygw", p.stderr)

        # Nothing changed.
        self.assertEqual(self.nft_list(), table)
        self.assertEqual([(t["name"], t["state"], t["since"]) for t in self.status()["targets"]],
                         states)
        self.assertEqual(self.ping(hold), "pong 1")
        self.assertEqual(self.reload_lines(), [])
        hold.stdin.write("close\n")


class ReloadSameFile(ReloadTestCase):
    def test_reloading_the_same_file_changes_nothing_in_the_kernel(self):
        self.start(BEFORE)
        hold = self.hold_flow(8080)
        flow_ids = self.conntrack_ids(8080)
        table = self.nft_list()
        self.assertIn("tcp . 8080 : 198.18.2.2 . 80", table)
        netd_before = self.log_text()
        self.sighup_and_wait('msg="config reloaded"')
        p = self.ctl("reload")
        self.assertEqual(p.stdout, "config reloaded\n"
                                   "targets unchanged: chg, gone, keep, side\n"
                                   "frontends unchanged: chg, gone, keep, side-a, side-b\n")
        for line in self.reload_lines():
            self.assertIn("targets_added=- targets_removed=- targets_changed=-", line)
            self.assertIn("frontends_added=- frontends_removed=- frontends_changed=-", line)
        time.sleep(1)  # anything a reload would have sent netd has arrived by now
        self.assertEqual(self.nft_list(), table)
        self.assertEqual(self.conntrack_ids(8080), flow_ids)
        self.assertEqual(self.ping(hold), "pong 1")
        # netd was asked to change nothing.
        since = self.log_text()[len(netd_before):]
        for change in ("change applied", "flows flushed", "sync applied"):
            self.assertNotIn(change, since)
        hold.stdin.write("close\n")


class ReloadReopensTheLog(ReloadTestCase):
    def test_sighup_still_reopens_the_log_file(self):
        log_file = os.path.join(self.run_dir, "engine.log")
        self.write_config(BEFORE)
        text = self.file_text(self.config).replace("log: {output: stderr, level: DEBUG}",
                                                "log: {output: %s, level: INFO}" % log_file)
        write(self.config, text)
        self.serve(("tcp", "198.18.2.2", 80, "keep"))
        self.start_engine(log_file=log_file)
        os.rename(log_file, log_file + ".1")  # as logrotate does
        os.kill(self.engine.pid, signal.SIGHUP)
        wait_for(lambda: 'msg="config reloaded"' in self.file_text(log_file),
                 20, what="a new log file with the reload in it")
        self.assertNotIn('msg="config reloaded"', self.file_text(log_file + ".1"))
        # Refused reloads reopen it too.
        os.rename(log_file, log_file + ".2")
        self.write_raw(BEFORE.replace("idle_timeout: 5m", "idle_timeout: 0s", 1))
        os.kill(self.engine.pid, signal.SIGHUP)
        wait_for(lambda: "config reload refused" in self.file_text(log_file),
                 20, what="a new log file with the refusal in it")


if __name__ == "__main__":
    unittest.main()
