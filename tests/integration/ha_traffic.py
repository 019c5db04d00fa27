"""The remote backend and the clients of the HA tests and demo (test_ha.py,
ha_demo.py), run inside their namespaces.

  agent ADDR PORTBASE LOGDIR [BYTES [udp]]
                               the backend host's "VM manager": on ADDR:PORTBASE
                               it takes "start"/"stop"/"check" lines (from the
                               gateways' static:exec commands); "start" opens
                               the backend's servers (TCP bulk on PORTBASE+1
                               pushing BYTES, HTTP on PORTBASE+2 (any request
                               gets "pgw-ha-backend"), UDP echo on PORTBASE+3;
                               with `udp`, the UDP echo only) and appends a
                               line to LOGDIR/starts, "stop" closes them and
                               appends to LOGDIR/stops, "check" answers
                               "running" or "stopped".
  ctl ADDR:PORT WORD           sends WORD to the agent, prints its answer
                               (exit 1 when it cannot be reached, or when it
                               answers "stopped").
  bulk ADDR PORT BYTES         a TCP client reading a push of BYTES; prints
                               JSON {bytes, seconds, max_gap, error}.
  udp ADDR PORT SECONDS        one datagram every 10 ms for SECONDS, each
                               numbered; prints JSON {sent, answered, lost,
                               max_gap}.

The bulk server pushes 1 KiB every 10 ms, so that a transfer lasts long
enough to cross a failover. Addresses only from the test ranges."""
import json
import os
import socket
import struct
import sys
import threading
import time

CHUNK = 1024
PACE = 0.01


def bulk_server(sock, total):
    def push(conn):
        try:
            sent = 0
            block = b"x" * CHUNK
            while sent < total:
                n = min(CHUNK, total - sent)
                conn.sendall(block[:n])
                sent += n
                time.sleep(PACE)
            conn.shutdown(socket.SHUT_WR)
            conn.recv(1)
        except OSError:
            pass
        finally:
            conn.close()
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        threading.Thread(target=push, args=(conn,), daemon=True).start()


def web_server(sock):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        try:
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npgw-ha-backend\n")
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        conn.close()


def udp_echo(sock):
    while True:
        try:
            data, peer = sock.recvfrom(2048)
            if peer is None:  # the socket was shut down: stopped
                return
            sock.sendto(data, peer)
        except OSError:
            return


class Backend:
    def __init__(self, addr, base, total, udp_only=False):
        self.addr, self.base, self.total = addr, base, total
        self.udp_only = udp_only
        self.socks = []

    def running(self):
        return bool(self.socks)

    def start(self):
        if self.socks:
            return
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        u.bind((self.addr, self.base + 3))
        self.socks = [u]
        threading.Thread(target=udp_echo, args=(u,), daemon=True).start()
        if self.udp_only:
            return
        b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        w = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        for s, port in ((b, self.base + 1), (w, self.base + 2)):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((self.addr, port))
            s.listen(64)
        self.socks += [b, w]
        threading.Thread(target=bulk_server, args=(b, self.total), daemon=True).start()
        threading.Thread(target=web_server, args=(w,), daemon=True).start()

    def stop(self):
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.socks = []


def agent(addr, base, logdir, total, udp_only=False):
    backend = Backend(addr, base, total, udp_only)
    lock = threading.Lock()
    ctl = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ctl.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ctl.bind((addr, base))
    ctl.listen(16)
    print("ready", flush=True)
    while True:
        conn, peer = ctl.accept()
        conn.settimeout(5)
        try:
            word = conn.makefile().readline().strip()
            with lock:
                if word in ("start", "stop"):
                    with open(os.path.join(logdir, word + "s"), "a") as f:
                        f.write("%f %s\n" % (time.time(), peer[0]))
                    backend.start() if word == "start" else backend.stop()
                    conn.sendall(("%s done\n" % word).encode())
                elif word == "check":
                    conn.sendall(b"running\n" if backend.running() else b"stopped\n")
                else:
                    conn.sendall(b"unknown\n")
        except OSError:
            pass
        conn.close()


def ctl(target, word):
    host, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall((word + "\n").encode())
            answer = s.makefile().readline().strip()
    except OSError as e:
        print("agent %s: %s" % (target, e), file=sys.stderr)
        return 1
    print(answer)
    return 0 if answer != "stopped" else 1


def bulk(addr, port, total):
    out = {"bytes": 0, "seconds": 0.0, "max_gap": 0.0, "error": ""}
    start = time.monotonic()
    try:
        s = socket.create_connection((addr, port), timeout=60)
        s.settimeout(60)
        last = time.monotonic()
        while True:
            data = s.recv(65536)
            now = time.monotonic()
            if not data:
                break
            out["max_gap"] = max(out["max_gap"], now - last)
            last = now
            out["bytes"] += len(data)
        s.close()
    except OSError as e:
        out["error"] = str(e)
    out["seconds"] = time.monotonic() - start
    out["expected"] = total
    print(json.dumps(out), flush=True)


def udp(addr, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, port))
    s.settimeout(0.05)
    answered = set()
    sent = 0
    last_answer = None
    max_gap = 0.0
    end = time.monotonic() + seconds
    next_send = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= next_send and now < end:
            try:
                s.send(struct.pack("!Q", sent) + b"pgw-ha")
            except OSError:
                pass
            sent += 1
            next_send += PACE
        if now >= end + 0.5:
            break
        s.settimeout(max(0.001, min(0.05, next_send - time.monotonic())))
        try:
            data = s.recv(2048)
        except socket.timeout:
            continue
        except OSError:
            time.sleep(0.005)
            continue
        t = time.monotonic()
        if last_answer is not None:
            max_gap = max(max_gap, t - last_answer)
        last_answer = t
        if len(data) >= 8:
            answered.add(struct.unpack("!Q", data[:8])[0])
    print(json.dumps({"sent": sent, "answered": len(answered), "lost": sent - len(answered),
                      "max_gap": max_gap}), flush=True)


def main(argv):
    cmd = argv[1]
    if cmd == "agent":
        agent(argv[2], int(argv[3]), argv[4], int(argv[5]) if len(argv) > 5 else 1 << 20,
              len(argv) > 6 and argv[6] == "udp")
    elif cmd == "ctl":
        return ctl(argv[2], argv[3])
    elif cmd == "bulk":
        bulk(argv[2], int(argv[3]), int(argv[4]))
    elif cmd == "udp":
        udp(argv[2], int(argv[3]), float(argv[4]))
    else:
        print("unknown command %s" % cmd, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
