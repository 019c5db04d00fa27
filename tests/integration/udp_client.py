"""UDP clients for the game tests, run inside a namespace with
`ip netns exec NS python3 udp_client.py ...`.

  send ADDR PORT HEX COUNT WAIT
      from one new socket, sends the bytes HEX COUNT times, WAIT seconds
      apart, and prints the first answer (as text) or nothing
  keep ADDR PORT HEX INTERVAL SECONDS
      from one socket, sends HEX every INTERVAL seconds for SECONDS and
      prints each answer on its own line (a client that keeps its socket)
"""
import socket
import sys
import time


def send(addr, port, data, count, wait):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(max(float(wait), 0.5))
    for _ in range(int(count)):
        s.sendto(data, (addr, int(port)))
        try:
            print(s.recv(65536).decode(errors="replace"))
            return
        except (socket.timeout, ConnectionRefusedError):
            pass


def keep(addr, port, data, interval, seconds):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(float(interval))
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        s.sendto(data, (addr, int(port)))
        try:
            print(s.recv(65536).decode(errors="replace"), flush=True)
        except (socket.timeout, ConnectionRefusedError):
            pass


if __name__ == "__main__":
    cmd, addr, port, hexdata = sys.argv[1:5]
    if cmd == "send":
        send(addr, port, bytes.fromhex(hexdata), *sys.argv[5:7])
    elif cmd == "keep":
        keep(addr, port, bytes.fromhex(hexdata), *sys.argv[5:7])
