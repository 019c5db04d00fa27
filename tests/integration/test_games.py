"""The game frontends (minecraft:server, valheim:server, valheim:status) with
the real engine and netd in namespaces, against real clients and servers that
no one here wrote (issue 15): minecraft-protocol's offline-mode server as the
Minecraft backend and its client for pings and logins, gamedig for the
Minecraft and Valheim (A2S) queries. See gameclients.py for how they are
installed.

The engine runs as uid 65533 in the gateway namespace; its backends (the
Minecraft server, a UDP stand-in for the Valheim server) run on the gateway's
198.18.100.1 as static:cmd children; clients run in the client namespace and
reach the gateway at 198.18.1.1."""
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gameclients  # noqa: E402
from pgw import NS_HELPER, run, wait_for  # noqa: E402
from test_engine import EngineTestCase  # noqa: E402

GW = "198.18.1.1"
UDP_CLIENT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udp_client.py")


class GameTestCase(EngineTestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root for network namespaces")
        cls.node = gameclients.node()
        cls.js = gameclients.install()

    def client_js(self, *args, timeout=90):
        """Runs a script of js/ in the client namespace; (exit, JSON lines)."""
        rc, out, err = gameclients.run_json_lines(
            ["ip", "netns", "exec", self.topo.client, self.node,
             os.path.join(self.js, args[0])] + [str(a) for a in args[1:]], timeout=timeout)
        return rc, out

    def assert_stays(self, target, state, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.assertEqual(self.target(target)["state"], state, self.engine_text()[-3000:])
            time.sleep(0.2)


class Minecraft(GameTestCase):
    def write_minecraft_config(self):
        command = "exec %s %s 198.18.100.1 25566 'the real server'" % (
            self.node, os.path.join(self.js, "mc_server.js"))
        self.write_config(
            "targets:\n"
            "  - name: mc\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 4s\n"
            "    ready_timeout: 60s\n"
            "    endpoints: [{name: game, protocol: tcp, address: '198.18.100.1:25566'}]\n"
            "    options:\n"
            "      command: \"%s\"\n"
            "      stop_timeout: 5s\n"
            "frontends:\n"
            "  - name: mc\n"
            "    kind: minecraft:server\n"
            "    listen: 0.0.0.0:25565\n"
            # Longer than the server's keep-alive interval (4s): a player
            # in the game always has a flow.
            "    flow_timeout: 10s\n"
            "    target: mc:game\n"
            "    options:\n"
            "      motd: 'Asleep: join to wake it'\n"
            "      starting_motd: 'Starting up'\n"
            "      login: 'Waking the server; come back in a minute'\n"
            "      not_allowed: 'Only friends wake this server'\n"
            "      max_players: 20\n"
            "      wake_allow: [Steve, Alex]\n" % command.replace('"', '\\"'))

    def test_status_pings_and_strangers_leave_it_asleep(self):
        self.write_minecraft_config()
        self.start_engine()
        self.assertEqual(self.target("mc")["state"], "inactive")
        # minecraft-protocol's server list ping.
        rc, out = self.client_js("mc_client.js", "ping", GW, 25565)
        self.assertEqual(rc, 0, out)
        status = out[0]
        self.assertEqual(status["description"], {"text": "Asleep: join to wake it"})
        self.assertEqual(status["version"]["protocol"], 765)  # echoed: the client's 1.20.4
        self.assertEqual(status["version"]["name"], "proxygw-minecraft")
        self.assertEqual(status["players"]["max"], 20)
        # gamedig's Minecraft query.
        rc, out = self.client_js("gamedig_query.mjs", "minecraft", GW, 25565)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["name"], "Asleep: join to wake it")
        self.assertEqual(out[0]["maxplayers"], 20)
        # A name outside wake_allow is turned away and wakes nothing.
        rc, out = self.client_js("mc_client.js", "login", GW, 25565, "Herobrine", 1)
        reasons = [e.get("reason") for e in out if e.get("event") == "disconnect"]
        self.assertEqual(len(reasons), 1, out)
        self.assertIn("Only friends wake this server", reasons[0])
        self.assert_stays("mc", "inactive", 3)
        self.assertEqual(self.backend_pids("the real server"), [])

    def test_a_login_wakes_the_server_and_a_player_then_plays_through_the_gateway(self):
        self.write_minecraft_config()
        self.start_engine()
        # The first login warms the target and is told to come back.
        rc, out = self.client_js("mc_client.js", "login", GW, 25565, "steve", 1)
        reasons = [e.get("reason") for e in out if e.get("event") == "disconnect"]
        self.assertEqual(len(reasons), 1, out)
        self.assertIn("Waking the server; come back in a minute", reasons[0])
        self.assertIn("player wakes the target", self.engine_text())
        self.wait_state("mc", "active", timeout=90)
        self.assertIn("tcp . 25565 : 198.18.100.1 . 25566", self.nft_list())
        # New connections reach the real server through the kernel's DNAT.
        rc, out = self.client_js("mc_client.js", "ping", GW, 25565)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["description"], {"text": "the real server"})
        # A real client logs in and stays in the game; its flow keeps the
        # target active past idle_timeout.
        player = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, self.node,
             os.path.join(self.js, "mc_client.js"), "login", GW, "25565", "Steve", "10"],
            stdout=subprocess.PIPE, text=True)
        self.assertEqual(player.stdout.readline().strip(), '{"event":"play"}')
        wait_for(lambda: (self.target("mc").get("flows") or 0) >= 1, 20, what="player's flow")
        time.sleep(6)  # past idle_timeout (4s)
        self.assertEqual(self.target("mc")["state"], "active")
        rest, _ = player.communicate(timeout=60)
        self.assertIn('{"event":"stayed"}', rest)
        self.assertNotIn('"disconnect"', rest)
        # It left: the flow ends (flow_timeout 10s), the idle drain follows.
        self.wait_state("mc", "inactive", timeout=60)
        wait_for(lambda: self.backend_pids("the real server") == [], 20, what="backend gone")
        self.assertNotIn("198.18.100.1 . 25566", self.nft_list())
        # Asleep again: the frontend answers pings once more.
        rc, out = self.client_js("mc_client.js", "ping", GW, 25565)
        self.assertEqual(out[0]["description"], {"text": "Asleep: join to wake it"})


# A Valheim client's first datagram on the game port: Steam Networking
# Sockets' connection-setup message type 32 (challenge request), padded as
# the real ones are.
SETUP = bytes([32]) + bytes(15)


class Valheim(GameTestCase):
    def write_valheim_config(self):
        # The stand-in server answers every datagram with its name; it is
        # started as Valheim is, with -port 12456: game 12456, query 12457.
        self.write_config(
            "targets:\n"
            "  - name: vh\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 4s\n"
            "    endpoints:\n"
            "      - {name: game, protocol: udp, address: '198.18.100.1:12456'}\n"
            "      - {name: query, protocol: udp, address: '198.18.100.1:12457'}\n"
            "    options:\n"
            "      command: exec %s %s serve udp:198.18.100.1:12456:vh-game"
            " udp:198.18.100.1:12457:vh-query\n"
            "frontends:\n"
            "  - {name: vh-game, kind: 'valheim:server', listen: '0.0.0.0:2456',"
            " flow_timeout: 2s, target: 'vh:game'}\n"
            "  - name: vh-query\n"
            "    kind: valheim:status\n"
            "    listen: 0.0.0.0:2457\n"
            "    flow_timeout: 2s\n"
            "    target: vh:query\n"
            "    options: {name: Sleepy Vikings, version: 0.221.12, password: true}\n"
            % (sys.executable, NS_HELPER))

    def send_from_client(self, data, port, count=1, wait=0.0):
        """Sends `data` to the gateway's `port` from a fresh socket in the
        client namespace; the answer (or "")."""
        r = run(["ip", "netns", "exec", self.topo.client, sys.executable, UDP_CLIENT, "send", GW,
                 str(port), data.hex(), str(count), str(wait)], check=False)
        return r.stdout.strip()

    def test_a2s_answers_without_a_warm_and_only_a_setup_datagram_warms(self):
        self.write_valheim_config()
        self.start_engine()
        rc, out = self.client_js("gamedig_query.mjs", "valheim", GW, 2457)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[0]["name"], "Sleepy Vikings")
        self.assertTrue(out[0]["password"])
        self.assertEqual(out[0]["raw"]["folder"], "valheim")
        self.assertEqual(out[0]["raw"]["appId"], 892970)  # Valheim's, from the game id
        self.assertIn("g=0.221.12", out[0]["raw"]["tags"])
        self.assertEqual(out[0]["version"], "1.0.0.0")
        # Unrelated datagrams on the game port: no warm.
        self.assertEqual(self.send_from_client(b"hello valheim", 2456, 3, 0.2), "")
        self.assertEqual(self.send_from_client(bytes([33]) + bytes(15), 2456), "")
        self.assert_stays("vh", "inactive", 3)
        # A connection-setup datagram warms.
        self.send_from_client(SETUP, 2456)
        self.wait_state("vh", "active")
        self.assertIn("udp . 2456 : 198.18.100.1 . 12456", self.nft_list())
        # A client that opens a new socket reaches the server (it may still
        # be binding: retry).
        wait_for(lambda: self.send_from_client(SETUP, 2456, 1, 1) == "vh-game", 20,
                 what="the game port forwarded")
        wait_for(lambda: (self.target("vh").get("flows") or 0) >= 1, 20, what="UDP flow counted")
        self.wait_state("vh", "inactive", timeout=40)

    @unittest.expectedFailure
    def test_a_client_that_keeps_its_socket_reaches_the_server_after_the_warm(self):
        # Needs netd to remove, when a UDP mapping goes on, the conntrack
        # entries to the frontend's address that were not NATed (the
        # kernel-hold work in proxygw-netd, not on this branch): until then
        # the client's own entry, refreshed by every datagram, keeps sending
        # it to the frontend's socket instead of the server.
        self.write_valheim_config()
        self.start_engine()
        helper = self.procs.start(
            ["ip", "netns", "exec", self.topo.client, sys.executable, UDP_CLIENT, "keep",
             GW, "2456", SETUP.hex(), "0.3", "15"],
            stdout=subprocess.PIPE, text=True)
        self.wait_state("vh", "active")
        out, _ = helper.communicate(timeout=60)
        self.assertIn("vh-game", out)


if __name__ == "__main__":
    unittest.main()
