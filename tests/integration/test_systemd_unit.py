"""systemd:unit under a booted systemd (issue 16): the container of
test_systemd (booted_systemd.py: README's `make install` and "With systemd"
steps inside a booted Debian root with polkit), a backend that is a unit of
its own (pgw-echo.service: DynamicUser, ProtectSystem=strict), and the
engine as its unprivileged user `proxygw`, which may start and stop that
unit, and no other, through the polkit rule proxygw.service writes from the
config.

  client ns 198.18.61.100/24 --veth-- container 198.18.61.1 (frontend),
                                                198.18.61.2 (the unit's address)

In order: a client's request wakes the unit through the gateway; the idle
drain stops it; the unit killed while active makes the target inactive with
the unit's result; an engine restart keeps the unit; a unit already active
when the engine starts is adopted, not restarted; the proxygw user cannot
start a unit the config does not name (nor restart or kill its own); a unit
started and stopped by hand is followed; a rule without the unit makes the
engine's warm fail with polkit's refusal (once, not in a loop, for a unit
that stays up), and a reload writes the rule again."""
import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import booted_systemd  # noqa: E402
from pgw import HERE, wait_for  # noqa: E402

GW, BACKEND, CLIENT = "198.18.61.1", "198.18.61.2", "198.18.61.100"
UNIT = "pgw-echo.service"
RULE = "/etc/polkit-1/rules.d/50-proxygw.rules"

CONFIG = """\
version: v1
log: {output: /var/log/proxygw/proxygw.log, level: DEBUG}
plugins:
  ctl: {socket: /run/proxygw/ctl.sock}
targets:
  - name: echo
    kind: systemd:unit
    idle_timeout: 8s
    endpoints: [{name: tcp, protocol: tcp, address: "%(backend)s:7000"}]
    options: {unit: %(unit)s, stop_timeout: 20s}
frontends:
  - name: echo
    kind: static:http
    listen: "%(gw)s:8080"
    # A closed flow counts until conntrack forgets it: soon, for the idle drain.
    flow_timeout: 5s
    target: echo:tcp
    options: {content: "starting\\n"}
""" % {"gw": GW, "backend": BACKEND, "unit": UNIT}

# The backend: a sandboxed unit with a user of its own.
ECHO_UNIT = """\
[Unit]
Description=proxygw test backend (systemd:unit)
[Service]
DynamicUser=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes
ExecStart=/usr/bin/python3 /srv/proxygw-test/nshelper.py serve tcp:%s:7000:backend
""" % BACKEND

# A unit the config does not name.
OTHER_UNIT = """\
[Service]
DynamicUser=yes
ExecStart=/bin/sleep infinity
"""


class SystemdUnitTarget(booted_systemd.BootedSystemd):
    CONFIG = CONFIG
    GW, BACKEND, CLIENT = GW, BACKEND, CLIENT
    NAME = "pgwsu"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.sh("test -x /usr/lib/polkit-1/polkitd", check=False).returncode == 0:
            cls.tearDownClass()
            raise unittest.SkipTest("the Debian root has no polkitd (make deps rebuilds it)")

    @classmethod
    def prepare_root(cls):
        os.makedirs(os.path.join(cls.root, "srv/proxygw-test"))
        shutil.copy(os.path.join(HERE, "nshelper.py"), os.path.join(cls.root, "srv/proxygw-test"))
        for name, text in ((UNIT, ECHO_UNIT), ("pgw-other.service", OTHER_UNIT)):
            with open(os.path.join(cls.root, "etc/systemd/system", name), "w") as f:
                f.write(text)

    # -- helpers --------------------------------------------------------------

    def echo(self):
        return self.target("echo")

    def wait_state(self, state, timeout=60, what=None):
        try:
            wait_for(lambda: self.echo().get("state") == state, timeout, interval=0.2,
                     what=what or "target echo " + state)
        except AssertionError:
            print(self.sh("tail -n 40 /var/log/proxygw/proxygw.log; journalctl -q --no-pager "
                          "-n 40 -u proxygw -u polkit -u " + UNIT, check=False).stdout)
            raise

    def wake_by_client(self):
        page = self.client("http", GW, "8080", stdout=subprocess.PIPE, text=True)
        out, _ = page.communicate(timeout=30)
        self.assertIn("starting", out)
        self.wait_state("active", what="the unit woken by a client")

    def as_proxygw(self, command):
        return self.sh("runuser -u proxygw -- " + command, check=False)

    def engine_starts(self):
        """How many times the engine asked systemd to start the unit."""
        return self.sh("cat /var/log/proxygw/proxygw.log").stdout.count('msg="starting the unit"')

    def polkit_loads(self):
        return self.sh("journalctl -q --no-pager -u polkit", check=False).stdout.count(
            "Finished loading, compiling and executing")

    def write_rule(self, command):
        """Changes the rule file with `command` and waits until polkitd reloaded it."""
        loads = self.polkit_loads()
        self.sh(command)
        wait_for(lambda: self.polkit_loads() > loads, 30, interval=0.2, what="polkitd reloaded")

    # -- the test -------------------------------------------------------------

    def test_unit_woken_drained_followed_adopted_and_confined(self):
        self.run_readme_steps()
        wait_for(lambda: self.status().get("dataplane") == "connected", 60, interval=0.2,
                 what="the engine connected to netd")
        self.assertLessEqual(self.exposure("proxygw.service"), 1.5)
        self.assertIn('["%s"]' % UNIT, self.sh("cat " + RULE).stdout)
        self.assertEqual(self.unit(UNIT, "ActiveState"), "inactive")

        # A client wakes the unit: the engine (user proxygw) starts it over
        # the bus, polkit allowing; the backend runs as a user of its own.
        self.wake_by_client()
        self.assertEqual(self.unit(UNIT, "ActiveState"), "active")
        pid = self.unit(UNIT, "MainPID")
        owner = self.sh("ps -o user= -p " + pid).stdout.strip()
        self.assertNotIn(owner, ("root", "proxygw"))
        self.assertEqual(self.sh("ps -o user= -p %s" % self.unit("proxygw", "MainPID")).stdout.strip(),
                         "proxygw")
        h = self.hold(1)
        self.assertEqual(self.ping(h), "pong 1")
        self.sh("systemctl restart proxygw")
        self.wait_state("active", 30, "the target kept across an engine restart")
        self.assertEqual(self.unit(UNIT, "MainPID"), pid, "an engine restart restarted the unit")
        self.assertEqual(self.ping(h), "pong 1")

        # Idle: the drain stops the unit.
        h.stdin.write("close\n")
        h.stdin.flush()
        self.wait_state("inactive", 60, "the idle drain")
        self.assertEqual(self.unit(UNIT, "ActiveState"), "inactive")
        self.assertNotIn("last_error", self.echo())

        # Killed while active: the target goes inactive with the unit's result.
        self.sh("proxygwctl warm echo")
        self.wait_state("active")
        self.sh("systemctl kill -s KILL " + UNIT)
        self.wait_state("inactive", 30, "the target after its unit was killed")
        self.assertEqual(self.unit(UNIT, "ActiveState"), "failed")
        self.assertEqual(self.echo().get("last_error"),
                         "backend exited: %s failed (result: signal)" % UNIT)

        # Active before the engine starts: adopted, not restarted.
        self.sh("systemctl stop proxygw")
        self.sh("systemctl start " + UNIT)
        pid = self.unit(UNIT, "MainPID")
        self.sh("systemctl start proxygw")
        self.wait_state("active", 60, "the running unit adopted")
        self.assertEqual(self.unit(UNIT, "MainPID"), pid, "adopting restarted the unit")
        self.assertIn("taking it over", self.sh("cat /var/log/proxygw/proxygw.log").stdout)
        self.sh("proxygwctl drain echo")
        self.wait_state("inactive")
        self.assertEqual(self.unit(UNIT, "ActiveState"), "inactive")

        # polkit: the proxygw user may start and stop its unit, and no other.
        p = self.as_proxygw("systemctl --no-ask-password start pgw-other.service")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Access denied", p.stderr)
        self.assertEqual(self.unit("pgw-other.service", "ActiveState"), "inactive")
        for verb in ("restart", "kill"):
            p = self.as_proxygw("systemctl --no-ask-password %s %s" % (verb, UNIT))
            self.assertNotEqual(p.returncode, 0, verb)
        # ... and a unit started by hand is followed: taken over, then its
        # stop is the backend's exit.
        self.assertEqual(self.as_proxygw("systemctl --no-ask-password start " + UNIT).returncode, 0)
        self.wait_state("active", 60, "the unit started by hand taken over")
        self.assertEqual(self.as_proxygw("systemctl --no-ask-password stop " + UNIT).returncode, 0)
        self.wait_state("inactive", 30, "the target after its unit was stopped by hand")
        self.assertEqual(self.echo().get("last_error"),
                         "backend exited: %s stopped (result: success)" % UNIT)

        # A rule without the unit: the engine's warm fails with the refusal;
        # a reload writes the rule from the config again.
        self.write_rule("sed -i 's/var units = .*/var units = [];/' " + RULE)
        self.sh("proxygwctl warm echo")
        self.wait_state("inactive", 30, "the refused warm")
        err = self.echo().get("last_error", "")
        self.assertEqual(err, "warm failed: start %s: Permission denied "
                              "(org.freedesktop.DBus.Error.AccessDenied); the engine's user may "
                              "start and stop only the units of systemd:unit targets, through the "
                              "polkit rule that `proxygw-engine --write-polkit-rule` writes "
                              "(README: systemd:unit and polkit)" % UNIT)
        self.assertEqual(self.unit(UNIT, "ActiveState"), "inactive")
        # The unit started by hand meanwhile: taken over once, refused, and
        # not retried in a loop while it stays up.
        starts = self.engine_starts()
        self.sh("systemctl start " + UNIT)
        wait_for(lambda: self.engine_starts() > starts, 30, what="the unit offered")
        time.sleep(3)
        self.assertEqual(self.engine_starts(), starts + 1)
        self.assertEqual(self.echo().get("state"), "inactive")
        self.write_rule("systemctl reload proxygw")
        self.wake_by_client()

        # The engine's stop stops the unit it runs.
        self.sh("systemctl stop proxygw")
        self.assertEqual(self.unit(UNIT, "ActiveState"), "inactive")


if __name__ == "__main__":
    unittest.main()
