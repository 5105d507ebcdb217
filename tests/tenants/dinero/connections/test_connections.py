"""The connection lifecycle against the sandbox over real HTTP: refresh under a row lock,
one refresh for many waiters, lost answers, revocation, the refresh cron, shared
organisations."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from gateway.db import Pool
from gateway.dinero.client import DineroClient
from gateway.dinero.oauth import VismaConnect, new_pkce
from gateway.rotation import rotate_keys
from gateway.secret import Secret
from gateway.settings import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, Settings, TokenKey
from gateway.vault import Vault
from sandbox.state import (
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    SCOPES,
    AuthorizeRequest,
    Sandbox,
    TokenPolicy,
)
from tenants.dinero.connections import linking
from tenants.dinero.connections import service as connections
from tenants.shops import repository as shops
from tests.factories import make_shop
from tests.live import LiveSandbox, live_sandbox
from workers.connections import refresh_due

REDIRECT_URI = "http://127.0.0.1:8000/oauth/dinero/callback"


def refreshes(sandbox: Sandbox, outcome: str | None = None) -> int:
    return sum(
        n
        for (grant_type, result), n in sandbox.stats.token_requests.items()
        if grant_type == "refresh_token" and (outcome is None or result == outcome)
    )


async def consent(live: LiveSandbox, visma: VismaConnect, *, now: datetime) -> Any:
    """What one click on Approve gives: a token set from Visma."""
    pkce = new_pkce()
    code = live.sandbox.issue_code(
        AuthorizeRequest(
            client_id=SANDBOX_CLIENT_ID,
            redirect_uri=REDIRECT_URI,
            scopes=SCOPES,
            state="state",
            code_challenge=pkce.challenge,
            response_mode="query",
        )
    )
    return await visma.exchange_code(
        code=code, redirect_uri=REDIRECT_URI, code_verifier=pkce.verifier, now=now
    )


async def connect(
    pool: Pool,
    vault: Vault,
    live: LiveSandbox,
    visma: VismaConnect,
    *,
    shop: shops.Shop | None = None,
    organization_id: int = 1001,
    now: datetime | None = None,
) -> tuple[shops.Shop, UUID]:
    now = now or live.sandbox.now()
    if shop is None:
        shop, _, _ = await make_shop(pool, vault)
    tokens = await consent(live, visma, now=now)
    grant = linking.Grant(
        organization_id=organization_id,
        organization_name=live.sandbox.organizations[organization_id].name,
        is_pro=True,
        tokens=tokens,
    )
    async with pool.acquire() as conn, conn.transaction():
        connection_id = await linking.connect_shop(
            conn, vault, shop_id=shop.id, grant=grant, user_id=None, now=now
        )
    return shop, connection_id


async def expire(pool: Pool, live: LiveSandbox, connection_id: UUID, now: datetime) -> None:
    live.sandbox.expire_access_tokens()
    await pool.execute(
        "UPDATE dinero_connections SET access_expires_at = $2 WHERE id = $1",
        connection_id,
        now - timedelta(minutes=1),
    )


async def works(http: httpx.AsyncClient, live: LiveSandbox, token: Secret) -> bool:
    organizations = await DineroClient(http, live.url, token).organizations()
    return bool(organizations)


async def test_a_fresh_token_is_used_as_it_is(
    pool: Pool, vault: Vault, sandbox_server: LiveSandbox, visma: VismaConnect
) -> None:
    _, connection_id = await connect(pool, vault, sandbox_server, visma)
    now = sandbox_server.sandbox.now()
    token = await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    assert refreshes(sandbox_server.sandbox) == 0
    assert token.reveal().startswith("sbx_at_")


async def test_fifty_callers_on_an_expired_token_cause_one_refresh(
    pool: Pool, vault: Vault, http: httpx.AsyncClient, visma: VismaConnect
) -> None:
    # One-time mode with no grace: a second refresh with the same token would kill the grant.
    async with live_sandbox(Sandbox(policy=TokenPolicy(grace_seconds=0))) as live:
        visma = VismaConnect(
            http,
            auth_url=live.url,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=Secret(SANDBOX_CLIENT_SECRET),
        )
        _, connection_id = await connect(pool, vault, live, visma)
        now = live.sandbox.now()
        await expire(pool, live, connection_id, now)

        tokens = await asyncio.gather(
            *(
                connections.access_token_for(pool, vault, visma, connection_id, now=now)
                for _ in range(50)
            )
        )

        assert refreshes(live.sandbox) == 1
        assert len({t.reveal() for t in tokens}) == 1
        assert await works(http, live, tokens[0])


async def test_two_processes_on_an_expired_token_cause_one_refresh(
    pool: Pool, vault: Vault, settings: Settings, http: httpx.AsyncClient
) -> None:
    async with live_sandbox(Sandbox(policy=TokenPolicy(grace_seconds=0))) as live:
        visma = VismaConnect(
            http,
            auth_url=live.url,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=Secret(SANDBOX_CLIENT_SECRET),
        )
        _, connection_id = await connect(pool, vault, live, visma)
        await expire(pool, live, connection_id, live.sandbox.now())

        command = [
            sys.executable,
            "-m",
            "tests.refresh_race",
            settings.database_url,
            live.url,
            str(connection_id),
            "25",
        ]
        procs = [
            await asyncio.create_subprocess_exec(
                *command, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [await p.communicate() for p in procs]
        for proc, (_, err) in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, err.decode()
        seen = {token for out, _ in outputs for token in json.loads(out)}

        assert refreshes(live.sandbox) == 1
        assert len(seen) == 1
        assert await works(http, live, Secret(seen.pop()))


async def test_a_lost_refresh_answer_is_retried_with_the_same_token(
    pool: Pool, vault: Vault, sandbox_server: LiveSandbox, http: httpx.AsyncClient
) -> None:
    class LoseFirstTokenAnswer(httpx.AsyncBaseTransport):
        """Lets the first refresh reach Visma, then drops its answer on the floor."""

        def __init__(self) -> None:
            self.inner = httpx.AsyncHTTPTransport()
            self.lost = 0

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            response = await self.inner.handle_async_request(request)
            is_refresh = b"grant_type=refresh_token" in request.content
            if request.url.path == "/connect/token" and is_refresh and not self.lost:
                self.lost += 1
                await response.aclose()
                raise httpx.ReadError("connection reset by peer", request=request)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    transport = LoseFirstTokenAnswer()
    async with httpx.AsyncClient(transport=transport) as lossy:
        visma = VismaConnect(
            lossy,
            auth_url=sandbox_server.url,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=Secret(SANDBOX_CLIENT_SECRET),
        )
        _, connection_id = await connect(pool, vault, sandbox_server, visma)
        now = sandbox_server.sandbox.now()
        await expire(pool, sandbox_server, connection_id, now)
        token = await connections.access_token_for(pool, vault, visma, connection_id, now=now)

    assert transport.lost == 1
    assert refreshes(sandbox_server.sandbox, "ok") == 2  # the lost one, and its retry
    assert await works(http, sandbox_server, token)
    # The stored refresh token is the live one: the next refresh works too.
    await expire(pool, sandbox_server, connection_id, now)
    visma = VismaConnect(
        http,
        auth_url=sandbox_server.url,
        client_id=SANDBOX_CLIENT_ID,
        client_secret=Secret(SANDBOX_CLIENT_SECRET),
    )
    again = await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    assert await works(http, sandbox_server, again)


async def test_revocation_parks_the_connection_and_stops_refreshing(
    pool: Pool,
    vault: Vault,
    sandbox_server: LiveSandbox,
    visma: VismaConnect,
    settings: Settings,
    http: httpx.AsyncClient,
) -> None:
    shop, connection_id = await connect(pool, vault, sandbox_server, visma)
    second, _ = await connect(pool, vault, sandbox_server, visma)  # same organisation
    now = sandbox_server.sandbox.now()
    sandbox_server.sandbox.revoke_organization(1001)
    await expire(pool, sandbox_server, connection_id, now)

    with pytest.raises(connections.NeedsReconnect):
        await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    connection = await connections.get(pool, connection_id)
    assert connection is not None and connection.status == "needs_reconnect"
    assert refreshes(sandbox_server.sandbox) == 1
    events = await pool.fetch(
        "SELECT shop_id, level FROM events WHERE kind = 'connection.needs_reconnect'"
    )
    assert {e["shop_id"] for e in events} == {shop.id, second.id}
    assert {e["level"] for e in events} == {"error"}

    # An hour of cron runs, a minute apart: not one more call to Visma.
    ctx = {"pool": pool, "vault": vault, "visma": visma, "settings": settings, "http": http}
    for minute in range(60):
        counts = await refresh_due(ctx, now=now + timedelta(minutes=minute))
        assert counts["due"] == 0
    with pytest.raises(connections.NeedsReconnect):
        await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    assert refreshes(sandbox_server.sandbox) == 1

    # One reconnect cures it, for both shops on the organisation.
    _, again = await connect(pool, vault, sandbox_server, visma, shop=shop)
    assert again == connection_id
    connection = await connections.get(pool, connection_id)
    assert connection is not None and connection.status == "active"
    token = await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    assert await works(http, sandbox_server, token)


async def test_a_token_dinero_refuses_is_refreshed_once(
    pool: Pool, vault: Vault, sandbox_server: LiveSandbox, visma: VismaConnect
) -> None:
    _, connection_id = await connect(pool, vault, sandbox_server, visma)
    now = sandbox_server.sandbox.now()
    rejected = await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    fresh = await connections.access_token_for(
        pool, vault, visma, connection_id, now=now, rejected=rejected
    )
    assert fresh != rejected
    # A second caller that saw the same 401 finds the new token instead of refreshing again.
    same = await connections.access_token_for(
        pool, vault, visma, connection_id, now=now, rejected=rejected
    )
    assert same == fresh
    assert refreshes(sandbox_server.sandbox) == 1


async def test_visma_being_away_backs_off_and_keeps_a_valid_token(
    pool: Pool,
    vault: Vault,
    sandbox_server: LiveSandbox,
    visma: VismaConnect,
    http: httpx.AsyncClient,
) -> None:
    _, connection_id = await connect(pool, vault, sandbox_server, visma)
    now = sandbox_server.sandbox.now()
    away = VismaConnect(
        http,
        auth_url="http://127.0.0.1:1",  # nothing listens: refused before anything is sent
        client_id=SANDBOX_CLIENT_ID,
        client_secret=Secret(SANDBOX_CLIENT_SECRET),
    )
    nearly_expired = now + timedelta(minutes=56)  # under the 5-minute margin
    token = await connections.access_token_for(pool, vault, away, connection_id, now=nearly_expired)
    assert token.reveal().startswith("sbx_at_")  # still valid, so still served
    connection = await connections.get(pool, connection_id)
    assert connection is not None
    assert connection.consecutive_failures == 1 and connection.status == "active"
    assert connection.next_refresh_at is not None and connection.next_refresh_at > nearly_expired
    assert connection.last_error is not None and "renewal failed" in connection.last_error

    expired = now + timedelta(hours=2)
    with pytest.raises(connections.RefreshUnavailable):
        await connections.access_token_for(pool, vault, away, connection_id, now=expired)
    connection = await connections.get(pool, connection_id)
    assert connection is not None and connection.consecutive_failures == 2


async def test_the_cron_keeps_tokens_alive_for_a_month(
    pool: Pool, vault: Vault, http: httpx.AsyncClient, settings: Settings
) -> None:
    clock = datetime(2026, 12, 1, tzinfo=UTC)

    def now() -> datetime:
        return clock

    async with live_sandbox(Sandbox(clock=now, policy=TokenPolicy(grace_seconds=0))) as live:
        visma = VismaConnect(
            http,
            auth_url=live.url,
            client_id=SANDBOX_CLIENT_ID,
            client_secret=Secret(SANDBOX_CLIENT_SECRET),
        )
        _, busy = await connect(pool, vault, live, visma, now=clock)
        _, idle = await connect(pool, vault, live, visma, organization_id=1002, now=clock)
        ctx = {"pool": pool, "vault": vault, "visma": visma, "settings": settings, "http": http}
        start = clock
        while clock < start + timedelta(days=30):
            clock += timedelta(minutes=10)
            await refresh_due(ctx, now=clock)
            if clock.minute == 0 and clock.hour % 6 == 0:  # the busy shop posts now and then
                token = await connections.access_token_for(pool, vault, visma, busy, now=clock)
                assert await works(http, live, token)

        for connection_id in (busy, idle):
            token = await connections.access_token_for(pool, vault, visma, connection_id, now=clock)
            assert await works(http, live, token)
        renewals = refreshes(live.sandbox, "ok")
        assert refreshes(live.sandbox) == renewals  # not one refused
        # About one renewal per token lifetime per connection: 30 days / 50 minutes ≈ 864.
        assert 2 * 800 <= renewals <= 2 * 900, renewals


async def test_shops_share_an_organisation_and_leave_it_one_by_one(
    pool: Pool, vault: Vault, sandbox_server: LiveSandbox, visma: VismaConnect
) -> None:
    first, connection_id = await connect(pool, vault, sandbox_server, visma)
    second, same = await connect(pool, vault, sandbox_server, visma)
    assert same == connection_id
    assert await pool.fetchval("SELECT count(*) FROM dinero_connections") == 1
    now = sandbox_server.sandbox.now()

    async with pool.acquire() as conn, conn.transaction():
        await linking.disconnect_shop(conn, shop_id=first.id, now=now)
    connection = await connections.for_shop(pool, second.id)
    assert connection is not None and connection.status == "active"
    assert await connections.for_shop(pool, first.id) is None
    token = await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    assert token.reveal().startswith("sbx_at_")

    async with pool.acquire() as conn, conn.transaction():
        await linking.disconnect_shop(conn, shop_id=second.id, now=now)
    row = await pool.fetchrow(
        "SELECT status, access_token_enc, refresh_token_enc FROM dinero_connections"
    )
    assert row is not None
    assert (row["status"], row["access_token_enc"], row["refresh_token_enc"]) == (
        "revoked",
        None,
        None,
    )


async def test_no_token_text_in_a_database_dump_even_after_key_rotation(
    pool: Pool, vault: Vault, sandbox_server: LiveSandbox, visma: VismaConnect, settings: Settings
) -> None:
    _, connection_id = await connect(pool, vault, sandbox_server, visma)
    now = sandbox_server.sandbox.now()
    await expire(pool, sandbox_server, connection_id, now)
    token = await connections.access_token_for(pool, vault, visma, connection_id, now=now)
    rotated = Vault([TokenKey("k2", b"2" * 32), *settings.token_keys])
    assert (await rotate_keys(pool, rotated)).rotated >= 3

    proc = await asyncio.create_subprocess_exec(
        "pg_dump", "--data-only", settings.database_url, stdout=subprocess.PIPE
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    dump = out.decode()
    assert "v1:k2:" in dump  # the tokens are there, encrypted
    assert ACCESS_TOKEN_PREFIX not in dump and REFRESH_TOKEN_PREFIX not in dump
    assert token.reveal() not in dump
    again = await connections.access_token_for(pool, rotated, visma, connection_id, now=now)
    assert again == token
