"""Minimal fetch-and-write peer on py-spiffe (grpcio): peer_py.py <unix:socket> <dir>.
One fetch of the X.509 context, then svid.pem (chain), svid_key.pem (PKCS#8) and
svid_bundle.pem (own trust domain's roots first, then every federated one by name),
each via a temporary file and a rename."""
import os
import sys

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


def main():
    endpoint, directory = sys.argv[1], sys.argv[2]
    client = WorkloadApiClient(endpoint)
    ctx = client.fetch_x509_context()
    svid = ctx.default_svid
    chain = b"".join(c.public_bytes(Encoding.PEM) for c in svid.cert_chain)
    key = svid.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    own = str(svid.spiffe_id.trust_domain)
    bundles = sorted(ctx.x509_bundle_set.bundles, key=lambda b: (str(b.trust_domain) != own, str(b.trust_domain)))
    bundle = b"".join(a.public_bytes(Encoding.PEM) for b in bundles for a in b.x509_authorities)
    write(directory, "svid.pem", chain, 0o644)
    write(directory, "svid_key.pem", key, 0o600)
    write(directory, "svid_bundle.pem", bundle, 0o644)


if __name__ == "__main__":
    main()
