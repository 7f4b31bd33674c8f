"""The embedded default storage backend: SQLite in WAL mode."""

from safecity.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
