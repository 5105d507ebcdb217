"""Browser tests: Playwright drives Debian's Chromium against the gateway and the Dinero
sandbox, both on real uvicorn, with a real arq worker posting the documents.

Playwright's async API, inside the session's event loop (pytest-asyncio, session loop
scope), not the sync API in a thread. The app, the sandbox, the worker and the tests' asyncpg
pool all live in that one loop, and an asyncpg connection cannot be used from any other. So a
test awaits the browser, the database and the sandbox alike, and whenever it waits on the
browser the loop is free to serve the pages the browser asks for. The sync API would need a
thread with a loop of its own, and every database check a hop back into this one.

Tests skip when `/usr/bin/chromium` is absent; nothing here runs `playwright install`.
Every run takes screenshots (1280×800) of the main pages. They land in `docs/screenshots/`
(which the README shows) only when `GATEWAY_SCREENSHOTS=1` (`make screenshots`), so that an
ordinary `make test` or CI run leaves the checkout clean; otherwise in a temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar
from uuid import UUID

import httpx
import pytest
from arq.connections import ArqRedis
from arq.worker import Worker
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    ViewportSize,
    async_playwright,
    expect,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.db import Pool
from gateway.localservices import free_port
from gateway.mail import parse_smtp_url
from gateway.secret import Secret
from gateway.settings import Settings
from tenants.shops.ingest_secrets import SIGNATURE_HEADER, sign
from tests.factories import PASSWORD
from tests.live import LiveSandbox, live_sandbox, serve
from tests.web.test_ingest import event
from web.app import create_app
from workers.settings import build_worker

CHROMIUM: Final = Path("/usr/bin/chromium")
SCREENSHOTS: Final = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("GATEWAY_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "gateway-screenshots"
)
VIEWPORT: Final = ViewportSize(width=1280, height=800)
# Generous for a page or a redirect chain on a busy machine; the checks that are about
# timing (the 15 s for a revoked grant to show) set their own.
STEP_TIMEOUT_MS: Final = 10_000

T = TypeVar("T")


# --- the running system ---------------------------------------------------------------------


class _KnowsItsAddress:
    """uvicorn picks the free port when it starts, but the app must know its own address (the
    OAuth redirect URI is `settings.base_url` + the callback path). Once it is known, every
    request sees the settings with it filled in; the lifespan only needs the rest."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.settings: Settings | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.settings is not None:
            scope["state"] = {**scope.get("state", {}), "settings": self.settings}
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings) -> AsyncIterator[Worker]:
    """One arq worker (jobs and crons, the document sweeper among them) in this loop."""
    worker = build_worker(settings, poll_delay=0.05, handle_signals=False)
    task = asyncio.create_task(worker.async_run())
    try:
        yield worker
    finally:
        # Stop polling (no new jobs), let the jobs already running finish, then close: that
        # runs `on_shutdown`, which closes the worker's pool and HTTP client.
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        running = [t for t in worker.tasks.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=30)
        await worker.close()


@dataclass(frozen=True)
class Stack:
    """The gateway (`url`), the sandbox, and an HTTP client for what a browser does not do."""

    url: str
    sandbox: LiveSandbox
    settings: Settings
    http: httpx.AsyncClient

    async def revoke(self, organization_id: int) -> None:
        """Revokes every grant of the organisation, as a user would in Visma's portal."""
        answer = await self.http.post(
            f"{self.sandbox.url}/_sandbox/organizations/{organization_id}/revoke"
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["revoked_grants"] >= 1

    async def invoices(self, organization_id: int) -> list[dict[str, Any]]:
        answer = await self.http.get(
            f"{self.sandbox.url}/_sandbox/organizations/{organization_id}/invoices"
        )
        assert answer.status_code == 200, answer.text
        invoices: list[dict[str, Any]] = answer.json()
        return invoices

    async def mails(self) -> list[dict[str, Any]]:
        """What the sandbox's mail sink received from the gateway, as `gateway dev` shows it."""
        answer = await self.http.get(f"{self.sandbox.url}/_sandbox/mail.json")
        assert answer.status_code == 200, answer.text
        mails: list[dict[str, Any]] = answer.json()
        return mails

    async def post_order(self, shop_id: UUID, secret: Secret, **changes: Any) -> int:
        """Sends a signed `order.paid` event as the shop would (DESIGN.md's example, with
        `changes` as `tests.web.test_ingest.event` takes them); returns its invoice's (or
        voucher's) id."""
        body = json.dumps(event(**changes)).encode()
        answer = await self.http.post(
            f"{self.url}/api/v1/shops/{shop_id}/events",
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            },
        )
        assert answer.status_code == 202, answer.text
        document_id: int = answer.json()["documents"][0]["id"]
        return document_id


@pytest.fixture
async def stack(settings: Settings, pool: Pool, redis: ArqRedis) -> AsyncIterator[Stack]:
    """A fresh sandbox (with its mail sink, as under `gateway dev`), the gateway wired to it,
    and a worker. Depends on `pool` and `redis` so it stops before they empty the database
    and Redis."""
    smtp_port = free_port()
    async with live_sandbox(smtp_port=smtp_port) as sandbox, httpx.AsyncClient() as http:
        wired = replace(
            settings,
            dinero_auth_url=sandbox.url,
            dinero_api_url=sandbox.url,
            shopify_shop_url=f"{sandbox.url}/_shopify/{{shop}}",
            smtp=parse_smtp_url(f"smtp://127.0.0.1:{smtp_port}"),
        )
        app = _KnowsItsAddress(create_app(wired))
        async with serve(app, lifespan="on") as url:
            app.settings = replace(wired, base_url=url)
            async with running_worker(app.settings):
                yield Stack(url=url, sandbox=sandbox, settings=app.settings, http=http)


# --- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _needs_chromium() -> None:
    """Skips before anything is started (autouse fixtures come first in their scope, and
    session fixtures before the others)."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    # Chromium refuses to start its sandbox as root (containers, CI); elsewhere keep it.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield launched
        finally:
            await launched.close()


class OpenPage(Protocol):
    async def __call__(self, *, locale: str = "en-GB") -> Page: ...


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[OpenPage]:
    """A page in a new browser context (own cookies: one per person), closed after the test.

    The locale decides the language the gateway answers in (`Accept-Language`); `en-GB`
    keeps the texts the tests look for stable.
    """
    contexts: list[BrowserContext] = []

    async def open_(*, locale: str = "en-GB") -> Page:
        context = await browser.new_context(viewport=VIEWPORT, locale=locale)
        context.set_default_timeout(STEP_TIMEOUT_MS)
        contexts.append(context)
        return await context.new_page()

    yield open_
    for context in contexts:
        await context.close()


async def shoot(page: Page, name: str, *, top: Locator | None = None) -> None:
    """Saves what the viewport shows as `docs/screenshots/<name>.png`, scrolled so that `top`
    (when given) starts at the top of the picture."""
    if top is not None:
        await top.evaluate("element => element.scrollIntoView({block: 'start'})")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png")


async def log_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Fills the visible fields of the login form (its form token is a hidden field the page
    brought) and waits until the browser has left the login page."""
    if not page.url.startswith(f"{base_url}/login"):
        await page.goto(f"{base_url}/login")
    form = page.locator('form[action="/login"]')
    await form.locator('input[name="email"]').fill(email)
    await form.locator('input[name="password"]').fill(password)
    await form.locator('button[type="submit"]').click()
    await page.wait_for_url(lambda url: "/login" not in url)


async def approve_and_pick(
    page: Page,
    organization_id: int,
    *,
    consent_shot: str | None = None,
    pick_shot: str | None = None,
) -> None:
    """On the sandbox's consent page: Approve; on the gateway's organisation picker: choose
    `organization_id` and Connect; then wait for the shop page to show the connection."""
    approve = page.get_by_role("button", name="Approve")
    await expect(approve).to_be_visible()
    if consent_shot:
        await shoot(page, consent_shot)
    await approve.click()
    await page.wait_for_url("**/oauth/dinero/flows/*")
    await page.locator(f'input[name="organization_id"][value="{organization_id}"]').check()
    if pick_shot:
        await shoot(page, pick_shot)
    await page.locator('form[action^="/oauth/dinero/flows/"] button[type="submit"]').click()
    await page.wait_for_url("**/shops/*")
    await expect(page.locator("#connection [data-status=active]")).to_be_visible()


# --- waiting on what is not in the browser --------------------------------------------------


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float, what: str, every: float = 0.1
) -> T:
    """`probe()`'s first truthy answer, asked every `every` seconds for at most `within`."""
    deadline = time.monotonic() + within
    while True:
        answer = await probe()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within:g} s: {what}")
        await asyncio.sleep(every)


async def document_in_state(pool: Pool, document_id: int, state: str) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM documents WHERE id = $1", document_id)
    return dict(row) if row is not None and row["state"] == state else None


# --- timings, shown at the end of the run ---------------------------------------------------

_TIMINGS = pytest.StashKey[list[str]]()


class Timings:
    def __init__(self, lines: list[str]) -> None:
        self._lines = lines

    def record(self, what: str, seconds: float) -> None:
        self._lines.append(f"{what}: {seconds:.1f} s")


@pytest.fixture
def timings(request: pytest.FixtureRequest) -> Timings:
    return Timings(request.config.stash.setdefault(_TIMINGS, []))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    lines = config.stash.get(_TIMINGS, [])
    if lines:
        terminalreporter.section("browser timings")
        for line in lines:
            terminalreporter.write_line(line)
