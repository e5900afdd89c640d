#!/usr/bin/env python3
"""Differential check of svid-core's HPACK code against Python's `hpack` package.

Both directions, on random header lists drawn from a small pool so that fields repeat and the
dynamic table is exercised:
  * Python's encoder (Huffman or raw, incremental indexing, never-indexed fields, table size
    changes) -> our `Decoder`, on one decoder per connection across many blocks;
  * our `encode_field` -> Python's decoder.

Usage: pip install hpack; python3 scripts/hpack_oracle.py [SEED]
Runs the ignored test `hpack::oracle_tests::python_oracle` of svid-core with the vectors.
"""
import os
import random
import subprocess
import sys
import tempfile

from hpack import Decoder, Encoder, NeverIndexedHeaderTuple

STATIC_LIKE = [
    (b":status", b"200"), (b":status", b"404"), (b":status", b"302"),
    (b"content-type", b"application/grpc"), (b"content-type", b"text/html"),
    (b"grpc-status", b"0"), (b"grpc-status", b"7"), (b"grpc-message", b""),
    (b"grpc-message", b"no identity issued"), (b"cache-control", b"private"),
    (b"date", b"Mon, 21 Oct 2013 20:13:21 GMT"), (b"location", b"https://www.example.com"),
    (b"server", b""), (b"www-authenticate", b""),
]


def random_bytes(rng, alphabet, lo, hi):
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def header_pool(rng):
    names = b"abcdefghijklmnopqrstuvwxyz0123456789-"
    pool = list(STATIC_LIKE)
    for _ in range(30):
        name = random_bytes(rng, names, 1, 40)
        # Values use every byte value, lengths past the 7-bit prefix (127) included.
        value = random_bytes(rng, range(256), 0, rng.choice([10, 130, 600]))
        pool.append((name, value))
    return pool


def write_vectors(path, rng):
    blocks = 0
    with open(path, "w") as out:
        for _ in range(300):
            table_size = rng.choice([0, 256, 4096])
            encoder = Encoder()
            # The first block of a connection carries the size update down to our setting.
            encoder.header_table_size = table_size
            pool = header_pool(rng)
            out.write(f"connection {table_size}\n")
            for _ in range(rng.randint(1, 25)):
                if rng.random() < 0.1:
                    sizes = [s for s in (0, 64, 128, 256, table_size) if s <= table_size]
                    encoder.header_table_size = rng.choice(sizes)
                headers = []
                for _ in range(rng.randint(0, 12)):
                    name, value = rng.choice(pool)
                    if rng.random() < 0.1:
                        headers.append(NeverIndexedHeaderTuple(name, value))
                    else:
                        headers.append((name, value))
                block = encoder.encode(headers, huffman=rng.random() < 0.7)
                out.write(f"block {block.hex()}\n")
                for name, value in headers:
                    out.write(f"field {bytes(name).hex()} {bytes(value).hex()}\n")
                blocks += 1
    return blocks


def check_our_encoding(vectors, encoded):
    """Decodes every block our encoder produced with Python's decoder."""
    expected = []
    with open(vectors) as lines:
        for line in lines:
            kind, *rest = line.split()
            if kind == "block":
                expected.append([])
            elif kind == "field":
                expected[-1].append((bytes.fromhex(rest[0] if rest else ""),
                                     bytes.fromhex(rest[1] if len(rest) > 1 else "")))
    decoder = Decoder()
    decoder.max_header_list_size = 1 << 20
    with open(encoded) as lines:
        ours = [bytes.fromhex(line.strip()) for line in lines]
    assert len(ours) == len(expected), (len(ours), len(expected))
    for block, fields in zip(ours, expected):
        decoded = decoder.decode(block, raw=True)
        assert decoded == fields, (block.hex(), decoded, fields)
    assert len(decoder.header_table.dynamic_entries) == 0
    return len(ours)


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    rng = random.Random(seed)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as tmp:
        vectors = os.path.join(tmp, "vectors.txt")
        encoded = os.path.join(tmp, "encoded.txt")
        blocks = write_vectors(vectors, rng)
        env = dict(os.environ, HPACK_ORACLE_VECTORS=vectors, HPACK_ORACLE_ENCODED=encoded)
        subprocess.run(
            ["cargo", "test", "-q", "-p", "svid-core", "--lib", "hpack::oracle_tests",
             "--", "--ignored", "--nocapture"],
            cwd=root, env=env, check=True)
        checked = check_our_encoding(vectors, encoded)
    print(f"hpack oracle (seed {seed}): {blocks} Python blocks decoded by svid-core, "
          f"{checked} svid-core blocks decoded by Python")


if __name__ == "__main__":
    main()
