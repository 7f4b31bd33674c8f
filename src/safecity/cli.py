"""`safecity`: serve the API, run the demo city, ingest files, inspect incidents and sensors."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safecity.analytics_cli import forecast_app
from safecity.core.errors import DomainError, FieldError
from safecity.core.identity import DEFAULT_PURPOSE, Agency, Principal, Role, User
from safecity.core.records import IncidentQuery
from safecity.core.registry import Sensor
from safecity.governance.access import resolve_purpose
from safecity.runtime import Runtime, build_runtime
from safecity.settings import Settings

app = typer.Typer(
    help="safecity: one picture of a city's safety events, for every agency in the control room.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
admin_app = typer.Typer(help="Agencies, users and API tokens.", no_args_is_help=True)
sensors_app = typer.Typer(help="The sensor and device register.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
adapters_app = typer.Typer(
    help="Inbound and outbound adapters for open standards and legacy formats.",
    no_args_is_help=True,
)
app.add_typer(sensors_app, name="sensors")
app.add_typer(adapters_app, name="adapters")
mapping_app = typer.Typer(
    help="Declarative mappings of legacy JSON/CSV formats (webhook adapter).", no_args_is_help=True
)
app.add_typer(mapping_app, name="mapping")
gunshot_app = typer.Typer(help="Acoustic gunshot location.", no_args_is_help=True)
app.add_typer(gunshot_app, name="gunshot")
app.add_typer(forecast_app, name="forecast")
events_app = typer.Typer(help="The stored events.", no_args_is_help=True)
app.add_typer(events_app, name="events")

console = Console()
err = Console(stderr=True)

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="SQLite database file (default: SAFECITY_STORE__PATH or ./safecity.db)",
        dir_okay=False,
    ),
]
PurposeOption = Annotated[
    str | None,
    typer.Option(
        "--purpose", help="Declared purpose, recorded in the audit log (default: system-operations)"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _settings(db: Path | None, config: Path | None = None) -> Settings:
    """The settings file's (else the environment's) settings, on ``--db`` when given."""
    settings = Settings.from_file(config) if config is not None else Settings()
    if db is not None:
        settings.store.path = db
    return settings


def _progress(*, quiet: bool) -> Progress:
    """A progress bar on stderr (stdout stays clean for --json output)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    )


def _cli_principal(purpose: str | None) -> Principal:
    """The person at the terminal, acting as a local administrator for a declared purpose."""
    role = Role.ADMIN
    try:
        declared = resolve_purpose(role, purpose) if purpose else DEFAULT_PURPOSE[role]
    except DomainError as exc:
        _fail(f"--purpose: {exc}")
        raise  # unreachable: _fail exits
    return Principal(
        user_id=f"cli-{getpass.getuser()}", agency_id="local", role=role, purpose=declared
    )


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(2)


def _run(coro: Any) -> Any:
    try:
        return asyncio.run(coro)
    except DomainError as exc:
        _fail(str(exc))


@app.command()
def serve(
    db: DbOption = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            exists=True,
            dir_okay=False,
            help="Settings file (TOML or JSON), e.g. with [[adapters]] tables",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
) -> None:
    """Run the HTTP API (REST, live stream, metrics) on the configured store."""
    import uvicorn

    from safecity.tuning import tune_gc_for_throughput

    settings = _settings(db, config)
    try:
        runtime = build_runtime(settings)
    except DomainError as exc:
        _fail(str(exc))
    app_ = runtime.api()
    tune_gc_for_throughput()
    console.print(
        f"safecity API on http://{host}:{port}/docs  (store: {runtime.settings.store.path})"
    )
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command()
def demo(
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after this many simulated seconds (default: run until Ctrl-C)"),
    ] = None,
    headless: Annotated[
        bool,
        typer.Option(
            help="No server: run the scripted demo as fast as possible and print a summary"
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Summary as one JSON object")] = False,
    seed: Annotated[int, typer.Option(help="Random seed of the simulation")] = 7,
    start: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"],
            help="Headless only: simulated start time (UTC if no zone; default: now). With "
            "--seed it makes a run repeatable; it must not be in the future.",
        ),
    ] = None,
    port: Annotated[int, typer.Option(help="Port of the API in live mode")] = 8080,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="Keep the demo's data in this file (default: a fresh temporary one)"
        ),
    ] = None,
    story: Annotated[
        bool,
        typer.Option(
            help="Headless: fire shots at the station square and work the incident through to "
            "closed via the API (located, fused, units recommended and confirmed, lamps "
            "brightened, response-time KPIs); prints what happened"
        ),
    ] = False,
) -> None:
    """The demo city: Helsinki centre's real cameras and lamps, simulated feeds and patrols."""
    from safecity.demo import run_demo

    if story:
        headless = True
    if headless and duration is None:
        duration = 300.0
    summary = _run(
        run_demo(
            duration_s=duration,
            headless=headless,
            seed=seed,
            port=port,
            db=db,
            quiet=json_out,
            start=None if start is None else (start if start.tzinfo else start.replace(tzinfo=UTC)),
            console=console,
            story=story,
        )
    )
    if json_out:
        sys.stdout.write(json.dumps(summary, sort_keys=True) + "\n")
    elif headless:
        table = Table(title="Demo summary", show_header=False)
        for key, value in summary.items():
            table.add_row(key, str(value))
        console.print(table)


@dataclass(frozen=True)
class _Unparseable:
    """An NDJSON line that is not JSON; dead-lettered with its line number."""

    line: int
    raw: bytes
    reason: str


@dataclass(frozen=True)
class _Item:
    """A decoded item and how to name it in errors (``line 7`` of NDJSON, ``[6]`` of an array)."""

    label: str
    value: Any


def _read_items(text: bytes) -> list[_Item | _Unparseable]:
    """A JSON array (or one object) or NDJSON; raises JSONDecodeError for a broken array."""
    stripped = text.lstrip()
    if stripped.startswith(b"["):
        decoded = orjson.loads(text)
        items = decoded if isinstance(decoded, list) else [decoded]
        return [_Item(f"[{i}]", item) for i, item in enumerate(items)]
    if stripped.startswith(b"{") and b"\n" not in stripped.strip():
        return [_Item("object", orjson.loads(text))]
    out: list[_Item | _Unparseable] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append(_Item(f"line {number}", orjson.loads(line)))
            except orjson.JSONDecodeError as exc:
                out.append(_Unparseable(number, line, f"not valid JSON: {exc.msg}"))
    return out


@app.command()
def ingest(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="JSON array or NDJSON of events"
        ),
    ],
    db: DbOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
    json_out: JsonOption = False,
) -> None:
    """Ingest events from a file through the same validation as the API; refused ones are
    dead-lettered with their reasons."""
    raw = file.read_bytes()
    channel = f"file:{file.name}"
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    first_errors: list[dict[str, Any]] = []

    async def go() -> str | None:
        runtime = build_runtime(_settings(db))
        await runtime.start()
        principal = _cli_principal(None)
        try:
            try:
                items = _read_items(raw)
            except orjson.JSONDecodeError as exc:
                reason = f"not valid JSON or NDJSON: {exc.msg} at byte {exc.pos}"
                letter = await runtime.ingest.dead_letter_raw(
                    raw[:65_536],
                    channel=channel,
                    content_type="application/json",
                    errors=[FieldError("file", reason)],
                )
                return f"{file}: {reason} (kept as dead letter {letter})"
            with _progress(quiet=json_out) as bar:
                task = bar.add_task("ingest", total=len(items))
                for start in range(0, len(items), batch_size):
                    chunk = items[start : start + batch_size]
                    await _ingest_chunk(runtime, principal, channel, chunk, totals, first_errors)
                    bar.advance(task, len(chunk))
            await runtime.settle()
            return None
        finally:
            await runtime.stop()

    failure = _run(go())
    if failure:
        _fail(failure)
    if json_out:
        sys.stdout.write(json.dumps({**totals, "first_errors": first_errors}) + "\n")
        return
    console.print(
        f"accepted {totals['accepted']}, duplicates {totals['duplicate']}, "
        f"rejected {totals['rejected']} (kept in dead letters)"
    )
    for item in first_errors[:10]:
        reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in item["errors"])
        console.print(f"  {item['item']}: {reasons}", soft_wrap=True)


async def _ingest_chunk(
    runtime: Runtime,
    principal: Principal,
    channel: str,
    chunk: list[_Item | _Unparseable],
    totals: dict[str, int],
    first_errors: list[dict[str, Any]],
) -> None:
    parsed = [item for item in chunk if isinstance(item, _Item)]
    for item in chunk:
        if isinstance(item, _Unparseable):
            errors = [FieldError(f"line {item.line}", item.reason)]
            await runtime.ingest.dead_letter_raw(
                item.raw, channel=channel, content_type="application/x-ndjson", errors=errors
            )
            totals["rejected"] += 1
            if len(first_errors) < 20:
                first_errors.append(
                    {"item": f"line {item.line}", "errors": [e.as_dict() for e in errors]}
                )
    if not parsed:
        return
    result = await runtime.ingest.ingest_objects(
        [item.value for item in parsed],
        principal=principal,
        channel=channel,
        labels=[item.label for item in parsed],
    )
    for outcome in result.items:
        totals[outcome.status] += 1
        if outcome.status == "rejected" and len(first_errors) < 20:
            first_errors.append(
                {
                    "item": parsed[outcome.index].label,
                    "errors": [e.as_dict() for e in outcome.errors],
                }
            )


@app.command("import")
def import_history(
    files: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, readable=True, help="History files in the adapter's format"
        ),
    ],
    adapter: Annotated[
        str,
        typer.Option("--adapter", "-a", help="Adapter or configured instance, e.g. webhook, cap"),
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            exists=True,
            dir_okay=False,
            help="A declarative mapping file (TOML/JSON) for the webhook adapter",
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Progress file; re-running with it resumes where the last run stopped"),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import CSV/JSON history (or any adapter's documents) through the same mappings as live
    input, with a progress bar and a resumable checkpoint."""
    from safecity.adapters.configuration import read_file
    from safecity.ingest.history import Checkpoint, import_files

    settings = _settings(db)
    name = adapter
    if mapping is not None:
        name = f"{adapter}:{mapping.stem}"
        settings.adapters = [{"type": adapter, "name": name, **read_file(mapping)}]

    async def go() -> Any:
        runtime = build_runtime(settings)
        await runtime.start()
        try:
            with _progress(quiet=json_out) as bar:
                tasks: dict[str, Any] = {}

                def progress(file: str, done: int, total: int) -> None:
                    if file not in tasks:
                        tasks[file] = bar.add_task(file, total=total)
                    bar.update(tasks[file], completed=done)

                totals = await import_files(
                    files,
                    adapter=name,
                    intake=runtime.adapters,
                    ingest=runtime.ingest,
                    clock=runtime.clock,
                    principal=_cli_principal(None),
                    checkpoint=Checkpoint(checkpoint),
                    progress=progress,
                )
            await runtime.settle()
            return totals
        finally:
            await runtime.stop()

    totals = _run(go())
    if json_out:
        sys.stdout.write(json.dumps(totals.as_dict()) + "\n")
        return
    console.print(
        f"{totals.files} file(s) imported, {totals.skipped_files} already done; accepted "
        f"{totals.accepted}, duplicates {totals.duplicates}, rejected {totals.rejected}"
    )
    for refused in totals.refused_files:
        reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in refused["errors"])
        console.print(f"  [red]refused[/] {refused['file']}: {reasons}", soft_wrap=True)


async def _with_runtime(db: Path | None, fn: Any, *, config: Path | None = None) -> Any:
    runtime: Runtime = build_runtime(_settings(db, config))
    try:
        return await fn(runtime)
    finally:
        runtime.store.close()


@app.command()
def incidents(
    db: DbOption = None,
    status: Annotated[list[str] | None, typer.Option(help="Filter by status; repeatable")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    purpose: PurposeOption = None,
    json_out: JsonOption = False,
) -> None:
    """List incidents, most recently updated first (the read is audited)."""
    principal = _cli_principal(purpose)
    found = _run(
        _with_runtime(
            db,
            lambda rt: rt.incidents.list_incidents(
                principal, IncidentQuery(statuses=tuple(status or ()), limit=limit)
            ),
        )
    )
    if json_out:
        sys.stdout.write(json.dumps([i.model_dump(mode="json") for i in found]) + "\n")
        return
    table = Table(title=f"{len(found)} incident(s)")
    for col in ("id", "type", "priority", "status", "events", "title", "updated"):
        table.add_column(col)
    for inc in found:
        table.add_row(
            inc.id,
            inc.type,
            str(inc.priority),
            inc.status.value,
            str(inc.event_count),
            inc.title,
            inc.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(table)


def _iso_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time from the command line; UTC when it names no zone."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: not an ISO 8601 time: {value!r}, e.g. 2026-11-01T00:00:00Z")
        raise  # unreachable: _fail exits
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@events_app.command("export")
def events_export(
    out: Annotated[Path, typer.Argument(help="CSV file to write", dir_okay=False)],
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Event type to export; repeatable (default: all)"),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Events from (ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option(help="Events before (ISO 8601)")] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", exists=True, dir_okay=False, help="Settings file (time zone)"),
    ] = None,
    db: DbOption = None,
    purpose: PurposeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Located events as a forecast-ready CSV (local time, position, type, incident type, how
    it came to notice; no ids or payloads) and its column mapping, for `safecity forecast`.
    The read is audited."""
    from safecity.core.catalogue import CATALOGUE
    from safecity.ingest.export import export_events

    unknown = sorted(set(event_type or ()) - set(CATALOGUE))
    if unknown:
        _fail(f"--type: unknown event types {unknown}; see `safecity` GET /v1/event-types")
    start, end = _iso_time(since, "--since"), _iso_time(until, "--until")
    principal = _cli_principal(purpose)

    def export(rt: Runtime) -> Any:
        return export_events(
            rt.events,
            principal,
            out,
            types=tuple(event_type or ()),
            start=start,
            end=end,
            timezone=rt.settings.city.timezone,
        )

    try:
        summary = _run(_with_runtime(db, export, config=config))
    except OSError as exc:
        _fail(f"cannot write {out}: {exc}")
    if json_out:
        sys.stdout.write(json.dumps(summary.as_dict()) + "\n")
        return
    console.print(
        f"{summary.written} event(s) written to {out} ({summary.without_location} without a "
        f"position left out); mapping in {summary.mapping_path}. Backtest with:\n"
        f"  safecity forecast backtest {out} --mapping-file {summary.mapping_path} "
        "--discovered-column discovered_by --patrol-values patrol --public-values public",
        soft_wrap=True,
        highlight=False,
    )


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@app.command()
def kpis(
    since: Annotated[
        str | None, typer.Option(help="Incidents opened from (ISO 8601; default: 30 days ago)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Opened before (ISO 8601; default: now)")
    ] = None,
    group_by: Annotated[
        str | None, typer.Option("--group-by", help="agency, area, type or priority")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", exists=True, dir_okay=False, help="Settings file (targets)"),
    ] = None,
    db: DbOption = None,
    purpose: PurposeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Response-time KPIs (acknowledge, dispatch, turnout, travel, ...) against their targets
    (docs/kpis.md). The read is audited."""
    if group_by is not None and group_by not in ("agency", "area", "type", "priority"):
        _fail(f"--group-by: {group_by!r} is not one of agency, area, type, priority")
    start, end = _iso_time(since, "--since"), _iso_time(until, "--until")
    principal = _cli_principal(purpose)
    report = _run(
        _with_runtime(
            db,
            lambda rt: rt.kpis.report(
                principal,
                since=start,
                until=end,
                group_by=group_by,  # one of the four, checked above
            ),
            config=config,
        )
    )
    if json_out:
        sys.stdout.write(report.model_dump_json() + "\n")
        return
    from rich import box

    window = f"{report.since:%Y-%m-%d %H:%M} – {report.until:%Y-%m-%d %H:%M} UTC"
    console.print(
        f"Response-time KPIs in seconds: {report.incidents} incident(s) opened {window}"
        + (f" ({report.excluded} merged left out)" if report.excluded else ""),
        soft_wrap=True,
    )
    for group in report.groups:
        key = "(none)" if group.key is None else group.key
        table = Table(
            title=f"{report.group_by or 'all'}: {key} ({group.incidents})",
            box=box.SIMPLE_HEAD,
            title_justify="left",
        )
        table.add_column("kpi", no_wrap=True)
        for col in ("n", "median", "p90", "mean", "target", "within", "met"):
            table.add_column(col, justify="right")
        for stat in group.kpis:
            target = (
                "-"
                if stat.target_share is None
                else ("mixed" if stat.threshold_s is None else f"{stat.threshold_s:g}")
                + f"/{stat.target_share:.0%}"
            )
            table.add_row(
                stat.kpi.value,
                str(stat.count),
                _secs(stat.median_s),
                _secs(stat.p90_s),
                _secs(stat.mean_s),
                target,
                "-" if stat.share_within is None else f"{stat.share_within:.0%}",
                {None: "-", True: "yes", False: "[red]no[/]"}[stat.met],
            )
        console.print(table)
    if report.truncated:
        err.print("note: more incidents than one report reads; narrow --since/--until")


@sensors_app.command("list")
def sensors_list(
    db: DbOption = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, e.g. camera")] = None,
    json_out: JsonOption = False,
) -> None:
    """Show the register."""
    principal = _cli_principal(None)
    found = _run(_with_runtime(db, lambda rt: rt.sensors.list_sensors(principal, kind=kind)))
    if json_out:
        sys.stdout.write(json.dumps([s.model_dump(mode="json") for s in found]) + "\n")
        return
    table = Table(title=f"{len(found)} device(s)")
    for col in ("id", "kind", "owner", "personal data", "retention", "public", "purpose"):
        table.add_column(col)
    for s in found:
        table.add_row(
            s.id,
            s.kind.value,
            s.owner_agency,
            "yes" if s.personal_data else "no",
            f"{s.retention_days} d",
            "yes" if s.public else "no",
            s.purpose[:60],
        )
    console.print(table)


@sensors_app.command("add")
def sensors_add(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="JSON object or array of sensor records"),
    ],
    db: DbOption = None,
) -> None:
    """Register or update devices from a JSON file (validated; nothing is stored on error)."""
    raw = orjson.loads(file.read_bytes())
    records = raw if isinstance(raw, list) else [raw]
    try:
        sensors = [Sensor.model_validate(r) for r in records]
    except ValueError as exc:
        _fail(f"{file}: {exc}")
    principal = _cli_principal(None)

    async def go(rt: Runtime) -> int:
        for s in sensors:
            await rt.sensors.upsert(principal, s)
        return len(sensors)

    count = _run(_with_runtime(db, go))
    console.print(f"registered {count} device(s)")


@sensors_app.command("remove")
def sensors_remove(sensor_id: str, db: DbOption = None) -> None:
    """Remove a device from the register."""
    principal = _cli_principal(None)
    _run(_with_runtime(db, lambda rt: rt.sensors.delete(principal, sensor_id)))
    console.print(f"removed {sensor_id}")


@admin_app.command("add-agency")
def add_agency(
    agency_id: str,
    name: str,
    kind: Annotated[
        str, typer.Option(help="police, fire, ambulance, municipality, ...")
    ] = "police",
    db: DbOption = None,
) -> None:
    """Register an agency."""
    runtime = build_runtime(_settings(db))
    try:
        runtime.identity.add_agency(Agency(id=agency_id, name=name, kind=kind))
    except (DomainError, ValueError) as exc:
        _fail(str(exc))
    finally:
        runtime.store.close()
    console.print(f"agency {agency_id} added")


@admin_app.command("add-user")
def add_user(
    user_id: str,
    agency_id: str,
    role: Role,
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    db: DbOption = None,
) -> None:
    """Add a user to an agency with a role."""
    runtime = build_runtime(_settings(db))
    try:
        runtime.identity.add_user(
            User(id=user_id, agency_id=agency_id, role=role, display_name=name or user_id)
        )
    except (DomainError, ValueError) as exc:
        _fail(str(exc))
    finally:
        runtime.store.close()
    console.print(f"user {user_id} ({role.value}) added to {agency_id}")


@admin_app.command("issue-token")
def issue_token(
    user_id: str,
    label: Annotated[str, typer.Option(help="What the token is for")] = "",
    db: DbOption = None,
) -> None:
    """Issue an API token. The secret is printed once; only its hash is stored."""
    runtime = build_runtime(_settings(db))
    try:
        issued = runtime.identity.issue_token(user_id, label=label)
    except DomainError as exc:
        _fail(str(exc))
    finally:
        runtime.store.close()
    console.print(f"token id {issued.token.id}")
    sys.stdout.write(issued.secret + "\n")


@admin_app.command("revoke-token")
def revoke_token(token_id: str, db: DbOption = None) -> None:
    """Revoke an API token by its id."""
    runtime = build_runtime(_settings(db))
    try:
        ok = runtime.identity.revoke_token(token_id)
    finally:
        runtime.store.close()
    if not ok:
        _fail(f"no token {token_id}")
    console.print(f"revoked {token_id}")


@app.command()
def openapi(
    output: Annotated[Path | None, typer.Option(help="Write the document here")] = None,
    check: Annotated[
        Path | None, typer.Option(help="Fail if this committed document differs from the code's")
    ] = None,
) -> None:
    """Print, write or check the OpenAPI document."""
    from safecity.openapi import openapi_document

    text = openapi_document()
    if check is not None:
        if not check.exists() or check.read_text() != text:
            _fail(f"{check} is stale; run `make openapi` and commit it")
        console.print(f"{check} is current")
        return
    if output is not None:
        output.write_text(text)
        console.print(f"wrote {output}")
        return
    sys.stdout.write(text)


@app.command()
def bench(
    events: Annotated[int, typer.Option(min=1000, help="Events to ingest")] = 50_000,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Batch size")] = 1000,
    json_out: JsonOption = False,
) -> None:
    """Quick ingest benchmark on this machine (library path and HTTP path, SQLite, correlation
    on). The full suite is `benchmarks/ingest.py`."""
    from safecity.benchmarking import quick_bench

    result = quick_bench(events=events, batch=batch)
    if json_out:
        sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
        return
    table = Table(title="ingest benchmark", show_header=False)
    for key, value in result.items():
        table.add_row(key, f"{value:,.1f}" if isinstance(value, float) else str(value))
    console.print(table)


@adapters_app.command("list")
def adapters_list(json_out: JsonOption = False) -> None:
    """The adapters this installation has, with the standards they speak."""
    from safecity.adapters import registry

    manifests = [registry.manifest(n) for n in registry.names()]
    if json_out:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "name": m.name,
                        "title": m.title,
                        "standards": list(m.standards),
                        "directions": sorted(m.directions),
                    }
                    for m in manifests
                ]
            )
            + "\n"
        )
        return
    table = Table(title=f"{len(manifests)} adapter(s)")
    for col in ("name", "title", "directions", "standards"):
        table.add_column(col)
    for m in manifests:
        table.add_row(m.name, m.title, ", ".join(sorted(m.directions)), ", ".join(m.standards))
    console.print(table)


def _enclosed_report(enclosed: Any, context: Any) -> dict[str, Any]:
    """What the adapter an envelope names makes of its content (e.g. CAP inside EDXL-DE)."""
    from safecity.ingest.adapters import map_input

    out: dict[str, Any] = {"adapter": enclosed.adapter, "where": enclosed.where}
    try:
        inner = map_input(enclosed.adapter, enclosed.raw, context)
    except DomainError as exc:
        out["rejected"] = [e.as_dict() for e in getattr(exc, "errors", [])]
    else:
        out["events"] = [e.to_json_dict() for e in inner.events]
    return out


@adapters_app.command("parse")
def adapters_parse(
    files: Annotated[
        list[Path],
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Sample documents to map"),
    ],
    standard: Annotated[
        str, typer.Option("--standard", "-s", help="Adapter name, see `safecity adapters list`")
    ],
    content_type: Annotated[str | None, typer.Option(help="Content type, if it matters")] = None,
    origin: Annotated[
        str | None,
        typer.Option(
            help="Where the documents would come from, e.g. the MQTT topic they were published on "
            "(default: the file name)"
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Map sample files with an adapter and show the events, or exactly why each was refused.
    Nothing is stored; nothing is fetched. Exits 1 when any file or part of one was refused."""
    from datetime import UTC, datetime

    from safecity.adapters import registry
    from safecity.adapters.base import MappingContext
    from safecity.ingest.adapters import map_input

    if standard not in registry.names():
        _fail(f"no adapter named {standard!r}; known: {', '.join(registry.names())}")
    reports: list[dict[str, Any]] = []
    for path in files:
        context = MappingContext(
            received_at=datetime.now(UTC), content_type=content_type, origin=origin or path.name
        )
        report: dict[str, Any] = {"file": str(path)}
        try:
            mapped = map_input(standard, path.read_bytes(), context)
        except DomainError as exc:
            errors = getattr(exc, "errors", [])
            report["rejected"] = [e.as_dict() for e in errors] or [
                {"field": "body", "reason": str(exc)}
            ]
        else:
            report["events"] = [e.to_json_dict() for e in mapped.events]
            report["rejected_parts"] = [
                {"where": r.where, "errors": [e.as_dict() for e in r.errors]}
                for r in mapped.rejections
            ]
            report["enclosed"] = [_enclosed_report(e, context) for e in mapped.enclosed]
            report["notes"] = mapped.notes
        reports.append(report)
    failed = any(
        r.get("rejected")
        or r.get("rejected_parts")
        or any("rejected" in e for e in r.get("enclosed", []))
        for r in reports
    )
    if json_out:
        sys.stdout.write(json.dumps(reports, indent=2, ensure_ascii=False) + "\n")
    else:
        for r in reports:
            if "rejected" in r:
                reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in r["rejected"])
                console.print(f"[red]refused[/] {r['file']}: {reasons}", soft_wrap=True)
                continue
            console.print(f"[green]{len(r['events'])} event(s)[/] from {r['file']}", soft_wrap=True)
            for e in r["events"]:
                loc = e.get("location")
                where = f" at {loc['lat']:.5f},{loc['lon']:.5f}" if loc else ""
                console.print(
                    f"  {e['type']} {e['time']}{where}  {e['source']} {e['id']}", soft_wrap=True
                )
            for part in r["rejected_parts"]:
                reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in part["errors"])
                console.print(f"  [red]refused part[/] {part['where']}: {reasons}", soft_wrap=True)
            for enclosed in r["enclosed"]:
                got = (
                    f"{len(enclosed['events'])} event(s)"
                    if "events" in enclosed
                    else "refused: "
                    + "; ".join(f"{e['field']}: {e['reason']}" for e in enclosed["rejected"])
                )
                console.print(
                    f"  {enclosed['where']} ({enclosed['adapter']}): {got}", soft_wrap=True
                )
                for e in enclosed.get("events", []):
                    console.print(
                        f"    {e['type']} {e['time']}  {e['source']} {e['id']}", soft_wrap=True
                    )
            for note in r["notes"]:
                console.print(f"  note: {note}", soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@mapping_app.command("test")
def mapping_test(
    config: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="The mapping, TOML or JSON (webhook settings)"
        ),
    ],
    sample: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="A sample document in the legacy format"),
    ],
    json_out: JsonOption = False,
) -> None:
    """Show the events a declarative mapping makes of a sample, or precise errors per record.
    Exits 1 when the mapping is invalid or any record is refused."""
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from safecity.adapters.base import MappingContext
    from safecity.adapters.configuration import read_file
    from safecity.adapters.webhook.config import WebhookConfig
    from safecity.ingest.adapters import map_input

    try:
        spec = WebhookConfig.model_validate({"type": "webhook", **read_file(config)})
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            err.print(f"{config}: {'.'.join(str(p) for p in e['loc'])}: {e['msg']}", soft_wrap=True)
        raise typer.Exit(1) from None
    except DomainError as exc:
        _fail(str(exc))
    context = MappingContext(received_at=datetime.now(UTC), config=spec, origin=sample.name)
    try:
        mapped = map_input("webhook", sample.read_bytes(), context)
    except DomainError as exc:
        errors = getattr(exc, "errors", [])
        if json_out:
            sys.stdout.write(json.dumps({"refused": [e.as_dict() for e in errors]}) + "\n")
        for e in errors:
            err.print(f"refused: {e.field}: {e.reason}", soft_wrap=True)
        raise typer.Exit(1) from None
    if json_out:
        sys.stdout.write(
            json.dumps(
                {
                    "events": [e.to_json_dict() for e in mapped.events],
                    "rejected": [
                        {"where": r.where, "errors": [e.as_dict() for e in r.errors]}
                        for r in mapped.rejections
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    else:
        console.print(f"{len(mapped.events)} event(s), {len(mapped.rejections)} refused record(s)")
        for event in mapped.events:
            console.print_json(data=event.to_json_dict())
        for r in mapped.rejections:
            for fault in r.errors:
                console.print(f"[red]refused[/] {fault.field}: {fault.reason}", soft_wrap=True)
    if mapped.rejections:
        raise typer.Exit(1)


@gunshot_app.command("evaluate")
def gunshot_evaluate(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Test firings laid out as …/FP<n>/test_<NNN>/test_<NNN>.{survey,allpulses}.json",
            file_okay=False,
        ),
    ],
    json_out: JsonOption = False,
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature",
            help="Air temperature °C for tests without a weather.json (default -1)",
        ),
    ] = None,
) -> None:
    """Locate every shot of a live-fire test from all its pulses and score the fixes
    against the surveyed positions (median / p90 error, share within 25 m, solve time),
    beside the vendor's own pulse choice solved the same way."""
    from safecity.processors.gunshot.evaluation import EvaluationError, evaluate

    try:
        report = evaluate(directory, temperature_c=temperature)
    except EvaluationError as exc:
        _fail(str(exc))
    if json_out:
        sys.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        console.print(report.to_table())
        for skipped in report.skipped:
            console.print(
                f"[red]skipped[/] {skipped['file']}: {skipped['field']}: {skipped['reason']}",
                soft_wrap=True,
            )
