"""EDXL-DE 1.0: the envelope is checked, its CAP content handed to the cap adapter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from signxml.signer import XMLSigner

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.cap.config import CapConfig
from safecity.adapters.edxl.config import EdxlConfig
from safecity.adapters.edxl.mapping import parse
from safecity.core.errors import InvalidInput
from safecity.core.identity import Role
from safecity.core.payloads import AlertIssued
from safecity.ingest.adapters import map_input
from support import INTEROP, Api

EDXL = INTEROP / "edxl" / "edxl-de-1.0"
CAP_ALERT = INTEROP / "cap" / "oasis-cap-1.2-spec-examples" / "Oasis_ThunderstormWarning.xml"
RECEIVED = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
NS = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"

BUSHFIRE_IDS = [
    "tag:www.rfs.nsw.gov.au2011-10-18:40500",
    "tag:www.rfs.nsw.gov.au2011-10-18:40444",
    "tag:www.rfs.nsw.gov.au2011-10-18:40394",
    "tag:www.rfs.nsw.gov.au2011-10-18:40428",
    "tag:www.rfs.nsw.gov.au2011-10-18:40484",
    "tag:www.rfs.nsw.gov.au2011-10-18:40487",
    "tag:www.rfs.nsw.gov.au2011-10-18:40435",
]


def ctx(config: object = None) -> MappingContext:
    return MappingContext(received_at=RECEIVED, config=config)


def cap_events(mapped: Mapped, config: CapConfig | None = None) -> list[AlertIssued]:
    """What the intake would do next: each enclosed document through its adapter."""
    out: list[AlertIssued] = []
    for inner in mapped.enclosed:
        assert inner.adapter == "cap"
        assert inner.content_type == "application/xml"
        for event in map_input("cap", inner.raw, ctx(config)).events:
            assert isinstance(event.data, AlertIssued)
            out.append(event.data)
    return out


def envelope(content: str, **fields: str) -> bytes:
    head = {
        "distributionID": "city-0001",
        "senderID": "control@city.example",
        "dateTimeSent": "2026-11-21T12:00:00-00:00",
        "distributionStatus": "Actual",
        "distributionType": "Report",
        **fields,
    }
    parts = "".join(f"<e:{k}>{v}</e:{k}>" for k, v in head.items() if v != "-")
    return f'<e:EDXLDistribution xmlns:e="{NS}">{parts}{content}</e:EDXLDistribution>'.encode()


def embedded(document: str) -> str:
    return (
        "<e:contentObject><e:xmlContent><e:embeddedXMLContent>"
        f"{document}</e:embeddedXMLContent></e:xmlContent></e:contentObject>"
    )


def cap_text() -> str:
    return CAP_ALERT.read_text("utf-8").split("?>", 1)[1]


def refused(raw: bytes, config: object = None) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as exc:
        parse(raw, ctx(config))
    return [(e.field, e.reason) for e in exc.value.errors]


# --- the vectors -----------------------------------------------------------------------------------


def test_bushfire_feed_hands_each_alert_to_cap() -> None:
    mapped = parse((EDXL / "bushfire_valid.edxlde").read_bytes(), ctx())
    assert mapped.rejections == [] and mapped.events == []
    assert [e.where for e in mapped.enclosed] == [f"contentObject[{i}]" for i in range(7)]
    alerts = cap_events(mapped)
    assert [a.identifier for a in alerts] == BUSHFIRE_IDS
    assert {a.sender for a in alerts} == {"webmaster@rfs.nsw.gov.au"}
    assert alerts[1].headline == "Quinambyie"
    assert alerts[1].areas[0].circles[0].lat == -30.0266
    assert alerts[1].categories == ["Fire"]


def test_rfs_envelope_carries_one_alert() -> None:
    mapped = parse((EDXL / "rfs.xml").read_bytes(), ctx())
    (inner,) = mapped.enclosed
    assert inner.where == "contentObject[0]"
    # The envelope's unused namespace declarations are not carried into the alert.
    assert b"EDXL" not in inner.raw and b"georss" not in inner.raw
    (alert,) = cap_events(mapped)
    assert alert.identifier == "2014-05-08T10:31:00-00:00:160068"
    assert alert.headline == "MVA Gwandalan"
    assert (alert.severity.value, alert.certainty) == ("minor", "observed")


def test_invalid_bushfire_feed_envelope_is_fine_but_two_alerts_are_refused() -> None:
    mapped = parse((EDXL / "bushfire_invalid.edxlde").read_bytes(), ctx())
    assert len(mapped.enclosed) == 7
    reasons: dict[str, list[str]] = {}
    for inner in mapped.enclosed:
        try:
            map_input("cap", inner.raw, ctx())
        except InvalidInput as exc:
            reasons[inner.where] = [e.field for e in exc.errors]
    assert reasons == {
        "contentObject[1]": [
            "alert.identifier",
            "alert.sender",
            "alert.sent",
            "alert.status",
            "alert.msgType",
            "alert.scope",
        ],
        "contentObject[2]": ["alert.info[0].urgency"],
    }


# --- broken envelopes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"distributionID": "-"}, "distributionID", "required"),
        ({"senderID": "-"}, "senderID", "required"),
        ({"senderID": "two words"}, "senderID", "no spaces"),
        ({"dateTimeSent": "yesterday"}, "dateTimeSent", "is not a date-time with a zone"),
        ({"dateTimeSent": "2026-13-45T12:00:00Z"}, "dateTimeSent", "not a date-time"),
        ({"distributionStatus": "Real"}, "distributionStatus", "'Real' is not one of Actual"),
        ({"distributionType": "-"}, "distributionType", "required: one of Report"),
    ],
)
def test_envelope_fields_are_checked(fields: dict[str, str], field: str, reason: str) -> None:
    errors = refused(envelope(embedded(cap_text()), **fields))
    assert any(f == field and reason in r for f, r in errors), errors


def test_non_xml_and_unknown_content_are_rejected_per_object() -> None:
    non_xml = (
        "<e:contentObject><e:nonXMLContent><e:mimeType>image/jpeg</e:mimeType>"
        "<e:uri>http://example.invalid/photo.jpg</e:uri></e:nonXMLContent></e:contentObject>"
    )
    unknown = embedded('<report xmlns="urn:example:other"><x>1</x></report>')
    mapped = parse(envelope(embedded(cap_text()) + non_xml + unknown), ctx())
    assert [e.where for e in mapped.enclosed] == ["contentObject[0]"]
    first, second = mapped.rejections
    assert first.where == "contentObject[1]"
    assert first.errors[0].field == "contentObject[1].nonXMLContent"
    assert "non-XML content (image/jpeg)" in first.errors[0].reason
    assert "was not fetched" in first.errors[0].reason
    assert second.where == "contentObject[2]"
    assert "'urn:example:other' is not content this hub reads" in second.errors[0].reason
    assert b"urn:example:other" in second.raw


def test_envelope_with_nothing_usable_is_refused() -> None:
    errors = refused(envelope(embedded('<x xmlns="urn:y"/>')))
    assert errors[0][0] == "contentObject[0].xmlContent"
    assert refused(envelope("")) == [("contentObject", "the envelope carries no contentObject")]
    key_only = (
        "<e:contentObject><e:xmlContent><e:keyXMLContent><a/></e:keyXMLContent>"
        "</e:xmlContent></e:contentObject>"
    )
    assert "keyXMLContent excerpts" in refused(envelope(key_only))[0][1]


def test_not_an_envelope_dtd_and_encoding() -> None:
    ((field, reason),) = refused(CAP_ALERT.read_bytes())
    assert field == "alert" and "is not an EDXL-DE 1.0 EDXLDistribution" in reason
    dtd = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://x.invalid/">]>' + (
        envelope(embedded(cap_text()))
    )
    assert "DTD, entity or external reference is refused" in refused(dtd)[0][1]
    latin = b'<?xml version="1.0" encoding="utf-8"?>' + envelope(embedded(cap_text())).replace(
        b"city-0001", "cité".encode("latin-1")
    )
    ((field, reason),) = refused(latin)
    assert field == "body" and reason.startswith("encoding mismatch: the XML declaration says")


def test_accepted_statuses_are_configurable() -> None:
    raw = envelope(embedded(cap_text()), distributionStatus="Test")
    assert parse(raw, ctx()).enclosed
    errors = refused(raw, EdxlConfig(accept_status=["Actual"]))
    assert errors == [
        (
            "distributionStatus",
            "'Test' distributions are not accepted by this intake (accepted: Actual)",
        )
    ]


def test_a_signed_alert_still_verifies_after_the_envelope() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alerts.example.org")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2028, 1, 1, tzinfo=UTC))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    signed = XMLSigner(
        signature_algorithm="ecdsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    ).sign(etree.fromstring(CAP_ALERT.read_bytes()), key=key_pem, cert=cert_pem)
    raw = envelope(embedded(etree.tostring(signed).decode()))
    (alert,) = cap_events(parse(raw, ctx()), CapConfig(certificates=[cert_pem]))
    assert alert.signature.value == "verified"


# --- fuzz ------------------------------------------------------------------------------------------

_SEED = (EDXL / "rfs.xml").read_bytes()


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    start = draw(st.integers(0, len(_SEED)))
    end = draw(st.integers(start, min(len(_SEED), start + 60)))
    return _SEED[:start] + draw(st.binary(max_size=20)) + _SEED[end:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | _mutated())
def test_fuzz_mapping_only_maps_or_refuses(raw: bytes) -> None:
    errors: list[object] = []
    try:
        mapped = parse(raw, ctx())
    except InvalidInput as exc:
        errors.extend(exc.errors)
    else:
        assert mapped.enclosed or mapped.rejections
        return
    assert errors


# --- through the intake, over HTTP ---------------------------------------------------------------


def test_http_envelope_of_cap_becomes_alert_events(api: Api) -> None:
    h = {**api.h(Role.INTEGRATOR), "Content-Type": "application/xml"}
    r = api.client.post(
        "/v1/adapters/edxl/messages", content=(EDXL / "rfs.xml").read_bytes(), headers=h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 0)
    got = api.client.get(
        "/v1/events/by-key",
        params={
            "source": "mailto:webmaster@rfs.nsw.gov.au",
            "id": "2014-05-08T10:31:00-00:00:160068#0",
        },
        headers=api.h(Role.OPERATOR),
    )
    assert got.status_code == 200, got.text
    event = got.json()["event"]
    assert event["type"] == "alert.issued"
    assert event["data"]["headline"] == "MVA Gwandalan"
    again = api.client.post(
        "/v1/adapters/edxl/messages", content=(EDXL / "rfs.xml").read_bytes(), headers=h
    )
    assert again.json()["duplicates"] == 1


def test_http_partly_broken_feed_and_refused_envelope(api: Api) -> None:
    h = api.h(Role.INTEGRATOR)
    raw = (EDXL / "bushfire_invalid.edxlde").read_bytes()
    body = api.client.post("/v1/adapters/edxl/messages", content=raw, headers=h).json()
    assert (body["accepted"], body["rejected"]) == (5, 2)
    parts = {p["where"]: p["errors"][0]["field"] for p in body["rejected_parts"]}
    assert parts == {
        "contentObject[1]": "alert.identifier",
        "contentObject[2]": "alert.info[0].urgency",
    }
    assert all(p["dead_letter_id"] for p in body["rejected_parts"])
    bad = api.client.post(
        "/v1/adapters/edxl/messages",
        content=envelope(embedded(cap_text()), distributionID="-"),
        headers=h,
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert {"field": "distributionID", "reason": "required"} in bad.json()["errors"]


def test_cap_adapter_hands_an_envelope_to_edxl(api: Api) -> None:
    body = api.client.post(
        "/v1/adapters/cap/messages",
        content=(EDXL / "bushfire_valid.edxlde").read_bytes(),
        headers=api.h(Role.INTEGRATOR),
    ).json()
    assert body["accepted"] == 7
