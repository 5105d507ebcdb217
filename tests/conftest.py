"""Fixtures on real Postgres and Redis.

Each run creates its own database (random name) from `DATABASE_URL`'s server, migrates it
once and drops it at the end; each test that touches the database starts from empty tables.
Redis gets a database number of its own for the run, claimed so that parallel runs on one
server never share one, and flushed at the end.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis as sync_redis
from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from gateway.db import Pool, connect, create_pool
from gateway.dinero.oauth import VismaConnect
from gateway.migrate import migrate
from gateway.queue import create_redis
from gateway.ratelimit import BookingLock, RateBudget
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings
from gateway.vault import Vault
from sandbox.state import ACCESS_TOKEN_PREFIX, REFRESH_TOKEN_PREFIX, Faults
from tenants.dinero.poster import Poster
from tests.live import LiveSandbox, live_sandbox
from web.app import create_app

_CLAIM_KEY = "gateway:test-run-claim"


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path))


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    url = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    return _with_path(url, "/postgres")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database number nobody else uses during this run."""
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    run_id = secrets.token_hex(8)
    for number in range(15, 0, -1):
        url = _with_path(base, f"/{number}")
        client = sync_redis.Redis.from_url(url)
        try:
            if client.dbsize() == 0 and client.set(_CLAIM_KEY, run_id, nx=True, ex=3600):
                try:
                    yield url
                finally:
                    client.flushdb()
                return
        finally:
            client.close()
    pytest.fail("no empty Redis database (1-15) to run the tests in")


@pytest.fixture(scope="session")
async def database_url(admin_database_url: str) -> AsyncIterator[str]:
    name = f"gateway_test_{secrets.token_hex(6)}"
    admin = await connect(admin_database_url, application_name="gateway-tests")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = _with_path(admin_database_url, f"/{name}")
        await migrate(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="session")
def settings(database_url: str, redis_url: str) -> Settings:
    return Settings.from_env(
        {"GATEWAY_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    )


@pytest.fixture(scope="session")
async def session_pool(settings: Settings) -> AsyncIterator[Pool]:
    pool = await create_pool(settings.database_url, application_name="gateway-tests")
    yield pool
    await pool.close()


@pytest.fixture
async def pool(session_pool: Pool) -> AsyncIterator[Pool]:
    """The run's pool, with every table emptied after the test. Before that, whatever the
    test did to documents, the counts the triggers keep must equal counting them afresh
    (`tenants.outbox.counts`)."""
    yield session_pool
    try:
        drift = await session_pool.fetch(_COUNT_DRIFT)
        assert not drift, f"document counts drifted from the documents: {drift}"
        drift = await session_pool.fetch(_TOTAL_DRIFT)
        assert not drift, f"document totals drifted from the documents: {drift}"
        drift = await session_pool.fetch(_CONNECTION_DRIFT)
        assert not drift, f"documents per connection drifted from the documents: {drift}"
    finally:
        await _empty_tables(session_pool)


_COUNT_DRIFT = """
    SELECT coalesce(k.shop_id, d.shop_id) AS shop_id, coalesce(k.kind, d.kind) AS kind,
           coalesce(k.state, d.state) AS state, k.n AS kept, d.n AS counted
    FROM (SELECT shop_id, kind, state, sum(n) AS n FROM document_counts
          GROUP BY shop_id, kind, state HAVING sum(n) <> 0) k
    FULL JOIN (SELECT shop_id, kind, state, count(*) AS n FROM documents
               GROUP BY shop_id, kind, state) d
      ON (k.shop_id, k.kind, k.state) = (d.shop_id, d.kind, d.state)
    WHERE k.n IS DISTINCT FROM d.n
"""

_TOTAL_DRIFT = """
    SELECT coalesce(k.kind, d.kind) AS kind, coalesce(k.state, d.state) AS state,
           k.n AS kept, d.n AS counted
    FROM (SELECT kind, state, sum(n) AS n FROM document_totals
          GROUP BY kind, state HAVING sum(n) <> 0) k
    FULL JOIN (SELECT kind, state, count(*) AS n FROM documents GROUP BY kind, state) d
      ON (k.kind, k.state) = (d.kind, d.state)
    WHERE k.n IS DISTINCT FROM d.n
"""

_CONNECTION_DRIFT = """
    SELECT coalesce(k.connection_id, d.connection_id) AS connection_id,
           coalesce(k.state, d.state) AS state, k.n AS kept, d.n AS counted
    FROM (SELECT connection_id, state, sum(n) AS n FROM connection_document_counts
          GROUP BY connection_id, state HAVING sum(n) <> 0) k
    FULL JOIN (SELECT s.connection_id, d.state, count(*) AS n FROM documents d
               JOIN shops s ON s.id = d.shop_id WHERE s.connection_id IS NOT NULL
               GROUP BY s.connection_id, d.state) d
      ON (k.connection_id, k.state) = (d.connection_id, d.state)
    WHERE k.n IS DISTINCT FROM d.n
"""


async def _empty_tables(session_pool: Pool) -> None:
    tables = await session_pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'schema_migrations'"
    )
    names = ", ".join(f'"{t["tablename"]}"' for t in tables)
    await session_pool.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    """The run's Redis database, emptied (but for the run's claim) before and after the
    test: a test that wrote to Redis without asking for this fixture (an app's cache, a
    job) must not decide what the next one sees."""
    client = create_redis(settings.redis_url)
    await _empty(client)
    yield client
    await _empty(client)
    await client.aclose()


async def _empty(client: ArqRedis) -> None:
    claim = await client.get(_CLAIM_KEY)
    await client.flushdb()
    if claim:
        await client.set(_CLAIM_KEY, claim, ex=3600)


@pytest.fixture
def vault(settings: Settings) -> Vault:
    return Vault(settings.token_keys)


class _WithState:
    """Hands the lifespan's state to each request, as a server would."""

    def __init__(self, app: Starlette, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = dict(self.state)
        await self.app(scope, receive, send)


async def app_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, dict(state or {})))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


@pytest.fixture
async def client(
    settings: Settings, pool: Pool, redis: ArqRedis
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to `create_app(settings)` in-process, lifespan and all."""
    async for c in app_client(create_app(settings)):
        yield c


@pytest.fixture
async def sandbox_server() -> AsyncIterator[LiveSandbox]:
    """A fresh Dinero sandbox on real uvicorn (own port, real clock)."""
    async with live_sandbox() as live:
        yield live


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def visma(http: httpx.AsyncClient, sandbox_server: LiveSandbox) -> VismaConnect:
    return VismaConnect(
        http,
        auth_url=sandbox_server.url,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=Secret(SANDBOX_CLIENT_SECRET),
    )


class _TokenLeakWatch(logging.Handler):
    """Sees every log record of the run and remembers any that carries a sandbox token."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + repr(record.exc_info[1])
        if ACCESS_TOKEN_PREFIX in text or REFRESH_TOKEN_PREFIX in text:
            self.leaks.append(f"{record.name}: {text[:300]}")


@pytest.fixture(scope="session", autouse=True)
def no_token_in_any_log_line() -> Iterator[None]:
    """Across the whole suite, no log line (at any level) shows an access or refresh token."""
    root = logging.getLogger()
    watch, level = _TokenLeakWatch(), root.level
    root.addHandler(watch)
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(watch)
    root.setLevel(level)
    assert not watch.leaks, "tokens reached the logs:\n" + "\n".join(watch.leaks)


# --- posting against the sandbox (tests/tenants/posting/: posting, payments, vouchers) ------


Call = tuple[str, str, int | None]


@pytest.fixture
def calls() -> list[Call]:
    """Every Dinero call the `poster` fixture's attempts make: (method, path, status)."""
    return []


@pytest.fixture
def poster(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    redis: ArqRedis,
    sandbox_server: LiveSandbox,
    calls: list[Call],
) -> Poster:
    """What a worker posts with, against the sandbox, counting its calls in `calls`; the
    production PDF policy (`pdf_policy` None)."""
    return Poster(
        pool=pool,
        vault=vault,
        visma=visma,
        http=http,
        budget=RateBudget(redis),
        bookings=BookingLock(redis),
        api_url=sandbox_server.url,
        client_id=SANDBOX_CLIENT_ID,
        worker_id="test-worker",
        on_call=lambda method, path, status: calls.append((method, path, status)),
    )


@pytest.fixture
def no_faults_left(sandbox_server: LiveSandbox) -> Iterator[None]:
    """The shared sandbox without the faults a test set, for the next test."""
    yield
    sandbox_server.sandbox.faults = Faults()
