"""The metrics plugin on a real engine (issue 14, item 5): Prometheus scrapes
/metrics from the client namespace over IPv4 and IPv6; promtool (Debian's
prometheus package) and the official Python client's parser
(python3-prometheus-client) both accept the page, and its counters move as
the target warms (static:http, proxygwctl warm), drains (proxygwctl drain)
and loses its backend. Engine as in test_engine: uid 65533, real netd."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgw import NS_HELPER, binary, run, wait_for  # noqa: E402
from test_engine import EngineTestCase  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # python3-prometheus-client (Makefile DEPS_TEST)
    text_string_to_metric_families = None

PROMTOOL = "/usr/bin/promtool"

# One request in the client namespace; prints status, headers and body as JSON.
FETCH = """
import http.client, json, sys
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10)
c.request(sys.argv[3], sys.argv[4])
r = c.getresponse()
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
                  "body": r.read().decode()}))
"""


class MetricsTestCase(EngineTestCase):
    def setUp(self):
        if not os.access(PROMTOOL, os.X_OK):
            raise unittest.SkipTest("promtool is not installed (Debian's prometheus package)")
        if text_string_to_metric_families is None:
            raise unittest.SkipTest("python3-prometheus-client is not installed")
        super().setUp()

    def request(self, host, method="GET", path="/metrics", port=9464):
        p = self.topo.exec(self.topo.client, ["/usr/bin/python3", "-c", FETCH, host, str(port),
                                              method, path], check=False)
        self.assertEqual(p.returncode, 0, "%s %s on %s: %s" % (method, path, host, p.stderr))
        return json.loads(p.stdout)

    def scrape(self, host):
        """The page, checked by promtool and parsed by the official client:
        {(sample name, ((label, value), ...)): value}."""
        r = self.request(host)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["headers"]["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        body = r["body"]
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, "promtool: %s%s\n%s" % (p.stdout, p.stderr, body))
        samples = {}
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return samples

    @staticmethod
    def value(samples, name, **labels):
        return samples.get((name, tuple(sorted(labels.items()))))


class MetricsFollowTheTarget(MetricsTestCase):
    def test_counters_move_as_the_target_warms_drains_and_loses_its_backend(self):
        self.write_config(
            "targets:\n"
            "  - name: web\n"
            "    kind: static:cmd\n"
            "    idle_timeout: 5m\n"
            "    ready_timeout: 20s\n"
            "    endpoints: [{name: http, protocol: tcp, address: '198.18.100.1:8081'}]\n"
            "    options:\n"
            "      command: exec %s %s serve tcp:198.18.100.1:8081:pgw-metrics-backend\n"
            "      stop_timeout: 5s\n"
            "frontends:\n"
            "  - name: page\n"
            "    kind: static:http\n"
            "    listen: 0.0.0.0:8080\n"
            "    flow_timeout: 2s\n"
            "    target: web:http\n"
            "    options: {content: \"warming up\\n\"}\n" % (sys.executable, NS_HELPER),
            plugins="  metrics: {listen: '198.18.1.1:9464'}\n")
        self.start_engine()
        self.assertIn("serving metrics", self.engine_text())
        m = wait_for(lambda: (lambda s: s if self.value(s, "proxygw_netd_connected") == 1 else None)(
            self.scrape("198.18.1.1")), 30, what="netd connected in the metrics")
        V = self.value
        self.assertEqual(V(m, "proxygw_target_state", target="web", state="inactive"), 1)
        self.assertEqual(V(m, "proxygw_target_state", target="web", state="active"), 0)
        self.assertEqual(V(m, "proxygw_target_warms_total", target="web"), 0)
        self.assertEqual(V(m, "proxygw_frontend_state", frontend="page", state="running"), 1)
        self.assertEqual(V(m, "proxygw_frontend_knocks_total", frontend="page"), 0)
        for name in ("process_resident_memory_bytes", "process_cpu_seconds_total",
                     "process_open_fds", "process_max_fds", "process_start_time_seconds"):
            self.assertIsNotNone(V(m, name), name)
        self.assertGreater(V(m, "process_resident_memory_bytes"), 0)

        # A visitor's request knocks and warms it.
        self.assertIn("warming up", self.helper(self.topo.client, "http", "198.18.1.1", 8080).stdout)
        self.wait_state("web", "active")
        m = self.scrape("198.18.1.1")
        self.assertEqual(V(m, "proxygw_target_state", target="web", state="active"), 1)
        self.assertEqual(V(m, "proxygw_target_warms_total", target="web"), 1)
        self.assertEqual(V(m, "proxygw_frontend_knocks_total", frontend="page"), 1)
        self.assertEqual(V(m, "proxygw_target_cold_start_duration_seconds_count", target="web"), 1)
        self.assertGreater(V(m, "proxygw_target_cold_start_duration_seconds_sum", target="web"), 0)
        self.assertGreaterEqual(V(m, "proxygw_netd_change_duration_seconds_count"), 1)
        self.assertIsNotNone(V(m, "proxygw_target_active_flows", target="web"))

        # The operator drains it, then warms it.
        self.ctl("drain", "web")
        self.wait_state("web", "inactive", timeout=40)
        m = self.scrape("198.18.1.1")
        self.assertEqual(V(m, "proxygw_target_drains_total", target="web"), 1)
        self.assertEqual(V(m, "proxygw_target_state", target="web", state="inactive"), 1)
        self.ctl("warm", "web")
        self.wait_state("web", "active")
        m = self.scrape("198.18.1.1")
        self.assertEqual(V(m, "proxygw_target_warms_total", target="web"), 2)
        self.assertEqual(V(m, "proxygw_frontend_knocks_total", frontend="page"), 1)
        self.assertEqual(V(m, "proxygw_target_cold_start_duration_seconds_count", target="web"), 2)
        self.assertGreaterEqual(V(m, "proxygw_netd_change_duration_seconds_count"), 3)

        # The backend dies on its own: an exit, not a drain nor a warm failure.
        pids = wait_for(lambda: self.backend_pids("pgw-metrics-backend"), 10, what="backend pid")
        for pid in pids:
            os.kill(pid, 9)
        self.wait_state("web", "inactive", timeout=40)
        m = self.scrape("198.18.1.1")
        self.assertEqual(V(m, "proxygw_target_backend_exits_total", target="web"), 1)
        self.assertEqual(V(m, "proxygw_target_drains_total", target="web"), 1)
        self.assertEqual(V(m, "proxygw_target_warm_failures_total", target="web"), 0)


class MetricsOverIpv6(MetricsTestCase):
    def test_an_ipv6_listen_serves_the_page_and_refuses_other_paths_and_methods(self):
        self.serve(("tcp", "198.18.2.2", 9000, "api"))
        self.write_config(
            "targets:\n"
            "  - name: api\n"
            "    kind: static:none\n"
            "    idle_timeout: 5m\n"
            "    endpoints: [{name: tcp, protocol: tcp, address: '198.18.2.2:9000'}]\n"
            "frontends:\n"
            "  - name: api\n"
            "    kind: static:http\n"
            "    listen: 0.0.0.0:9000\n"
            "    flow_timeout: 2s\n"
            "    target: api:tcp\n"
            "    options: {content: \"wait\\n\"}\n",
            plugins="  metrics: {listen: '[2001:db8:1::1]:9464'}\n")
        self.start_engine()
        m = self.scrape("2001:db8:1::1")
        self.assertEqual(self.value(m, "proxygw_target_state", target="api", state="inactive"), 1)
        r = self.request("2001:db8:1::1", "POST")
        self.assertEqual(r["status"], 405)
        self.assertEqual(r["headers"]["allow"], "GET, HEAD")
        self.assertEqual(self.request("2001:db8:1::1", "GET", "/")["status"], 404)
        r = self.request("2001:db8:1::1", "HEAD")
        self.assertEqual((r["status"], r["body"]), (200, ""))
        # Only the address it was given: not the gateway's IPv4 one.
        p = self.topo.exec(self.topo.client, ["/usr/bin/python3", "-c", FETCH, "198.18.1.1",
                                              "9464", "GET", "/metrics"], check=False)
        self.assertNotEqual(p.returncode, 0)
        # proxygwctl warm moves the counter here too.
        self.ctl("warm", "api")
        self.wait_state("api", "active")
        m = self.scrape("2001:db8:1::1")
        self.assertEqual(self.value(m, "proxygw_target_warms_total", target="api"), 1)
        self.assertEqual(self.value(m, "proxygw_frontend_knocks_total", frontend="api"), 0)


class MetricsConfigErrors(unittest.TestCase):
    def test_a_bad_listen_is_refused_at_its_line(self):
        tmp = tempfile.mkdtemp(prefix="pgwt-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "bad.yaml")
        with open(path, "w") as f:
            f.write("version: v1\nlog: {output: stderr}\n"
                    "plugins:\n  metrics:\n    listen: '127.0.0.1:99999'\n"
                    "targets: []\nfrontends: []\n")
        p = run([binary("proxygw-engine"), "--check-config", path], check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("%s:5:13: plugins.metrics.listen: invalid port \"99999\" in "
                      "\"127.0.0.1:99999\" (expected 1-65535)" % path, p.stderr)


if __name__ == "__main__":
    unittest.main()
