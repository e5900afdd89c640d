"""Minimal fetch-and-write peer on py-spiffe (grpcio):
peer_py.py [--watch N | --jwt N] <unix:socket> <dir>.
Default: one fetch of the X.509 context, then svid.pem (chain), svid_key.pem (PKCS#8) and
svid_bundle.pem (own trust domain's roots first, then every federated one by name), each via
a temporary file, an fsync and a rename.
--watch N: the same for each of the first N contexts of stream_x509_contexts (py-spiffe's
watch, a callback on its own thread), printing `written <serial-hex> <unix-ns>` once the
third file is renamed; then it cancels the stream and idles until killed, so that its CPU
time and peak RSS can be read.
--jwt N: fetches one JWT-SVID per audience aud-<i> in turn and writes each token to jwt-<i>
the same way."""
import os
import sys
import threading
import time

import grpc
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from spiffe import WorkloadApiClient

# The tonic dev agent resets the stream (PROTOCOL_ERROR) without this, most likely over the
# socket path grpcio puts in :authority for unix: targets. Name "localhost" instead; nothing
# else of py-spiffe changes.
_insecure_channel = grpc.insecure_channel
grpc.insecure_channel = lambda target, options=None, **kw: _insecure_channel(
    target, options=[("grpc.default_authority", "localhost")] + list(options or []), **kw)


def write(directory, name, data, mode):
    tmp = os.path.join(directory, "." + name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, os.path.join(directory, name))


def write_x509(directory, ctx):
    """Writes the three files of one context; returns the leaf."""
    svid = ctx.default_svid
    chain = b"".join(c.public_bytes(Encoding.PEM) for c in svid.cert_chain)
    key = svid.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    own = str(svid.spiffe_id.trust_domain)
    bundles = sorted(ctx.x509_bundle_set.bundles, key=lambda b: (str(b.trust_domain) != own, str(b.trust_domain)))
    bundle = b"".join(a.public_bytes(Encoding.PEM) for b in bundles for a in b.x509_authorities)
    write(directory, "svid.pem", chain, 0o644)
    write(directory, "svid_key.pem", key, 0o600)
    write(directory, "svid_bundle.pem", bundle, 0o644)
    return svid.leaf


def watch(client, directory, count):
    done = threading.Event()
    seen = [0]
    errors = []

    def on_success(ctx):
        if done.is_set():
            return
        leaf = write_x509(directory, ctx)
        ns = time.time_ns()
        hexits = f"{leaf.serial_number:X}"
        print(f"written {'0' * (len(hexits) % 2)}{hexits} {ns}", flush=True)
        seen[0] += 1
        if seen[0] == count:
            done.set()

    def on_error(e):
        errors.append(e)
        done.set()

    handler = client.stream_x509_contexts(on_success, on_error, retry_connect=False)
    done.wait()
    if errors:
        raise SystemExit(f"stream_x509_contexts: {errors[0]}")
    handler.cancel()
    threading.Event().wait()


def main():
    args = sys.argv[1:]
    mode, count = None, 0
    if args[0] in ("--watch", "--jwt"):
        mode, count, args = args[0], int(args[1]), args[2:]
    endpoint, directory = args
    client = WorkloadApiClient(endpoint)
    if mode == "--watch":
        watch(client, directory, count)
    elif mode == "--jwt":
        for i in range(count):
            svid = client.fetch_jwt_svid({f"aud-{i}"})
            write(directory, f"jwt-{i}", svid.token.encode(), 0o600)
    else:
        write_x509(directory, client.fetch_x509_context())


if __name__ == "__main__":
    main()
