"""WooCommerce's backfill (how every backfill works: `tenants.sources.backfill`): the orders
created in range (`after`/`before`), oldest first, `per_page` 100, page by page; the cursor is
the next page's number, and the total is WooCommerce's `X-WP-Total`. WooCommerce lets a key
read its store's whole history, so any start date is read."""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

import httpx

from gateway.db import Connection, Pool
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.woocommerce.rest import RestApiError, Unauthorized
from tenants.sources import backfill as shared
from tenants.sources.backfill import BACKLOG, PAGES_PER_SLICE, PAUSE, RETRY_AFTER, Progress, Slice
from tenants.sources.woocommerce import apply, repository, upkeep

log = logging.getLogger(__name__)


async def progress(conn: Connection | Pool, source_id: UUID, shop_id: UUID) -> Progress | None:
    return await shared.progress(conn, source_id, shop_id, None)


async def claim_due(pool: Pool, now: datetime, *, limit: int = 10) -> list[UUID]:
    return await shared.claim_due(pool, "woocommerce", now, limit=limit)


async def run(
    pool: Pool,
    vault: Vault,
    http: httpx.AsyncClient,
    settings: Settings,
    source_id: UUID,
    now: datetime,
) -> Slice:
    """One slice of a (claimed) backfill: up to `PAGES_PER_SLICE` pages, fewer when the
    shop's posting backlog is full."""
    source = await repository.by_id(pool, vault, source_id)
    api = None if source is None else await upkeep.api_of(pool, http, settings, source)
    row = await pool.fetchrow(
        "SELECT since, until, cursor FROM source_backfills "
        "WHERE source_id = $1 AND status = 'running'",
        source_id,
    )
    if source is None or api is None or row is None:
        return Slice(source_id, error="no running backfill, no keys, or an address not allowed")
    page = int(row["cursor"] or 1)
    read = 0
    enqueue: list[int] = []
    try:
        for _ in range(PAGES_PER_SLICE):
            if await shared.backlog(pool, source.shop.id) >= BACKLOG:
                await shared.due(pool, source_id, now + PAUSE)
                return Slice(source_id, read, tuple(enqueue), waiting_for_backlog=True)
            listed = await api.orders(
                page=page, after=row["since"], before=row["until"], orderby="date"
            )
            problems = 0
            for order in listed.orders:
                refunds = await apply.refunds_of(api, order)
                async with pool.acquire() as conn:
                    applied = await apply.apply_order(conn, source, order, refunds)
                problems += applied.problem
                enqueue.extend(applied.enqueue)
            read += len(listed.orders)
            await pool.execute(
                "UPDATE source_backfills SET cursor = $2, read = read + $3, "
                "problems = problems + $4, total = $5 WHERE source_id = $1",
                source_id,
                str(page + 1),
                len(listed.orders),
                problems,
                listed.total,
            )
            if listed.last:
                await shared.done(pool, source_id, now)
                log.info("backfill of woocommerce source %s done", source_id)
                return Slice(source_id, read, tuple(enqueue), done=True)
            page += 1
    except Unauthorized:
        await repository.lost_access(pool, source_id)
        return Slice(source_id, read, tuple(enqueue), error="unauthorized")
    except RestApiError as exc:
        log.warning("backfill of woocommerce source %s paused: %s", source_id, exc)
        await shared.due(pool, source_id, now + RETRY_AFTER)
        return Slice(source_id, read, tuple(enqueue), error=str(exc))
    await shared.due(pool, source_id, now)
    return Slice(source_id, read, tuple(enqueue))
