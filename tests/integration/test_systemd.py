"""The systemd deployment, booted for real (issue 10): a Debian 12 root
(tests/systemd/debian-root.sh, built once by `make deps`) boots systemd in a
container (systemd-nspawn -b, a private network, CAP_NET_ADMIN), proxygw is
installed into it with `make install DESTDIR=<root>` (README's `make install`,
staged into the container's root instead of the host's), and README's "With
systemd" commands run inside it, literally, taken from README itself.

Then a client in a network namespace of the test's own, joined to the
container by a veth pair, wakes a static:cmd backend and holds connections
through the gateway while the units are reloaded, restarted and stopped:

  client ns 198.18.60.100/24 --veth-- container 198.18.60.1 (frontend),
                                                198.18.60.2 (the backend's address)

The container comes from booted_systemd.py (shared with test_systemd_unit).
Skips with one line when this machine cannot boot a systemd container."""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import booted_systemd  # noqa: E402
from pgw import HERE, wait_for  # noqa: E402

GW, BACKEND, CLIENT = "198.18.60.1", "198.18.60.2", "198.18.60.100"

CONFIG = """\
version: v1
log: {output: /var/log/proxygw/proxygw.log, level: INFO}
plugins:
  ctl: {socket: /run/proxygw/ctl.sock}
  static: {}
targets:
  - name: echo
    kind: static:cmd
    idle_timeout: 10m
    endpoints: [{name: tcp, protocol: tcp, address: "%(backend)s:7000"}]
    options:
      command: exec python3 /srv/proxygw-test/nshelper.py serve tcp:%(backend)s:7000:backend
      stop_timeout: 5s
  - name: slow
    kind: static:cmd
    idle_timeout: 10m
    endpoints: [{name: tcp, protocol: tcp, address: "%(backend)s:7001"}]
    options:
      command: exec python3 /srv/proxygw-test/slow_save.py %(backend)s 7001 /var/log/proxygw/saved 5
      stop_timeout: 20s
frontends:
  - name: slow
    kind: static:http
    listen: "%(gw)s:7001"
    flow_timeout: 60s
    target: slow:tcp
    options: {content: "starting\\n"}
  - name: echo
    kind: static:http
    listen: "%(gw)s:8080"
    flow_timeout: 60s
    target: echo:tcp
    options: {content: "starting\\n"}
""" % {"gw": GW, "backend": BACKEND}


class BootedSystemd(booted_systemd.BootedSystemd):
    CONFIG = CONFIG
    GW, BACKEND, CLIENT = GW, BACKEND, CLIENT
    NAME = "pgwsd"

    @classmethod
    def prepare_root(cls):
        os.makedirs(os.path.join(cls.root, "srv/proxygw-test"))
        for helper in ("nshelper.py", "slow_save.py"):
            shutil.copy(os.path.join(HERE, helper), os.path.join(cls.root, "srv/proxygw-test"))

    # -- helpers --------------------------------------------------------------

    def target(self, name="echo"):
        return super().target(name)

    def start_and_warm(self):
        """The README steps' result: both units up, a client wakes the backend."""
        page = self.client("http", GW, "8080", stdout=subprocess.PIPE, text=True)
        out, _ = page.communicate(timeout=30)
        self.assertIn("starting", out)
        try:
            wait_for(lambda: self.target().get("state") == "active", 60, interval=0.2,
                     what="the backend warmed by a client")
        except AssertionError:
            print(self.sh("tail -n 40 /var/log/proxygw/proxygw.log; journalctl -q --no-pager "
                          "-n 40 -u proxygw -u proxygw-netd", check=False).stdout)
            raise

    def assert_netd_holds_only_cap_net_admin(self):
        """Issue 13: under systemd netd kept the supplementary groups User=
        gives (initgroups(): its own group, and any the admin added)."""
        pid = self.unit("proxygw-netd.service", "MainPID")
        status = self.sh("cat /proc/%s/status" % pid).stdout
        fields = dict((k, v.strip()) for k, v in
                      (l.split(":", 1) for l in status.splitlines() if ":" in l))
        self.assertEqual({k: fields[k] for k in ("Groups", "CapEff", "CapPrm", "CapAmb")},
                         {"Groups": "", "CapEff": "0000000000001000",
                          "CapPrm": "0000000000001000", "CapAmb": "0000000000000000"}, status)

    # -- the test -------------------------------------------------------------

    def test_readme_steps_then_reload_restarts_and_stop(self):
        self.run_readme_steps()
        wait_for(lambda: self.status().get("dataplane") == "connected", 60, interval=0.2,
                 what="the engine connected to netd (socket-activated)")
        for u in ("proxygw-netd.socket", "proxygw-netd.service", "proxygw.service"):
            self.assertEqual(self.unit(u, "ActiveState"), "active", u)
        # netd came from the socket on the engine's first connection and
        # stays up: no seccomp kill, no restart.
        self.assertEqual(self.unit("proxygw-netd.service", "NRestarts"), "0")
        self.assertNotIn("status=31/SYS", self.journal("proxygw-netd.service"))
        self.assert_netd_holds_only_cap_net_admin()
        for svc in ("proxygw-netd.service", "proxygw.service"):
            self.assertLessEqual(self.exposure(svc), 1.5, svc)

        self.start_and_warm()
        engine_pid = self.sh("systemctl show -P MainPID proxygw").stdout
        h = self.hold()
        self.assertEqual(self.ping(h), "pong 2")
        wait_for(lambda: self.target().get("flows") == 2, 30, what="2 flows counted")
        # The log file sits in the unit's LogsDirectory.
        self.assertIn("msg=serving", self.sh("cat /var/log/proxygw/proxygw.log").stdout)

        self.sh("systemctl reload proxygw")
        self.assertEqual(self.ping(h), "pong 2", "systemctl reload cut a live flow")

        backend = self.sh("pgrep -f ^python3.*nshelper.py").stdout.split()
        self.sh("systemctl restart proxygw")
        self.assertNotEqual(self.sh("systemctl show -P MainPID proxygw").stdout, engine_pid)
        self.assertEqual(self.ping(h), "pong 2", "systemctl restart proxygw cut a live flow")
        self.assertEqual(self.sh("pgrep -f ^python3.*nshelper.py").stdout.split(), backend,
                         "the restart replaced the backend")
        wait_for(lambda: self.target().get("state") == "active", 30, what="the backend adopted")
        self.assertEqual(self.target().get("flows"), 2)

        # An engine crash: systemd restarts it (Restart=on-failure) and, with
        # KillMode=process, the backend and its flows outlive it.
        engine_pid = self.sh("systemctl show -P MainPID proxygw").stdout.strip()
        self.sh("kill -9 %s" % engine_pid)
        wait_for(lambda: self.sh("systemctl show -P MainPID proxygw").stdout.strip()
                 not in ("0", engine_pid), 30, interval=0.2, what="the engine restarted")
        wait_for(lambda: self.target().get("state") == "active", 30, what="adopted after a crash")
        self.assertEqual(self.ping(h), "pong 2", "an engine crash cut a live flow")
        self.assertEqual(self.sh("pgrep -f ^python3.*nshelper.py").stdout.split(), backend,
                         "the engine's crash took the backend down")

        # A group the admin gave netd's user is not netd's either.
        self.sh("usermod -a -G adm proxygw-netd")
        self.sh("systemctl restart proxygw-netd")
        self.assertEqual(self.ping(h), "pong 2", "systemctl restart proxygw-netd cut a live flow")
        wait_for(lambda: self.status().get("dataplane") == "connected", 30, what="netd restarted")
        self.assert_netd_holds_only_cap_net_admin()
        # A stop of netd alone leaves forwarding (the engine's next connection
        # starts it again).
        self.sh("systemctl stop proxygw-netd")
        self.assertEqual(self.ping(h), "pong 2", "systemctl stop proxygw-netd cut a live flow")
        wait_for(lambda: self.status().get("dataplane") == "connected", 30,
                 what="netd socket-activated again")

        # A stop drains: the backend stops (gone, not left in the unit's
        # cgroup), the flows are flushed, the table goes.
        self.sh("systemctl stop proxygw proxygw-netd.socket proxygw-netd")
        self.assertEqual(self.ping(h), "pong 0", "a live flow survived the stop")
        self.assertEqual(self.sh("pgrep -f ^python3.*nshelper.py", check=False).stdout, "")
        self.assertNotIn("proxygw", self.table())
        self.assertIn('msg="backend stopped"', self.sh("cat /var/log/proxygw/proxygw.log").stdout)

        # Stopping both together leaves nothing, every time (it used to leave
        # the table in 1 of 3 runs: the engine's stop raced netd's).
        for i in range(3):
            self.sh("systemctl start proxygw-netd.socket proxygw")
            self.start_and_warm()
            self.assertIn("proxygw", self.table())
            self.sh("systemctl stop proxygw proxygw-netd.socket proxygw-netd")
            self.assertNotIn("proxygw", self.table(), "round %d left the table" % i)
            self.assertEqual(self.sh("pgrep -f ^python3.*nshelper.py", check=False).stdout, "")

        # A stop_timeout (20 s) longer than the unit's TimeoutStopSec (3 s
        # here; 150 s as shipped, where stop_timeout may be up to 1 h): the
        # engine extends systemd's timeout to what its drains need, instead of
        # being killed in the middle of a backend's save with the table left.
        self.sh("mkdir -p /etc/systemd/system/proxygw.service.d && printf "
                "'[Service]\\nTimeoutStopSec=3s\\n' > /etc/systemd/system/proxygw.service.d/t.conf "
                "&& systemctl daemon-reload")
        self.sh("systemctl start proxygw-netd.socket proxygw")
        wait_for(lambda: self.status().get("dataplane") == "connected", 30, what="connected")
        self.sh("proxygwctl warm slow")
        wait_for(lambda: self.target("slow").get("state") == "active", 30, what="slow active")
        self.sh("systemctl stop proxygw", timeout=90)
        self.assertEqual(self.unit("proxygw.service", "Result"), "success")
        self.assertEqual(self.sh("cat /var/log/proxygw/saved").stdout, "saved")
        self.assertNotIn("proxygw", self.table())


if __name__ == "__main__":
    unittest.main()
