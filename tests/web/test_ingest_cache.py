"""Each web process caches shops for ingest; a roll or a settings change made anywhere
takes effect at once, in every process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import roll_ingest_secret
from tests.conftest import app_client
from tests.factories import make_shop
from tests.web.test_ingest import event, post, problem
from web.app import create_app


@pytest.fixture
async def other_process(
    settings: Settings, pool: Pool, redis: ArqRedis
) -> AsyncIterator[httpx.AsyncClient]:
    """A second web process of the same deployment: its own cache and batcher."""
    async for c in app_client(create_app(settings)):
        yield c


@pytest.fixture
async def shop(pool: Pool, vault: Vault) -> tuple[shops.Shop, Secret]:
    created, secret, _ = await make_shop(pool, vault)
    return created, secret


async def test_a_roll_ends_the_old_secret_at_once_in_every_process(
    client: httpx.AsyncClient,
    other_process: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    shop: tuple[shops.Shop, Secret],
) -> None:
    old = shop[1]
    for process in (client, other_process):  # both have the shop cached now
        assert (await post(process, shop[0].id, old, event())).status_code == 202
    # Rolled (by a third process, say) with no overlap.
    async with pool.acquire() as conn:
        new = await roll_ingest_secret(
            conn, vault, shop[0].id, now=datetime.now(UTC), overlap=timedelta(0)
        )
    for process in (client, other_process):
        problem(await post(process, shop[0].id, old, event()), 401)
        assert (await post(process, shop[0].id, new, event())).status_code == 202
    # Exactly the accepted events were stored.
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 4


async def test_a_new_secret_is_accepted_though_the_process_cached_the_old(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shop: tuple[shops.Shop, Secret]
) -> None:
    assert (await post(client, shop[0].id, shop[1], event())).status_code == 202
    async with pool.acquire() as conn:
        new = await roll_ingest_secret(conn, vault, shop[0].id, now=datetime.now(UTC))
    assert (await post(client, shop[0].id, new, event())).status_code == 202


async def test_a_changed_trigger_applies_to_the_next_event(
    client: httpx.AsyncClient, pool: Pool, shop: tuple[shops.Shop, Secret]
) -> None:
    unpaid = {"order/paid_at": None}
    first = await post(client, shop[0].id, shop[1], event("order.created", **unpaid))
    assert first.json()["documents"] == []  # trigger "paid": nothing owed yet
    await pool.execute("UPDATE shops SET trigger = 'created' WHERE id = $1", shop[0].id)
    second = await post(
        client,
        shop[0].id,
        shop[1],
        event("order.created", **unpaid, **{"order/id": "2", "order/number": "2"}),
    )
    assert [d["kind"] for d in second.json()["documents"]] == ["invoice"]
