"""Traffic for the integration tests, run inside a namespace with
`ip netns exec NS python3 nshelper.py ...`.

  serve SPEC...          SPEC is proto:addr:port:name. TCP: answers each
                         connection with "name\n", then echoes lines. UDP:
                         answers each datagram with "name". Prints "ready".
  fetch PROTO ADDR PORT TIMEOUT
                         connects (TCP) or sends (UDP), prints the answer.
  hold PROTO ADDR PORT N TIMEOUT
                         opens N TCP connections, prints "open N", then for each
                         line on stdin: "ping" -> echoes through every
                         connection and prints "pong K" (K answered),
                         "close-one" -> closes the oldest one still open and
                         prints "left K", "close" -> closes them all and exits.
  once PROTO ADDR PORT N TIMEOUT
                         N clients at once, each trying exactly once (TCP: one
                         connect(), the kernel's own SYN retransmits only, then
                         reads the greeting; UDP: one datagram on a connected
                         socket, then waits for the answer), each for at most
                         TIMEOUT seconds; prints one JSON line: counts of "ok",
                         "refused", "timeout", "other", the "answers" and the
                         slowest success and failure in seconds.
  udp-keep ADDR PORT SECONDS
                         one connected UDP socket sending a datagram every
                         0.3 s until answered (refusals ignored) or SECONDS are
                         over; prints JSON: "answer", "sends", "refused".
  http ADDR PORT         one HTTP GET of /; prints the body
  stream ADDR PORT SECONDS
                         sends through a TCP connection to an echo server for
                         SECONDS (bounded), reads everything back, and prints
                         "ok BYTES" when every byte came back
  transfer ADDR PORT BYTES
                         sends BYTES through a TCP connection to an echo
                         server and prints "ok BYTES" once all came back.
"""
import select
import socket
import sys
import threading


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(specs):
    socks = []
    for spec in specs:
        proto, rest = spec.split(":", 1)
        addr, port, name = rest.rsplit(":", 2)
        addr = addr.strip("[]")
        if proto == "tcp":
            s = socket.socket(family(addr), socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, int(port)))
            s.listen(256)
        else:
            s = socket.socket(family(addr), socket.SOCK_DGRAM)
            s.bind((addr, int(port)))
        socks.append((proto, s, name.encode()))
    print("ready", flush=True)

    def tcp_conn(c, name):
        try:
            c.sendall(name + b"\n")
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        r, _, _ = select.select([s for _, s, _ in socks], [], [])
        for proto, s, name in socks:
            if s not in r:
                continue
            if proto == "tcp":
                c, _ = s.accept()
                threading.Thread(target=tcp_conn, args=(c, name), daemon=True).start()
            else:
                d, peer = s.recvfrom(65536)
                s.sendto(name, peer)


def fetch(proto, addr, port, timeout):
    addr = addr.strip("[]")
    if proto == "tcp":
        s = socket.create_connection((addr, int(port)), timeout=float(timeout))
        f = s.makefile("rb")
        print(f.readline().decode().strip())
    else:
        s = socket.socket(family(addr), socket.SOCK_DGRAM)
        s.settimeout(float(timeout))
        s.sendto(b"hi", (addr, int(port)))
        print(s.recv(65536).decode())


def hold(proto, addr, port, n, timeout):
    addr = addr.strip("[]")
    conns = []
    for _ in range(int(n)):
        s = socket.create_connection((addr, int(port)), timeout=float(timeout))
        s.makefile("rb").readline()
        conns.append(s)
    print("open %d" % len(conns), flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "ping":
            ok = 0
            for s in conns:
                try:
                    s.sendall(b"ping\n")
                    if s.recv(64).startswith(b"ping"):
                        ok += 1
                except OSError:
                    pass
            print("pong %d" % ok, flush=True)
        elif cmd == "close-one":
            if conns:
                conns.pop(0).close()
            print("left %d" % len(conns), flush=True)
        elif cmd == "close":
            for s in conns:
                s.close()
            print("closed", flush=True)
            return


def once(proto, addr, port, n, timeout):
    import json
    import time
    addr = addr.strip("[]")
    results = []
    lock = threading.Lock()

    def one():
        t0 = time.monotonic()
        try:
            if proto == "tcp":
                s = socket.create_connection((addr, int(port)), timeout=float(timeout))
                answer = s.makefile("rb").readline().decode().strip()
            else:
                s = socket.socket(family(addr), socket.SOCK_DGRAM)
                s.settimeout(float(timeout))
                s.connect((addr, int(port)))
                s.send(b"hi")
                answer = s.recv(65536).decode()
            s.close()
            r = ("ok", answer)
        except ConnectionRefusedError:
            r = ("refused", None)
        except socket.timeout:
            r = ("timeout", None)
        except OSError as e:
            r = ("other", str(e))
        with lock:
            results.append((r[0], r[1], time.monotonic() - t0, time.time()))

    threads = [threading.Thread(target=one) for _ in range(int(n))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {k: sum(1 for r in results if r[0] == k) for k in ("ok", "refused", "timeout", "other")}
    out["answers"] = sorted({r[1] for r in results if r[0] == "ok"})
    out["errors"] = sorted({r[1] for r in results if r[0] == "other"})
    out["ok_max_s"] = max([r[2] for r in results if r[0] == "ok"] or [0])
    out["fail_max_s"] = max([r[2] for r in results if r[0] != "ok"] or [0])
    # Wall clock of the first failure, to compare with another process's clock.
    out["first_fail_at"] = min([r[3] for r in results if r[0] != "ok"] or [0])
    print(json.dumps(out), flush=True)


def udp_keep(addr, port, seconds):
    import json
    import time
    addr = addr.strip("[]")
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, int(port)))
    s.settimeout(0.3)
    end = time.monotonic() + float(seconds)
    sends = refused = 0
    answer = None
    while answer is None and time.monotonic() < end:
        try:
            s.send(b"hi")
            sends += 1
            answer = s.recv(65536).decode()
        except ConnectionRefusedError:
            refused += 1
            time.sleep(0.3)
        except socket.timeout:
            pass
    print(json.dumps({"answer": answer, "sends": sends, "refused": refused}), flush=True)


def udp_every(addr, port, sport, seconds, interval):
    """One datagram every `interval` for `seconds`, from source port `sport`;
    prints how many were answered."""
    import time
    addr = addr.strip("[]")
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.bind(("::" if ":" in addr else "0.0.0.0", int(sport)))
    s.connect((addr, int(port)))
    s.settimeout(float(interval))
    end = time.monotonic() + float(seconds)
    sent = answered = 0
    while time.monotonic() < end:
        s.send(b"hi")
        sent += 1
        started = time.monotonic()
        try:
            s.recv(65536)
            answered += 1
        except (socket.timeout, ConnectionRefusedError):
            pass
        time.sleep(max(0.0, float(interval) - (time.monotonic() - started)))
    print("answered %d of %d" % (answered, sent), flush=True)


def http(addr, port):
    addr = addr.strip("[]")
    s = socket.create_connection((addr, int(port)), timeout=10)
    host = "[%s]" % addr if ":" in addr else addr
    s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    print(body.decode(errors="replace"))


def stream(addr, port, seconds):
    import time
    addr = addr.strip("[]")
    s = socket.create_connection((addr, int(port)), timeout=30)
    s.makefile("rb").readline()
    s.setblocking(False)
    chunk = b"y" * 65536
    end = time.monotonic() + float(seconds)
    sent = got = 0
    done_sending = False
    while True:
        if not done_sending and time.monotonic() >= end:
            done_sending = True
        if done_sending and got >= sent:
            break
        w = [s] if not done_sending else []
        r, w, _ = select.select([s], w, [], 30)
        if not r and not w:
            print("stalled at %d of %d" % (got, sent))
            return
        if w:
            sent += s.send(chunk)
        if r:
            d = s.recv(1 << 20)
            if not d:
                print("closed at %d of %d" % (got, sent))
                return
            got += len(d)
    print("ok %d" % got, flush=True)


def transfer(addr, port, nbytes):
    addr = addr.strip("[]")
    s = socket.create_connection((addr, int(port)), timeout=30)
    s.makefile("rb").readline()
    total = int(nbytes)
    chunk = b"x" * 65536
    got = 0
    sent = 0
    s.setblocking(False)
    while got < total:
        w = [s] if sent < total else []
        r, w, _ = select.select([s], w, [], 30)
        if not r and not w:
            print("stalled at %d" % got)
            return
        if w:
            sent += s.send(chunk[: min(len(chunk), total - sent)])
        if r:
            d = s.recv(1 << 20)
            if not d:
                print("closed at %d" % got)
                return
            got += len(d)
    print("ok %d" % got, flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    try:
        if cmd == "serve":
            serve(sys.argv[2:])
        elif cmd == "fetch":
            fetch(*sys.argv[2:6])
        elif cmd == "hold":
            hold(*sys.argv[2:7])
        elif cmd == "once":
            once(*sys.argv[2:7])
        elif cmd == "udp-keep":
            udp_keep(*sys.argv[2:5])
        elif cmd == "udp-every":
            udp_every(*sys.argv[2:7])
        elif cmd == "http":
            http(*sys.argv[2:4])
        elif cmd == "stream":
            stream(*sys.argv[2:5])
        elif cmd == "transfer":
            transfer(*sys.argv[2:5])
    except (OSError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        sys.exit(1)
