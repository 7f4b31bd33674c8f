"""Settings from the environment (``SAFECITY_*``) or one TOML/JSON file; validated at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from safecity.core.catalogue import EventTypeList, IncidentTypeList
from safecity.operations.forecasting import ForecastSettings
from safecity.operations.kpis import KpiTargets
from safecity.processors.automation.rules import AutomationConfig


class SqliteStoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["sqlite"] = "sqlite"
    path: Path = Path("safecity.db")


class MemoryBusSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["memory"] = "memory"


class FusionRuleSettings(BaseModel):
    """One row of the fusion matrix: these kinds of event within this distance and time are one
    incident. Empty ``event_types`` / ``incident_types`` admit any."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    radius_m: float = Field(gt=0, le=50_000)
    window_s: float = Field(gt=0, le=7 * 86_400)
    event_types: EventTypeList = Field(default_factory=list)
    incident_types: IncidentTypeList = Field(default_factory=list)
    same_incident_type: bool = False


class CorrelationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default_radius_m: float = Field(default=250.0, gt=0, le=50_000)
    default_window_s: float = Field(default=900.0, gt=0, le=7 * 86_400)
    radius_m: dict[str, float] = Field(default_factory=dict, description="Per incident type")
    window_s: dict[str, float] = Field(default_factory=dict, description="Per incident type")
    #: The fusion matrix. None keeps the defaults (shots fired: gunshot, camera abnormal event,
    #: calls and reports within 250 m and 3 min; duplicate citizen reports within 50 m; and the
    #: compatible incident-type pairs); a list replaces them all.
    fusion: list[FusionRuleSettings] | None = None


class CitySettings(BaseModel):
    """Where the platform runs: its time zone, vulnerable places and named areas."""

    model_config = ConfigDict(extra="forbid")
    name: str = "safecity"
    timezone: str = Field(default="UTC", description="IANA zone for time-of-day rules and KPIs")
    #: A packaged map name ("helsinki") or a JSON file of places (see docs/operations.md).
    places: str | None = None
    #: A packaged map name or a JSON file of named areas (polygons or centres).
    areas: str | None = None
    vulnerable_radius_m: float = Field(default=200.0, gt=0, le=5_000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}, e.g. Europe/Helsinki") from None
        return value


class RoutingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: A packaged road network ("helsinki", "monaco") or a ``.roads.npz`` file built by
    #: ``scripts/build_road_networks.py``; without one, dispatch recommendation is off.
    network: str | None = None


class GunshotSettings(BaseModel):
    """The platform's own gunshot localiser (acoustic pulses in, located shots out)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    #: Air temperature for the speed of sound, c = 20.05 * sqrt(T + 273.15) m/s. A degree off
    #: moves a fix by about 0.2 % of the sensor distances.
    temperature_c: float = Field(default=10.0, ge=-60, le=60)
    settle_s: float = Field(default=0.8, gt=0, le=10, description="Quiet time before locating")


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65_535)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_inflight_ingest: int = Field(default=64, ge=1, description="Beyond this, 429")
    retry_after_s: int = Field(default=1, ge=1)


class KpiSettings(BaseModel):
    """Response-time targets (see docs/kpis.md). The defaults are fire/EMS norms (NENA call
    answering, NFPA 1225, NFPA 1710); a police agency sets its own under ``agencies``."""

    model_config = ConfigDict(extra="forbid")
    targets: KpiTargets = Field(default_factory=KpiTargets)


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
    city: CitySettings = Field(default_factory=CitySettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    gunshot: GunshotSettings = Field(default_factory=GunshotSettings)
    #: Automation rules (see docs/automations.md); none by default.
    automations: AutomationConfig = Field(default_factory=AutomationConfig)
    api: ApiSettings = Field(default_factory=ApiSettings)
    kpis: KpiSettings = Field(default_factory=KpiSettings)
    #: The daily place-based forecast, demand and coverage (see docs/forecasting.md).
    forecast: ForecastSettings = Field(default_factory=ForecastSettings)
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
