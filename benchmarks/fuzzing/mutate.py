"""Byte-level mutations of a valid seed: bit flips, truncation, splicing, huge length fields.

Plain seeded :mod:`random` is enough here: every mutation is drawn from the case's own
``random.Random``, so a case is reproduced from its seed alone.
"""

from __future__ import annotations

import random
import struct

# Values that break length/size fields: zero, one, the sign bit, all ones, 2**63.
_HUGE = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 2**63, 2**64 - 1)


def bit_flip(rng: random.Random, data: bytes) -> bytes:
    """Flip 1..8 random bits."""
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    """Cut the file at a random point (often near the start, where headers live)."""
    if len(data) < 2:
        return b""
    cut = rng.choice((rng.randrange(len(data)), rng.randrange(min(len(data), 64))))
    return data[:cut]


def splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """The head of ``data`` followed by the tail of ``other`` (another seed)."""
    a = rng.randrange(len(data) + 1)
    b = rng.randrange(len(other) + 1)
    return data[:a] + other[b:]


def huge_field(rng: random.Random, data: bytes) -> bytes:
    """Overwrite 4 or 8 bytes in the first 64 with a huge or zero integer (either endianness)."""
    if len(data) < 8:
        return data + struct.pack("<Q", rng.choice(_HUGE) % 2**64)
    value = rng.choice(_HUGE)
    width, fmt = rng.choice(((4, "I"), (8, "Q")))
    packed = struct.pack(rng.choice("<>") + fmt, value % (2 ** (8 * width)))
    at = rng.randrange(0, min(len(data), 64) - width + 1)
    return data[:at] + packed + data[at + width:]


def chunk_ops(rng: random.Random, data: bytes) -> bytes:
    """Delete, duplicate or zero a random chunk."""
    if not data:
        return b"\x00"
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 256))
    op = rng.randrange(3)
    if op == 0:
        return data[:a] + data[b:]
    if op == 1:
        return data[:b] + data[a:b] * rng.randint(1, 4) + data[b:]
    return data[:a] + bytes(b - a) + data[b:]


def mutate(rng: random.Random, data: bytes, others: list[bytes]) -> tuple[bytes, str]:
    """One to three random mutations of ``data``; returns the bytes and their names."""
    names = []
    for _ in range(rng.randint(1, 3)):
        op = rng.choice(("bit_flip", "truncate", "splice", "huge_field", "chunk_ops"))
        if op == "splice":
            data = splice(rng, data, rng.choice(others) if others else data)
        else:
            data = globals()[op](rng, data)
        names.append(op)
    return data, "+".join(names)
