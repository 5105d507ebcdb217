"""`documents.post`: one attempt at one document, exactly once, whatever the backend.

The attempt leases the row, lets the backend walk its steps (each step's result is written
to the row before the next starts, so an attempt that stops anywhere is resumed by the next
from what the row says), and settles whatever stopped it into the row's next state
(`tenants.posting.attempt`).
"""

from __future__ import annotations

import logging
from datetime import datetime

from gateway.metrics import STORED_TO_POSTED, Metrics
from gateway.outages import unavailable_service
from tenants.outbox import activation
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document, LeaseLost
from tenants.posting.attempt import Attempt, RetryLater
from tenants.posting.backend import Posting
from tenants.posting.outcomes import Interrupted, Outcome, Result

log = logging.getLogger(__name__)


async def post_document(
    backend: Posting, document_id: int, *, now: datetime, metrics: Metrics | None = None
) -> Result:
    """One attempt at the document. Never raises for anything the backend or the data
    does: every outcome is written to the row and the lease released. Postgres going away
    meanwhile raises `Interrupted` (the lease is still held). A document posted is counted
    in `metrics` with the time since it was stored."""
    if await activation.hold_if_inactive(backend.pool, document_id, now=now):
        return Result(Outcome.AWAITING_ACTIVATION)
    document = await outbox.lease(
        backend.pool, document_id, backend.worker_id, now=now, lease_for=backend.lease_for
    )
    if document is None:
        return Result(Outcome.SKIPPED)
    attempt = backend.attempt(document, now)
    try:
        try:
            result = await attempt.run()
        except Exception as exc:  # every failure ends in a row state
            if unavailable_service(exc) is not None:
                return await _cut_short(attempt, document, exc)
            return await attempt.settle(exc)
    except LeaseLost:
        log.warning("document %s: lease lost to another worker", document_id)
        return Result(Outcome.LEASE_LOST)
    if result.outcome is Outcome.POSTED and metrics is not None:
        took = await outbox.stored_to_posted(backend.pool, document.shop_id, document_id)
        if took is not None:
            await metrics.observe(STORED_TO_POSTED, took, kind=document.kind)
    return result


async def _cut_short(attempt: Attempt, document: Document, exc: Exception) -> Result:
    """Postgres or Redis went away in the middle of the attempt, which may have reached
    the books: a retry that looks in them first, quietly (an outage is no fault of the
    document's, and the worker logs it once). When Postgres cannot take even that,
    `Interrupted`, for the worker to end the lease once it is back."""
    service = unavailable_service(exc)
    retry = RetryLater(f"{service} was briefly unavailable; retrying", "outage", uncertain=True)
    try:
        return await attempt.settle(retry)
    except LeaseLost:
        raise
    except Exception:  # whatever stopped the settling, the outage is why
        assert document.lease_owner is not None  # leased by this attempt
        raise Interrupted(document.id, document.lease_owner) from exc
