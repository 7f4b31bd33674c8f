"""CAP in (alerts, Atom/RSS feeds, signatures, encodings) and CAP out (alert, Atom feed)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from signxml.signer import XMLSigner
from typer.testing import CliRunner

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.cap.config import CapConfig, CapPublish
from safecity.adapters.cap.mapping import parse
from safecity.adapters.cap.outbound import alert_document, alerts_feed, identifier
from safecity.api.routes import cap_feed
from safecity.cli import app as cli
from safecity.core.errors import InvalidInput
from safecity.core.events import Event
from safecity.core.geo import Location
from safecity.core.identity import Agency, Role, User
from safecity.core.incidents import Incident, IncidentStatus
from safecity.core.payloads import AlertIssued
from safecity.runtime import Runtime, build_runtime
from safecity.settings import Settings
from support import INTEROP, Api

CAP = INTEROP / "cap"
TESTDATA = CAP / "google-cap-library" / "testdata"
VALIDATOR = CAP / "google-cap-library" / "validator-examples"
OASIS = CAP / "oasis-cap-1.2-spec-examples"
RECEIVED = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)


def ctx(config: CapConfig | None = None) -> MappingContext:
    return MappingContext(received_at=RECEIVED, config=config)


def run(path: Path, config: CapConfig | None = None) -> Mapped:
    return parse(path.read_bytes(), ctx(config))


def alert(event: Event) -> AlertIssued:
    assert event.type == "alert.issued"
    assert isinstance(event.data, AlertIssued)
    return event.data


def refusal(raw: bytes, config: CapConfig | None = None) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as exc:
        parse(raw, ctx(config))
    return [(e.field, e.reason) for e in exc.value.errors]


# --- valid alerts: every one maps, with its content ---------------------------------------------


@dataclass(frozen=True)
class Expect:
    file: Path
    events: int
    identifier: str
    sender: str
    sent: str
    severity: str
    msg_type: str = "alert"
    fmt: str = "cap-1.2"
    headline: str | None = None
    location: tuple[float, float] | None = None
    signature: str = "none"


VALID = [
    Expect(
        OASIS / "Oasis_ThunderstormWarning.xml",
        1,
        "KSTO1055887203",
        "KSTO@NWS.NOAA.GOV",
        "2003-06-17T21:57:00Z",
        "severe",
        headline="SEVERE THUNDERSTORM WARNING",
        location=(38.484, -119.935),
    ),
    Expect(
        OASIS / "Oasis_HomelandAlert.xml",
        1,
        "43b080713727",
        "hsas@dhs.gov",
        "2003-04-02T19:39:01Z",
        "severe",
        headline="Homeland Security Sets Code ORANGE",
    ),
    Expect(
        OASIS / "Oasis_EarthquakeReport.xml",
        1,
        "TRI13970876.2",
        "trinet@caltech.edu",
        "2003-06-12T03:56:00Z",
        "minor",
        msg_type="update",
        headline="EQ 3.4 Imperial County CA",
        location=(32.953, -115.553),
    ),
    Expect(
        OASIS / "Oasis_AmberAlert.xml",
        2,
        "KAR0-0306112239-SW",
        "KARO@CLETS.DOJ.CA.GOV",
        "2003-06-12T05:39:00Z",
        "severe",
        headline="Amber Alert in Los Angeles County",
    ),
    Expect(
        VALIDATOR / "KAR0-0306112239-SW.cap",
        1,
        "KAR0-0306112239-SW",
        "KARO@CLETS.DOJ.CA.GOV",
        "2003-06-12T05:39:00Z",
        "severe",
        fmt="cap-1.1",
        headline="AMBER ALERT",
    ),
    Expect(
        VALIDATOR / "43b080713727.cap",
        1,
        "43b080713727",
        "hsas@dhs.gov",
        "2003-04-02T19:39:01Z",
        "severe",
    ),
    Expect(
        VALIDATOR / "thunderstorm.cap",
        1,
        "KSTO1055887203",
        "KSTO@NWS.NOAA.GOV",
        "2003-06-17T21:57:00Z",
        "severe",
        location=(38.484, -119.935),
    ),
    Expect(
        VALIDATOR / "earthquake.atom",
        1,
        "TRI13970876.1",
        "trinet@caltech.edu",
        "2003-06-12T03:56:00Z",
        "minor",
        fmt="cap-1.1",
        location=(32.953, -115.553),
    ),
    Expect(
        TESTDATA / "australia.cap",
        2,
        "tag:www.rfs.nsw.gov.au2011-10-06:40184",
        "webmaster@rfs.nsw.gov.au",
        "2011-10-05T13:04:00Z",
        "minor",
        headline="Yerong Creek Structure Fire",
        location=(-35.389, 147.06),
    ),
    Expect(
        TESTDATA / "canada.cap",
        2,
        "2.49.0.1.124.6bddbc91.2012",
        "cap@ec.gc.ca",
        "2012-05-02T23:21:04Z",
        "minor",
        msg_type="update",
        location=(42.05, -82.727),
    ),
    Expect(
        TESTDATA / "canada_errors.cap",
        1,
        "2.49.0.1.124.6bddbc91.2012",
        "cap@ec.gc.ca",
        "2012-05-02T23:21:04Z",
        "minor",
        msg_type="update",
        location=(42.05, -82.727),
    ),
    Expect(
        TESTDATA / "canada_signed.cap",
        2,
        "2.49.0.1.124.f2c83f5f.2013",
        "cap-pac@ec.gc.ca",
        "2013-01-24T21:26:00Z",
        "moderate",
        msg_type="update",
        location=(54.957, -105.496),
        signature="present",
    ),
    Expect(
        TESTDATA / "canada_signed.atom",
        2,
        "2.49.0.1.124.f2c83f5f.2013",
        "cap-pac@ec.gc.ca",
        "2013-01-24T21:26:00Z",
        "moderate",
        msg_type="update",
        location=(54.957, -105.496),
        signature="present",
    ),
    Expect(
        TESTDATA / "earthquake.cap",
        1,
        "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z",
        "http://earthquake.usgs.gov/research/monitoring/anss/neic/",
        "2010-08-31T05:09:25Z",
        "unknown",
        fmt="cap-1.1",
        location=(-16.053, -173.274),
    ),
    Expect(
        TESTDATA / "earthquake-iso8859-1.cap",
        1,
        "USGS-earthquakes-usB000D5T4.3947362.7.20121014T225304.360Z.0",
        "http://earthquake.usgs.gov/research/monitoring/anss/neic/",
        "2012-10-14T22:53:04Z",
        "unknown",
        headline="EQ 4.6 Usulután, Usulután, El Salvador - PRELIMINARY REPORT",
        location=(12.747, -88.783),
        signature="present",
    ),
    Expect(
        TESTDATA / "earthquake_signed.cap",
        1,
        "USGS-earthquakes-nc71635010.28103893.20110906T171538.586Z",
        "http://www.cisn.org/ncmc.html",
        "2011-09-06T17:15:38Z",
        "unknown",
        fmt="cap-1.1",
        location=(38.82, -122.812),
        signature="present",
    ),
    Expect(
        TESTDATA / "no_optional_fields.cap",
        1,
        "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z",
        "http://earthquake.usgs.gov/research/monitoring/anss/neic/",
        "2010-08-31T05:09:25Z",
        "unknown",
        fmt="cap-1.1",
    ),
    Expect(
        TESTDATA / "wcatwc-warning.cap",
        1,
        "PAAQ-2-lqw6d6",
        "http://newwcatwc.arh.noaa.gov/tsuPortal/",
        "2011-09-02T11:36:50Z",
        "extreme",
        msg_type="update",
        headline="The tsunami Warning continues in effect",
    ),
    Expect(
        TESTDATA / "weather.cap",
        1,
        "NOAA-NWS-ALERTS-MT20100830100700TFXFlashFloodWatchTFX20100830180000MT",
        "w-nws.webmaster@noaa.gov",
        "2010-08-30T10:07:00Z",
        "severe",
        fmt="cap-1.1",
    ),
    Expect(
        TESTDATA / "weather.atom",
        1,
        "NOAA-NWS-ALERTS-MT20120830100700TFXFlashFloodWatchTFX20120830180000MT",
        "w-nws.webmaster@noaa.gov",
        "2012-08-30T10:07:00Z",
        "severe",
        fmt="cap-1.1",
    ),
    Expect(
        TESTDATA / "amber.atom",
        1,
        "http://doj.dc.gov/amber12345",
        "KARO@CLETS.DOJ.DC.GOV",
        "2010-06-04T00:15:00Z",
        "severe",
        fmt="cap-1.1",
        headline="Amber Alert in Washington D.C.",
    ),
    Expect(
        CAP / "real-world" / "PelmorexNAADS_WindWarning.xml",
        2,
        "urn:oid:2.49.0.1.124.3936999913.2019",
        "cap-pac@canada.ca",
        "2019-01-09T02:17:03Z",
        "moderate",
        msg_type="update",
        headline="avertissement de vent en vigueur",
        location=(47.499, -61.687),
        signature="present",
    ),
]


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.file.name)
def test_valid_alerts_map_to_alert_issued(case: Expect) -> None:
    mapped = run(case.file)
    assert mapped.rejections == []
    assert len(mapped.events) == case.events
    for index, event in enumerate(mapped.events):
        data = alert(event)
        assert data.identifier == case.identifier
        assert data.sender == case.sender
        assert event.time.isoformat().replace("+00:00", "Z") == case.sent
        assert data.sent == event.time
        assert data.severity.value == case.severity == event.severity.value
        assert data.msg_type.value == case.msg_type
        assert data.format == case.fmt
        assert data.signature.value == case.signature
        assert event.id == f"{case.identifier}#{index}" or (
            case.file.name == "no_optional_fields.cap" and event.id == case.identifier
        )
        if case.headline is not None and index == 0:
            assert data.headline is not None and data.headline.startswith(case.headline)
        if case.location is None:
            assert event.location is None
        else:
            assert event.location is not None
            assert (event.location.lat, event.location.lon) == pytest.approx(
                case.location, abs=1e-3
            )
    # Re-sending the same document gives the same (source, id): ingest sees duplicates.
    assert [e.key for e in run(case.file).events] == [e.key for e in mapped.events]
    if case.signature == "present":
        assert any("not checked" in n for n in mapped.notes)


def test_thunderstorm_fields_polygon_and_source() -> None:
    (event,) = run(OASIS / "Oasis_ThunderstormWarning.xml").events
    data = alert(event)
    assert event.source == "mailto:KSTO@NWS.NOAA.GOV"
    assert (data.status.value, data.scope, data.categories) == ("actual", "public", ["Met"])
    assert (data.event, data.urgency, data.certainty) == (
        "SEVERE THUNDERSTORM",
        "immediate",
        "observed",
    )
    assert data.expires is not None
    assert data.expires.astimezone(UTC) == datetime(2003, 6, 17, 23, 0, tzinfo=UTC)
    assert data.instruction is not None and "TAKE COVER" in data.instruction
    (area,) = data.areas
    assert area.polygons[0][0] == (38.47, -120.14)  # CAP order: lat, lon
    assert area.geocodes == {"SAME": ["006109", "006009", "006003"]}
    assert event.context.correlation_id == "KSTO1055887203"


def test_multilingual_alert_gives_one_event_per_language() -> None:
    events = run(OASIS / "Oasis_AmberAlert.xml").events
    assert [alert(e).language for e in events] == ["en-US", "es-US"]
    assert {e.context.correlation_id for e in events} == {"KAR0-0306112239-SW"}


def test_updates_join_the_original_alert() -> None:
    (update,) = run(OASIS / "Oasis_EarthquakeReport.xml").events
    assert alert(update).references == [
        "trinet@caltech.edu,TRI13970876.1,2003-06-11T20:30:00-07:00"
    ]
    assert update.context.correlation_id == "TRI13970876.1"
    (original,) = run(VALIDATOR / "earthquake.atom").events
    assert original.context.correlation_id == "TRI13970876.1"
    signed = run(TESTDATA / "canada_signed.cap").events[0]
    assert signed.context.correlation_id == "2.49.0.1.124.726d2331.2013"
    assert len(alert(signed).references) == 9


def test_circle_gives_location_and_accuracy() -> None:
    (event,) = run(TESTDATA / "earthquake-iso8859-1.cap").events
    circle = alert(event).areas[0].circles[0]
    assert (circle.lat, circle.lon) == (12.747, -88.783)
    assert event.location is not None and event.location.lat == 12.747


# --- feeds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "links"),
    [
        (TESTDATA / "weather_index.atom", 2),
        (TESTDATA / "earthquake_index.atom", 1),
        (TESTDATA / "ny_index.rss", 2),
        (VALIDATOR / "amber.rss", 1),
    ],
    ids=lambda v: v.name if isinstance(v, Path) else str(v),
)
def test_index_feeds_give_a_note_per_linked_entry_and_fetch_nothing(
    path: Path, links: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    def no_network(*_: object, **__: object) -> None:
        raise AssertionError("the mapping tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    mapped = run(path)
    assert mapped.events == [] and mapped.rejections == []
    linked = [n for n in mapped.notes if "was not fetched" in n]
    assert len(linked) == links
    assert all("poll that URL or have it pushed" in n for n in linked)


def test_index_note_names_the_cap_link() -> None:
    (note,) = run(TESTDATA / "earthquake_index.atom").notes
    assert "http://earthquake.usgs.gov/earthquakes/catalogs/cap/us2010apcd" in note


def test_empty_feeds_are_not_errors() -> None:
    assert run(TESTDATA / "empty_weather_index.atom").notes == [
        "the feed has no entry elements: no alerts are current"
    ]
    mapped = run(TESTDATA / "no_entries.atom")
    assert mapped.events == []
    assert any("foreign markup" in n for n in mapped.notes)


# --- broken documents: each refused, naming why --------------------------------------------------


BROKEN = [
    (TESTDATA / "invalid.cap", "alert.scope", "required: one of Public, Restricted, Private"),
    (TESTDATA / "noaa_errors.cap", "alert.info[0].urgency", "required: one of Immediate"),
    (TESTDATA / "weather_invalid.atom", "entry[0].identifier", "without spaces, commas"),
    (TESTDATA / "invalid.rss", "item[0]", "neither an embedded CAP alert nor a link"),
    (TESTDATA / "invalid_element.atom", "entry[0]", "neither an embedded CAP alert nor a link"),
    (TESTDATA / "no_id.atom", "entry[0]", "neither an embedded CAP alert nor a link"),
    (TESTDATA / "no_link.atom", "entry[0]", "neither an embedded CAP alert nor a link"),
    (TESTDATA / "no_title.atom", "entry[0]", "neither an embedded CAP alert nor a link"),
    (TESTDATA / "xee.cap", "body", "DTD, entity or external reference is refused"),
    (TESTDATA / "xee.atom", "body", "DTD, entity or external reference is refused"),
]


@pytest.mark.parametrize(("path", "field", "reason"), BROKEN, ids=lambda v: getattr(v, "name", ""))
def test_broken_documents_are_refused_with_the_reason(path: Path, field: str, reason: str) -> None:
    errors = refusal(path.read_bytes())
    assert any(f == field and reason in r for f, r in errors), errors


def test_noaa_errors_names_every_empty_enumeration() -> None:
    errors = dict(refusal((TESTDATA / "noaa_errors.cap").read_bytes()))
    assert set(errors) == {
        *(f"alert.info[0].{n}" for n in ("urgency", "severity", "certainty")),
        "alert.info[0].area[0].polygon[0]",  # a stray comma: '+40.85,-118.09,'
    }
    assert "'+40.85,-118.09,' is not a 'lat,lon' pair" in errors["alert.info[0].area[0].polygon[0]"]


def test_wrong_namespace_is_refused() -> None:
    raw = (OASIS / "Oasis_HomelandAlert.xml").read_bytes()
    wrong = raw.replace(b"emergency:cap:1.2", b"emergency:alerts:1.2")
    ((field, reason),) = refusal(wrong)
    assert field == "alert.xmlns"
    assert "'urn:oasis:names:tc:emergency:alerts:1.2' is not a CAP namespace" in reason


def test_bytes_contradicting_the_declared_encoding_are_refused() -> None:
    raw = (TESTDATA / "earthquake-iso8859-1.cap").read_bytes()
    lying = raw.replace(b'encoding="ISO-8859-1"', b'encoding="utf-8"', 1)
    ((field, reason),) = refusal(lying)
    assert field == "body"
    assert reason.startswith("encoding mismatch: the XML declaration says encoding='utf-8'")
    assert "not valid utf-8" in reason
    undeclared = raw.replace(b'<?xml version="1.0" encoding="ISO-8859-1"?>', b"", 1)
    ((_, reason),) = refusal(undeclared)
    assert "XML without an encoding declaration must be UTF-8" in reason
    ((_, reason),) = refusal(raw.replace(b"ISO-8859-1", b"EBCDIC-NOPE", 1))
    assert "unknown encoding 'EBCDIC-NOPE'" in reason


def test_utf16_with_byte_order_mark_is_read() -> None:
    raw = (OASIS / "Oasis_HomelandAlert.xml").read_bytes().decode("utf-8")
    (event,) = parse(raw.replace("UTF-8", "UTF-16").encode("utf-16"), ctx()).events
    assert alert(event).identifier == "43b080713727"


def test_not_cap_at_all() -> None:
    ((field, reason),) = refusal(b"<html><body/></html>")
    assert (field, reason.split(" (")[0]) == ("html", "root element <html>")
    assert "not well-formed XML" in refusal(b"<alert")[0][1]


def test_feed_keeps_good_entries_and_rejects_bad_ones() -> None:
    good = (VALIDATOR / "earthquake.atom").read_text("utf-8")
    bad = good.replace("<sent>2003-06-11T20:56:00-07:00</sent>", "<sent>yesterday</sent>")
    entry = re.search(r"<entry>.*</entry>", bad, re.S)
    assert entry is not None
    both = good.replace("</feed>", entry.group(0) + "</feed>")
    mapped = parse(both.encode(), ctx())
    assert len(mapped.events) == 1
    (rejection,) = mapped.rejections
    assert rejection.where == "entry[1]"
    assert rejection.errors[0].field == "entry[1].sent"
    assert b"yesterday" in rejection.raw


def test_alerts_list_root_and_escaped_content() -> None:
    one = (OASIS / "Oasis_HomelandAlert.xml").read_text("utf-8").split("?>", 1)[1]
    two = (OASIS / "Oasis_ThunderstormWarning.xml").read_text("utf-8").split("?>", 1)[1]
    mapped = parse(f"<alerts>{one}{two}</alerts>".encode(), ctx())
    assert [alert(e).identifier for e in mapped.events] == ["43b080713727", "KSTO1055887203"]
    from xml.sax.saxutils import escape

    feed = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>x</id><title>t</title>'
        f"<updated>2026-11-21T12:00:00Z</updated><entry><id>e</id><title>t</title>"
        f'<updated>2026-11-21T12:00:00Z</updated><content type="text">{escape(one)}</content>'
        "</entry></feed>"
    )
    (event,) = parse(feed.encode(), ctx()).events
    assert alert(event).identifier == "43b080713727"


# --- signatures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    key_pem: bytes
    cert_pem: str


def _signer(name: str) -> Signer:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2028, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Signer(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        cert.public_bytes(serialization.Encoding.PEM).decode(),
    )


@pytest.fixture(scope="module")
def signers() -> tuple[Signer, Signer]:
    return _signer("alerts.example.org"), _signer("someone-else.example.org")


def _signed(signer: Signer) -> bytes:
    raw = (OASIS / "Oasis_ThunderstormWarning.xml").read_bytes()
    root = etree.fromstring(raw)
    signed = XMLSigner(
        signature_algorithm="rsa-sha256",
        digest_algorithm="sha256",
        c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#",
    ).sign(root, key=signer.key_pem, cert=signer.cert_pem)
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def test_signature_verifies_against_a_configured_certificate(
    signers: tuple[Signer, Signer],
) -> None:
    good, other = signers
    config = CapConfig(certificates=[other.cert_pem, good.cert_pem])
    mapped = parse(_signed(good), ctx(config))
    (event,) = mapped.events
    assert alert(event).signature.value == "verified"
    assert mapped.notes == []
    # Without a certificate the signature is only reported.
    unchecked = parse(_signed(good), ctx())
    assert alert(unchecked.events[0]).signature.value == "present"
    assert any("not checked" in n for n in unchecked.notes)


def test_tampered_or_foreign_signature_is_refused_by_default(
    signers: tuple[Signer, Signer],
) -> None:
    good, other = signers
    tampered = _signed(good).replace(b"SEVERE THUNDERSTORM WARNING", b"ALL CLEAR, GO OUTSIDE")
    errors = refusal(tampered, CapConfig(certificates=[good.cert_pem]))
    assert errors[0][0] == "alert.Signature"
    assert "does not verify against the trusted certificates" in errors[0][1]
    errors = refusal(_signed(good), CapConfig(certificates=[other.cert_pem]))
    assert errors[0][0] == "alert.Signature"


def test_invalid_signature_can_be_flagged_instead(signers: tuple[Signer, Signer]) -> None:
    good, _ = signers
    tampered = _signed(good).replace(b"SEVERE THUNDERSTORM WARNING", b"ALL CLEAR")
    config = CapConfig(certificates=[good.cert_pem], on_invalid_signature="flag")
    mapped = parse(tampered, ctx(config))
    (event,) = mapped.events
    assert alert(event).signature.value == "invalid"
    assert any("FLAGGED" in n for n in mapped.notes)


def test_unsigned_alert_when_signatures_are_required(signers: tuple[Signer, Signer]) -> None:
    good, _ = signers
    config = CapConfig(certificates=[good.cert_pem], require_signature=True)
    errors = refusal((OASIS / "Oasis_ThunderstormWarning.xml").read_bytes(), config)
    assert errors == [("alert.Signature", "unsigned, and this intake requires signatures")]


def test_sha1_signatures_are_refused_unless_allowed(signers: tuple[Signer, Signer]) -> None:
    good, _ = signers
    raw = (TESTDATA / "earthquake_signed.cap").read_bytes()  # rsa-sha1, key only in KeyInfo
    errors = refusal(raw, CapConfig(certificates=[good.cert_pem]))
    assert errors[0][0] == "alert.Signature"
    assert "SHA1" in errors[0][1]
    # Allowing SHA1 does not make the document's own KeyInfo key trusted.
    errors = refusal(raw, CapConfig(certificates=[good.cert_pem], allow_sha1=True))
    assert "SHA1" not in errors[0][1]
    assert "does not verify" in errors[0][1]


def test_real_signed_feed_without_its_certificate_is_invalid(
    signers: tuple[Signer, Signer],
) -> None:
    good, _ = signers
    config = CapConfig(certificates=[good.cert_pem], on_invalid_signature="flag", allow_sha1=True)
    mapped = run(TESTDATA / "canada_signed.cap", config)
    assert {alert(e).signature.value for e in mapped.events} == {"invalid"}


def test_bad_certificate_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a PEM certificate"):
        CapConfig(certificates=["-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"])
    with pytest.raises(ValueError, match="not a readable PEM certificate"):
        CapConfig(certificate_files=[tmp_path / "missing.pem"])


# --- fuzz ------------------------------------------------------------------------------------------

_SEEDS = [p.read_bytes() for p in (OASIS / "Oasis_AmberAlert.xml", TESTDATA / "weather.atom")]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(_SEEDS))
    start = draw(st.integers(0, len(seed)))
    end = draw(st.integers(start, min(len(seed), start + 40)))
    insert = draw(st.binary(max_size=20) | st.sampled_from([b"<", b"&", b"\xe9", b",", b" "]))
    return seed[:start] + insert + seed[end:]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | _mutated())
def test_fuzz_mapping_only_maps_or_refuses(raw: bytes) -> None:
    errors: list[object] = []
    try:
        mapped = parse(raw, ctx())
    except InvalidInput as exc:
        errors.extend(exc.errors)
    else:
        assert isinstance(mapped, Mapped)
        return
    assert errors


# --- outbound: incident -> CAP 1.2 -> back in --------------------------------------------------

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PUBLISH = CapPublish(
    sender="alerts@city.example",
    sender_name="City Control Room",
    identifier_prefix="city",
    incident_types=["fire", "external_alert"],
)


def incident(**changes: object) -> Incident:
    base = Incident(
        id="inc-0001",
        type="fire",
        title="Fire in the Kamppi centre",
        priority=1,
        location=Location(lon=24.9384, lat=60.1699, accuracy_m=300.0),
        opened_at=T0,
        updated_at=T0,
        first_event_at=T0,
        last_event_at=T0,
        assignee="operator-7",
        units=("P-12",),
        summary="internal notes",
    )
    return base.model_copy(update=changes)


def test_round_trip_incident_to_cap_and_back() -> None:
    xml = alert_document(incident(), PUBLISH)
    assert "operator-7" not in xml and "P-12" not in xml and "internal notes" not in xml
    (event,) = parse(xml.encode(), ctx()).events
    data = alert(event)
    assert data.identifier == "city-inc-0001" == identifier(incident(), PUBLISH)
    assert data.sender == "alerts@city.example"
    assert data.headline == "Fire in the Kamppi centre"
    assert (data.status.value, data.msg_type.value, data.scope) == ("actual", "alert", "public")
    assert (data.urgency, data.severity.value, event.severity.value) == (
        "immediate",
        "extreme",
        "extreme",
    )
    assert data.categories == ["Fire"]
    assert data.format == "cap-1.2"
    circle = data.areas[0].circles[0]
    assert (circle.lat, circle.lon, circle.radius_km) == (60.1699, 24.9384, 0.3)
    assert event.location is not None
    assert (event.location.lat, event.location.lon) == (60.1699, 24.9384)
    assert event.time == T0
    assert data.expires == T0 + timedelta(hours=6)


def test_round_trip_update_and_cancel_join_the_first_alert() -> None:
    later = T0 + timedelta(minutes=20)
    update = incident(version=3, priority=2, updated_at=later, status=IncidentStatus.DISPATCHED)
    (event,) = parse(alert_document(update, PUBLISH).encode(), ctx()).events
    data = alert(event)
    assert (data.identifier, data.msg_type.value) == ("city-inc-0001-v3", "update")
    assert data.references == ["alerts@city.example,city-inc-0001,2026-11-21T12:00:00-00:00"]
    assert event.context.correlation_id == "city-inc-0001"
    assert (data.severity.value, data.certainty) == ("severe", "observed")
    closed = incident(version=4, status=IncidentStatus.CLOSED, updated_at=later, location=None)
    (event,) = parse(alert_document(closed, PUBLISH).encode(), ctx()).events
    assert alert(event).msg_type.value == "cancel"
    assert event.context.correlation_id == "city-inc-0001"
    assert event.location is None


def test_feed_publishes_only_the_configured_incidents() -> None:
    feed = alerts_feed(
        [
            incident(),
            incident(id="inc-0002", type="violence", title="Fight"),
            incident(id="inc-0003", priority=5, title="Smouldering bin"),
            incident(id="inc-0004", type="external_alert", priority=2, title="Storm"),
        ],
        PUBLISH,
        now=T0,
    )
    mapped = parse(feed.encode(), ctx())
    assert {alert(e).headline for e in mapped.events} == {"Fire in the Kamppi centre", "Storm"}
    assert "Fight" not in feed and "Smouldering" not in feed
    empty = parse(alerts_feed([incident()], CapPublish(), now=T0).encode(), ctx())
    assert empty.events == [] and empty.notes


# --- end to end over HTTP -------------------------------------------------------------------------


def test_http_alert_becomes_events_and_an_incident(api: Api, runtime: Runtime) -> None:
    from support import settle

    raw = (OASIS / "Oasis_ThunderstormWarning.xml").read_bytes()
    h = {**api.h(Role.INTEGRATOR), "Content-Type": "application/cap+xml"}
    r = api.client.post("/v1/adapters/cap/messages", content=raw, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    again = api.client.post("/v1/adapters/cap/messages", content=raw, headers=h)
    assert again.json()["duplicates"] == 1
    got = api.client.get(
        "/v1/events/by-key",
        params={"source": "mailto:KSTO@NWS.NOAA.GOV", "id": "KSTO1055887203#0"},
        headers=api.h(Role.OPERATOR),
    )
    assert got.status_code == 200, got.text
    event = got.json()["event"]
    assert event["data"]["headline"] == "SEVERE THUNDERSTORM WARNING"
    assert event["severity"] == "severe"
    assert event["location"]["lat"] == pytest.approx(38.484, abs=1e-3)
    settle(api, runtime)
    incidents = api.client.get("/v1/incidents", headers=api.h(Role.OPERATOR)).json()["items"]
    assert [(i["type"], i["title"]) for i in incidents] == [
        ("external_alert", "Alert: SEVERE THUNDERSTORM WARNING")
    ]


def test_http_refused_alert_is_422_and_dead_lettered(api: Api) -> None:
    raw = (TESTDATA / "invalid.cap").read_bytes()
    r = api.client.post("/v1/adapters/cap/messages", content=raw, headers=api.h(Role.INTEGRATOR))
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert {"field": "alert.scope", "reason": "required: one of Public, Restricted, Private"} in (
        r.json()["errors"]
    )
    letters = api.client.get("/v1/dead-letters", headers=api.h(Role.INTEGRATOR)).json()["items"]
    assert letters[0]["errors"][0]["field"] == "alert.scope"


def test_public_feed_round_trip(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from support import settle

    settings_ = Settings(
        adapters=[
            {
                "type": "cap",
                "publish": {
                    "sender": "alerts@city.example",
                    "incident_types": ["external_alert"],
                    "feed_url": "https://city.example/public/v1/cap/alerts.atom",
                },
            }
        ]
    )
    settings_.store.path = tmp_path / "feed.db"
    settings_.max_future_skew_s = 30 * 365 * 86_400.0
    runtime = build_runtime(settings_)
    runtime.identity.add_agency(Agency(id="city", name="City"))
    runtime.identity.add_user(
        User(id="gw", agency_id="city", display_name="Gateway", role=Role.INTEGRATOR)
    )
    token = runtime.identity.issue_token("gw").secret
    app = runtime.api()
    app.include_router(cap_feed.router)
    with TestClient(app) as client:
        empty = client.get("/public/v1/cap/alerts.atom")
        assert empty.status_code == 200
        assert empty.headers["content-type"].startswith("application/atom+xml")
        r = client.post(
            "/v1/adapters/cap/messages",
            content=(OASIS / "Oasis_ThunderstormWarning.xml").read_bytes(),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.json()["accepted"] == 1, r.text
        settle(Api(client, {}), runtime)
        feed = client.get("/public/v1/cap/alerts.atom")
    mapped = parse(feed.content, ctx())
    (event,) = mapped.events
    data = alert(event)
    assert data.sender == "alerts@city.example"
    assert data.identifier.startswith("safecity-")
    assert data.headline == "Alert: SEVERE THUNDERSTORM WARNING"
    assert data.severity.value == "moderate"  # a severe external alert is priority 3
    (circle,) = data.areas[0].circles  # around the incident's place: the storm polygon's centre
    assert (circle.lat, circle.lon, circle.radius_km) == pytest.approx(
        (38.484, -119.935, 0.5), abs=1e-3
    )
    assert event.location is not None
    assert event.location.lat == pytest.approx(38.484, abs=1e-3)


def test_cli_parses_a_feed() -> None:
    result = CliRunner().invoke(
        cli, ["adapters", "parse", "--standard", "cap", str(TESTDATA / "weather.atom"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert "Flash Flood Watch" in result.output
