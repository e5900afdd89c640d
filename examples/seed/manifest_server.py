"""Coastal Containers HQ manifest server (the seed lab's server, made sturdy).

Serves the ship manifest as one JSON document over mutual TLS, then closes. Its
certificate, key and trust bundle are files written by spiffe-helper; on SIGHUP
(the helper's renew signal) it reloads them without dropping the listener, which
the lab's original server could not do (SIGHUP killed it). A failed handshake is
logged and the server keeps serving. The peer must present the client's SPIFFE ID
when EXPECT_PEER_ID is set.
"""

import json
import os
import signal
import socket
import ssl
import sys

SVID_CERT = os.environ.get("SVID_CERT", "/var/run/secrets/svids/server_cert.pem")
SVID_KEY = os.environ.get("SVID_KEY", "/var/run/secrets/svids/server_key.pem")
TRUST_BUNDLE = os.environ.get("TRUST_BUNDLE", "/var/run/secrets/svids/svid_bundle.pem")
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

reload_requested = False


def log(*args):
    print(*args, flush=True)


def make_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(certfile=SVID_CERT, keyfile=SVID_KEY)
    ctx.load_verify_locations(cafile=TRUST_BUNDLE)
    return ctx


def peer_spiffe_id(tls):
    cert = tls.getpeercert() or {}
    uris = [v for (k, v) in cert.get("subjectAltName", ()) if k == "URI"]
    return uris[0] if len(uris) == 1 else None


def on_sighup(signum, frame):
    global reload_requested
    reload_requested = True


def main():
    global reload_requested
    signal.signal(signal.SIGHUP, on_sighup)
    ctx = make_context()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", PORT))
        sock.listen(16)
        sock.settimeout(0.5)
        log("HQ Server started. Waiting for connections...")
        while True:
            if reload_requested:
                reload_requested = False
                ctx = make_context()
                log("SIGHUP: reloaded certificate, key and trust bundle")
            try:
                conn, addr = sock.accept()
            except (socket.timeout, InterruptedError):
                continue
            try:
                conn.settimeout(5)
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    log("Connection from: ", addr)
                    peer = peer_spiffe_id(tls)
                    if EXPECT_PEER_ID and peer != EXPECT_PEER_ID:
                        log(f"Rejected peer {peer!r}: expected {EXPECT_PEER_ID}")
                        continue
                    tls.sendall(json.dumps(MANIFEST).encode())
                    log(f"Ship manifest sent, connection from {addr} closed.")
            except (ssl.SSLError, OSError) as e:
                log(f"Handshake or send failed for {addr}: {e}")
                conn.close()


if __name__ == "__main__":
    sys.exit(main())
