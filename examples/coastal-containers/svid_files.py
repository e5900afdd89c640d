"""The SVID files spiffe-helper writes, as a Python `ssl` context that follows rotation.

Shared by the manifest server and client. The context trusts only the SPIFFE trust bundle
(never the system CA store). It is rebuilt when SIGHUP arrives (spiffe-helper's renew_signal)
and, with RELOAD_ON_CHANGE=1, when the certificate file changes (for a helper running as a
Kubernetes sidecar, which cannot signal another container). A reload that fails (for example
the new certificate read beside the old key during the helper's renames) keeps the old context
and is tried again on the next call.
"""

import os
import signal
import ssl
import time


def log(*args):
    print(*args, flush=True)


def peer_spiffe_id(tls):
    """The peer certificate's only URI SAN, or None."""
    cert = tls.getpeercert() or {}
    uris = [v for (k, v) in cert.get("subjectAltName", ()) if k == "URI"]
    return uris[0] if len(uris) == 1 else None


class SvidContext:
    def __init__(self, role, server_side):
        folder = "/var/run/secrets/svids"
        self.cert = os.environ.get("SVID_CERT", f"{folder}/{role}_cert.pem")
        self.key = os.environ.get("SVID_KEY", f"{folder}/{role}_key.pem")
        self.bundle = os.environ.get("TRUST_BUNDLE", f"{folder}/svid_bundle.pem")
        self.watch_files = os.environ.get("RELOAD_ON_CHANGE", "") == "1"
        self.server_side = server_side
        self.reload_requested = False
        self.loaded_mtime = None
        self.ctx = None
        signal.signal(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self, signum, frame):
        self.reload_requested = True

    def _mtime(self):
        try:
            return os.stat(self.cert).st_mtime_ns
        except OSError:
            return None

    def _build(self):
        if self.server_side:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        else:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False  # SVIDs carry a SPIFFE ID, not a DNS name.
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=self.bundle)
        ctx.load_cert_chain(certfile=self.cert, keyfile=self.key)
        return ctx

    def wait_until_loaded(self):
        """Blocks until the helper has written a usable set of files."""
        while self.ctx is None:
            mtime = self._mtime()
            try:
                self.ctx = self._build()
                self.loaded_mtime = mtime
            except (OSError, ssl.SSLError) as e:
                log(f"waiting for the SVID files: {e}")
                time.sleep(1)

    def current(self):
        """The context to use now, reloaded first when a reload is due."""
        mtime = self._mtime()
        changed = self.watch_files and mtime != self.loaded_mtime
        if self.reload_requested or changed:
            reason = "SIGHUP" if self.reload_requested else "files changed"
            try:
                self.ctx = self._build()
                self.loaded_mtime = mtime
                self.reload_requested = False
                log(f"{reason}: reloaded certificate, key and trust bundle")
            except (OSError, ssl.SSLError) as e:
                log(f"{reason}: reload failed, keeping the previous files: {e}")
        return self.ctx
