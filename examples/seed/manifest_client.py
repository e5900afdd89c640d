"""Coastal Containers vessel: fetches the ship manifest from HQ over mutual TLS.

The seed lab's client, made sturdy: it trusts only the SPIFFE trust bundle (not the
system CAs), checks the server's SPIFFE ID when EXPECT_PEER_ID is set, and retries
with backoff instead of crashing when the server is not up yet.
"""

import json
import os
import socket
import ssl
import sys
import time

SVID_CERT = os.environ.get("SVID_CERT", "/var/run/secrets/svids/client_cert.pem")
SVID_KEY = os.environ.get("SVID_KEY", "/var/run/secrets/svids/client_key.pem")
TRUST_BUNDLE = os.environ.get("TRUST_BUNDLE", "/var/run/secrets/svids/svid_bundle.pem")
HOST = os.environ.get("SERVER_HOST", "server")
PORT = int(os.environ.get("PORT", "443"))
EXPECT_PEER_ID = os.environ.get("EXPECT_PEER_ID", "")
ATTEMPTS = int(os.environ.get("ATTEMPTS", "6"))


def fetch():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # SVIDs carry a SPIFFE ID, not a DNS name.
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=TRUST_BUNDLE)
    ctx.load_cert_chain(certfile=SVID_CERT, keyfile=SVID_KEY)
    with socket.create_connection((HOST, PORT), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            cert = tls.getpeercert() or {}
            uris = [v for (k, v) in cert.get("subjectAltName", ()) if k == "URI"]
            if EXPECT_PEER_ID and uris != [EXPECT_PEER_ID]:
                raise ssl.SSLError(f"server SPIFFE ID {uris} is not {EXPECT_PEER_ID}")
            data = b""
            while True:
                try:
                    chunk = tls.recv(4096)
                except ssl.SSLEOFError:
                    break  # the lab server closes without close_notify
                if not chunk:
                    break
                data += chunk
    return json.loads(data.decode("utf-8"))


def main():
    delay = 0.5
    for attempt in range(1, ATTEMPTS + 1):
        try:
            manifest = fetch()
            print("Received ship manifest:", manifest, flush=True)
            return 0
        except (OSError, ValueError) as e:
            print(f"attempt {attempt}: {e}", file=sys.stderr, flush=True)
            time.sleep(delay)
            delay = min(delay * 2, 5)
    return 1


if __name__ == "__main__":
    sys.exit(main())
