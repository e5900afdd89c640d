#!/usr/bin/env python3
"""One mutual-TLS connection to a server on 127.0.0.1, with the helper's PEM files.

Usage: tls_client.py PORT SVID_PEM KEY_PEM BUNDLE_PEM

The client presents SVID_PEM and KEY_PEM, checks the server's chain against BUNDLE_PEM (no
host name: SPIFFE peers carry a URI SAN), and prints the line the server sends, then
"server-serial=<serial of the server certificate it saw>".
"""
import socket
import ssl
import sys


def main():
    port, svid, key, bundle = sys.argv[1:5]
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=bundle)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(certfile=svid, keyfile=key)
    with socket.create_connection(("127.0.0.1", int(port)), timeout=30) as sock:
        with ctx.wrap_socket(sock, server_side=False) as tls:
            line = b""
            while not line.endswith(b"\n"):
                chunk = tls.recv(4096)
                if not chunk:
                    break
                line += chunk
            serial = tls.getpeercert()["serialNumber"]
    print(line.decode().strip())
    print(f"server-serial={serial}")


if __name__ == "__main__":
    main()
