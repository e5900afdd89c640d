#!/usr/bin/env python3
"""Writes the fuzz seeds, one folder per target, into the folder given (fuzz/corpus by default).

Seeds come from real traffic and real files: the recorded HTTP/2 transcripts in
core/src/testdata/h2 and fuzz/seeds/h2 (grpc-go, gRPC C-core with gzip, tonic via
svid-dev-agent), the DER files in core/src/testdata, and every helper.conf fixture in
core/testdata/config. Each seed is shaped to its target's input layout (see the target's doc).
fuzz/seeds/minimise.sh turns the result into the committed, minimised corpus.
"""
import base64
import glob
import hashlib
import json
import os
import re
import struct
import sys
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "corpus")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def put(target, data):
    folder = os.path.join(OUT, target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def frames(stream):
    """(type, flags, stream id, payload) of each whole frame of an HTTP/2 byte stream."""
    pos = 0
    while pos + 9 <= len(stream):
        length = int.from_bytes(stream[pos : pos + 3], "big")
        kind, flags = stream[pos + 3], stream[pos + 4]
        sid = int.from_bytes(stream[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
        payload = stream[pos + 9 : pos + 9 + length]
        yield kind, flags, sid, payload
        pos += 9 + length


def grpc_messages(body, gzip_encoded):
    """The messages of a gRPC stream body, inflated."""
    pos = 0
    while pos + 5 <= len(body):
        flag, length = body[pos], int.from_bytes(body[pos + 1 : pos + 5], "big")
        message = body[pos + 5 : pos + 5 + length]
        if flag == 1:
            message = zlib.decompress(message, 31 if gzip_encoded else 15)
        yield message
        pos += 5 + length


def protobuf_fields(message):
    """(field number, bytes) of the length-delimited fields of a protobuf message."""
    pos = 0
    while pos < len(message):
        key, pos = varint(message, pos)
        wire = key & 7
        if wire == 2:
            length, pos = varint(message, pos)
            yield key >> 3, message[pos : pos + length]
            pos += length
        elif wire == 0:
            _, pos = varint(message, pos)
        else:
            return


def varint(data, pos):
    value = shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, pos


transcripts = sorted(
    glob.glob(os.path.join(ROOT, "core/src/testdata/h2/*.server.bin"))
    + glob.glob(os.path.join(ROOT, "fuzz/seeds/h2/*.server.bin"))
)
for path in transcripts:
    server = read(path)
    gzip_encoded = "gzip" in os.path.basename(path)
    # Whole connections: read-size seed (4 bytes for workload_client, 1 for h2_connection).
    for seed in (b"\x01\x00\x00\x00", b"\x00\x10\x00\x00"):
        put("workload_client", seed + server)
    for split in (b"\x00", b"\xff"):
        put("h2_connection", split + server)
    bodies = {}
    for kind, flags, sid, payload in frames(server):
        if kind == 1:  # HEADERS: strip padding and priority to get the HPACK block.
            block = payload
            if flags & 0x08:
                block = block[1 : len(block) - block[0]]
            if flags & 0x20:
                block = block[5:]
            put("hpack_decode", bytes([len(block)]) + block)
            put("hpack_diff", bytes([len(block)]) + block)
        elif kind == 0:
            data = payload[1 : len(payload) - payload[0]] if flags & 0x08 else payload
            bodies.setdefault(sid, bytearray()).extend(data)
    messages = []
    for sid, body in bodies.items():
        body = bytes(body)
        headers = 2 if gzip_encoded else 0
        put("grpc_response", bytes([headers, 0xFF]) + body + b"\x00")
        put("grpc_response", bytes([headers, 0x06]) + body + b"\x01")
        for message in grpc_messages(body, gzip_encoded):
            messages.append(message)
            put("proto_decode", message)
            if sid != 1:
                continue
            for flags in (0x00, 0x13):
                put("x509_render", bytes([flags]) + struct.pack(">q", 1_700_000_000) + message)
                put("x509_formats", bytes([flags]) + struct.pack(">q", 1_700_000_000) + message)
            # pkcs12: the options byte's top five bits are the password's length.
            for password in (b"", b"changeit"):
                head = bytes([0x02 | len(password) << 3]) + password + bytes(range(56))
                put("pkcs12", head + struct.pack(">q", 1_700_000_000) + message)
            for number, svid in protobuf_fields(message):
                if number != 1:
                    continue
                parts = dict(protobuf_fields(svid))
                chain, key = parts.get(2, b""), parts.get(3, b"")
                put("x509_svid", struct.pack(">H", len(chain)) + chain + key)
                put("der_split", chain)
                put("der_split", parts.get(4, b""))
                put("spiffe_id", parts.get(1, b""))
                put("trust_domain", parts.get(1, b""))
            for number, value in protobuf_fields(message):
                if number == 2:
                    put("der_split", value)

    # The session on the whole connection: every configuration the transcript's streams
    # answer (1 X.509, 3 JWT bundles, 5 and 7 JWT-SVIDs), the wall clock just after the
    # tokens were issued, the bytes a frame per read (a JWT-SVID call opens once the bundle
    # is in), then time to the next deadline, twice.
    issued = [
        json.loads(base64.urlsafe_b64decode(claims + b"=" * (-len(claims) % 4)))["iat"]
        for message in messages
        for claims in re.findall(rb"eyJ[\w-]+\.([\w-]+)\.", message)
    ]
    start = struct.pack(">q", min(issued, default=1_700_000_000) + 1)
    reads, pos = b"", 0
    for *_, payload in frames(server):
        frame = server[pos : pos + 9 + len(payload)]
        reads += b"\xf8" + struct.pack(">H", len(frame)) + frame
        pos += len(frame)
    for flags in (0x2A, 0x2B, 0x2E, 0x6A, 0xAF):
        put("workload_session", bytes([flags]) + start + reads + b"\xf9\xf9")

testdata = os.path.join(ROOT, "core/src/testdata")
leaf, leaf_key = read(f"{testdata}/leaf-ec.der"), read(f"{testdata}/leaf-ec.key.der")
ca_ec, ca_rsa = read(f"{testdata}/ca-ec.der"), read(f"{testdata}/ca-rsa.der")
for der in sorted(glob.glob(f"{testdata}/*.der")):
    put("pem_encode", b"\x00" + read(der))
put("pem_encode", b"\x01" + leaf_key)
put("der_split", leaf + ca_ec)
put("der_split", ca_ec + ca_rsa)
put("x509_svid", struct.pack(">H", len(leaf + ca_ec)) + leaf + ca_ec + leaf_key)

for text in [
    b"spiffe://example.org/workload",
    b"spiffe://example.org",
    b"spiffe://a-b.c_d/x/y.z/-_",
    b"spiffe://EXAMPLE.org/x",
    b"spiffe://example.org/a/../b",
    b"spiffe://example.org:8080/x",
    b"spiffe://user@example.org/x",
]:
    put("spiffe_id", text)
    put("trust_domain", text)
for text in [b"example.org", b"td-1.example_2", b"Example.org", b"example.org/"]:
    put("trust_domain", text)

configs = sorted(glob.glob(os.path.join(ROOT, "core/testdata/config/*.conf")))
for conf in configs:
    text = read(conf)
    put("config_parse", text)
    for line in text.splitlines():
        key, _, value = line.partition(b"=")
        if key.strip().strip(b'"').lower() == b"cmd_args":
            put("cmd_args", value.strip().strip(b",").strip(b'"').replace(b'\\"', b'"'))
put(
    "config_parse",
    b'{"agent_address": "/tmp/agent.sock", "cert_dir": "certs", "svid_file_name": "svid.pem",'
    b' "svid_key_file_name": "key.pem", "svid_bundle_file_name": "bundle.pem",'
    b' "cmd_args": "-c \\"a b\\"", "jwt_svids": [{"jwt_audience": "aud",'
    b' "jwt_svid_file_name": "jwt"}], "health_checks": {"listener_enabled": true}}',
)
# x509_svids (ours) in list, block and JSON form.
put(
    "config_parse",
    b'svid_file_name = "svid.pem"\nsvid_key_file_name = "key.pem"\nsvid_bundle_file_name = "b.pem"\n'
    b'x509_svids = [{ hint = "db", svid_file_name = "db.pem", svid_key_file_name = "db_key.pem",'
    b' svid_bundle_file_name = "db_bundle.pem", svid_credential_bundle_file_name = "db.cred" }]\n'
    b'x509_svids {\n  hint = "web"\n  svid_file_name = "web.pem"\n  svid_key_file_name = "k"\n'
    b'  svid_bundle_file_name = "web_b.pem"\n}\n',
)
put(
    "config_parse",
    b'{"svid_file_name": "svid.pem", "svid_key_file_name": "key.pem", "svid_bundle_file_name":'
    b' "b.pem", "x509_svids": [{"hint": "db", "svid_file_name": "db.pem", "svid_key_file_name":'
    b' "db_key.pem", "svid_bundle_file_name": "db_bundle.pem"}]}',
)
for args in [b'-config "/etc/my app.conf" -v', b'a "b ""c"" d" e', b'"x', b'a\tb  c']:
    put("cmd_args", args)

for unit in [b"\x0a\x05hello", b"A", bytes(range(256))]:
    for mode in (0x00, 0x91, 0x60):
        put("grpc_inflate", bytes([mode, 0x00, 0x10]) + unit)
    put("grpc_inflate", bytes([0x00, 0xFF, 0xFF]) + unit)
# The limit exactly (2 x 32768 = 65536 bytes) and one repeat past it; a 256 KiB zero bomb.
for mode in (0x00, 0x01):
    put("grpc_inflate", bytes([mode, 0x80, 0x00]) + b"ab")
    put("grpc_inflate", bytes([mode, 0x80, 0x01]) + b"ab")
    put("grpc_inflate", bytes([mode | 0x90, 0xFF, 0xFF]) + bytes(16))

jwks = read(f"{testdata}/jwt-bundle.json")
for line in read(f"{testdata}/jwt-tokens.txt").splitlines():
    alg, _, token = line.partition(b" ")
    put("jwt_parse", token + b"\x00" + jwks)
put("jwt_parse", b"\x00" + jwks)

# JSON documents for the tokenizer and the JOSE builder: the JWKS, JOSE headers and claims of
# the test tokens, and the edges: every escape, surrogates, duplicates, null, numbers, depth.
put("json_tokens", jwks)
for line in read(f"{testdata}/jwt-tokens.txt").splitlines():
    for part in line.partition(b" ")[2].split(b".")[:2]:
        put("json_tokens", base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)))
for doc in [
    rb'{"s":"\" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \uD800\uDC00"}',
    rb'{"a":1,"a":null,"b":[true,false,null,{}],"a":-0.5e+10}',
    b'{"n":[0,-0,1e400,-1E-400,123456789012345678901234567890,0.1,2.5e-3]}',
    b'{"lone":"\\ud800"}',
    b'{"bad":"\\udc00"}',
    b'{"z":01}',
    b'{"k":' + b"[" * 31 + b"1" + b"]" * 31 + b"}",
    b'{"k":' + b"[" * 32 + b"1" + b"]" * 32 + b"}",
    b' [1, "x"] ',
]:
    put("json_tokens", doc)

# Health requests as curl, Kubernetes probes and Go's client send them; byte 0 sets the
# limit, byte 1 the piece sizes.
for head in [
    b"GET /live HTTP/1.1\r\nHost: localhost:8081\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    b"GET /ready HTTP/1.1\r\nHost: 10.0.0.7:8081\r\nUser-Agent: kube-probe/1.31\r\n"
    b"Accept: */*\r\nConnection: close\r\n\r\n",
    b"HEAD /ready?verbose=1 HTTP/1.0\n\n",
    b"GET http://localhost:8081/live HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /live HTTP/2.0\r\n\r\n",
]:
    for limit, seed in ((0xFF, 0), (0x20, 3)):
        put("health_request", bytes([limit, seed]) + head)

# The health listener's connection table: byte 0 sets the table size, then (operation,
# argument) pairs: 0 accept, 1 bytes, 2 answering, 3 written, 4 close, 5 time passes.
for steps in [
    [3] + [0, 0] * 6 + [1, 1, 1, 2, 2, 0, 3, 0, 5, 10, 5, 20, 0, 0, 4, 1, 5, 200],
    [0, 0, 0, 2, 0, 0, 0, 5, 101, 0, 0],
    [7] + [0, 0, 1, 1, 5, 5] * 8 + [5, 20],
]:
    put("health_slots", bytes(steps))

# SPIFFE_HLP_* environments (NAME=VALUE records, NUL-separated): each type of key, the JSON
# blocks and lists, a variable that is no key, a bad bool, bad JSON.
for env in [
    [b"SPIFFE_HLP_AGENT_ADDRESS=unix:///run/spire/agent.sock", b"SPIFFE_HLP_CERT_DIR=/certs",
     b"SPIFFE_HLP_SVID_FILE_NAME=svid.pem", b"SPIFFE_HLP_SVID_KEY_FILE_NAME=key.pem",
     b"SPIFFE_HLP_SVID_BUNDLE_FILE_NAME=bundle.pem", b"SPIFFE_HLP_DAEMON_MODE=false",
     b"SPIFFE_HLP_KEY_FILE_MODE=0640", b"SPIFFE_HLP_ONE_SHOT_TIMEOUT=1m30s", b"PATH=/bin"],
    [b'SPIFFE_HLP_JWT_SVIDS=[{"jwt_audience":"a","jwt_extra_audiences":["b"],'
     b'"jwt_svid_file_name":"a.jwt"}]',
     b'SPIFFE_HLP_HEALTH_CHECKS={"listener_enabled":true,"bind_port":"0x1F91"}',
     b"SPIFFE_HLP_JWT_BUNDLE_FILE_NAME=bundle.json", b"SPIFFE_HLP_LOG_LEVEL=debug"],
    [b"SPIFFE_HLP_SVID_FILE_NAME=s", b"SPIFFE_HLP_SVID_KEY_FILE_NAME=k",
     b"SPIFFE_HLP_SVID_BUNDLE_FILE_NAME=b",
     b'SPIFFE_HLP_START={"cmd":"envoy","args":["-c","e.yaml"],"restart":"on-failure"}',
     b'SPIFFE_HLP_RELOAD={"signal":"SIGHUP","exec":[{"cmd":"/bin/true","on":["x509"],'
     b'"timeout":"3s"}]}', b"SPIFFE_HLP_TRUST_BUNDLE_DIR=bundles"],
    [b"SPIFFE_HLP_BIND_PORT=8081"],
    [b"SPIFFE_HLP_DAEMON_MODE=maybe"],
    [b'SPIFFE_HLP_JWT_SVIDS=[{"jwt_audience":"a",}]'],
]:
    put("env_config", b"\x00".join(env))

# Answers to -healthcheck: the helper's own (200 and 503 with upstream's body), Go's 404, an
# HTTP/1.0 server, a bare-LF line, a server that is not HTTP; byte 0 sets the piece sizes.
body = b'{"status":"OK","health":{"file_write_statuses":{"x509_write_status":"written","jwt_write_status":{}}}}'
for answer in [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
    b"Connection: close\r\n\r\n" % len(body) + body,
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\n\r\n" + body.replace(b'"OK"', b'"Service Unavailable"'),
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"404 page not found\n",
    b"HTTP/1.0 200 OK\n\n",
    b"HTTP/1.1 200\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.6\r\n",
]:
    for seed in (0, 5):
        put("health_response", bytes([seed]) + answer)
