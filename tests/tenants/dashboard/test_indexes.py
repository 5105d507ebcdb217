"""The dashboard benchmark's seed, at a small size, and the indexes it showed were missing:
the admin counters' plans must read them (EXPLAIN), or the overview is slow again at a
million documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from bench import seed_dashboard
from gateway.db import Pool
from gateway.passwords import verify_password
from gateway.settings import DEV_TOKEN_KEY, DEV_TOKEN_KEY_ID, TokenKey
from gateway.vault import Vault
from tenants.dashboard import admin
from tenants.dinero.connections import service as connections
from tenants.shops import repository as shops

SHOPS = 20
DOCUMENTS = 20_000


@pytest.fixture(scope="module")
async def seeded(database_url: str, session_pool: Pool) -> AsyncIterator[Pool]:
    """Seeded once for the module (a few seconds); emptied afterwards, as `pool` does."""
    await seed_dashboard.seed(
        database_url, shop_count=SHOPS, document_count=DOCUMENTS, seed_value=1
    )
    yield session_pool
    tables = await session_pool.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename <> 'schema_migrations'"
    )
    names = ", ".join(f'"{t["tablename"]}"' for t in tables)
    await session_pool.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


class _Recorder:
    """Stands in for the pool and keeps every query with its arguments."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.queries: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.queries.append((query, args))
        return await self.pool.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.queries.append((query, args))
        return await self.pool.fetchrow(query, *args)


async def _plan(pool: Pool, query: str, args: tuple[Any, ...]) -> str:
    rows = await pool.fetch(f"EXPLAIN {query}", *args)
    return "\n".join(r[0] for r in rows)


async def test_seed_makes_the_asked_for_platform(seeded: Pool) -> None:
    assert await seeded.fetchval("SELECT count(*) FROM shops") == SHOPS
    assert await seeded.fetchval("SELECT count(*) FROM orders") == DOCUMENTS
    assert await seeded.fetchval("SELECT count(*) FROM documents") == DOCUMENTS
    states = {r["state"] for r in await seeded.fetch("SELECT DISTINCT state FROM documents")}
    assert {"posted", "failed", "needs_reconnect", "cancelled"} <= states
    # The big owner has the biggest shop, and both bench users can log in.
    biggest = await seeded.fetchval(
        "SELECT shop_id FROM documents GROUP BY shop_id ORDER BY count(*) DESC LIMIT 1"
    )
    owned = await seeded.fetchval(
        "SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE u.email = $1 AND m.shop_id = $2",
        seed_dashboard.OWNER_EMAIL,
        biggest,
    )
    assert owned == 1
    admin_row = await seeded.fetchrow(
        "SELECT is_platform_admin, password_hash FROM users WHERE email = $1",
        seed_dashboard.ADMIN_EMAIL,
    )
    assert admin_row is not None and admin_row["is_platform_admin"]
    assert verify_password(seed_dashboard.PASSWORD, admin_row["password_hash"])


async def test_seeded_secrets_decrypt_with_the_development_key(seeded: Pool) -> None:
    vault = Vault((TokenKey(DEV_TOKEN_KEY_ID, DEV_TOKEN_KEY),))
    shop = await seeded.fetchrow("SELECT id, ingest_secret_enc FROM shops LIMIT 1")
    assert shop is not None
    secret = vault.decrypt(shop["ingest_secret_enc"], aad=shops.ingest_secret_aad(shop["id"]))
    assert secret.reveal().startswith(shops.SECRET_PREFIX)
    connection = await seeded.fetchrow(
        "SELECT id, access_token_enc FROM dinero_connections WHERE status = 'active' LIMIT 1"
    )
    assert connection is not None
    token = vault.decrypt(
        connection["access_token_enc"], aad=connections.access_aad(connection["id"])
    )
    assert token.reveal()


async def test_admin_counters_read_the_dashboard_indexes(seeded: Pool) -> None:
    recorder = _Recorder(seeded)
    await admin.counters(recorder, now=datetime.now(UTC))  # type: ignore[arg-type]
    assert len(recorder.queries) == 1  # one round trip
    plan = await _plan(seeded, *recorder.queries[0])
    # Failed and parked totals from the totals the triggers keep, not from the documents.
    assert "document_totals_folded" in plan
    # The last 24 hours as one range of the created_at index, the documents' only reader.
    assert "Index Only Scan using documents_created_state_idx" in plan
    assert plan.count(" on documents ") == 1


async def test_admin_lists_and_shop_page_count_no_documents(seeded: Pool) -> None:
    """The connection lists rank by the counts kept per connection, and the admin's shop
    page reads the shop's kept counts: no plan touches the documents."""
    recorder = _Recorder(seeded)
    now = datetime.now(UTC)
    await admin.connections_page(recorder, now=now)  # type: ignore[arg-type]
    await admin.connections_page(recorder, now=now, flag="needs_reconnect")  # type: ignore[arg-type]
    biggest = await seeded.fetchval(
        "SELECT shop_id FROM documents GROUP BY shop_id ORDER BY count(*) DESC LIMIT 1"
    )
    await admin.shop_detail(recorder, biggest)  # type: ignore[arg-type]
    plans = [await _plan(seeded, query, args) for query, args in recorder.queries]
    assert len(plans) == 6
    assert all(" on documents " not in plan for plan in plans)
    assert "connection_document_counts_folded" in plans[0]
    # The seed folded what its inserts left pending, as the sweeper would have.
    assert await seeded.fetchval("SELECT count(*) FROM document_counts_pending") == 0
