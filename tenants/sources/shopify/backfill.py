"""Shopify's backfill (how every backfill works: `tenants.sources.backfill`): orders read with
the Admin API, `created_at` in range, oldest first; the cursor is Shopify's page cursor.

Shopify shows apps only the last 60 days of orders unless the app was granted
`read_all_orders`; the shop page says so when the start date is older.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import httpx

from gateway.db import Connection, Pool
from gateway.settings import Settings
from gateway.shopify.admin import AdminApi, AdminApiError, Unauthorized, search_time
from gateway.vault import Vault
from tenants.sources import backfill as shared
from tenants.sources.backfill import (
    BACKLOG,
    PAGES_PER_SLICE,
    PAUSE,
    RETRY_AFTER,
    CannotBackfill,
    Progress,
    Slice,
    start,
)
from tenants.sources.shopify import apply, repository

__all__ = [
    "BACKLOG",
    "PAUSE",
    "RECENT",
    "CannotBackfill",
    "Progress",
    "Slice",
    "claim_due",
    "progress",
    "run",
    "start",
]

log = logging.getLogger(__name__)

# Shopify's default window without `read_all_orders`.
RECENT: Final = timedelta(days=60)


async def progress(
    conn: Connection | Pool, source_id: UUID, shop_id: UUID, scopes: str
) -> Progress | None:
    visible = None if "read_all_orders" in scopes else RECENT
    return await shared.progress(conn, source_id, shop_id, visible)


async def claim_due(pool: Pool, now: datetime, *, limit: int = 10) -> list[UUID]:
    return await shared.claim_due(pool, "shopify", now, limit=limit)


async def run(
    pool: Pool,
    vault: Vault,
    http: httpx.AsyncClient,
    settings: Settings,
    source_id: UUID,
    now: datetime,
    *,
    api: AdminApi | None = None,
) -> Slice:
    """One slice of a (claimed) backfill: up to `PAGES_PER_SLICE` pages, fewer when the
    shop's posting backlog is full."""
    source = await repository.by_id(pool, vault, source_id)
    row = await pool.fetchrow(
        "SELECT since, until, cursor, total FROM source_backfills "
        "WHERE source_id = $1 AND status = 'running'",
        source_id,
    )
    if source is None or source.token is None or row is None:
        return Slice(source_id, error="no running backfill or no token")
    api = api or AdminApi.of_store(http, settings, source.store, source.token)
    search = (
        f"created_at:>='{search_time(row['since'])}' AND created_at:<'{search_time(row['until'])}'"
    )
    cursor: str | None = row["cursor"]
    read = 0
    enqueue: list[int] = []
    try:
        if row["total"] is None:
            total = await api.count(search)
            await pool.execute(
                "UPDATE source_backfills SET total = $2 WHERE source_id = $1", source_id, total
            )
        for _ in range(PAGES_PER_SLICE):
            if await shared.backlog(pool, source.shop.id) >= BACKLOG:
                await shared.due(pool, source_id, now + PAUSE)
                return Slice(source_id, read, tuple(enqueue), waiting_for_backlog=True)
            page = await api.orders(search, after=cursor, sort="CREATED_AT")
            problems = 0
            async with pool.acquire() as conn:
                for order in page.orders:
                    applied = await apply.apply_order(conn, source, order)
                    problems += applied.problem
                    enqueue.extend(applied.enqueue)
                await conn.execute(
                    "UPDATE source_backfills SET cursor = $2, read = read + $3, "
                    "problems = problems + $4 WHERE source_id = $1",
                    source_id,
                    page.end_cursor or cursor,
                    len(page.orders),
                    problems,
                )
            read += len(page.orders)
            if page.end_cursor is None:
                await shared.done(pool, source_id, now)
                log.info("backfill of source %s done", source_id)
                return Slice(source_id, read, tuple(enqueue), done=True)
            cursor = page.end_cursor
    except Unauthorized:
        await repository.lost_access(pool, source_id)
        return Slice(source_id, read, tuple(enqueue), error="unauthorized")
    except AdminApiError as exc:
        log.warning("backfill of source %s paused: %s", source_id, exc)
        await shared.due(pool, source_id, now + RETRY_AFTER)
        return Slice(source_id, read, tuple(enqueue), error=str(exc))
    await shared.due(pool, source_id, now)
    return Slice(source_id, read, tuple(enqueue))
