"""NATS-style subject matching, shared by every bus backend and by subscribers' own filters."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


def subject_matches(pattern: str, subject: str) -> bool:
    """True when ``subject`` matches ``pattern`` (``*`` is one token, ``>`` the rest, >= 1)."""
    pat = _tokens(pattern)
    sub = _tokens(subject)
    for i, part in enumerate(pat):
        if part == ">":
            return len(sub) > i
        if i >= len(sub) or (part != "*" and part != sub[i]):
            return False
    return len(pat) == len(sub)


def valid_subject(subject: str, *, wildcards: bool = False) -> bool:
    """A subject is non-empty dot-separated tokens without spaces; wildcards only in patterns."""
    if not subject or " " in subject:
        return False
    tokens = subject.split(".")
    for i, part in enumerate(tokens):
        if not part:
            return False
        if part in ("*", ">"):
            if not wildcards or (part == ">" and i != len(tokens) - 1):
                return False
        elif "*" in part or ">" in part:
            return False
    return True
