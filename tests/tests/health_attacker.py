"""Holds connections to a health listener open, for e2e_health_starvation.rs.

Usage: health_attacker.py PORT IDLE SLOW

Opens IDLE connections that never send a byte and SLOW slowloris connections that send one
byte of a never-ending request head every 0.5 s, all nonblocking on one epoll selector, and
reconnects every connection the server closes (or that fails), at once. Prints one JSON
line a second: `open` (established now, from this side), `connects` (established in all),
`closed` (seen closed by the server), `slow_bytes` (bytes the slowloris connections sent).
"""

import errno
import json
import resource
import selectors
import socket
import sys
import time

PORT, IDLE, SLOW = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
HEAD = b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
TRICKLE = 0.5

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = IDLE + SLOW + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))

sel = selectors.DefaultSelector()
stats = {"open": 0, "connects": 0, "closed": 0, "slow_bytes": 0}


class Conn:
    def __init__(self, slow):
        self.slow = slow
        self.sock = None
        self.connected = False
        self.sent = 0
        self.next_byte = 0.0


def connect(c):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    err = s.connect_ex(("127.0.0.1", PORT))
    if err not in (0, errno.EINPROGRESS):
        s.close()
        c.sock = None
        return
    c.sock, c.connected, c.sent = s, False, 0
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)


def drop(c, was_open):
    sel.unregister(c.sock)
    c.sock.close()
    c.sock = None
    if was_open:
        stats["open"] -= 1
        stats["closed"] += 1


def trickle(c, now):
    try:
        c.sock.send(HEAD[c.sent : c.sent + 1] if c.sent < len(HEAD) else b"a")
        c.sent += 1
        stats["slow_bytes"] += 1
    except (BlockingIOError, InterruptedError):
        pass
    except OSError:
        drop(c, True)
        return
    c.next_byte = now + TRICKLE


conns = [Conn(False) for _ in range(IDLE)] + [Conn(True) for _ in range(SLOW)]
for c in conns:
    connect(c)

last_report = 0.0
while True:
    now = time.monotonic()
    for key, events in sel.select(timeout=0.05):
        c = key.data
        if not c.connected:
            if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                drop(c, False)
                continue
            c.connected = True
            stats["open"] += 1
            stats["connects"] += 1
            sel.modify(c.sock, selectors.EVENT_READ, c)
            if c.slow:
                trickle(c, now)
            continue
        try:
            data = c.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            data = b""
        if not data:
            drop(c, True)
    for c in conns:
        if c.sock is None:
            connect(c)
        elif c.slow and c.connected and now >= c.next_byte:
            trickle(c, now)
    if now - last_report >= 1.0:
        last_report = now
        print(json.dumps(stats), flush=True)
