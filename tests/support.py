"""Helpers for API tests: a client with a token per role, and waiting for correlation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from safecity.core.identity import Role
from safecity.runtime import Runtime

#: The shared interoperability test vectors (`../shared` beside the clone, in CI too).
INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "interop"


@dataclass
class Api:
    client: TestClient
    tokens: dict[Role, str]

    def h(self, role: Role = Role.OPERATOR, purpose: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if purpose:
            headers["X-Safecity-Purpose"] = purpose
        return headers


def settle(api: Api, runtime: Runtime) -> None:
    """Wait (in the app's own loop) until correlation has processed every accepted event."""
    portal = api.client.portal
    assert portal is not None
    assert portal.call(runtime.settle, 10.0)
