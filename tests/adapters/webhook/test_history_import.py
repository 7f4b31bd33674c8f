"""Batch import of history through a mapping: progress, refusals kept, resumable after a stop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safecity.cli import app
from safecity.core.identity import Principal, Purpose, Role
from safecity.ingest.history import Checkpoint, import_files
from safecity.runtime import build_runtime
from safecity.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "adapters" / "examples"
ADMIN = Principal("importer", "city", Role.ADMIN, Purpose.SYSTEM_OPERATIONS)


def history_csv(path: Path, rows: int) -> Path:
    lines = ["controller;code;ts;easting;northing;level"]
    lines += [
        f"HKI-L-{i:04d};L;21.11.2025 14:{i % 60:02d}:00;385812;6672091;{i % 100}"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Stop(Exception):
    pass


def test_an_interrupted_import_resumes_without_storing_twice(tmp_path: Path) -> None:
    settings = Settings(
        adapters=[
            {"type": "webhook", "name": "lamps", "include": str(EXAMPLES / "lamp-controller.toml")}
        ]
    )
    settings.store.path = tmp_path / "h.db"
    source = history_csv(tmp_path / "lamps-2025.csv", 25)
    checkpoint_file = tmp_path / "import.json"

    async def run(stop_after: int | None) -> dict[str, object]:
        runtime = build_runtime(settings)
        await runtime.start()

        def progress(_: str, done: int, __: int) -> None:
            if stop_after is not None and done >= stop_after:
                raise Stop

        try:
            totals = await import_files(
                [source],
                adapter="lamps",
                intake=runtime.adapters,
                ingest=runtime.ingest,
                clock=runtime.clock,
                principal=ADMIN,
                checkpoint=Checkpoint(checkpoint_file),
                chunk=10,
                progress=progress,
            )
            return totals.as_dict() | {"stored": runtime.store.count_events()}
        finally:
            await runtime.stop()

    with pytest.raises(Stop):
        asyncio.run(run(stop_after=10))
    state = json.loads(checkpoint_file.read_text())
    assert [v["done"] for v in state.values()] == [10]
    second = asyncio.run(run(stop_after=None))
    assert (second["accepted"], second["duplicates"], second["stored"]) == (15, 0, 25)
    third = asyncio.run(run(stop_after=None))
    assert (third["files"], third["skipped_files"], third["stored"]) == (0, 1, 25)


def test_import_command_with_a_mapping_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(EXAMPLES / "lamp-controller.csv"),
            "--adapter",
            "webhook",
            "--mapping",
            str(EXAMPLES / "lamp-controller.toml"),
            "--db",
            str(tmp_path / "c.db"),
            "--checkpoint",
            str(tmp_path / "cp.json"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    totals = json.loads(result.output.strip().splitlines()[-1])
    assert (totals["accepted"], totals["rejected"]) == (3, 2)


def test_an_unreadable_file_is_refused_and_kept(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_bytes(b"{not json")
    result = CliRunner().invoke(
        app,
        [
            "import",
            str(bad),
            "--adapter",
            "webhook",
            "--mapping",
            str(EXAMPLES / "noise-monitor.toml"),
            "--db",
            str(tmp_path / "c.db"),
            "--json",
        ],
    )
    totals = json.loads(result.output.strip().splitlines()[-1])
    assert totals["refused_files"][0]["errors"][0]["field"] == "body"
    assert totals["refused_files"][0]["dead_letter_id"] >= 1
