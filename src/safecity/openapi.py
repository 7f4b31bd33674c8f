"""The committed OpenAPI document is generated from the code; CI fails when it is stale."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from safecity.core.clock import SystemClock
from safecity.runtime import build_runtime
from safecity.settings import Settings


def openapi_document() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.store.path = Path(tmp) / "openapi.db"
        runtime = build_runtime(settings, clock=SystemClock())
        try:
            schema = runtime.api(manage=False).openapi()
        finally:
            runtime.store.close()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
