"""Identifiers that sort by creation time (ULID layout): lists read in order, no counter."""

from __future__ import annotations

import os
import threading
from datetime import datetime

from safecity.core.clock import to_micros

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class _Monotonic:
    """Within one millisecond, each id is the previous one plus one (the ULID spec's monotonic
    mode), so ids made in order sort in order even when the clock does not move."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self, millis: int) -> int:
        value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
        with self._lock:
            if millis == self._last >> 80 and value <= self._last:
                value = self._last + 1
            self._last = value
        return value


_monotonic = _Monotonic()


def ulid(at: datetime) -> str:
    """A 26-character ULID: 48 bits of milliseconds, then 80 random bits."""
    value = _monotonic.next(to_micros(at) // 1000)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, at: datetime) -> str:
    """A prefixed ULID, e.g. ``inc_01JD...``; the prefix says what kind of object it names."""
    return f"{prefix}_{ulid(at)}"
