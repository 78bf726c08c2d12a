"""Hand-made hostile files: pickles whose ``__reduce__`` runs code, lying safetensors headers,
structurally wrong values. Shared by the campaign and tests/test_pickle_safety.py."""

from __future__ import annotations

import json
import os
import pickle
import random
import struct
from pathlib import Path


class _Payload:
    """Unpickling this calls ``func(*args)``: what an attacker's file does."""

    def __init__(self, func, args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def code_pickle(marker: Path, variant: int = 0, protocol: int = 2) -> bytes:
    """A pickle that creates ``marker`` when unpickled (via ``open``, ``os.system`` or
    ``exec``), bare or hidden inside a CIFAR-like dict."""
    payloads = [
        _Payload(open, (str(marker), "w")),
        _Payload(os.system, (f"touch '{marker}'",)),
        _Payload(exec, (f"open({str(marker)!r}, 'w').close()",)),
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
