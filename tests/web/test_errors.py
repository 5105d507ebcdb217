"""Postgres away: pages answer the 503 page and the ingest API 503 problem+json, both with
`Retry-After`, never a 500."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from gateway.secret import Secret
from gateway.settings import Settings
from tests.conftest import app_client
from tests.web.test_ingest import event, post
from web import auth
from web.app import create_app
from web.errors import RETRY_AFTER

FAILURES = [
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    OSError("Multiple exceptions: [Errno 111] Connect call failed"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
    asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
    TimeoutError(),
]


class DownPool:
    """Stands in for the pool while Postgres is away: every way in raises `failure`."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def acquire(self, **_: Any) -> DownPool:
        return self

    async def __aenter__(self) -> None:
        raise self.failure

    async def __aexit__(self, *_: object) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        async def fail(*_: object, **__: object) -> None:
            raise self.failure

        return fail


@pytest.fixture(params=FAILURES, ids=lambda failure: type(failure).__name__)
async def down(
    request: pytest.FixtureRequest, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app whose pool fails the way `request.param` says."""
    async for client in app_client(create_app(settings)):
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        transport.app.state["pool"] = DownPool(request.param)  # type: ignore[attr-defined]
        transport.raise_app_exceptions = False
        yield client


async def test_ingest_answers_503_with_retry_after(down: httpx.AsyncClient) -> None:
    response = await post(down, uuid4(), Secret("whsec_any"), event())
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(RETRY_AFTER)
    problem = response.json()
    assert (problem["status"], problem["title"]) == (503, "Temporarily unavailable")
    assert "Retry-After" in problem["detail"]


async def test_a_dashboard_page_answers_the_unavailable_page(down: httpx.AsyncClient) -> None:
    down.cookies.set(auth.COOKIE, "a-session-the-database-would-know")
    response = await down.get("/")
    assert response.status_code == 503
    assert response.headers["retry-after"] == str(RETRY_AFTER)
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Temporarily unavailable</h1>" in response.text
    assert "cannot reach its database" in response.text
    assert response.headers["content-security-policy"]
    # Scripts only from files (the strict CSP allows no inline script).
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)


async def test_the_unavailable_page_speaks_danish(settings: Settings) -> None:
    async for client in app_client(create_app(settings)):
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        transport.app.state["pool"] = DownPool(ConnectionRefusedError())  # type: ignore[attr-defined]
        client.cookies.set(auth.COOKIE, "a-session")
        response = await client.get("/", headers={"Accept-Language": "da"})
    assert response.status_code == 503
    assert "<h1>Midlertidigt utilgængelig</h1>" in response.text
    assert "kan ikke nå sin database" in response.text


async def test_an_outage_is_logged_once_not_per_request(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async for client in app_client(create_app(settings)):
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        transport.app.state["pool"] = DownPool(ConnectionRefusedError())  # type: ignore[attr-defined]
        with caplog.at_level(logging.WARNING, logger="web.errors"):
            for _ in range(3):
                response = await post(client, uuid4(), Secret("whsec_any"), event())
                assert response.status_code == 503
    lines = [r.getMessage() for r in caplog.records if r.name == "web.errors"]
    assert len(lines) == 1
    assert lines[0].startswith("Postgres unavailable (ConnectionRefusedError")
    assert "Traceback" not in caplog.text
