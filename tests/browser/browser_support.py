"""Small helpers for the browser tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from playwright.sync_api import Page, Request, expect

from safecity.runtime import Runtime


@dataclass
class LiveServer:
    base: str
    runtime: Runtime
    tokens: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0

    def _headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def post(self, path: str, body: Any, user: str = "feeds") -> httpx.Response:
        return httpx.post(
            self.base + path, json=body, headers=self._headers(user), timeout=self.timeout_s
        )

    def put(self, path: str, body: Any, user: str) -> httpx.Response:
        return httpx.put(
            self.base + path, json=body, headers=self._headers(user), timeout=self.timeout_s
        )

    def get(self, path: str, user: str = "op-police") -> httpx.Response:
        return httpx.get(self.base + path, headers=self._headers(user), timeout=self.timeout_s)


def offline_requests(page: Page, base: str) -> list[str]:
    """Start recording requests that go anywhere but the app (they must not exist: no CDN)."""
    found: list[str] = []

    def check(request: Request) -> None:
        url = request.url
        if not (url.startswith(base) or url.startswith("data:") or url.startswith("blob:")):
            found.append(url)

    page.on("request", check)
    return found


def page_errors(page: Page) -> list[str]:
    """Start recording the page's uncaught script errors (a working console has none)."""
    found: list[str] = []
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def sign_in(page: Page, server: LiveServer, user: str) -> None:
    """Open the console and sign in with ``user``'s token; returns once the stream is live."""
    page.goto(f"{server.base}/console/")
    page.get_by_label("Access token").fill(server.tokens[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#who-name")).to_be_visible()
    expect(page.locator("#live-state")).to_have_text("live", timeout=5000)
