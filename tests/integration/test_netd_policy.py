"""netd's root-owned mapping policy (issue 13, item 1): a client holding the
engine's uid (a compromised engine) can switch the declared mappings on and
off, nothing more. Each attempt below was accepted before netd had a policy."""
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import H, M, NetdTestCase, binary, run, wait_for  # noqa: E402
from test_engine import EngineTestCase  # noqa: E402

DECLARED = [M("tcp", "198.18.1.1:8080", "198.18.2.2:80"),
            M("tcp", "0.0.0.0:8082", "198.18.2.2:80"),
            M("udp", "0.0.0.0:5300", "198.18.2.2:53")]


class HostileClient(NetdTestCase):
    policy = ["# what the config declares",
              "tcp 198.18.1.1:8080 198.18.2.2:80 mark 1",
              "tcp 0.0.0.0:8082 198.18.2.2:80 mark 2",
              "udp 0.0.0.0:5300 198.18.2.2:53 mark 3"]

    def setUp(self):
        super().setUp()
        self.serve(("tcp", "198.18.2.2", 80, "be-tcp4"), ("tcp", "198.18.2.3", 80, "other-host"))
        # The attacker's own listener on the gateway, where it would send
        # the host's ssh clients.
        self.serve(("tcp", "198.18.100.1", 2222, "attacker"), ns=self.topo.gw)
        c = self.client()
        c.hello()
        r = c.sync(DECLARED)
        self.assertEqual(r.get("added"), 3, r)
        c.close()
        wait_for(lambda: "engine disconnected" in self.log_text(), 10, what="first client gone")
        self.baseline = self.nft_list()

    def refused(self, cmd, what):
        e = self.assert_refused([cmd], "invalid", installed=3)
        self.assertIn(what, e[-1]["message"])
        wait_for(lambda: what in self.log_text(), 10, what="a log line naming " + what)
        # The declared mappings still forward.
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8080), "be-tcp4")

    def test_undeclared_mappings_are_refused_and_change_nothing(self):
        for mapping, text in [
                # the host's sshd, on every address and on a host address
                (M("tcp", "0.0.0.0:22", "198.18.100.1:2222"),
                 "tcp 0.0.0.0:22 -> 198.18.100.1:2222 (60s): not declared in netd's policy"),
                (M("tcp", "198.18.1.1:22", "198.18.100.1:2222"),
                 "tcp 198.18.1.1:22 -> 198.18.100.1:2222 (60s): not declared"),
                # the host's stub resolver, for local clients
                (M("udp", "127.0.0.53:53", "198.18.100.1:2222"),
                 "udp 127.0.0.53:53 -> 198.18.100.1:2222 (60s): not declared"),
                # transit traffic through the gateway
                (M("tcp", "203.0.113.7:443", "198.18.100.1:2222"),
                 "tcp 203.0.113.7:443 -> 198.18.100.1:2222 (60s): not declared"),
                # a declared listen address pointed elsewhere
                (M("tcp", "198.18.1.1:8080", "198.18.2.3:80"),
                 "tcp 198.18.1.1:8080 -> 198.18.2.3:80 (60s): not declared")]:
            with self.subTest(mapping=mapping):
                self.refused({"op": "change", "enable": [mapping]}, text)
                # Nor can it come in through a full sync.
                self.refused({"op": "sync", "mappings": DECLARED + [mapping], "holds": []}, text)
        self.assertIn("refused", self.fetch("tcp", "198.18.1.1", 22))
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8082), "be-tcp4")

    def test_a_hold_on_an_undeclared_key_is_refused(self):
        self.refused({"op": "hold", "holds": [H("tcp", "0.0.0.0:22")]},
                     "hold of tcp 0.0.0.0:22: not a listen address of netd's policy")

    def test_declared_mappings_switch_off_and_on(self):
        c = self.client()
        c.hello()
        r = c.call({"op": "change", "disable": [{"proto": "tcp", "listen": "198.18.1.1:8080"}]})
        self.assertEqual(r.get("removed"), 1, r)
        self.assertIn("refused", self.fetch("tcp", "198.18.1.1", 8080))
        r = c.call({"op": "change", "enable": [M("tcp", "198.18.1.1:8080", "198.18.2.2:80",
                                                 timeout=30)]})
        self.assertEqual(r.get("added"), 1, r)
        self.assertEqual(self.fetch("tcp", "198.18.1.1", 8080), "be-tcp4")


class PolicyFile(NetdTestCase):
    def start(self, *extra):
        return run(["ip", "netns", "exec", self.topo.gw, binary("proxygw-netd"), "--socket",
                    self.sock + "2", "--engine-user", "65533", "--user", "65534"] + list(extra),
                   check=False)

    def with_policy(self, name, text, mode, *extra):
        """Starts netd with a policy file of `text` and `mode`; a start that
        fails (its result)."""
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path, self.start("--policy", path, *extra)

    def test_netd_needs_a_policy_and_refuses_one_others_could_write(self):
        p = self.start()
        self.assertEqual(p.returncode, 2)
        self.assertIn("proxygw-netd: give --policy FILE or --no-policy", p.stderr)
        path, p = self.with_policy("loose.policy", "tcp 0.0.0.0:22 198.18.100.1:2222 mark 1\n",
                                   0o666)
        self.assertEqual(p.returncode, 1)
        self.assertIn("read the policy: %s: must be a regular file owned by root and writable "
                      "by root alone" % path, p.stderr)
        os.chmod(path, 0o644)
        os.chown(path, 65533, 65533)  # the engine's
        p = self.start("--policy", path)
        self.assertEqual(p.returncode, 1)
        self.assertIn("must be a regular file owned by root", p.stderr)

    def test_a_bad_line_names_its_number(self):
        path, p = self.with_policy(
            "bad.policy", "# ok\ntcp 0.0.0.0:80 198.18.2.2:80 mark 1\nsctp 0.0.0.0:80 198.18.2.2:80 mark 2\n",
            0o644)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s: policy:3: protocol must be tcp or udp" % path, p.stderr)
        # A line without a mark (a file written before marks) is refused too.
        path, p = self.with_policy("old.policy", "tcp 0.0.0.0:80 198.18.2.2:80\n", 0o644)
        self.assertEqual(p.returncode, 1)
        self.assertIn(r'%s: policy:1: expected \"tcp|udp LISTEN:PORT DESTINATION:PORT mark ID\"' % path,
                      p.stderr)

    def test_a_mark_the_ct_mark_mask_cannot_hold_is_refused_at_start(self):
        path, p = self.with_policy("big.policy", "tcp 0.0.0.0:80 198.18.2.2:80 mark 16\n", 0o644,
                                   "--ct-mark-mask", "0xf0000000", "--max-mappings", "15")
        self.assertEqual(p.returncode, 1)
        self.assertIn("read the policy: %s: mark 16 of tcp 0.0.0.0:80 does not fit the ct mark mask, "
                      "whose ids are 1-15" % path, p.stderr)


class Marks(NetdTestCase):
    """A mapping's ct mark is its listen key's in the policy (issue 18, design
    item 1: in an HA pair, conntrackd copies marks, so a mark must mean the
    same key on both gateways)."""
    policy = ["tcp 198.18.1.1:8080 198.18.2.2:80 mark 3",
              "tcp 198.18.1.1:8080 198.18.2.3:80 mark 3",
              "tcp 198.18.1.1:8081 198.18.2.2:80 mark 1",
              "udp 198.18.1.1:8081 198.18.2.2:53 mark 2"]
    MAPPINGS = [M("tcp", "198.18.1.1:8080", "198.18.2.2:80"),
                M("tcp", "198.18.1.1:8081", "198.18.2.2:80"),
                M("udp", "198.18.1.1:8081", "198.18.2.2:53")]

    def marks(self):
        """The kernel's marks of specific IPv4 keys: {"tcp 198.18.1.1:8080": 0x30000}."""
        out = self.topo.exec(self.topo.gw, ["nft", "list", "map", "inet", "proxygw", "mark4"]).stdout
        return {"%s %s:%s" % (p, a, port): int(m, 16) for p, a, port, m in
                re.findall(r"(tcp|udp) \. ([\d.]+) \. (\d+) : (0x[0-9a-f]+)", out)}

    def restart(self):
        os.kill(self.netd_pid(), signal.SIGTERM)
        self.netd.wait(timeout=10)
        self.start_netd()
        c = self.client()
        c.hello()
        return c

    def test_two_netds_with_the_same_policy_mark_a_key_alike_whatever_the_order(self):
        want = {"tcp 198.18.1.1:8080": 0x30000, "tcp 198.18.1.1:8081": 0x10000,
                "udp 198.18.1.1:8081": 0x20000}
        # One netd enables them one by one in one order, the next one (a new
        # table: the other gateway) in the reverse order; the destination of
        # a key does not change its mark.
        for order in (self.MAPPINGS, self.MAPPINGS[::-1]):
            with self.subTest(first=order[0]):
                c = self.client()
                c.hello()
                for m in order:
                    r = c.call({"op": "change", "enable": [m]})
                    self.assertEqual(r.get("added"), 1, r)
                self.assertEqual(self.marks(), want)
                r = c.call({"op": "change", "enable": [M("tcp", "198.18.1.1:8080", "198.18.2.3:80")]})
                self.assertEqual(r.get("added"), 1, r)
                self.assertEqual(self.marks(), want)
                r = c.call({"op": "shutdown", "remove_table": True})
                self.assertEqual(r.get("kind"), "empty", r)
                self.assertEqual(self.netd.wait(timeout=10), 0)
                self.start_netd()
                self.assertIn("table=created", self.log_text())

    def test_a_key_whose_mark_the_policy_changed_is_rewritten_at_the_next_sync(self):
        c = self.client()
        c.hello()
        self.assertEqual(c.sync(self.MAPPINGS).get("added"), 3)
        self.policy = [line.replace("mark 3", "mark 7") for line in self.policy]
        c = self.restart()
        self.assertEqual(self.marks()["tcp 198.18.1.1:8080"], 0x30000, "read back as it was")
        r = c.sync(self.MAPPINGS)
        self.assertEqual((r["added"], r["removed"], r["unchanged"]), (1, 0, 2), r)
        self.assertEqual(self.marks(), {"tcp 198.18.1.1:8080": 0x70000, "tcp 198.18.1.1:8081": 0x10000,
                                        "udp 198.18.1.1:8081": 0x20000})


class EngineWritesThePolicy(EngineTestCase):
    CONFIG = ("targets:\n"
              "  - name: web\n"
              "    kind: static:none\n"
              "    idle_timeout: 1h\n"
              "    endpoints: [{name: http, protocol: tcp, address: '198.18.2.2:80'}]\n"
              "frontends:\n")
    WEB = ("  - name: web\n"
           "    kind: static:always\n"
           "    listen: 0.0.0.0:8080\n"
           "    flow_timeout: 60s\n"
           "    target: web:http\n")

    def write_policy(self, frontends, policy):
        path = self.write_config(self.CONFIG + "".join(frontends))
        p = run([binary("proxygw-engine"), "--config", path, "--write-netd-policy", policy],
                check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(policy) as f:
            return f.read().splitlines()[1:]

    def test_the_engine_forwards_with_the_policy_it_wrote_as_root(self):
        policy = os.path.join(self.tmp, "written.policy")
        self.assertEqual(self.write_policy([self.WEB], policy),
                         ["tcp 0.0.0.0:8080 198.18.2.2:80 mark 1"])
        st = os.stat(policy)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (0, 0o644))
        # A frontend added before it, then removed: web keeps its mark, the
        # removed key's mark is kept from new keys.
        other = self.WEB.replace("name: web", "name: other").replace(":8080", ":8081")
        self.assertEqual(self.write_policy([other, self.WEB], policy),
                         ["tcp 0.0.0.0:8081 198.18.2.2:80 mark 2",
                          "tcp 0.0.0.0:8080 198.18.2.2:80 mark 1"])
        self.assertEqual(self.write_policy([self.WEB], policy),
                         ["tcp 0.0.0.0:8080 198.18.2.2:80 mark 1",
                          "# removed tcp 0.0.0.0:8081 mark 2"])
        self.procs.stop(self.netd)
        self.policy_file = policy
        self.start_netd()
        self.serve(("tcp", "198.18.2.2", 80, "be-web"))
        self.start_engine()
        wait_for(lambda: self.fetch("tcp", "198.18.1.1", 8080) == "be-web", 30,
                 what="forwarding under the written policy")


if __name__ == "__main__":
    unittest.main()
