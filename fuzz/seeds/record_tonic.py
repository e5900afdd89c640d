#!/usr/bin/env python3
"""Records what svid-dev-agent (tonic) sends on one Workload API connection, as a seed.

Starts target/debug/svid-dev-agent (build it first), replays the client side of the grpc-go
transcript (preface, SETTINGS, FetchX509SVID, FetchJWTBundles, two FetchJWTSVID) and saves
every byte the agent sends for 5 seconds to fuzz/seeds/h2/tonic-dev-agent.server.bin.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.path.join(ROOT, "target/debug/svid-dev-agent")
CLIENT = os.path.join(ROOT, "core/src/testdata/h2/grpc-go.client.bin")
OUT = os.path.join(ROOT, "fuzz/seeds/h2/tonic-dev-agent.server.bin")

with tempfile.TemporaryDirectory() as tmp:
    sock_path = os.path.join(tmp, "agent.sock")
    agent = subprocess.Popen(
        [AGENT, "--socket", sock_path, "--intermediate", "--rotate-every", "2s"],
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
    )
    try:
        for line in agent.stdout:
            if line.startswith("listening"):
                break
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(sock_path)
        with open(CLIENT, "rb") as f:
            conn.sendall(f.read())
        conn.settimeout(0.2)
        received = bytearray()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            received.extend(chunk)
        conn.close()
    finally:
        agent.kill()
        agent.wait()
with open(OUT, "wb") as f:
    f.write(received)
print(f"{OUT}: {len(received)} bytes")
