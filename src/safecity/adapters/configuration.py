"""Configured adapter instances: each a name, an adapter and its validated settings.

A site may run the same adapter several times (two legacy formats through ``webhook``, two
brokers through ``mqtt``); the instance name is what URLs and logs use.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from safecity.adapters import registry
from safecity.core.errors import FieldError, InvalidInput


@dataclass(frozen=True)
class AdapterInstance:
    name: str
    adapter: str
    config: BaseModel | None


def config_model(adapter: str) -> type[BaseModel] | None:
    """The adapter's settings model: the class in its ``config.py`` whose ``type`` is its name."""
    try:
        module = registry.module(adapter, "config")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").endswith(".config"):
            raise
        return None
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, BaseModel)
            and "type" in value.model_fields
            and value.model_fields["type"].default == adapter
        ):
            return value
    return None


@cache
def default_instance(adapter: str) -> AdapterInstance:
    """The adapter with its default settings, when every setting has a default."""
    model = config_model(adapter)
    config = None
    if model is not None:
        try:
            config = model()
        except ValidationError:
            config = None  # this adapter needs site settings before it can map anything
    return AdapterInstance(adapter, adapter, config)


def read_file(path: Path) -> dict[str, Any]:
    """A TOML or JSON settings file."""
    text = path.read_bytes()
    try:
        if path.suffix.lower() == ".json":
            loaded = json.loads(text)
        else:
            loaded = tomllib.loads(text.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput([FieldError(str(path), f"cannot read: {exc}")]) from None
    if not isinstance(loaded, dict):
        raise InvalidInput([FieldError(str(path), "must hold a table/object of settings")])
    return loaded


def load_instances(
    items: Sequence[Mapping[str, Any]], *, base: Path | None = None
) -> dict[str, AdapterInstance]:
    """Validate configured instances; every fault is reported with its path (``adapters[2].x``).

    An item may name a file (``include = "lamps.toml"``) whose settings it extends.
    """
    errors: list[FieldError] = []
    found: dict[str, AdapterInstance] = {}
    for index, item in enumerate(items):
        at = f"adapters[{index}]"
        body = dict(item)
        include = body.pop("include", None)
        if include is not None:
            path = Path(str(include))
            path = path if path.is_absolute() or base is None else base / path
            try:
                body = {**read_file(path), **body}
            except (OSError, InvalidInput) as exc:
                errors.append(FieldError(f"{at}.include", str(exc)))
                continue
        adapter = body.get("type")
        name = str(body.pop("name", adapter))
        if not isinstance(adapter, str) or adapter not in registry.names():
            errors.append(
                FieldError(
                    f"{at}.type",
                    f"unknown adapter {adapter!r}; known: {', '.join(registry.names())}",
                )
            )
            continue
        if name in found:
            errors.append(FieldError(f"{at}.name", f"{name!r} is configured twice"))
            continue
        model = config_model(adapter)
        if model is None:
            found[name] = AdapterInstance(name, adapter, None)
            continue
        try:
            config = model.model_validate(body)
        except ValidationError as exc:
            errors.extend(
                FieldError(".".join([at, *(str(p) for p in e["loc"])]), str(e["msg"]))
                for e in exc.errors(include_url=False)
            )
            continue
        found[name] = AdapterInstance(name, adapter, config)
    if errors:
        raise InvalidInput(errors)
    return found
