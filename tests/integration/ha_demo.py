"""`make ha-demo`: two proxygw gateways behind one VRRP address, in network
namespaces (ha_pair.py, the same pair test_ha.py tests; docs/ha.md). It
starts the backend's agent, gateway 1 (which becomes master), then gateway 2
(backup), warms the target through the virtual address, and prints where
everything is. With HA_DEMO_FAILOVER=1 it then kills gateway 1 and shows
gateway 2 taking over. Enter or Ctrl-C removes everything (namespaces,
processes, files). As root; PROXYGW_BUILD_DIR names the build (default
build/)."""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import Processes, binary, ensure_user, wait_for  # noqa: E402
import ha_pair  # noqa: E402
from ha_pair import VIP, WEB_PORT, HaPair  # noqa: E402


def main():
    if os.geteuid() != 0:
        sys.exit("ha-demo: run as root (it creates network namespaces)")
    missing = ha_pair.tools_missing()
    if missing:
        sys.exit("ha-demo: %s not installed (make deps installs them)" % ", ".join(missing))
    binary("proxygw")
    ensure_user("proxygw")
    ensure_user("proxygw-netd")
    procs = Processes()
    tmp = tempfile.mkdtemp(prefix="pgwha-demo-")
    os.chmod(tmp, 0o755)
    pair = HaPair("d%02x" % (os.getpid() & 0xff), tmp, procs, idle_timeout="5m")
    try:
        pair.up()
        pair.start_agent()
        pair.start_node(1)
        wait_for(lambda: pair.status(1).get("role") == "master", 30, what="gateway 1 master")
        pair.start_node(2)
        wait_for(lambda: pair.status(2).get("role") == "backup", 30, what="gateway 2 backup")
        print("client asks %s:%d: %s" % (VIP, WEB_PORT, pair.get()))
        wait_for(lambda: pair.target(1).get("state") == "active", 30, what="the target active")
        print("client asks again: %s" % pair.get())
        wait_for(lambda: pair.target(2).get("follow") == "live", 20, what="gateway 2 following")
        if os.environ.get("HA_DEMO_FAILOVER") == "1":
            down = pair.kill_node(1)
            wait_for(lambda: pair.status(2).get("role") == "master", 30, what="gateway 2 master")
            print("gateway 1 killed; gateway 2 master after %.1fs; client asks: %s"
                  % (time.time() - down, pair.get()))
        print("\nnamespaces: client %s, gateways %s and %s, backend %s"
              % (pair.client, pair.gws[1], pair.gws[2], pair.backend))
        for i in (1, 2):
            print("gateway %d: proxygwctl --socket %s status   (log %s)"
                  % (i, pair.node_dir(i, "state", "ctl.sock"), pair.node_dir(i, "proxygw.log")))
        print("a client: ip netns exec %s %s %s http %s %d"
              % (pair.client, ha_pair.PYTHON, ha_pair.NS_HELPER, VIP, WEB_PORT))
        try:
            input("\nEnter (or Ctrl-C) removes the pair... ")
        except (KeyboardInterrupt, EOFError):
            pass
    finally:
        procs.stop_all()
        pair.down()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
