"""The benchmark's three network namespaces, joined by two veth pairs.

  pgwb-c (client)        pgwb-g (gateway)                         pgwb-b (backend)
  pb-c0 198.18.10.2/24 -- pb-g0 198.18.10.1/24 | pb-g1 198.18.11.1/24 -- pb-b0 198.18.11.2/24
                          lo: 198.18.100.1/32 (a local VIP)

The veths are created directly inside the namespaces (MTU 1500, noqueue,
offloads at their defaults). The gateway forwards; client and backend route
everything through it, so DNATed replies come back without SNAT. Only
addresses of 198.18.0.0/15 are used, and nothing here touches the root
namespace (its ruleset, conntrack table and sysctls stay as they are).
"""
import os

from .util import delete_namespace, run

CLIENT, GATEWAY, BACKEND = "pgwb-c", "pgwb-g", "pgwb-b"
ALL = (CLIENT, GATEWAY, BACKEND)
IFACES = {CLIENT: ["pb-c0"], GATEWAY: ["pb-g0", "pb-g1"], BACKEND: ["pb-b0"]}

CLIENT_IP, GW_CLIENT_IP, GW_BACKEND_IP, BACKEND_IP = "198.18.10.2", "198.18.10.1", "198.18.11.1", "198.18.11.2"
GW_VIP = "198.18.100.1"


def ns_exec(ns, args):
    return ["ip", "netns", "exec", ns] + [str(a) for a in args]


def exists(ns):
    return os.path.exists("/run/netns/" + ns)


def net_inode(ns):
    return os.stat("/run/netns/" + ns).st_ino


class Topology:
    def __init__(self):
        self.created = []

    def up(self):
        for ns in ALL:
            delete_namespace(ns)  # left over from an interrupted run (kill -9)
        for ns in ALL:
            run(["ip", "netns", "add", ns])
            self.created.append(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "link", "add", "pb-c0", "netns", CLIENT, "type", "veth", "peer", "name", "pb-g0", "netns", GATEWAY])
        run(["ip", "link", "add", "pb-g1", "netns", GATEWAY, "type", "veth", "peer", "name", "pb-b0", "netns", BACKEND])
        for ns, dev, addr in ((CLIENT, "pb-c0", CLIENT_IP), (GATEWAY, "pb-g0", GW_CLIENT_IP),
                              (GATEWAY, "pb-g1", GW_BACKEND_IP), (BACKEND, "pb-b0", BACKEND_IP)):
            run(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", dev])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
        run(["ip", "-n", GATEWAY, "addr", "add", GW_VIP + "/32", "dev", "lo"])
        run(["ip", "-n", CLIENT, "route", "add", "default", "via", GW_CLIENT_IP])
        run(["ip", "-n", BACKEND, "route", "add", "default", "via", GW_BACKEND_IP])
        self.sysctl(GATEWAY, "net.ipv4.ip_forward=1")
        # Many short connections (wrk with Connection: close): reuse TIME_WAIT
        # ports and widen the port range, in the namespaces that connect.
        for ns in (CLIENT, GATEWAY):
            self.sysctl(ns, "net.ipv4.tcp_tw_reuse=1")
            self.sysctl(ns, "net.ipv4.ip_local_port_range=10000 65000")
        return self

    def sysctl(self, ns, kv):
        run(ns_exec(ns, ["sysctl", "-q", "-w", kv]))

    def exec(self, ns, args, **kw):
        return run(ns_exec(ns, args), **kw)

    def set_rps(self, masks):
        """masks: {ns: hex cpu mask} for every veth of that namespace ("0" = off)."""
        for ns, mask in masks.items():
            for dev in IFACES[ns]:
                self.exec(ns, ["sh", "-c", "for q in /sys/class/net/%s/queues/rx-*; do echo %s > $q/rps_cpus; done"
                               % (dev, mask)])

    def down(self):
        for ns in reversed(self.created):
            delete_namespace(ns)
        self.created = []
