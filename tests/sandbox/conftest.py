"""Fixtures for the sandbox: one in-process app per test, on a frozen clock.

`sandbox.advance_clock(seconds)` (or `POST /_sandbox/clock`) moves time on; the random
source is seeded, so injected faults are repeatable.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from sandbox.app import create_sandbox_app
from sandbox.grants import SCOPES, AuthorizeRequest, pkce_s256
from sandbox.ledger import Ledger
from sandbox.state import Sandbox
from tests.sandbox.apiclient import Api

START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
REDIRECT_URI = "http://127.0.0.1:8000/oauth/dinero/callback"
SCOPE = " ".join(SCOPES)
PRO_ORG = 1001
OTHER_PRO_ORG = 1002
NOT_PRO_ORG = 1003

GetTokens = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(clock=lambda: START, rng=random.Random(20261124))


@pytest.fixture
def sandbox_app(sandbox: Sandbox) -> Starlette:
    return create_sandbox_app(sandbox)


@pytest.fixture
async def sandbox_client(sandbox_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as c:
        yield c


@pytest.fixture
def get_tokens(sandbox: Sandbox, sandbox_client: httpx.AsyncClient) -> GetTokens:
    """Consents straight through the sandbox's state (no consent page) and exchanges the
    code over HTTP; answers the token endpoint's JSON."""

    async def get(scope: str = SCOPE) -> dict[str, Any]:
        verifier = secrets.token_urlsafe(48)
        code = sandbox.issue_code(
            AuthorizeRequest(
                client_id=SANDBOX_CLIENT_ID,
                redirect_uri=REDIRECT_URI,
                scopes=tuple(scope.split()),
                state="s",
                code_challenge=pkce_s256(verifier),
                response_mode="query",
            )
        )
        response = await sandbox_client.post(
            "/connect/token",
            data={
                "grant_type": "authorization_code",
                "client_id": SANDBOX_CLIENT_ID,
                "client_secret": SANDBOX_CLIENT_SECRET,
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    return get


@pytest.fixture
async def auth_headers(get_tokens: GetTokens) -> dict[str, str]:
    """`Authorization: Bearer …` for a fresh consent with every scope."""
    tokens = await get_tokens()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def api(sandbox_client: httpx.AsyncClient, auth_headers: dict[str, str]) -> Api:
    """The Dinero API of the Pro organisation `PRO_ORG`, with a token for every scope."""
    return Api(sandbox_client, auth_headers, PRO_ORG)


@pytest.fixture
def probe(sandbox_app: Starlette) -> list[int]:
    """Adds `/v1/{organizationId}/_probe` to the app: GET and POST pass the API gate, and a
    POST also records a change (the list this fixture answers) before it responds."""
    changes: list[int] = []

    async def endpoint(request: Request) -> Response:
        context = await request.app.state.sandbox.enter_api(
            request, request.path_params["organizationId"]
        )
        if request.method == "POST":
            changes.append(context.organization.id)
        return JSONResponse({"organization": context.organization.id, "changes": len(changes)})

    route = Route("/v1/{organizationId:int}/_probe", endpoint, methods=["GET", "POST", "DELETE"])
    sandbox_app.router.routes.insert(0, route)
    return changes


class Clock:
    """Stands still at `START` until a test moves `now`."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> Ledger:
    """One organisation's books on their own, without the sandbox or HTTP."""
    return Ledger(PRO_ORG, now=clock)


class HtmlForm(HTMLParser):
    """The first form on a page: its method, action, hidden fields and submit buttons."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.method = ""
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: list[tuple[str, str, str]] = []  # (name, value, label)
        self._forms = 0
        self._button: tuple[str, str] | None = None
        self._label = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._forms += 1
            if self._forms == 1:
                self.method, self.action = a.get("method", "get").lower(), a.get("action", "")
        elif self._forms == 1 and tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif self._forms == 1 and tag == "button":
            self._button, self._label = (a.get("name", ""), a.get("value", "")), ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons.append((*self._button, self._label.strip()))
            self._button = None
