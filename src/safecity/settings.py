"""Settings from the environment (``SAFECITY_*``) or one TOML/JSON file; validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SqliteStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["sqlite"] = "sqlite"
    path: Path = Path("safecity.db")


class MemoryBusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["memory"] = "memory"


class CorrelationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_radius_m: float = Field(default=250.0, gt=0, le=50_000)
    default_window_s: float = Field(default=900.0, gt=0, le=7 * 86_400)
    radius_m: dict[str, float] = Field(default_factory=dict, description="Per incident type")
    window_s: dict[str, float] = Field(default_factory=dict, description="Per incident type")


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65_535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_inflight_ingest: int = Field(default=64, ge=1, description="Beyond this, 429")
    retry_after_s: int = Field(default=1, ge=1)


class Settings(BaseSettings):
    """All configuration. A typo in a key fails at start-up naming the key."""

    model_config = SettingsConfigDict(
        env_prefix="SAFECITY_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    store: SqliteStoreSettings = Field(default_factory=SqliteStoreSettings)
    bus: MemoryBusSettings = Field(default_factory=MemoryBusSettings)
    correlation: CorrelationSettings = Field(default_factory=CorrelationSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    max_future_skew_s: float = Field(default=300.0, ge=0, le=86_400)
    #: Configured adapter instances: each a table with ``type`` (the adapter), an optional
    #: ``name`` and the adapter's settings, or ``include`` naming a TOML/JSON file of them.
    adapters: list[dict[str, Any]] = Field(default_factory=list)
    #: Where relative ``include`` paths are resolved (the settings file's folder).
    config_dir: Path | None = None

    @classmethod
    def from_file(cls, path: Path) -> Settings:
        """Settings from a TOML or JSON file; ``SAFECITY_*`` variables fill what it leaves out."""
        import json
        import tomllib

        raw = path.read_bytes()
        data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode())
        data.setdefault("config_dir", str(path.parent.resolve()))
        return cls(**data)
