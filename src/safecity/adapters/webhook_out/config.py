"""Settings of one outbound webhook subscription."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, field_validator

from safecity.core.subjects import valid_subject


class WebhookOutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook_out"] = "webhook_out"
    #: Where to POST. Set by an administrator, never taken from a payload.
    url: HttpUrl
    #: Shared secret for the ``X-Safecity-Signature`` HMAC; at least 32 characters.
    secret: SecretStr = Field(min_length=32)
    #: Bus subjects to forward, NATS syntax (``incidents.>``, ``events.camera.>``).
    subjects: list[str] = Field(default_factory=lambda: ["incidents.>"], min_length=1)
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_initial_s: float = Field(default=1.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=300.0, gt=0, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: Deliveries waiting beyond this are dead-lettered at once rather than held in memory.
    max_pending: int = Field(default=10_000, ge=1)

    @field_validator("subjects")
    @classmethod
    def _subjects(cls, value: list[str]) -> list[str]:
        for subject in value:
            if not valid_subject(subject, wildcards=True):
                raise ValueError(f"invalid subject pattern {subject!r}")
        return value
