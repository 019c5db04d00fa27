"""Client-side helpers run inside a namespace:
  ip netns exec NS python3 -m pgwbench.nsclient COMMAND ARGS...
Each prints one JSON object.

  seqlat ADDR PORT N WARMUP     N sequential connect + GET /index.html (HTTP/1.0)
                                + read to EOF + close; latency percentiles in us
  cold ADDR PORT BODY RETRY_MS TIMEOUT
                                GET / until the response body is BODY (the
                                backend's, not proxygw's "starting" page);
                                wall-clock times of the first connect and of the
                                first byte of the backend's response
  flow tcp|udp ADDR PORT        one short flow (TCP: connect, GET, read to EOF,
                                close; UDP: one datagram and its answer); the
                                wall-clock time of its last packet
  connect ADDR PORT TIMEOUT     connects until it succeeds; wall-clock time
  poller ADDR PORT              for each "go" line on stdin: connects once, prints
                                "refused" (or {"error": ...} if it got through),
                                then connects every 0.2 ms until one succeeds and
                                prints its wall-clock time; for the warm -> live
                                measurement, without a process start per sample
  acceptor PORT                 listens on every local address's PORT, accepts
                                and closes connections until killed (readiness
                                probes of many targets)
"""
import json
import socket
import sys
import time


def pct(v, q):
    v = sorted(v)
    k = max(0, min(len(v) - 1, int(round(q / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def http_get(addr, port, path="/index.html", timeout=5):
    s = socket.create_connection((addr, port), timeout=timeout)
    s.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, addr)).encode())
    first = None
    data = b""
    while True:
        d = s.recv(65536)
        if first is None:
            first = time.time()
        if not d:
            break
        data += d
    s.close()
    return data, first


def seqlat(addr, port, n, warmup):
    port, n, warmup = int(port), int(n), int(warmup)
    for _ in range(warmup):
        http_get(addr, port)
    lat = []
    errors = 0
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            data, _ = http_get(addr, port)
            if not data.startswith(b"HTTP/1.1 200"):
                errors += 1
        except OSError:
            errors += 1
            continue
        lat.append((time.perf_counter() - t0) * 1e6)
    out = {"n": len(lat), "errors": errors}
    if lat:
        out.update({"p50_us": pct(lat, 50), "p90_us": pct(lat, 90), "p99_us": pct(lat, 99),
                    "mean_us": sum(lat) / len(lat), "max_us": max(lat)})
    return out


def cold(addr, port, body, retry_ms, timeout):
    port, retry, deadline = int(port), float(retry_ms) / 1000.0, time.time() + float(timeout)
    first_connect = None
    attempts = pages = 0
    while time.time() < deadline:
        attempts += 1
        t = time.time()
        if first_connect is None:
            first_connect = t
        try:
            data, first_byte = http_get(addr, port, "/", timeout=5)
        except OSError:
            time.sleep(retry)
            continue
        head, _, payload = data.partition(b"\r\n\r\n")
        if payload.strip() == body.encode():
            return {"first_connect": first_connect, "first_byte": first_byte, "attempts": attempts,
                    "pages": pages}
        pages += 1
        time.sleep(retry)
    return {"first_connect": first_connect, "error": "timeout", "attempts": attempts, "pages": pages}


def held(addr, port, body, timeout):
    """One connect() and no retry (a static:hold frontend holds the SYN),
    then read until `body`: when connect() was called, when it completed,
    and when the first byte came, or that it was refused."""
    t0 = time.time()
    try:
        s = socket.create_connection((addr, int(port)), timeout=float(timeout))
    except ConnectionRefusedError:
        return {"connect_call": t0, "refused": True}
    except OSError as e:
        return {"connect_call": t0, "error": str(e)}
    connected = time.time()
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = s.recv(65536)
    first_byte = time.time()
    while data and body.encode() not in data:
        more = s.recv(65536)
        if not more:
            break
        data += more
    s.close()
    return {"connect_call": t0, "connected": connected, "first_byte": first_byte}


def flow(proto, addr, port):
    port = int(port)
    if proto == "tcp":
        data, _ = http_get(addr, port)
        last = time.time()  # close() sent our FIN; the peer's ACK follows within the RTT
        return {"last_packet": last, "bytes": len(data)}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(b"ping", (addr, port))
    d = s.recv(65536)
    last = time.time()
    s.close()
    return {"last_packet": last, "bytes": len(d)}


def connect(addr, port, timeout):
    port, deadline = int(port), time.time() + float(timeout)
    attempts = 0
    while time.time() < deadline:
        attempts += 1
        try:
            s = socket.create_connection((addr, port), timeout=1)
            t = time.time()
            s.close()
            return {"connected": t, "attempts": attempts}
        except OSError:
            time.sleep(0.0002)
    return {"error": "timeout", "attempts": attempts}


def poller(addr, port):
    port = int(port)

    def attempt():
        try:
            s = socket.create_connection((addr, port), timeout=1)
        except OSError:
            return None
        t = time.time()
        s.close()
        return t

    for line in sys.stdin:
        if line.strip() != "go":
            continue
        if attempt() is not None:
            print(json.dumps({"error": "connected before the warm"}), flush=True)
            continue
        print("refused", flush=True)
        attempts, deadline = 1, time.time() + 10
        t = None
        while t is None and time.time() < deadline:
            time.sleep(0.0002)
            attempts += 1
            t = attempt()
        print(json.dumps({"connected": t, "attempts": attempts} if t else {"error": "timeout"}), flush=True)
    return {"done": True}


def acceptor(port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(port)))
    ls.listen(4096)
    while True:
        ls.accept()[0].close()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    fn = {"seqlat": seqlat, "cold": cold, "held": held, "flow": flow, "connect": connect, "poller": poller,
          "acceptor": acceptor}[cmd]
    print(json.dumps(fn(*args)), flush=True)
