"""The adapter registry: built-ins by folder name, third-party ones by entry point."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from importlib.metadata import entry_points
from importlib.resources import files
from types import ModuleType

import safecity.adapters
from safecity.adapters.base import ConnectorFactory, Manifest, ParseFunction

ENTRY_POINT_GROUP = "safecity.adapters"


@cache
def _builtin() -> dict[str, str]:
    """Built-in adapters: every sub-package of ``safecity.adapters`` with a ``manifest.py``.
    Only the folder listing is read here; nothing is imported until an adapter is used."""
    root = files(safecity.adapters)
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(safecity.adapters.__path__):
        if info.ispkg and (root / info.name / "manifest.py").is_file():
            found[info.name] = f"safecity.adapters.{info.name}"
    return found


@cache
def _plugins() -> dict[str, str]:
    """Third-party adapters by entry point, read once (scanning installed metadata is slow)."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _package(name: str) -> str:
    builtin = _builtin()
    if name in builtin:
        return builtin[name]
    if name in _plugins():
        return _plugins()[name]
    known = ", ".join(sorted(names()))
    raise LookupError(f"no adapter named {name!r}; known: {known}")


def names() -> list[str]:
    return sorted(set(_builtin()) | set(_plugins()))


@cache
def module(name: str, part: str) -> ModuleType:
    """``manifest``, ``config``, ``mapping`` or ``adapter`` of adapter ``name``, imported on use."""
    return importlib.import_module(f"{_package(name)}.{part}")


def manifest(name: str) -> Manifest:
    found = module(name, "manifest").MANIFEST
    if not isinstance(found, Manifest):
        raise TypeError(f"adapter {name!r} has no Manifest")
    return found


def parser(name: str) -> ParseFunction:
    parse: ParseFunction = module(name, "mapping").parse
    return parse


def connector_factory(name: str) -> ConnectorFactory | None:
    """``adapter.connector`` of adapter ``name``, when it has its own transport."""
    try:
        adapter = module(name, "adapter")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_package(name)}.adapter":
            raise  # the adapter exists but a library it needs is missing: say so
        return None
    factory: ConnectorFactory | None = getattr(adapter, "connector", None)
    return factory
