"""The backend namespace's servers: nginx (HTTP) and iperf3 (TCP and UDP),
configured as in shared/reference/forwarding-anchors.md."""
import os
import socket
import time

from . import topo
from .util import run, wait_for

NGINX_CONF = """\
worker_processes 2;
user nobody nogroup;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  server {{
    listen {addr}:80 backlog=4096 reuseport;
    root {dir}/html;
    location / {{ }}
  }}
}}
"""

# 128 bytes, as the anchors' index.html.
INDEX_HTML = ("<html><body>proxygw bench backend" + "." * 79 + "</body></html>\n")[:127] + "\n"


class Backends:
    def __init__(self, procs, workdir):
        self.procs = procs
        self.dir = os.path.join(workdir, "backend")
        os.makedirs(os.path.join(self.dir, "html"), exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chmod(os.path.join(self.dir, "html"), 0o755)
        with open(os.path.join(self.dir, "html", "index.html"), "w") as f:
            f.write(INDEX_HTML)
        os.chmod(os.path.join(self.dir, "html", "index.html"), 0o644)
        self.nginx = None
        self.iperf = None

    def start(self):
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=self.dir, addr=topo.BACKEND_IP))
        self.nginx = self.procs.start(topo.ns_exec(topo.BACKEND, ["nginx", "-c", conf, "-g", "daemon off;"]))
        self.start_iperf()
        wait_for(lambda: self.listening(80), 10, what="nginx listening")

    def start_iperf(self):
        if self.iperf is not None:
            self.procs.stop(self.iperf)
        log = open(os.path.join(self.dir, "iperf3-server.log"), "a")
        self.iperf = self.procs.start(topo.ns_exec(topo.BACKEND, ["iperf3", "-s", "-B", topo.BACKEND_IP, "-p", "5201"]),
                                      stdout=log, stderr=log)
        log.close()
        wait_for(lambda: self.listening(5201), 10, what="iperf3 server listening")

    def listening(self, port):
        out = run(topo.ns_exec(topo.BACKEND, ["ss", "-Hltn", "sport = :%d" % port]), check=False).stdout
        return "LISTEN" in out

    def pids(self):
        return [p.pid for p in (self.nginx, self.iperf) if p is not None and p.poll() is None]

    def stop(self):
        for p in (self.iperf, self.nginx):
            if p is not None:
                self.procs.stop(p)
        self.iperf = self.nginx = None
