"""Batch import of history files through an adapter's mapping, resumable after a stop."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safecity.adapters.base import MappingContext
from safecity.core.clock import Clock
from safecity.core.errors import InvalidInput
from safecity.core.identity import Principal
from safecity.ingest.adapters import AdapterIntake, map_input
from safecity.ingest.service import IngestService


@dataclass
class ImportTotals:
    files: int = 0
    skipped_files: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    refused_files: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Checkpoint:
    """A JSON file remembering, per input file's SHA-256, how many of its events are stored.

    Written atomically (write then rename) after every chunk, so a stop loses at most one chunk
    of progress, and re-importing that chunk stores nothing twice (ids are idempotent).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.state: dict[str, dict[str, Any]] = {}
        if path is not None and path.exists():
            self.state = json.loads(path.read_text())

    def done(self, digest: str) -> int:
        return int(self.state.get(digest, {}).get("done", 0))

    def complete(self, digest: str) -> bool:
        return bool(self.state.get(digest, {}).get("complete", False))

    def record(self, digest: str, name: str, done: int, *, complete: bool = False) -> None:
        self.state[digest] = {"file": name, "done": done, "complete": complete}
        if self.path is not None:
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
            tmp.replace(self.path)


async def import_files(
    files: list[Path],
    *,
    adapter: str,
    intake: AdapterIntake,
    ingest: IngestService,
    clock: Clock,
    principal: Principal,
    checkpoint: Checkpoint,
    chunk: int = 1000,
    progress: Callable[[str, int, int], None] | None = None,
) -> ImportTotals:
    """Map each file with ``adapter`` (an adapter or configured instance) and store its events
    in chunks; refused records and files are dead-lettered; finished files are skipped."""
    instance = intake.resolve(adapter)
    totals = ImportTotals()
    for path in files:
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if checkpoint.complete(digest):
            totals.skipped_files += 1
            continue
        totals.files += 1
        channel = f"{instance.name} import:{path.name}"
        context = MappingContext(received_at=clock.now(), config=instance.config, origin=path.name)
        try:
            mapped = map_input(instance.adapter, raw, context)
        except InvalidInput as exc:
            letter = await ingest.dead_letter_raw(
                raw[:1_048_576],
                channel=channel,
                content_type=None,
                errors=exc.errors,
                source=path.name,
            )
            totals.refused_files.append(
                {
                    "file": str(path),
                    "dead_letter_id": letter,
                    "errors": [e.as_dict() for e in exc.errors],
                }
            )
            checkpoint.record(digest, path.name, 0, complete=True)
            continue
        start = checkpoint.done(digest)
        if start == 0:
            for part in mapped.rejections:
                await ingest.dead_letter_raw(
                    part.raw,
                    channel=channel,
                    content_type=None,
                    errors=list(part.errors),
                    source=path.name,
                )
            totals.rejected += len(mapped.rejections)
        events = mapped.events
        for offset in range(start, len(events), chunk):
            batch = await ingest.ingest_events(
                events[offset : offset + chunk], principal=principal, channel=channel
            )
            totals.accepted += batch.count("accepted")
            totals.duplicates += batch.count("duplicate")
            totals.rejected += batch.count("rejected")
            done = min(offset + chunk, len(events))
            checkpoint.record(digest, path.name, done)
            if progress is not None:
                progress(path.name, done, len(events))
        checkpoint.record(digest, path.name, len(events), complete=True)
    return totals
