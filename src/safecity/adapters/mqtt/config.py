"""Settings of one MQTT broker connection and of the JSON telemetry mapped by topic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

#: A payload value: ``$.a.b[0]`` (a path in the JSON payload), ``topic[2]`` (a topic level,
#: from 0) or a constant.
ValueSpec = str | int | float | bool


def check_filter(value: str) -> str:
    """An MQTT topic filter: ``+`` alone in a level, ``#`` alone in the last level."""
    if not value or len(value.encode()) > 65_535 or "\x00" in value:
        raise ValueError("a topic filter is 1 to 65535 bytes, without NUL")
    levels = value.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise ValueError("'#' must be a whole level and the last one, e.g. 'city/#'")
        if "+" in level and level != "+":
            raise ValueError("'+' must be a whole level, e.g. 'city/+/noise'")
    return value


TopicFilter = Annotated[str, AfterValidator(check_filter)]


class Tls(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: CA bundle to verify the broker with (default: the system's).
    ca_file: Path | None = None
    #: Client certificate and key, for brokers that authenticate clients by certificate.
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Skip the host name check. Only for a broker on a private address without a proper name.
    insecure: bool = False

    @model_validator(mode="after")
    def _pair(self) -> Tls:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give both cert_file and key_file, or neither")
        return self


class Subscription(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: TopicFilter
    qos: Literal[0, 1, 2] = 1
    #: The inbound mapping for messages on this filter: "frigate", "onvif", "mqtt"...
    adapter: str = Field(default="mqtt", min_length=1, max_length=100)
    content_type: str | None = "application/json"


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lon: ValueSpec
    lat: ValueSpec


class TopicMapping(BaseModel):
    """Simple JSON telemetry: messages on ``topic`` become ``event_type`` events whose payload
    fields are read from the message (``{"laeq_db": "$.level", "sensor_id": "topic[2]"}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: TopicFilter
    event_type: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    data: dict[str, ValueSpec]
    #: Where the time is (RFC 3339 text or Unix epoch seconds); default: when it was received.
    time: str | None = None
    #: Where a message id is; default: a digest of topic and payload (re-sending is idempotent).
    id: str | None = None
    location: Location | None = None
    severity: Literal["unknown", "minor", "moderate", "severe", "extreme"] | None = None


class Commands(BaseModel):
    """Commands to actuators over this broker: published to ``topic`` (QoS 1), answered by the
    device on ``ack_topic`` with ``{"id": <command id>, "status": "ok" | "error", "detail": ...}``.
    ``{device_id}`` in a topic is replaced by the device's register id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str = Field(default="safecity/actuators/{device_id}/set", min_length=1)
    ack_topic: str = Field(default="safecity/actuators/{device_id}/ack", min_length=1)
    timeout_s: float = Field(default=5.0, gt=0, le=300)
    #: Register ids (fnmatch patterns) of the devices reached through this broker.
    devices: list[str] = Field(default_factory=lambda: ["*"], min_length=1)

    @model_validator(mode="after")
    def _templates(self) -> Commands:
        for name in ("topic", "ack_topic"):
            value = getattr(self, name)
            if value.count("{device_id}") != 1 or "+" in value or "#" in value:
                raise ValueError(f"{name} must contain {{device_id}} once and no wildcards")
        return self


class MqttConfig(BaseModel):
    """One broker: where it is, how to log in, what to subscribe to and which mapping reads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["mqtt"] = "mqtt"
    host: str = "localhost"
    port: int = Field(default=1883, ge=1, le=65_535)
    #: Fixed, so the broker keeps the session (and QoS 1 messages not yet acknowledged) across
    #: reconnects and restarts of this server.
    client_id: str = Field(default="safecity", min_length=1, max_length=128)
    clean_session: bool = False
    username: str | None = None
    password: SecretStr | None = None
    tls: Tls | None = None
    keepalive: int = Field(default=60, ge=5, le=3600)
    subscriptions: list[Subscription] = Field(default_factory=list)
    #: Reconnect backoff: doubles from min to max seconds.
    reconnect_min_s: float = Field(default=1.0, gt=0, le=600)
    reconnect_max_s: float = Field(default=60.0, gt=0, le=3600)
    #: Messages received but not yet handed to the platform; the broker waits beyond this.
    queue_size: int = Field(default=1000, ge=1, le=100_000)
    #: When the platform fails on a message, it is tried again after this (doubling up to
    #: ``reconnect_max_s``); it is acknowledged only once the platform took it.
    sink_retry_s: float = Field(default=1.0, gt=0, le=600)
    #: JSON telemetry mapped by topic (the ``mqtt`` mapping itself).
    mappings: list[TopicMapping] = Field(default_factory=list)
    #: Event sources are ``<source>/<topic>``.
    source: str = Field(default="mqtt", min_length=1, max_length=200)
    #: Commands to actuators through this broker (off when absent).
    commands: Commands | None = None

    @model_validator(mode="after")
    def _backoff(self) -> MqttConfig:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        return self
