"""Identifiers that sort by creation time (ULID layout): lists read in order, no counter."""

from __future__ import annotations

import os
from datetime import datetime

from safecity.core.clock import to_micros

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(at: datetime) -> str:
    """A 26-character ULID: 48 bits of milliseconds, then 80 random bits."""
    value = ((to_micros(at) // 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, at: datetime) -> str:
    """A prefixed ULID, e.g. ``inc_01JD...``; the prefix says what kind of object it names."""
    return f"{prefix}_{ulid(at)}"
