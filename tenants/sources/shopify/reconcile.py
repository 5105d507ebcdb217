"""Reconcile: ask Shopify which orders changed, and apply each through the same path.

Shopify retries a failed webhook for about four hours and then drops it, so every source is
reconciled regularly. The Admin API lists the orders updated since the source's watermark
(less an overlap: Shopify's search is by the second and clocks drift) and more than `GRACE`
ago, oldest first, page by page inside Shopify's cost limit (`gateway.shopify.admin`), and
each order is applied (`apply.apply_order`). Facts already recorded change nothing, so an
order seen by a webhook and by reconcile is still booked once; an order whose facts were new
to the gateway is one the webhooks missed, and is counted for the owner
(`found_by_reconcile`).

A run claims its source by moving `reconcile_due_at` past the run, so two workers never
reconcile one source at once, and a crashed run is taken up again by the next one due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.settings import Settings
from gateway.shopify.admin import AdminApi, AdminApiError, Unauthorized, search_time
from gateway.vault import Vault
from tenants.sources import reconcile as shared
from tenants.sources.reconcile import EVERY as EVERY
from tenants.sources.reconcile import RETRY_AFTER
from tenants.sources.shopify import apply, repository

log = logging.getLogger(__name__)

OVERLAP: Final = timedelta(minutes=5)
# Orders changed in the last moments are left to their webhooks, which are usually on their
# way: reconcile is for what they missed, and counts only that.
GRACE: Final = timedelta(minutes=1)


@dataclass(frozen=True)
class Reconciled:
    source_id: UUID
    read: int = 0
    found: int = 0  # orders with facts no webhook had brought
    problems: int = 0
    calls: int = 0
    enqueue: tuple[int, ...] = ()
    error: str | None = None


async def claim_due(pool: Pool, now: datetime, *, limit: int = 20) -> list[UUID]:
    return await shared.claim_due(pool, "shopify", now, limit=limit)


async def reconcile(
    pool: Pool,
    vault: Vault,
    http: httpx.AsyncClient,
    settings: Settings,
    source_id: UUID,
    now: datetime,
    *,
    api: AdminApi | None = None,
) -> Reconciled:
    """One run for one (claimed) source."""
    source = await repository.by_id(pool, vault, source_id)
    if source is None or source.token is None:
        return Reconciled(source_id, error="no source or no token")
    api = api or AdminApi.of_store(http, settings, source.store, source.token)
    since = source.reconcile_watermark - OVERLAP
    search = f"updated_at:>='{search_time(since)}' AND updated_at:<'{search_time(now - GRACE)}'"
    watermark = source.reconcile_watermark
    read = found = problems = 0
    enqueue: list[int] = []
    cursor: str | None = None
    try:
        while True:
            page = await api.orders(search, after=cursor)
            async with pool.acquire() as conn:
                for order in page.orders:
                    read += 1
                    applied = await apply.apply_order(conn, source, order)
                    found += applied.new_facts > 0
                    problems += applied.problem
                    enqueue.extend(applied.enqueue)
                    updated = _parse_time(order.get("updated_at"))
                    if updated is not None and updated > watermark:
                        watermark = updated
            if page.end_cursor is None:
                break
            cursor = page.end_cursor
    except Unauthorized:
        await repository.lost_access(pool, source_id)
        return _done(source_id, read, found, problems, api, enqueue, "unauthorized")
    except AdminApiError as exc:
        log.warning("reconcile of source %s stopped: %s", source_id, exc)
        await shared.finish(pool, source_id, watermark, found, now + RETRY_AFTER, now)
        return _done(source_id, read, found, problems, api, enqueue, str(exc))
    await shared.finish(pool, source_id, watermark, found, now + EVERY, now)
    return _done(source_id, read, found, problems, api, enqueue, None)


def _done(
    source_id: UUID,
    read: int,
    found: int,
    problems: int,
    api: AdminApi,
    enqueue: list[int],
    error: str | None,
) -> Reconciled:
    return Reconciled(source_id, read, found, problems, api.calls, tuple(enqueue), error)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
