"""Browser tests: a real server on loopback (uvicorn, SQLite, the whole runtime on the system
clock) and Debian's Chromium driven by Playwright, headless. Nothing is mocked."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from browser_support import LiveServer
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright

from safecity.benchmarking import free_port
from safecity.core.identity import Agency, Role, User
from safecity.demo import helsinki_settings
from safecity.runtime import Runtime, build_runtime

CHROMIUM = "/usr/bin/chromium"
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
AGENCIES = (
    Agency(id="helsinki-police", name="Helsinki Police Department", kind="police"),
    Agency(id="helsinki-rescue", name="Helsinki City Rescue Department", kind="fire"),
    Agency(id="helsinki-city", name="City of Helsinki", kind="municipality"),
)
USERS = (
    User(
        id="op-police",
        agency_id="helsinki-police",
        display_name="Police operator",
        role=Role.OPERATOR,
    ),
    User(
        id="sup-police",
        agency_id="helsinki-police",
        display_name="Police supervisor",
        role=Role.SUPERVISOR,
    ),
    User(
        id="op-rescue",
        agency_id="helsinki-rescue",
        display_name="Rescue operator",
        role=Role.OPERATOR,
    ),
    User(id="feeds", agency_id="helsinki-city", display_name="City feeds", role=Role.INTEGRATOR),
    User(id="auditor", agency_id="helsinki-city", display_name="Auditor", role=Role.AUDITOR),
)


@contextmanager
def serving(
    runtime: Runtime,
    *,
    label: str,
    start_timeout_s: float = 20.0,
    stop_timeout_s: float = 20.0,
    request_timeout_s: float = 10.0,
) -> Iterator[LiveServer]:
    """The test agencies and users (each with a token) in ``runtime``, and its API served by
    uvicorn on a free loopback port in a background thread until the block ends."""
    for agency in AGENCIES:
        runtime.identity.ensure_agency(agency)
    tokens = {}
    for user in USERS:
        runtime.identity.ensure_user(user)
        tokens[user.id] = runtime.identity.issue_token(user.id, label=label).secret
    port = free_port()
    app = runtime.api(info={"mode": label})
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", runtime, tokens, request_timeout_s)
    finally:
        srv.should_exit = True
        thread.join(stop_timeout_s)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serving(build_runtime(helsinki_settings(tmp_path / "browser.db")), label="test") as live:
        yield live


# Module scope, not session: Playwright's sync API keeps an event loop running in the main
# thread while it is open, and later test modules call asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/install-system-packages.sh")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
    yield b
    b.close()


def new_page(browser: Browser, **context: Any) -> Page:
    ctx = browser.new_context(viewport=VIEWPORT, **context)
    return ctx.new_page()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    p = new_page(browser)
    yield p
    p.context.close()
