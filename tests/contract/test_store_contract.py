"""The Store port's contract: every backend must pass all of it."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from safecity.core.clock import ManualClock
from safecity.core.device_health import (
    DeviceHealth,
    DeviceHealthCounts,
    DeviceHealthPage,
    DeviceHealthQuery,
    DeviceState,
)
from safecity.core.errors import Conflict, NotFound
from safecity.core.events import Event, parse_event
from safecity.core.geo import BBox, Location
from safecity.core.identity import Agency, ApiToken, Role, User
from safecity.core.incidents import Incident, IncidentStatus, IncidentWrite, TimelineEntry
from safecity.core.payloads import CameraFireSmoke, NoiseLevel
from safecity.core.ports import Store
from safecity.core.records import AuditRecord, DeadLetter, EventQuery, IncidentQuery
from safecity.core.registry import CameraView, Sensor, SensorKind
from safecity.store.migrations import latest_version, migrations
from safecity.store.sqlite import SqliteStore

T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 21, 14, 0, 1, 250_000, tzinfo=UTC)
CAM = "urn:safecity:camera:cam-1"
NOISE = "urn:safecity:noise:n1"

DATA: dict[str, dict[str, Any]] = {
    "camera.fire_smoke": {"camera_id": "cam-1", "kind": "smoke"},
    "noise.level": {"sensor_id": "n1", "laeq_db": 70},
}


def make_event(
    event_id: str,
    *,
    type_: str = "camera.fire_smoke",
    source: str = CAM,
    at: datetime = T0,
    where: tuple[float, float] | None = (4.90, 52.37),
    data: dict[str, Any] | None = None,
    **envelope: Any,
) -> Event:
    body: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": type_,
        "time": at.isoformat(),
        "data": DATA[type_] if data is None else data,
        **envelope,
    }
    if where is not None:
        body["location"] = {"lon": where[0], "lat": where[1]}
    return parse_event(body)


def noise_event(event_id: str, **kwargs: Any) -> Event:
    return make_event(event_id, type_="noise.level", source=NOISE, **kwargs)


def make_incident(
    incident_id: str = "inc-1",
    *,
    status: IncidentStatus = IncidentStatus.NEW,
    type_: str = "fire",
    updated: datetime = T0,
    last_event: datetime = T0,
    where: tuple[float, float] | None = (4.90, 52.37),
    version: int = 1,
    **fields: Any,
) -> Incident:
    values: dict[str, Any] = {
        "id": incident_id,
        "type": type_,
        "title": "Fire or smoke seen by camera",
        "priority": 1,
        "status": status,
        "location": None if where is None else Location(lon=where[0], lat=where[1]),
        "opened_at": T0,
        "updated_at": updated,
        "first_event_at": T0,
        "last_event_at": last_event,
        "version": version,
    }
    values.update(fields)
    return Incident(**values)


def new_write(incident: Incident, *links: tuple[str, str], **kwargs: Any) -> IncidentWrite:
    return IncidentWrite(incident=incident, expected_version=None, link_events=links, **kwargs)


def entry(incident_id: str, action: str, minute: int = 0, **details: Any) -> TimelineEntry:
    return TimelineEntry(
        incident_id=incident_id,
        at=T0 + timedelta(minutes=minute),
        actor="system:correlator",
        action=action,
        details=details,
    )


def make_sensor(sensor_id: str = "cam-1", **fields: Any) -> Sensor:
    values: dict[str, Any] = {
        "id": sensor_id,
        "kind": SensorKind.CAMERA,
        "name": "Dam square north",
        "owner_agency": "police",
        "location": Location(lon=4.8924, lat=52.3731, alt_m=6.5),
        "measures": ("fire_smoke", "crowd_density"),
        "purpose": "Detect fire and dangerous crowding on the square",
        "legal_basis": "Municipal camera surveillance ordinance, art. 151c",
        "personal_data": False,
        "retention_days": 28,
        "public": True,
    }
    values.update(fields)
    return Sensor(**values)


def audit(minute: int, actor: str = "user:ana", **fields: Any) -> AuditRecord:
    values: dict[str, Any] = {
        "at": T0 + timedelta(minutes=minute),
        "actor": actor,
        "agency_id": "police",
        "purpose": "incident-response",
        "action": "incident.read",
        "object_type": "incident",
        "object_id": "inc-1",
        "details": {"fields": ["title", "location"], "count": 2},
        "prev_hash": f"h{minute - 1}" if minute else "",
        "hash": f"h{minute}",
    }
    values.update(fields)
    return AuditRecord(**values)


def sqlite_file(store: Store) -> Path:
    if not isinstance(store, SqliteStore):
        pytest.skip("SQLite-specific")
    return store.path


@contextmanager
def raw_sqlite(store: Store) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(sqlite_file(store), isolation_level=None)) as conn:
        yield conn


# --- migrations ---------------------------------------------------------------------------------


def test_a_fresh_database_migrates_to_the_latest_version(
    open_store: Callable[[], Store], dialect: str
) -> None:
    store = open_store()
    assert store.schema_version() == 0
    latest = latest_version(dialect)
    assert latest >= 1
    assert store.migrate() == latest
    assert store.schema_version() == latest


def test_migrating_twice_changes_nothing(store: Store, dialect: str) -> None:
    store.append_events([make_event("e1")], RECEIVED)
    assert store.migrate() == latest_version(dialect)
    assert store.migrate() == latest_version(dialect)
    assert store.count_events() == 1


def test_reopening_a_database_keeps_its_data(open_store: Callable[[], Store]) -> None:
    first = open_store()
    version = first.migrate()
    event = make_event("e1")
    first.append_events([event], RECEIVED)
    first.upsert_sensor(make_sensor())
    first.close()

    second = open_store()
    assert second.schema_version() == version
    assert second.migrate() == version
    stored = second.get_event(CAM, "e1")
    assert stored is not None
    assert stored.event == event
    assert second.get_sensor("cam-1") is not None


def test_migrations_are_numbered_without_gaps(dialect: str) -> None:
    found = migrations(dialect)
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert all(m.sql.strip() for m in found)


def test_an_unknown_dialect_has_no_migrations() -> None:
    with pytest.raises(ValueError, match="no migrations"):
        migrations("oracle")


def write_migrations(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_a_version_is_its_dialect_part_then_its_shared_part(tmp_path: Path) -> None:
    root = write_migrations(
        tmp_path,
        {
            "0001_core.sql": "-- shared 1",
            "lite/0001_core.sql": "-- lite 1",
            "0002_more.sql": "-- shared 2",
            "lite/0003_triggers.sql": "-- lite 3",
            "other/0001_core.sql": "-- other 1",
        },
    )
    found = migrations("lite", root=root)
    assert [(m.version, m.name) for m in found] == [(1, "core"), (2, "more"), (3, "triggers")]
    assert found[0].sql.index("lite 1") < found[0].sql.index("shared 1")
    assert "other" not in "".join(m.sql for m in found)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"lite/.keep": "", "0001_a.sql": "", "0003_c.sql": ""}, "without gaps"),
        ({"lite/0001_a.sql": "", "lite/0001_b.sql": ""}, "two migrations numbered 1"),
        ({"lite/1_a.sql": ""}, "not named NNNN_name.sql"),
    ],
)
def test_badly_numbered_migrations_are_refused(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        migrations("lite", root=write_migrations(tmp_path, files))


# --- events -------------------------------------------------------------------------------------


def test_an_event_round_trips_exactly(store: Store) -> None:
    event = make_event(
        "e1",
        at=datetime(2026, 11, 21, 16, 4, 5, 123_456, tzinfo=timezone(timedelta(hours=2))),
        subject="zone-north",
        dataschema="https://schemas.example.org/fire/1",
        severity="severe",
        confidence=0.8125,
        context={"correlation_id": "corr-7", "causation_id": "cause-3", "actor": "vms:milestone"},
        where=None,
        location={"lon": 4.8924, "lat": 52.3731, "alt_m": 3.5, "accuracy_m": 12.0},
    )
    [result] = store.append_events([event], RECEIVED)

    stored = store.get_event(CAM, "e1")
    assert stored is not None
    assert stored.event == event
    assert stored.event.to_json_dict() == event.to_json_dict()
    assert stored.seq == result.seq
    assert stored.received_at == RECEIVED
    assert stored.incident_id is None
    assert isinstance(stored.event.data, CameraFireSmoke)
    assert stored.event.time.utcoffset() == timedelta(0)
    assert stored.received_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("type_", "data"),
    [
        (
            "acoustic.pulse",
            {
                "sensor_id": "ac-9",
                "arrival_time": "2026-11-21T14:00:00.000123+01:00",
                "peak_db": 131.5,
            },
        ),
        (
            "gunshot.located",
            {
                "rounds": 3,
                "first_shot_time": "2026-11-21T14:00:00Z",
                "sensors_used": ["a", "b", "c"],
            },
        ),
        ("noise.level", {"sensor_id": "n1", "laeq_db": 91.25, "lamax_db": 104}),
        ("crowd.count", {"sensor_id": "gate-2", "count": 950, "capacity": 1000}),
        ("citizen.report", {"category": "fire", "description": "Rook uit een container — 'n\"x"}),
        ("unit.status", {"unit_id": "unit-12", "status": "en_route", "incident_id": "inc-1"}),
        ("camera.vehicle", {"camera_id": "cam-7", "speed_kmh": 0, "stopped": True}),
    ],
)
def test_every_payload_shape_round_trips(store: Store, type_: str, data: dict[str, Any]) -> None:
    event = make_event("e1", type_=type_, data=data)
    store.append_events([event], RECEIVED)
    stored = store.get_event(CAM, "e1")
    assert stored is not None
    assert stored.event == event
    assert type(stored.event.data) is type(event.data)


def test_an_unknown_event_is_none(store: Store) -> None:
    assert store.get_event(CAM, "missing") is None


def test_results_follow_input_order_with_ascending_sequence_numbers(store: Store) -> None:
    events = [make_event(f"e{i}", at=T0 - timedelta(minutes=i)) for i in range(5)]
    results = store.append_events(events, RECEIVED)
    seqs = [r.seq for r in results]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5
    assert not any(r.duplicate for r in results)
    for event, result in zip(events, results, strict=True):
        stored = store.get_event(event.source, event.id)
        assert stored is not None
        assert stored.seq == result.seq


def test_an_empty_batch_stores_nothing(store: Store) -> None:
    assert store.append_events([], RECEIVED) == []
    assert store.count_events() == 0


def test_a_stored_event_is_a_duplicate_with_its_original_sequence_number(store: Store) -> None:
    [first] = store.append_events([make_event("e1")], RECEIVED)
    later = RECEIVED + timedelta(minutes=5)
    resent = make_event("e1", data={"camera_id": "cam-1", "kind": "fire"})
    results = store.append_events([make_event("e2"), resent], later)

    assert results[1].duplicate is True
    assert results[1].seq == first.seq
    assert results[0].duplicate is False
    assert store.count_events() == 2
    stored = store.get_event(CAM, "e1")
    assert stored is not None
    assert stored.received_at == RECEIVED
    assert isinstance(stored.event.data, CameraFireSmoke)
    assert stored.event.data.kind == "smoke"


def test_new_events_around_a_stored_one_get_their_own_ascending_numbers(store: Store) -> None:
    [old] = store.append_events([make_event("old")], RECEIVED)
    events = [make_event("a"), make_event("old"), make_event("b"), make_event("a")]
    results = store.append_events(events, RECEIVED)
    assert [r.duplicate for r in results] == [False, True, False, True]
    assert results[1].seq == old.seq
    assert results[3].seq == results[0].seq
    assert old.seq < results[0].seq < results[2].seq
    for event, result in zip(events, results, strict=True):
        stored = store.get_event(event.source, event.id)
        assert stored is not None
        assert stored.seq == result.seq
    [later] = store.append_events([make_event("c")], RECEIVED)
    assert later.seq > results[2].seq
    assert store.count_events() == 4


def test_a_repeat_inside_one_batch_is_stored_once(store: Store) -> None:
    results = store.append_events(
        [make_event("e1"), make_event("e2"), make_event("e1"), make_event("e1")], RECEIVED
    )
    assert [r.duplicate for r in results] == [False, False, True, True]
    assert results[2].seq == results[0].seq == results[3].seq
    assert results[1].seq > results[0].seq
    assert store.count_events() == 2


def test_the_same_id_from_another_source_is_another_event(store: Store) -> None:
    results = store.append_events([make_event("x"), noise_event("x")], RECEIVED)
    assert [r.duplicate for r in results] == [False, False]
    assert store.count_events() == 2


def test_a_failing_batch_stores_nothing(store: Store) -> None:
    store.append_events([make_event("before")], RECEIVED)
    bad: list[Any] = [make_event("e1"), make_event("e2"), object()]
    with pytest.raises(AttributeError):
        store.append_events(bad, RECEIVED)
    assert store.count_events() == 1
    assert store.get_event(CAM, "e1") is None


@pytest.mark.sqlite_only
def test_a_batch_failing_inside_the_transaction_is_rolled_back(store: Store) -> None:
    with raw_sqlite(store) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON events WHEN NEW.id = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="boom"):
        store.append_events([make_event("e1"), make_event("e2"), make_event("boom")], RECEIVED)
    assert store.count_events() == 0
    [result] = store.append_events([make_event("e1")], RECEIVED)
    assert result.duplicate is False


def test_query_filters_by_time_start_inclusive_end_exclusive(store: Store) -> None:
    events = [make_event(f"e{i}", at=T0 + timedelta(minutes=i)) for i in range(5)]
    store.append_events(events, RECEIVED)
    found = store.query_events(
        EventQuery(start=T0 + timedelta(minutes=1), end=T0 + timedelta(minutes=3))
    )
    assert [s.event.id for s in found] == ["e1", "e2"]
    tz = timezone(timedelta(hours=-5))
    assert [
        s.event.id
        for s in store.query_events(EventQuery(start=(T0 + timedelta(minutes=4)).astimezone(tz)))
    ] == ["e4"]
    assert [s.event.id for s in store.query_events(EventQuery(end=T0 + timedelta(minutes=1)))] == [
        "e0"
    ]


def test_query_filters_by_bbox_and_never_matches_events_without_a_place(store: Store) -> None:
    store.append_events(
        [
            make_event("inside", where=(4.90, 52.37)),
            make_event("edge", where=(4.95, 52.40)),
            make_event("outside", where=(5.10, 52.37)),
            make_event("nowhere", where=None),
        ],
        RECEIVED,
    )
    box = BBox(min_lon=4.85, min_lat=52.30, max_lon=4.95, max_lat=52.40)
    assert [s.event.id for s in store.query_events(EventQuery(bbox=box))] == ["inside", "edge"]
    world = BBox(-180, -90, 180, 90)
    assert "nowhere" not in {s.event.id for s in store.query_events(EventQuery(bbox=world))}


def test_query_filters_by_type_source_and_after_seq(store: Store) -> None:
    results = store.append_events(
        [make_event("c1"), noise_event("n1"), make_event("c2"), noise_event("n2")], RECEIVED
    )
    by_type = store.query_events(EventQuery(types=("noise.level",)))
    assert [s.event.id for s in by_type] == ["n1", "n2"]
    assert all(isinstance(s.event.data, NoiseLevel) for s in by_type)
    both = store.query_events(EventQuery(types=("noise.level", "camera.fire_smoke")))
    assert len(both) == 4
    assert [s.event.id for s in store.query_events(EventQuery(source=CAM))] == ["c1", "c2"]
    after = store.query_events(EventQuery(after_seq=results[1].seq))
    assert [s.event.id for s in after] == ["c2", "n2"]
    combined = store.query_events(
        EventQuery(source=NOISE, after_seq=results[0].seq, types=("noise.level",), limit=1)
    )
    assert [s.event.id for s in combined] == ["n1"]


def test_query_pages_in_ascending_sequence_order(store: Store) -> None:
    # Event times run backwards, so sequence order is visibly not time order.
    events = [make_event(f"e{i:02}", at=T0 - timedelta(seconds=i)) for i in range(25)]
    store.append_events(events, RECEIVED)
    seen: list[str] = []
    after: int | None = None
    while page := store.query_events(EventQuery(after_seq=after, limit=10)):
        assert len(page) <= 10
        assert [s.seq for s in page] == sorted(s.seq for s in page)
        seen.extend(s.event.id for s in page)
        after = page[-1].seq
    assert seen == [e.id for e in events]
    assert store.query_events(EventQuery(limit=0)) == []


def test_count_events(store: Store) -> None:
    assert store.count_events() == 0
    store.append_events([make_event("a"), make_event("b"), make_event("a")], RECEIVED)
    assert store.count_events() == 2


# --- dead letters -------------------------------------------------------------------------------


def letter(raw: bytes, minute: int = 0, **fields: Any) -> DeadLetter:
    values: dict[str, Any] = {
        "received_at": T0 + timedelta(minutes=minute),
        "channel": "http",
        "source": "urn:safecity:vms",
        "content_type": "application/json",
        "raw": raw,
        "errors": ({"field": "events[0].time", "reason": "must be an RFC 3339 timestamp"},),
    }
    values.update(fields)
    return DeadLetter(**values)


@pytest.mark.parametrize(
    "raw",
    [b'{"id": 1}', b"\xff\xfe\x00\x00not utf-8\x80\x00", b"", bytes(range(256))],
)
def test_a_dead_letter_keeps_its_bytes_exactly(store: Store, raw: bytes) -> None:
    original = letter(raw)
    letter_id = store.add_dead_letter(original)
    got = store.get_dead_letter(letter_id)
    assert got == replace(original, id=letter_id)
    assert got is not None
    assert got.raw == raw
    assert type(got.raw) is bytes


def test_a_dead_letter_may_lack_source_and_content_type(store: Store) -> None:
    original = letter(b"garbage", source=None, content_type=None, errors=())
    letter_id = store.add_dead_letter(original)
    assert store.get_dead_letter(letter_id) == replace(original, id=letter_id)
    assert store.get_dead_letter(letter_id + 1000) is None


def test_dead_letters_list_newest_first_and_page_by_id(store: Store) -> None:
    ids = [store.add_dead_letter(letter(f"raw-{i}".encode(), i)) for i in range(5)]
    assert ids == sorted(ids)
    assert store.count_dead_letters() == 5
    assert [d.id for d in store.list_dead_letters()] == ids[::-1]
    first = store.list_dead_letters(limit=2)
    assert [d.id for d in first] == [ids[4], ids[3]]
    second = store.list_dead_letters(limit=2, before_id=first[-1].id)
    assert [d.id for d in second] == [ids[2], ids[1]]
    assert [d.raw for d in store.list_dead_letters(before_id=ids[1])] == [b"raw-0"]


# --- incidents ----------------------------------------------------------------------------------


def test_a_new_incident_round_trips(store: Store) -> None:
    incident = make_incident(
        units=("fire-12", "police-3"),
        agency_id="fire",
        assignee="ana",
        summary="Smoke from a container",
        event_count=2,
        where=None,
        location=Location(lon=4.9, lat=52.37, alt_m=2.0, accuracy_m=25.0),
    )
    store.save_incidents([new_write(incident)])
    assert store.get_incident("inc-1") == incident
    assert store.get_incident("missing") is None


def test_a_closed_incident_round_trips(store: Store) -> None:
    incident = make_incident(
        status=IncidentStatus.CLOSED,
        closed_at=T0 + timedelta(hours=1),
        closure_reason="false alarm",
        where=None,
    )
    store.save_incidents([new_write(incident)])
    assert store.get_incident("inc-1") == incident


def test_a_new_incident_with_a_taken_id_is_a_conflict_and_nothing_is_written(
    store: Store,
) -> None:
    store.save_incidents([new_write(make_incident("inc-1"))])
    with pytest.raises(Conflict):
        store.save_incidents(
            [new_write(make_incident("inc-2")), new_write(make_incident("inc-1", title="other"))]
        )
    assert store.get_incident("inc-2") is None
    got = store.get_incident("inc-1")
    assert got is not None
    assert got.title == "Fire or smoke seen by camera"


def test_an_update_needs_the_current_version(store: Store) -> None:
    v1 = make_incident()
    store.save_incidents([new_write(v1)])
    v2 = v1.model_copy(update={"status": IncidentStatus.ACKNOWLEDGED, "version": 2})
    store.save_incidents([IncidentWrite(incident=v2, expected_version=1)])
    assert store.get_incident("inc-1") == v2

    stale = v1.model_copy(update={"status": IncidentStatus.CLOSED, "version": 2})
    with pytest.raises(Conflict, match="version"):
        store.save_incidents([IncidentWrite(incident=stale, expected_version=1)])
    assert store.get_incident("inc-1") == v2


def test_updating_a_missing_incident_is_a_conflict(store: Store) -> None:
    with pytest.raises(Conflict):
        store.save_incidents([IncidentWrite(incident=make_incident(version=2), expected_version=1)])


def test_an_update_must_raise_the_version(store: Store) -> None:
    store.save_incidents([new_write(make_incident())])
    with pytest.raises(ValueError, match="version"):
        store.save_incidents([IncidentWrite(incident=make_incident(version=1), expected_version=1)])


def test_a_stale_write_rolls_back_the_whole_batch(store: Store) -> None:
    store.append_events([make_event("e1"), make_event("e2")], RECEIVED)
    store.save_incidents([new_write(make_incident("inc-1"))])
    with pytest.raises(Conflict):
        store.save_incidents(
            [
                new_write(
                    make_incident("inc-2"),
                    (CAM, "e1"),
                    timeline=(entry("inc-2", "opened"),),
                ),
                IncidentWrite(
                    incident=make_incident("inc-1", version=3),
                    expected_version=2,
                    link_events=((CAM, "e2"),),
                    timeline=(entry("inc-1", "merged"),),
                ),
            ]
        )
    assert store.get_incident("inc-2") is None
    assert store.incident_events("inc-2") == []
    assert store.incident_timeline("inc-2") == []
    assert store.incident_timeline("inc-1") == []
    stored = store.get_event(CAM, "e1")
    assert stored is not None
    assert stored.incident_id is None


def test_linked_events_come_back_in_event_time_order_with_their_incident(store: Store) -> None:
    store.append_events(
        [
            make_event("late", at=T0 + timedelta(minutes=2)),
            make_event("early", at=T0),
            make_event("tie-a", at=T0 + timedelta(minutes=1)),
            make_event("tie-b", at=T0 + timedelta(minutes=1)),
            make_event("unlinked"),
        ],
        RECEIVED,
    )
    store.save_incidents(
        [new_write(make_incident(), (CAM, "late"), (CAM, "early"), (CAM, "tie-b"), (CAM, "tie-a"))]
    )
    linked = store.incident_events("inc-1")
    assert [s.event.id for s in linked] == ["early", "tie-a", "tie-b", "late"]
    assert {s.incident_id for s in linked} == {"inc-1"}
    got = store.get_event(CAM, "late")
    assert got is not None
    assert got.incident_id == "inc-1"
    by_query = {s.event.id: s.incident_id for s in store.query_events(EventQuery())}
    assert by_query == {
        "late": "inc-1",
        "early": "inc-1",
        "tie-a": "inc-1",
        "tie-b": "inc-1",
        "unlinked": None,
    }
    assert store.incident_events("missing") == []


def test_linking_an_event_again_to_the_same_incident_is_ignored(store: Store) -> None:
    store.append_events([make_event("e1"), make_event("e2")], RECEIVED)
    v1 = make_incident()
    store.save_incidents([new_write(v1, (CAM, "e1"), (CAM, "e1"))])
    store.save_incidents(
        [
            IncidentWrite(
                incident=v1.model_copy(update={"version": 2}),
                expected_version=1,
                link_events=((CAM, "e1"), (CAM, "e2")),
            )
        ]
    )
    assert [s.event.id for s in store.incident_events("inc-1")] == ["e1", "e2"]


def test_an_event_belongs_to_at_most_one_incident(store: Store) -> None:
    store.append_events([make_event("e1")], RECEIVED)
    store.save_incidents([new_write(make_incident("inc-1"), (CAM, "e1"))])
    with pytest.raises(Conflict, match="inc-1"):
        store.save_incidents([new_write(make_incident("inc-2"), (CAM, "e1"))])
    assert store.get_incident("inc-2") is None
    assert [s.event.id for s in store.incident_events("inc-1")] == ["e1"]


def test_linking_an_event_that_was_never_stored_is_refused(store: Store) -> None:
    with pytest.raises(NotFound):
        store.save_incidents([new_write(make_incident(), (CAM, "ghost"))])
    assert store.get_incident("inc-1") is None


def test_the_timeline_keeps_entries_in_order_with_sequence_numbers(store: Store) -> None:
    v1 = make_incident()
    store.save_incidents(
        [
            new_write(
                v1,
                timeline=(
                    entry("inc-1", "opened", 0, rule="fire", events=["e1"]),
                    entry("inc-1", "priority_set", 0, priority=1),
                ),
            )
        ]
    )
    store.save_incidents(
        [
            IncidentWrite(
                incident=v1.model_copy(update={"version": 2}),
                expected_version=1,
                timeline=(entry("inc-1", "acknowledged", 3, note="on it — ✓"),),
            )
        ]
    )
    timeline = store.incident_timeline("inc-1")
    assert [t.action for t in timeline] == ["opened", "priority_set", "acknowledged"]
    seqs = [t.seq for t in timeline if t.seq is not None]
    assert len(seqs) == 3
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    assert timeline[0] == entry("inc-1", "opened", 0, rule="fire", events=["e1"]).model_copy(
        update={"seq": seqs[0]}
    )
    assert timeline[2].details == {"note": "on it — ✓"}
    assert store.incident_timeline("missing") == []


def test_list_incidents_is_newest_first_and_filters(store: Store) -> None:
    incidents = [
        make_incident("a", updated=T0 + timedelta(minutes=1), where=(4.90, 52.37)),
        make_incident("b", updated=T0 + timedelta(minutes=3), type_="noise", where=(5.20, 52.37)),
        make_incident("c", updated=T0 + timedelta(minutes=2), where=None),
        make_incident(
            "d",
            updated=T0 + timedelta(minutes=4),
            status=IncidentStatus.CLOSED,
            closed_at=T0 + timedelta(minutes=4),
        ),
    ]
    store.save_incidents([new_write(i) for i in incidents])

    def ids(query: IncidentQuery) -> list[str]:
        return [i.id for i in store.list_incidents(query)]

    assert ids(IncidentQuery()) == ["d", "b", "c", "a"]
    assert ids(IncidentQuery(statuses=("new",))) == ["b", "c", "a"]
    assert ids(IncidentQuery(statuses=("closed", "acknowledged"))) == ["d"]
    assert ids(IncidentQuery(types=("noise",))) == ["b"]
    assert ids(IncidentQuery(bbox=BBox(4.8, 52.3, 5.0, 52.4))) == ["d", "a"]
    assert ids(IncidentQuery(updated_since=T0 + timedelta(minutes=2))) == ["d", "b", "c"]
    assert ids(IncidentQuery(limit=2)) == ["d", "b"]
    assert ids(IncidentQuery(limit=2, offset=2)) == ["c", "a"]
    assert ids(IncidentQuery(offset=4)) == []


def test_open_incidents_since(store: Store) -> None:
    store.save_incidents(
        [
            new_write(make_incident("old", last_event=T0 - timedelta(hours=2))),
            new_write(make_incident("recent", last_event=T0 - timedelta(minutes=10))),
            new_write(make_incident("boundary", last_event=T0 - timedelta(minutes=30))),
            new_write(
                make_incident(
                    "closed",
                    status=IncidentStatus.CLOSED,
                    closed_at=T0,
                    last_event=T0 - timedelta(minutes=5),
                )
            ),
            new_write(make_incident("acked", status=IncidentStatus.ON_SCENE, last_event=T0)),
        ]
    )
    found = store.open_incidents_since(T0 - timedelta(minutes=30))
    assert sorted(i.id for i in found) == ["acked", "boundary", "recent"]


# --- sensors ------------------------------------------------------------------------------------


def test_upsert_sets_created_at_once_and_updated_at_every_time(
    store: Store, clock: ManualClock
) -> None:
    created = clock.now()
    first = store.upsert_sensor(make_sensor())
    assert first.created_at == created
    assert first.updated_at == created
    assert store.get_sensor("cam-1") == first

    later = clock.advance(timedelta(hours=3))
    second = store.upsert_sensor(make_sensor(name="Dam square north (moved)", location=None))
    assert second.created_at == created
    assert second.updated_at == later
    assert second.name == "Dam square north (moved)"
    assert store.get_sensor("cam-1") == second


def test_a_sensor_round_trips(store: Store) -> None:
    sensor = make_sensor(
        "noise:n-7/b",
        kind=SensorKind.NOISE,
        location=None,
        area="Rembrandtplein and side streets",
        measures=("sound_level",),
        personal_data=True,
        public=False,
        status="maintenance",
        retention_days=0,
    )
    stored = store.upsert_sensor(sensor)
    assert stored.model_copy(update={"created_at": None, "updated_at": None}) == sensor
    assert store.get_sensor("noise:n-7/b") == stored
    assert store.get_sensor("missing") is None


def test_a_camera_keeps_its_view(store: Store) -> None:
    view = CameraView(direction_deg=135.0, fov_deg=70.0, range_m=60.0, assumed=True)
    stored = store.upsert_sensor(make_sensor("cam-v", view=view))
    assert stored.view == view
    assert store.get_sensor("cam-v") == stored
    moved = store.upsert_sensor(make_sensor("cam-v", view=None))
    assert moved.view is None and store.get_sensor("cam-v") == moved


def test_list_sensors_filters_and_pages(store: Store) -> None:
    store.upsert_sensor(make_sensor("cam-1"))
    store.upsert_sensor(make_sensor("cam-2", public=False))
    store.upsert_sensor(make_sensor("n-1", kind=SensorKind.NOISE, owner_agency="city"))
    store.upsert_sensor(make_sensor("n-2", kind=SensorKind.NOISE, owner_agency="city"))

    def ids(**kwargs: Any) -> list[str]:
        return [s.id for s in store.list_sensors(**kwargs)]

    assert ids() == ["cam-1", "cam-2", "n-1", "n-2"]
    assert ids(kind="noise") == ["n-1", "n-2"]
    assert ids(owner_agency="police") == ["cam-1", "cam-2"]
    assert ids(public_only=True) == ["cam-1", "n-1", "n-2"]
    assert ids(kind="camera", public_only=True) == ["cam-1"]
    assert ids(limit=2, offset=1) == ["cam-2", "n-1"]


def test_delete_sensor(store: Store) -> None:
    store.upsert_sensor(make_sensor())
    assert store.delete_sensor("cam-1") is True
    assert store.get_sensor("cam-1") is None
    assert store.delete_sensor("cam-1") is False


# --- device health ------------------------------------------------------------------------------

NOW = T0 + timedelta(minutes=30)
LAMP = "urn:city:lamps:lamp-17"
FAULTY, SILENT, HEARD = DeviceState.FAULTY, DeviceState.SILENT, DeviceState.HEARD


def device_event(
    event_id: str, type_: str, data: dict[str, Any], *, source: str = LAMP, minute: float = 0
) -> Event:
    return make_event(
        event_id, type_=type_, source=source, data=data, at=T0 + timedelta(minutes=minute)
    )


def lamp_fault(event_id: str, minute: float = 0, **data: Any) -> Event:
    return device_event(
        event_id, "lamp.fault", {"lamp_id": "lamp-17", "fault": "lamp_out", **data}, minute=minute
    )


def light_level(event_id: str, minute: float = 0) -> Event:
    return device_event(
        event_id, "lamp.light_level", {"lamp_id": "lamp-17", "level_pct": 80}, minute=minute
    )


def noise_at(event_id: str, minute: float, *, source: str = NOISE, sensor: str = "n1") -> Event:
    return device_event(
        event_id, "noise.level", {"sensor_id": sensor, "laeq_db": 60}, source=source, minute=minute
    )


def health(store: Store, *, silent_after_min: int = 60, **query: Any) -> DeviceHealthPage:
    return store.device_health(
        DeviceHealthQuery(silent_before=NOW - timedelta(minutes=silent_after_min), **query)
    )


def row(store: Store, sensor_id: str) -> DeviceHealth:
    (found,) = [r for r in health(store).items if r.sensor_id == sensor_id]
    return found


def test_each_device_is_matched_by_its_source_its_parts_or_its_payload(store: Store) -> None:
    for sensor_id in ("urn:city:gate:7", "cam-9", "noise-n1", "meter-4", "quiet-1", "old-1"):
        store.upsert_sensor(make_sensor(sensor_id))
    store.append_events(
        [
            # the source itself, its last segment, its last two URN segments, data.sensor_id
            noise_at("a", 20, source="urn:city:gate:7", sensor="x"),
            make_event("b", source="https://nvr.example/cams/cam-9", at=T0 + timedelta(minutes=5)),
            noise_at("c", 25),
            noise_at("d", 29, source="urn:city:noise-gateway", sensor="meter-4"),
            # heard, but before the window: silent, with its last event
            noise_at("e", -90, source="urn:city:meters:old-1", sensor="x"),
            # an unregistered device is not listed
            noise_at("f", 29, source="urn:city:meters:stranger", sensor="stranger"),
        ],
        RECEIVED,
    )
    page = health(store)
    assert page.counts == DeviceHealthCounts(registered=6, faulty=0, silent=2, heard=4)
    assert [(r.sensor_id, r.state, r.last_event_type) for r in page.items] == [
        ("quiet-1", SILENT, None),  # never heard: first among the silent
        ("old-1", SILENT, "noise.level"),
        ("cam-9", HEARD, "camera.fire_smoke"),
        ("meter-4", HEARD, "noise.level"),
        ("noise-n1", HEARD, "noise.level"),
        ("urn:city:gate:7", HEARD, "noise.level"),
    ]
    by_id = {r.sensor_id: r for r in page.items}
    assert by_id["quiet-1"].last_event_at is None
    assert by_id["old-1"].last_event_at == T0 - timedelta(minutes=90)
    assert by_id["cam-9"].last_event_at == T0 + timedelta(minutes=5)
    assert by_id["cam-9"] == DeviceHealth(
        sensor_id="cam-9",
        name="Dam square north",
        kind="camera",
        owner_agency="police",
        status="active",
        state=HEARD,
        last_event_at=T0 + timedelta(minutes=5),
        last_event_type="camera.fire_smoke",
    )
    # The window decides: 20 minutes back, the camera heard at minute 5 is silent.
    assert health(store, silent_after_min=20).counts.silent == 3


def test_a_device_registered_after_it_started_sending_is_matched(store: Store) -> None:
    store.append_events([noise_at("a", 10)], RECEIVED)
    store.upsert_sensor(make_sensor("n1", kind=SensorKind.NOISE))
    assert row(store, "n1").last_event_at == T0 + timedelta(minutes=10)


def test_a_reported_fault_holds_until_the_device_reports_it_works(store: Store) -> None:
    store.upsert_sensor(make_sensor("lamp-17", kind=SensorKind.LAMPPOST))
    store.upsert_sensor(make_sensor("b-1", kind=SensorKind.BOLLARD))
    store.append_events([lamp_fault("f1", minute=1)], RECEIVED)
    lamp = row(store, "lamp-17")
    assert (lamp.state, lamp.fault, lamp.fault_reported_at) == (
        FAULTY,
        "lamp_out",
        T0 + timedelta(minutes=1),
    )
    assert lamp.last_event_type == "lamp.fault"  # heard, but the fault wins
    store.append_events([light_level("l1", minute=2)], RECEIVED)
    assert (row(store, "lamp-17").state, row(store, "lamp-17").fault) == (HEARD, None)
    store.append_events([lamp_fault("f2", minute=3, fault="tilt")], RECEIVED)
    assert row(store, "lamp-17").fault == "tilt"
    store.append_events([lamp_fault("f3", minute=4, fault="tilt", cleared=True)], RECEIVED)
    assert (row(store, "lamp-17").state, row(store, "lamp-17").fault) == (HEARD, None)

    def bollard(event_id: str, state: str, minute: float) -> Event:
        return device_event(
            event_id,
            "access.bollard_state",
            {"bollard_id": "b-1", "state": state},
            source="urn:city:bollards:gateway",
            minute=minute,
        )

    store.append_events([bollard("b1", "fault", 5)], RECEIVED)
    assert (row(store, "b-1").state, row(store, "b-1").fault) == (FAULTY, "bollard fault")
    # Forwarded by its gateway: the bollard itself was heard.
    assert row(store, "b-1").last_event_at == T0 + timedelta(minutes=5)
    store.append_events([bollard("b2", "up", 6)], RECEIVED)
    assert (row(store, "b-1").state, row(store, "b-1").fault) == (HEARD, None)


def test_a_fault_names_its_device_by_the_same_rule_as_a_source(store: Store) -> None:
    # An NGSI-LD broker forwards every lamp's reports under its own source.
    store.upsert_sensor(make_sensor("lamp-17", kind=SensorKind.LAMPPOST))
    store.append_events(
        [
            device_event(
                "f",
                "lamp.fault",
                {"lamp_id": "urn:ngsi-ld:Streetlight:lamp-17", "fault": "power"},
                source="urn:city:ngsi-ld",
            )
        ],
        RECEIVED,
    )
    lamp = row(store, "lamp-17")
    assert (lamp.state, lamp.fault, lamp.last_event_at) == (FAULTY, "power", T0)


def test_a_device_not_active_in_the_register_is_faulty(store: Store) -> None:
    store.upsert_sensor(make_sensor("n1", kind=SensorKind.NOISE, status="maintenance"))
    store.append_events([noise_at("a", 29)], RECEIVED)
    n1 = row(store, "n1")
    assert (n1.state, n1.fault, n1.fault_reported_at) == (FAULTY, "register: maintenance", None)
    assert n1.last_event_at == T0 + timedelta(minutes=29)


def test_a_duplicate_tells_nothing_new(store: Store) -> None:
    store.upsert_sensor(make_sensor("lamp-17", kind=SensorKind.LAMPPOST))
    store.upsert_sensor(make_sensor("n1", kind=SensorKind.NOISE))
    store.append_events([light_level("l1", minute=1), noise_at("n", 1)], RECEIVED)
    # The same (source, id) again, claiming a later time and a fault: stored once, so ignored;
    # the new event beside it counts.
    results = store.append_events(
        [lamp_fault("l1", minute=9), noise_at("n", 9), noise_at("n2", 5)], RECEIVED
    )
    assert [r.duplicate for r in results] == [True, True, False]
    lamp = row(store, "lamp-17")
    assert (lamp.state, lamp.fault, lamp.last_event_at) == (HEARD, None, T0 + timedelta(minutes=1))
    assert row(store, "n1").last_event_at == T0 + timedelta(minutes=5)
    # A repeat inside one batch is stored once, as its first occurrence.
    store.append_events([noise_at("r", 6), noise_at("r", 8)], RECEIVED)
    assert row(store, "n1").last_event_at == T0 + timedelta(minutes=6)


def test_a_late_event_never_moves_health_backwards(store: Store) -> None:
    store.upsert_sensor(make_sensor("lamp-17", kind=SensorKind.LAMPPOST))
    store.append_events([light_level("new", minute=10)], RECEIVED)
    store.append_events([lamp_fault("old", minute=2)], RECEIVED)
    lamp = row(store, "lamp-17")
    assert (lamp.last_event_at, lamp.last_event_type) == (
        T0 + timedelta(minutes=10),
        "lamp.light_level",
    )
    assert (lamp.state, lamp.fault, lamp.fault_reported_at) == (
        HEARD,
        None,
        T0 + timedelta(minutes=10),
    )
    # Inside one batch too, and a late clearing does not clear a newer fault.
    store.append_events(
        [lamp_fault("f", minute=12), lamp_fault("c", minute=11, cleared=True)], RECEIVED
    )
    lamp = row(store, "lamp-17")
    assert (lamp.fault, lamp.last_event_at) == ("lamp_out", T0 + timedelta(minutes=12))


def test_device_health_filters_orders_and_pages(store: Store) -> None:
    for sensor_id, kind, owner, status in (
        ("cam-1", SensorKind.CAMERA, "police", "active"),
        ("cam-2", SensorKind.CAMERA, "police", "retired"),
        ("lamp-17", SensorKind.LAMPPOST, "city", "active"),
        ("n-a", SensorKind.NOISE, "city", "active"),
        ("n-b", SensorKind.NOISE, "city", "active"),
        ("n-c", SensorKind.NOISE, "city", "active"),
        ("n-d", SensorKind.NOISE, "city", "active"),
    ):
        store.upsert_sensor(make_sensor(sensor_id, kind=kind, owner_agency=owner, status=status))
    store.append_events(
        [
            lamp_fault("f"),
            noise_at("a", -100, source="urn:city:noise:n-a", sensor="x"),
            noise_at("b", -200, source="urn:city:noise:n-b", sensor="x"),
            noise_at("c", 10, source="urn:city:noise:n-c", sensor="x"),
            make_event("cam", at=T0 + timedelta(minutes=10)),  # cam-1
        ],
        RECEIVED,
    )

    def ids(**query: Any) -> list[str]:
        return [r.sensor_id for r in health(store, **query).items]

    assert ids() == ["cam-2", "lamp-17", "n-d", "n-b", "n-a", "cam-1", "n-c"]
    assert ids(state=SILENT) == ["n-d", "n-b", "n-a"]
    assert ids(state=FAULTY) == ["cam-2", "lamp-17"]
    assert ids(state=HEARD, kind="noise") == ["n-c"]
    assert ids(owner_agency="police") == ["cam-2", "cam-1"]
    assert ids(limit=2, offset=3) == ["n-b", "n-a"]
    assert ids(state=SILENT, limit=2, offset=2) == ["n-a"]
    assert ids(limit=0) == []
    # Counts follow kind and agency, never the state or the page.
    assert health(store, kind="noise", state=HEARD, limit=1).counts == DeviceHealthCounts(
        registered=4, faulty=0, silent=3, heard=1
    )
    assert health(store, owner_agency="city").counts == DeviceHealthCounts(
        registered=5, faulty=1, silent=3, heard=1
    )
    assert health(store, kind="traffic").counts == DeviceHealthCounts()


@pytest.mark.sqlite_only
def test_device_health_is_written_with_the_events_or_not_at_all(store: Store) -> None:
    store.upsert_sensor(make_sensor("n1", kind=SensorKind.NOISE))
    with raw_sqlite(store) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_health BEFORE INSERT ON device_health "
            "WHEN NEW.device_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="boom"):
        store.append_events([noise_at("a", 1), noise_at("b", 2, sensor="boom")], RECEIVED)
    assert store.count_events() == 0
    assert row(store, "n1").last_event_at is None


@pytest.mark.sqlite_only
def test_device_health_keeps_one_row_per_plausible_key(store: Store) -> None:
    events = [noise_at(f"e{i}", i % 30, sensor=f"s-{i % 3}") for i in range(300)]
    long_source = "urn:city:" + "x" * 300 + ":meter-9"
    events.append(noise_at("odd", 1, source=long_source, sensor="has space"))
    store.append_events(events, RECEIVED)
    with raw_sqlite(store) as conn:
        keys = sorted(k for (k,) in conn.execute("SELECT device_id FROM device_health"))
    # One row per key, not per event: the source, its last segment, its last two segments and
    # three sensor ids. Of the odd event only its last segment could be a register id (not the
    # long source, nor its long last two segments, nor "has space").
    assert keys == sorted([NOISE, "n1", "noise-n1", "s-0", "s-1", "s-2", "meter-9"])


# --- identity -----------------------------------------------------------------------------------


def test_agencies(store: Store) -> None:
    police = Agency(id="police", name="Police", kind="police")
    fire = Agency(id="fire", name="Fire brigade", kind="fire")
    store.add_agency(police)
    store.add_agency(fire)
    assert store.get_agency("police") == police
    assert store.get_agency("missing") is None
    assert store.list_agencies() == [fire, police]
    with pytest.raises(Conflict):
        store.add_agency(Agency(id="police", name="Other"))
    assert store.get_agency("police") == police


def test_users(store: Store) -> None:
    store.add_agency(Agency(id="police", name="Police"))
    store.add_agency(Agency(id="fire", name="Fire brigade", kind="fire"))
    ana = User(id="ana", agency_id="police", display_name="Ana", role=Role.OPERATOR)
    bo = User(id="bo", agency_id="fire", display_name="Bo", role=Role.SUPERVISOR, active=False)
    store.add_user(ana)
    store.add_user(bo)
    assert store.get_user("ana") == ana
    assert store.get_user("bo") == bo
    assert store.get_user("missing") is None
    assert store.list_users() == [ana, bo]
    assert store.list_users("fire") == [bo]
    assert store.list_users("nobody") == []
    with pytest.raises(Conflict):
        store.add_user(ana.model_copy(update={"display_name": "Ana 2"}))
    with pytest.raises(NotFound):
        store.add_user(User(id="cy", agency_id="ghost", display_name="Cy", role=Role.ANALYST))


def test_tokens(store: Store) -> None:
    store.add_agency(Agency(id="police", name="Police"))
    store.add_user(User(id="ana", agency_id="police", display_name="Ana", role=Role.OPERATOR))
    token = ApiToken(
        id="tok-1",
        user_id="ana",
        token_hash="a" * 64,
        label="console",
        created_at=T0,
        expires_at=T0 + timedelta(days=90),
    )
    store.add_token(token)
    assert store.find_token("a" * 64) == token
    assert store.find_token("b" * 64) is None
    with pytest.raises(Conflict):
        store.add_token(token.model_copy(update={"token_hash": "c" * 64}))
    with pytest.raises(Conflict):
        store.add_token(token.model_copy(update={"id": "tok-2"}))
    with pytest.raises(NotFound):
        store.add_token(ApiToken(id="tok-3", user_id="ghost", token_hash="d" * 64, created_at=T0))

    revoked = T0 + timedelta(days=1)
    assert store.revoke_token("tok-1", revoked) is True
    assert store.find_token("a" * 64) == token.model_copy(update={"revoked_at": revoked})
    assert store.revoke_token("tok-1", revoked + timedelta(days=1)) is True
    found = store.find_token("a" * 64)
    assert found is not None
    assert found.revoked_at == revoked
    assert store.revoke_token("missing", revoked) is False


# --- audit --------------------------------------------------------------------------------------


def test_audit_records_round_trip_with_sequence_numbers(store: Store) -> None:
    assert store.last_audit_hash() == ""
    records = [audit(0), audit(1, outcome="denied", agency_id=None, object_id=None)]
    store.append_audit(records)
    listed = store.list_audit()
    assert [replace(r, seq=None) for r in listed] == records
    assert [r.seq for r in listed] == sorted(r.seq for r in listed if r.seq is not None)
    assert store.last_audit_hash() == "h1"
    store.append_audit([audit(2)])
    assert store.last_audit_hash() == "h2"
    store.append_audit([])
    assert store.last_audit_hash() == "h2"


def test_list_audit_filters_and_pages(store: Store) -> None:
    store.append_audit(
        [
            audit(0),
            audit(1, actor="user:bo"),
            audit(2, object_type="sensor", object_id="cam-1"),
            audit(3, object_id="inc-2"),
            audit(4),
        ]
    )

    def hashes(**kwargs: Any) -> list[str]:
        return [r.hash for r in store.list_audit(**kwargs)]

    assert hashes() == ["h0", "h1", "h2", "h3", "h4"]
    assert hashes(actor="user:bo") == ["h1"]
    assert hashes(object_type="sensor") == ["h2"]
    assert hashes(object_type="incident", object_id="inc-1") == ["h0", "h1", "h4"]
    assert hashes(since=T0 + timedelta(minutes=3)) == ["h3", "h4"]
    page = store.list_audit(limit=2)
    assert [r.hash for r in page] == ["h0", "h1"]
    assert hashes(after_seq=page[-1].seq, limit=2) == ["h2", "h3"]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'user:mallory'", "DELETE FROM audit_log"]
)
def test_the_audit_table_refuses_changes_even_through_sql(store: Store, statement: str) -> None:
    store.append_audit([audit(0), audit(1)])
    with raw_sqlite(store) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(statement)
    assert [r.actor for r in store.list_audit()] == ["user:ana", "user:ana"]


# --- concurrency --------------------------------------------------------------------------------


def test_many_threads_append_and_read_at_once_and_nothing_is_lost(store: Store) -> None:
    writers, batches, per_batch = 4, 25, 40
    stop = threading.Event()

    def key_batch(writer: int, batch: int) -> list[Event]:
        # A quarter of each batch repeats keys another writer also sends, to race duplicates.
        own = [make_event(f"w{writer}-b{batch}-{i}") for i in range(per_batch * 3 // 4)]
        shared = [make_event(f"shared-b{batch}-{i}") for i in range(per_batch // 4)]
        return own + shared

    def write(writer: int) -> list[tuple[Event, int, bool]]:
        out: list[tuple[Event, int, bool]] = []
        for batch in range(batches):
            events = key_batch(writer, batch)
            results = store.append_events(events, RECEIVED)
            out.extend((e, r.seq, r.duplicate) for e, r in zip(events, results, strict=True))
        return out

    def read() -> int:
        reads = 0
        while not stop.is_set():
            page = store.query_events(EventQuery(limit=50))
            assert [s.seq for s in page] == sorted(s.seq for s in page)
            store.count_events()
            store.get_event(CAM, "shared-b0-0")
            reads += 1
        return reads

    with ThreadPoolExecutor(max_workers=writers + 2) as pool:
        readers = [pool.submit(read) for _ in range(2)]
        outcomes = [pool.submit(write, w) for w in range(writers)]
        results = [item for future in outcomes for item in future.result()]
        stop.set()
        assert all(r.result() > 0 for r in readers)

    seq_by_key: dict[tuple[str, str], set[int]] = {}
    originals: dict[tuple[str, str], int] = {}
    for event, seq, duplicate in results:
        seq_by_key.setdefault(event.key, set()).add(seq)
        if not duplicate:
            assert event.key not in originals, "a key was stored twice"
            originals[event.key] = seq
    unique = writers * batches * (per_batch * 3 // 4) + batches * (per_batch // 4)
    assert len(originals) == unique
    assert all(len(seqs) == 1 for seqs in seq_by_key.values())
    assert store.count_events() == unique

    stored: dict[tuple[str, str], int] = {}
    after: int | None = None
    while page := store.query_events(EventQuery(after_seq=after, limit=500)):
        stored.update({s.event.key: s.seq for s in page})
        after = page[-1].seq
    assert stored == originals


@pytest.mark.sqlite_only
def test_reads_do_not_wait_for_an_open_write(store: Store) -> None:
    store.append_events([make_event("e1")], RECEIVED)
    with raw_sqlite(store) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE sensors SET name = name")
        began = time.monotonic()
        assert store.count_events() == 1
        assert store.get_event(CAM, "e1") is not None
        assert time.monotonic() - began < 1.0
        conn.execute("ROLLBACK")


def test_close_is_idempotent(open_store: Callable[[], Store]) -> None:
    store = open_store()
    store.migrate()
    store.close()
    store.close()


# --- processor checkpoints -------------------------------------------------------------------


def test_a_checkpoint_starts_at_zero_and_only_moves_forward(store: Store) -> None:
    assert store.get_checkpoint("correlation") == 0
    store.save_incidents([], checkpoint=("correlation", 120))
    assert store.get_checkpoint("correlation") == 120
    store.save_incidents([], checkpoint=("correlation", 80))
    assert store.get_checkpoint("correlation") == 120
    assert store.get_checkpoint("other") == 0


def test_a_checkpoint_commits_with_the_writes_or_not_at_all(store: Store) -> None:
    store.save_incidents([new_write(make_incident("inc-1"))], checkpoint=("correlation", 5))
    with pytest.raises(Conflict):
        store.save_incidents(
            [new_write(make_incident("inc-1", title="again"))], checkpoint=("correlation", 9)
        )
    assert store.get_checkpoint("correlation") == 5
