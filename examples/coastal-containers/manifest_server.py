"""Coastal Containers HQ manifest server (the seed lab's server, made sturdy).

Serves the ship manifest as one JSON document over mutual TLS, then closes. Its certificate,
key and trust bundle are files written by spiffe-helper (svid_files.py); it reloads them on
SIGHUP without dropping the listener, where the lab's server was killed by that signal. It
waits for the files at start, and a failed handshake is logged while the server keeps
serving. With EXPECT_PEER_ID set, only a client presenting that SPIFFE ID gets the manifest.
"""

import json
import os
import socket
import ssl
import sys

from svid_files import SvidContext, log, peer_spiffe_id

PORT = int(os.environ.get("PORT", "8443"))
EXPECT_PEER_ID = os.environ.get("EXPECT_PEER_ID", "")

MANIFEST = {
    "ship_name": "SS Coastal Carrier",
    "departure_port": "London Gateway",
    "arrival_port": "Port Elizabeth",
    "cargo": [
        {"type": "electronics", "quantity": 1000},
        {"type": "clothing", "quantity": 2000},
        {"type": "food", "quantity": 3000},
    ],
}


def serve(svids, conn, addr):
    conn.settimeout(5)
    with svids.current().wrap_socket(conn, server_side=True) as tls:
        log("Connection from: ", addr)
        peer = peer_spiffe_id(tls)
        if EXPECT_PEER_ID and peer != EXPECT_PEER_ID:
            log(f"Rejected peer {peer!r}: expected {EXPECT_PEER_ID}")
            return
        tls.sendall(json.dumps(MANIFEST).encode())
        log(f"Ship manifest sent, connection from {addr} closed.")


def main():
    svids = SvidContext("server", server_side=True)
    svids.wait_until_loaded()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", PORT))
        sock.listen(16)
        sock.settimeout(0.5)
        log("HQ Server started. Waiting for connections...")
        while True:
            svids.current()
            try:
                conn, addr = sock.accept()
            except (socket.timeout, InterruptedError):
                continue
            try:
                serve(svids, conn, addr)
            except (ssl.SSLError, OSError) as e:
                log(f"Handshake or send failed for {addr}: {e}")
                conn.close()


if __name__ == "__main__":
    sys.exit(main())
