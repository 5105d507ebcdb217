"""The shop-platform crons: every due source is asked what changed
(`tenants.sources.shopify.reconcile`, `tenants.sources.woocommerce.reconcile`, which also
mends the store's webhooks), every running backfill reads its next slice
(`tenants.sources.shopify.backfill`), and the documents they make are enqueued."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Final

from tenants.orders.ingest import enqueue_new_documents
from tenants.sources.shopify import backfill, reconcile
from tenants.sources.woocommerce import backfill as woocommerce_backfill
from tenants.sources.woocommerce import reconcile as woocommerce_reconcile

log = logging.getLogger(__name__)

# Sources reconciled at once: each holds a database connection while it applies a page.
CONCURRENCY: Final = 4


async def reconcile_due(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    shopify = await reconcile.claim_due(ctx["pool"], now)
    woocommerce = set(await woocommerce_reconcile.claim_due(ctx["pool"], now))
    due = [*shopify, *woocommerce]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(source_id: Any) -> Any:
        platform = woocommerce_reconcile if source_id in woocommerce else reconcile
        async with gate:
            try:
                done = await platform.reconcile(
                    ctx["pool"], ctx["vault"], ctx["http"], ctx["settings"], source_id, now
                )
            except Exception:  # one broken source must not stop the others
                log.exception("reconciling source %s failed", source_id)
                return None
            await enqueue_new_documents(ctx["redis"], done.enqueue)
            return done

    results = [r for r in await asyncio.gather(*(run(s) for s in due)) if r is not None]
    counts = {
        "due": len(due),
        "read": sum(r.read for r in results),
        "found": sum(r.found for r in results),
        "failed": len(due) - sum(r.error is None for r in results),
    }
    if due:
        log.info("reconcile: %s", counts)
    return counts


async def backfill_due(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    shopify = await backfill.claim_due(ctx["pool"], now)
    woocommerce = await woocommerce_backfill.claim_due(ctx["pool"], now)
    due = [*shopify, *woocommerce]
    read = 0
    for source_id in due:  # one at a time: backfill is never in a hurry
        platform = woocommerce_backfill if source_id in woocommerce else backfill
        try:
            done = await platform.run(
                ctx["pool"], ctx["vault"], ctx["http"], ctx["settings"], source_id, now
            )
        except Exception:
            log.exception("backfilling source %s failed", source_id)
            continue
        await enqueue_new_documents(ctx["redis"], done.enqueue)
        read += done.read
    return {"due": len(due), "read": read}
