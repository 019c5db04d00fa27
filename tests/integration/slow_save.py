"""A game server in miniature for the tests: listens on ADDR:PORT and, on
SIGTERM, takes SECONDS to "save the world" (then writes SAVED) before it
exits, as a Minecraft or Valheim server does.

  python3 slow_save.py ADDR PORT SAVED [SECONDS]   (default 1)
"""
import signal
import socket
import sys
import time

addr, port, saved = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)


def term(*_):
    time.sleep(seconds)
    with open(saved, "w") as f:
        f.write("saved")
    sys.exit(0)


signal.signal(signal.SIGTERM, term)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.close()
