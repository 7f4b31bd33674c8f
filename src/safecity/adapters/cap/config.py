"""Settings of a CAP intake (signature policy) and of the CAP alerts this site publishes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography import x509
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    PrivateAttr,
    StringConstraints,
    field_validator,
)

Pem = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class CapPublish(BaseModel):
    """Who this site is when it issues CAP, and which incidents are public warnings.

    Nothing is published unless ``incident_types`` names the incident types that are; an
    incident's other details (assignee, units, summary) are never part of an alert.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: CAP ``sender``: a globally unique id of this issuer, usually a domain or an e-mail.
    sender: Annotated[str, StringConstraints(pattern=r"^[^\s,<&]{1,200}$")] = "safecity@localhost"
    sender_name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "safecity"
    #: Prefix of each alert's ``identifier`` (then the incident id and its version).
    identifier_prefix: Annotated[str, StringConstraints(pattern=r"^[^\s,<&]{1,100}$")] = "safecity"
    status: Literal["Actual", "Exercise", "System", "Test", "Draft"] = "Actual"
    scope: Literal["Public", "Restricted", "Private"] = "Public"
    language: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")] = (
        "en"
    )
    #: Incident types (``fire``, ``external_alert``...) that are published; empty: none are.
    incident_types: list[str] = Field(default_factory=list, max_length=50)
    #: Only incidents this urgent or more (1 the most urgent) are published.
    max_priority: int = Field(default=3, ge=1, le=5)
    #: Radius of the alert circle around an incident's location, when it has no accuracy.
    default_radius_km: float = Field(default=0.5, gt=0, le=100)
    #: Hours after the last change an alert expires (CAP ``expires``).
    expires_after_h: float = Field(default=6.0, gt=0, le=720)
    feed_title: Annotated[str, StringConstraints(min_length=1, max_length=200)] = (
        "Public safety alerts"
    )
    #: The feed's own URL (Atom ``id`` and ``self`` link), as the public sees it.
    feed_url: Annotated[str, StringConstraints(min_length=1, max_length=500)] = (
        "urn:safecity:cap:alerts"
    )
    max_entries: int = Field(default=100, ge=1, le=1000)


class CapPoll(BaseModel):
    """A feed (or single alert URL) this server fetches on a schedule. Only this configured URL
    is ever fetched: links inside the feed are noted, never followed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl
    interval_s: float = Field(default=60.0, ge=5, le=86_400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)


class CapConfig(BaseModel):
    """A CAP intake: which certificates sign trusted alerts and what happens to bad signatures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["cap"] = "cap"
    #: PEM X.509 certificates of trusted signers. With none, a signature is reported as
    #: ``present`` (not checked); with some, each signed alert is checked against them.
    certificates: list[Pem] = Field(default_factory=list, max_length=50)
    #: Files holding PEM certificates, read once when the settings are loaded.
    certificate_files: list[Path] = Field(default_factory=list, max_length=50)
    #: What happens to an alert whose signature does not verify: refused (and dead-lettered),
    #: or passed on marked ``signature: invalid`` with a note.
    on_invalid_signature: Literal["reject", "flag"] = "reject"
    #: With certificates configured, refuse alerts that carry no signature at all.
    require_signature: bool = False
    #: Accept RSA-SHA1/SHA1 signatures (still common in national feeds such as NAADS 2013).
    allow_sha1: bool = False
    publish: CapPublish = Field(default_factory=CapPublish)
    #: Feeds to poll; without any, alerts arrive only by push (HTTP, MQTT).
    poll: list[CapPoll] = Field(default_factory=list, max_length=100)

    @field_validator("certificates")
    @classmethod
    def _readable(cls, value: list[str]) -> list[str]:
        for index, pem in enumerate(value):
            try:
                x509.load_pem_x509_certificate(pem.encode())
            except ValueError as exc:
                raise ValueError(f"certificates[{index}] is not a PEM certificate: {exc}") from None
        return value

    _trusted: list[x509.Certificate] = PrivateAttr(default_factory=list)

    @field_validator("certificate_files")
    @classmethod
    def _files(cls, value: list[Path]) -> list[Path]:
        for path in value:
            try:
                x509.load_pem_x509_certificate(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise ValueError(f"{path}: not a readable PEM certificate: {exc}") from None
        return value

    def model_post_init(self, context: Any, /) -> None:
        # Files are read once, here, so that mapping an alert never touches the disk.
        pems = [p.encode() for p in self.certificates]
        pems.extend(path.read_bytes() for path in self.certificate_files)
        self._trusted = [x509.load_pem_x509_certificate(pem) for pem in pems]

    @property
    def trusted(self) -> list[x509.Certificate]:
        """The trusted signer certificates, parsed."""
        return list(self._trusted)
