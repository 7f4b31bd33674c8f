"""The signature receivers check: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``.

Binding the timestamp into the MAC lets a receiver refuse replays older than a few minutes.
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, body: bytes, header: str, *, now: int, tolerance_s: int = 300) -> bool:
    """For receivers (and tests): constant-time check of a signature header."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        expected = sign(secret, body, timestamp)
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(expected, header)
