"""Coastal Containers vessel: fetches the ship manifest from HQ over mutual TLS.

The seed lab's client, made sturdy: it trusts only the SPIFFE trust bundle (not the system
CAs), checks the server's SPIFFE ID when EXPECT_PEER_ID is set, and retries with backoff
instead of crashing while the server is not up. By default it fetches once (ATTEMPTS tries);
with FETCH_EVERY=<seconds> it keeps fetching, and reloads its SVID on SIGHUP (svid_files.py).
"""

import json
import os
import socket
import ssl
import sys
import time

from svid_files import SvidContext, log, peer_spiffe_id

HOST = os.environ.get("SERVER_HOST", "server")
PORT = int(os.environ.get("PORT", "443"))
EXPECT_PEER_ID = os.environ.get("EXPECT_PEER_ID", "")
ATTEMPTS = int(os.environ.get("ATTEMPTS", "6"))
FETCH_EVERY = float(os.environ.get("FETCH_EVERY", "0"))


def fetch(ctx):
    with socket.create_connection((HOST, PORT), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            peer = peer_spiffe_id(tls)
            if EXPECT_PEER_ID and peer != EXPECT_PEER_ID:
                raise ssl.SSLError(f"server SPIFFE ID {peer!r} is not {EXPECT_PEER_ID}")
            data = b""
            while True:
                try:
                    chunk = tls.recv(4096)
                except ssl.SSLEOFError:
                    break  # the lab's server closed without close_notify
                if not chunk:
                    break
                data += chunk
    return json.loads(data.decode("utf-8"))


def main():
    svids = SvidContext("client", server_side=False)
    svids.wait_until_loaded()
    delay, failures = 0.5, 0
    while True:
        try:
            manifest = fetch(svids.current())
            log("Received ship manifest:", manifest)
            if not FETCH_EVERY:
                return 0
            delay, failures = 0.5, 0
            time.sleep(FETCH_EVERY)
        except (OSError, ValueError) as e:
            failures += 1
            print(f"attempt {failures}: {e}", file=sys.stderr, flush=True)
            if not FETCH_EVERY and failures >= ATTEMPTS:
                return 1
            time.sleep(delay)
            delay = min(delay * 2, 5)


if __name__ == "__main__":
    sys.exit(main())
