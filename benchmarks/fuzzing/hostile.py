"""Hand-made hostile files: pickles whose ``__reduce__`` runs code, lying safetensors headers,
PNG headers that announce a decompression bomb, structurally wrong values. Shared by the
campaign, benchmarks/serve_load.py and the tests (pickle safety, EXIF and bombs, uploads)."""

from __future__ import annotations

import json
import os
import pickle
import random
import struct
import zlib
from pathlib import Path


def png_bomb(width: int, height: int) -> bytes:
    """A ~100-byte valid PNG whose IHDR announces ``width × height`` 8-bit grey pixels: what a
    decompression bomb looks like to a reader that trusts the header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


class Payload:
    """Unpickling this calls ``func(*args)``: what an attacker's file does."""

    def __init__(self, func, args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def code_pickle(marker: Path, variant: int = 0, protocol: int = 2) -> bytes:
    """A pickle that creates ``marker`` when unpickled (via ``open``, ``os.system`` or
    ``exec``), bare or hidden inside a CIFAR-like dict."""
    payloads = [
        Payload(open, (str(marker), "w")),
        Payload(os.system, (f"touch '{marker}'",)),
        Payload(exec, (f"open({str(marker)!r}, 'w').close()",)),
    ]
    payload = payloads[variant % len(payloads)]
    obj = payload if variant % 2 == 0 else {b"data": payload, b"labels": [0],
                                            "state_dict": payload}
    return pickle.dumps(obj, protocol=protocol)


def huge_safetensors_header(claim: int = 2**63 - 1) -> bytes:
    """A safetensors file whose 8-byte header length claims ``claim`` bytes."""
    return struct.pack("<Q", claim % 2**64) + b'{"__metadata__":{}}'


def lying_safetensors(rng: random.Random) -> bytes:
    """A safetensors header whose tensor offsets, dtype or shape disagree with the data."""
    entry = {"dtype": rng.choice(["F32", "F64", "I64", "BOGUS", "F16"]),
             "shape": rng.choice([[4], [2**31, 2**31], [-1], [0], [2, 2], ["x"]]),
             "data_offsets": rng.choice([[0, 16], [0, 2**62], [16, 0], [0, 8], [-8, 8]])}
    header = json.dumps({"conv1.weight": entry}).encode()
    return struct.pack("<Q", len(header)) + header + bytes(rng.choice([0, 8, 16]))


ODD_VALUES = ("", "0", "-1", "1.5", "nan", "inf", "-inf", "1e309", "2147483648",
              "99999999999999999999", "0x10", "abc", "é", "日本", " ", "--", "-", "none",
              "true", "[1, 2]", "{}", "a=b", "\x7f", "../../etc", "/dev/null", "1" * 400)


def odd_json_value(rng: random.Random) -> object:
    """A JSON value of a random wrong type or size."""
    return rng.choice([None, True, 0, -1, 2**63, 1e308, float("nan"), "x", "", [], [1],
                       [1, 2, 3, 4], ["a", "b"], {}, {"a": 1}, [[1]], "resnet20", [0.5] * 3,
                       list(range(1000))])
