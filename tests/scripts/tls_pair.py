#!/usr/bin/env python3
"""Mutual-TLS handshake between two Python ssl contexts that load the same SVID files.

Usage: tls_pair.py SVID_PEM KEY_PEM BUNDLE_PEM

KEY_PEM "-" loads the key from SVID_PEM itself (`load_cert_chain(path)` with one file): a
credential bundle holding the key, the leaf and the intermediates.

The server context is built like the seed lab's manifest server (client-auth purpose, cert
chain + key, CERT_REQUIRED, bundle as the only CA); the client like its manifest client
(hostname check off, CERT_REQUIRED, bundle added). They talk over a socketpair. Prints
"ok server-saw=<client URI SAN> client-saw=<server URI SAN>" and exits 0 on success.
"""
import socket
import ssl
import sys
import threading

PAYLOAD = b'{"ship_name": "SS Coastal Carrier"}'


def uri_sans(cert):
    return [value for kind, value in cert.get("subjectAltName", ()) if kind == "URI"]


def main():
    svid, key, bundle = sys.argv[1:4]

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=bundle)
    key = None if key == "-" else key
    server_ctx.load_cert_chain(certfile=svid, keyfile=key)
    server_ctx.verify_mode = ssl.CERT_REQUIRED

    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=bundle)
    client_ctx.check_hostname = False
    client_ctx.verify_mode = ssl.CERT_REQUIRED
    client_ctx.load_cert_chain(certfile=svid, keyfile=key)

    server_sock, client_sock = socket.socketpair()
    server_sock.settimeout(30)
    client_sock.settimeout(30)
    result = {}

    def serve():
        try:
            with server_ctx.wrap_socket(server_sock, server_side=True) as tls:
                result["server_saw"] = uri_sans(tls.getpeercert())
                tls.sendall(PAYLOAD)
        except Exception as exc:  # reported by the main thread
            result["server_error"] = repr(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    with client_ctx.wrap_socket(client_sock, server_side=False) as tls:
        client_saw = uri_sans(tls.getpeercert())
        received = b""
        while len(received) < len(PAYLOAD):
            chunk = tls.recv(4096)
            if not chunk:
                break
            received += chunk
    thread.join(30)

    if "server_error" in result:
        sys.exit("server side failed: " + result["server_error"])
    if received != PAYLOAD:
        sys.exit("payload mismatch: %r" % received)
    print("ok server-saw=%s client-saw=%s" % (",".join(result["server_saw"]), ",".join(client_saw)))


if __name__ == "__main__":
    main()
