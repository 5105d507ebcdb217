"""Reconcile for a WooCommerce store: mend its webhooks, then catch up on what they missed.

WooCommerce never retries a delivery and, after more than five failures in a row, quietly sets
the webhook to `disabled`: from then on no order arrives. Each run first reads the store's
webhooks (`upkeep.ensure_webhooks`): one WooCommerce disabled is turned on again, one that is
gone is made again, and the owner is told on the source card. Then it reads the orders
modified since the watermark (less an overlap: WooCommerce compares to the second and clocks
drift), page by page as `X-WP-TotalPages` says, and applies each through the same path as a
webhook, with its refunds. Pages are in order of id, not of modification: an order changed
while the run reads would move to the end of a by-modification listing and shift every later
page by one, so one order would be skipped and the watermark pass it; by id, an order changed
meanwhile keeps its place (and one newly matching is at worst read twice). Facts already
recorded change nothing; an order with facts new to the gateway is one the webhooks missed,
and is counted (`found_by_reconcile`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.woocommerce.rest import RestApiError, Unauthorized
from tenants.sources import reconcile as shared
from tenants.sources.reconcile import EVERY, RETRY_AFTER
from tenants.sources.woocommerce import apply, repository, upkeep

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
    repaired: tuple[str, ...] = ()  # the topics whose webhook was mended
    enqueue: tuple[int, ...] = ()
    error: str | None = None


async def claim_due(pool: Pool, now: datetime, *, limit: int = 20) -> list[UUID]:
    return await shared.claim_due(pool, "woocommerce", now, limit=limit)


async def reconcile(
    pool: Pool,
    vault: Vault,
    http: httpx.AsyncClient,
    settings: Settings,
    source_id: UUID,
    now: datetime,
) -> Reconciled:
    """One run for one (claimed) source."""
    source = await repository.by_id(pool, vault, source_id)
    api = None if source is None else await upkeep.api_of(pool, http, settings, source)
    if source is None or api is None:  # the claim's lease brings it round again later
        return Reconciled(source_id, error="no source, no keys, or an address not allowed")
    watermark = source.reconcile_watermark
    read = found = problems = 0
    enqueue: list[int] = []
    repaired: tuple[str, ...] = ()
    try:
        mended = await upkeep.ensure_webhooks(
            pool, vault, api, source.id, upkeep.delivery_url(settings.base_url, source.id)
        )
        repaired = (*mended.reenabled, *mended.recreated)
        page = 1
        while True:
            listed = await api.orders(
                page=page, modified_after=source.reconcile_watermark - OVERLAP, orderby="id"
            )
            for order in listed.orders:
                modified = _gmt(order.get("date_modified_gmt"))
                if modified is not None and modified >= now - GRACE:
                    continue  # its webhook is on its way; the next run looks again
                read += 1
                refunds = await apply.refunds_of(api, order)
                async with pool.acquire() as conn:
                    applied = await apply.apply_order(conn, source, order, refunds)
                found += applied.new_facts > 0
                problems += applied.problem
                enqueue.extend(applied.enqueue)
                if modified is not None and modified > watermark:
                    watermark = modified
            if listed.last:
                break
            page += 1
    except Unauthorized:
        await repository.lost_access(pool, source_id)
        return Reconciled(source_id, read, found, problems, api.calls, repaired,
                          tuple(enqueue), "unauthorized")  # fmt: skip
    except RestApiError as exc:
        log.warning("reconcile of woocommerce source %s stopped: %s", source_id, exc)
        await shared.finish(pool, source_id, watermark, found, now + RETRY_AFTER, now)
        await _tell(pool, source_id, repaired, found, now)
        return Reconciled(source_id, read, found, problems, api.calls, repaired,
                          tuple(enqueue), str(exc))  # fmt: skip
    await shared.finish(pool, source_id, watermark, found, now + EVERY, now)
    await _tell(pool, source_id, repaired, found, now)
    if source.status == "failing" and not repaired:
        await repository.set_status(pool, source_id, "connected", None)
    return Reconciled(source_id, read, found, problems, api.calls, repaired, tuple(enqueue))


async def _tell(
    pool: Pool, source_id: UUID, repaired: tuple[str, ...], found: int, now: datetime
) -> None:
    if not repaired:
        return
    await repository.tell_owner(
        pool,
        source_id,
        f"WooCommerce had stopped sending {', '.join(repaired)} (it disables a webhook after "
        f"five failed deliveries in a row). The gateway turned it on again and brought in "
        f"{found} orders it had missed.",
        now,
    )


def _gmt(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
