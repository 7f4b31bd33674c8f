"""Numbered SQL migrations: a shared part per version plus each dialect's own part."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable

#: Portable DDL for the table that records which versions are applied; every backend runs it
#: before reading the current version.
BOOTSTRAP_SQL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)"
)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema version as a single script for one dialect."""

    version: int
    name: str
    sql: str


def migrations(dialect: str, *, root: Traversable | None = None) -> list[Migration]:
    """Every migration for ``dialect``, oldest first.

    Version ``N`` is ``<dialect>/NNNN_*.sql`` followed by the shared ``NNNN_*.sql``: the dialect
    part creates the tables whose key or byte types differ, so the shared part can index them and
    point foreign keys at them. Either part may be absent for a version, but versions must run
    1, 2, 3... without gaps. ``root`` replaces this package's folder (for tests).
    """
    root = files(__name__) if root is None else root
    folder = root / dialect
    if not re.fullmatch(r"[a-z0-9_]+", dialect) or not folder.is_dir():
        raise ValueError(f"no migrations for dialect {dialect!r}")
    shared = _scan(root)
    own = _scan(folder)
    versions = sorted(shared.keys() | own.keys())
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must run 1, 2, 3... without gaps; found {versions}")
    result: list[Migration] = []
    for version in versions:
        parts = [part for part in (own.get(version), shared.get(version)) if part is not None]
        result.append(Migration(version, parts[-1][0], "\n".join(text for _, text in parts)))
    return result


def latest_version(dialect: str) -> int:
    """The newest schema version ``dialect`` can reach (0 when there are no migrations)."""
    found = migrations(dialect)
    return found[-1].version if found else 0


def _scan(folder: Traversable) -> dict[int, tuple[str, str]]:
    found: dict[int, tuple[str, str]] = {}
    for entry in folder.iterdir():
        if not entry.is_file() or not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise ValueError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        version = int(match[1])
        if version in found:
            raise ValueError(f"two migrations numbered {version} in {folder.name!r}")
        found[version] = (match[2], entry.read_text(encoding="utf-8"))
    return found
