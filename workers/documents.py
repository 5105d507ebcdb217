"""The posting job and the sweeper cron.

`documents.post` takes a document id and makes one attempt at it (`tenants.posting.service`),
through the backend its row names (`workers.backends`); arq
may run it twice, or for a row that is no longer due, and both are harmless: the attempt
starts by leasing the row. `documents.sweep` runs every two seconds on one worker (arq's
`unique` cron) and is what makes the queue trustworthy: it enqueues every due row that is
not queued already (the job id carries the attempt count, so a row never sits in the queue
twice), which also re-creates jobs Redis lost, expired (arq drops jobs after a day, a Dinero
outage may last longer) or never got (the web's enqueue failed). It deals rows out fairly
(`sweeps.due_for_sweep`), no faster than each organisation's call budget can take them, a
few per organisation at a time, and only while arq's queue is short. So a shop with a
backlog of thousands neither buries another shop's order in arq's FIFO queue nor makes
workers lease rows only to defer them again.

(`documents.confirm_payments`, which asks Dinero whether what our payments were registered on
is paid now, is Dinero's own: `workers.backends`.)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Final

from gateway.queue import QUEUE_NAME
from tenants.outbox import activation, counts, sweeps
from tenants.outbox import repository as outbox
from tenants.outbox.models import Due
from tenants.posting import service as posting
from tenants.posting.outcomes import Interrupted
from tenants.posting.registry import Backends
from workers.backends import backends_from

log = logging.getLogger(__name__)

SWEEP_EVERY: Final = 2  # seconds
SWEEP_LIMIT: Final = 1000
# However much budget an organisation has, no more of its documents per sweep than this: a
# window's worth at once would fill every worker's slots with one organisation's calls, and
# another shop's order would queue behind them. Eight every two seconds is still five times
# what Dinero lets one organisation sustain.
PER_ORGANIZATION: Final = 8
PER_SHOP: Final = PER_ORGANIZATION
# The sweeper tops arq's queue up to this many jobs and no further: what is owed waits in
# Postgres, where it is dealt out fairly, rather than in a FIFO queue that an order arriving
# through ingest would have to wait behind.
QUEUE_TARGET: Final = 300


async def post(ctx: dict[str, Any], document_id: int) -> str:
    """`documents.post`: one attempt at the document. One that an outage interrupts has
    its lease ended by the next sweep that reaches Postgres, so it does not wait out
    `LEASE_FOR`; the outage itself is raised on, for the worker to wait out. (Not ended
    here: a pool whose server is going away may hand out a connection mid-breakdown.)"""
    try:
        result = await posting.post_document(
            backends_from(ctx), document_id, now=datetime.now(UTC), metrics=ctx.get("metrics")
        )
    except Interrupted as interrupted:
        interrupted_leases: set[tuple[int, str]] = ctx.setdefault("interrupted", set())
        interrupted_leases.add(interrupted.lease)
        raise  # the outage behind it is for the worker to wait out (`outage_tolerant`)
    if result.released:
        await outbox.enqueue(ctx["redis"], list(result.released))
    return result.outcome.value


async def sweep(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    """`documents.sweep`: recovers dead leases, requeues documents parked after their
    reconnect, releases children whose parent is posted, holds the documents of shops not
    activated yet (so they take no one's turn), enqueues what is due, and folds the
    document counts' pending changes (`counts.fold`)."""
    now = now or datetime.now(UTC)
    pool = ctx["pool"]
    await _end_interrupted_leases(ctx, now=now)
    recovered = await sweeps.recover_expired_leases(pool, now=now)
    requeued = await sweeps.requeue_reconnected(pool, now=now)
    released = await sweeps.release_orphans(pool, now=now)
    held = await activation.hold_inactive(pool, now=now)
    due = await sweeps.due_for_sweep(pool, now=now, limit=SWEEP_LIMIT, per_shop=PER_SHOP)
    chosen = await within_budget(backends_from(ctx), due, within=SWEEP_EVERY + 1)
    room = max(0, QUEUE_TARGET - await ctx["redis"].zcard(QUEUE_NAME))
    enqueued = await outbox.enqueue(ctx["redis"], [*released, *chosen[:room]])
    folded = await counts.fold(pool)
    summary = {
        "recovered": recovered,
        "requeued": requeued,
        "released": len(released),
        "held": held,
        "due": len(due),
        "enqueued": enqueued,
        "folded": folded,
    }
    if recovered or requeued or held or enqueued:
        log.info("document sweep: %s", summary)
    return summary


async def _end_interrupted_leases(ctx: dict[str, Any], *, now: datetime | None = None) -> None:
    leases: set[tuple[int, str]] = ctx.get("interrupted") or set()
    if leases:
        taken = set(leases)
        await outbox.end_leases(ctx["pool"], taken, now=now or datetime.now(UTC))
        leases -= taken


async def within_budget(backends: Backends, due: list[Due], *, within: float) -> list[Due]:
    """The due documents each organisation's call budget (its backend's) can start on
    before the next sweep (at most `PER_ORGANIZATION`), in the order given. A document of a
    shop without a connection costs no call (it is parked), so it always goes."""
    allowance: dict[tuple[str, int], int] = {}
    for key in {(d.backend, d.organization_id) for d in due if d.organization_id is not None}:
        room = await backends.room(key[0], key[1], within=within)
        allowance[key] = min(room, PER_ORGANIZATION)
    chosen = []
    for document in due:
        if document.organization_id is None:
            chosen.append(document)
            continue
        key = (document.backend, document.organization_id)
        if allowance[key] > 0:
            allowance[key] -= 1
            chosen.append(document)
    return chosen
