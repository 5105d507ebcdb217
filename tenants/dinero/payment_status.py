"""Confirming that Dinero counts a paid document as paid: the cron job
`documents.confirm_payments`.

"Registered" is what we know after a payment's answer; "Paid" only what Dinero says. The job
asks each organisation with registered payments for its invoices and credit notes now paid,
one listing per kind, and stores Dinero's status on each payment document. A document Dinero
still shows as partly paid after `FALLBACK_AFTER` is read once on its own and stored as
"Booked", with what remains to be paid in an event.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from typing import Final
from uuid import UUID

from gateway.dinero.client import DineroClient
from gateway.dinero.errors import DineroError, NotFound, RateLimited, ValidationFailed
from gateway.dinero.payments import InvoicePayments
from gateway.ratelimit import BudgetKey
from tenants.dinero.attempt import Resources, session_for
from tenants.dinero.connections.service import ConnectionUnusable, RefreshUnavailable
from tenants.dinero.poster import NAME
from tenants.dinero.session import BudgetExhausted, ConnectionRejected
from tenants.outbox import payment_status
from tenants.outbox.payment_status import Registered

log = logging.getLogger(__name__)

# Confirmation: how often, how far back the listing looks past the oldest registered payment
# (Dinero's clock, not ours), when a document still unpaid in the listing is read on its own,
# and how many of those reads one run makes per organisation.
CONFIRM_EVERY: Final = 10  # seconds
# An organisation is asked once its oldest unconfirmed payment has waited this long, and then
# no more often: one listing then covers every payment registered meanwhile, so a busy
# organisation pays a small fraction of a call per payment, not one call every run. A
# payment's `next_attempt_at`, unused once it is posted, says when it was last asked about.
CONFIRM_AFTER: Final = timedelta(seconds=60)
CONFIRM_OVERLAP: Final = timedelta(minutes=5)
FALLBACK_AFTER: Final = timedelta(minutes=10)
FALLBACK_PER_RUN: Final = 3
CONFIRM_LIMIT: Final = 1000  # per organisation and run: one listing page's worth
# Confirming is never urgent: it leaves an organisation alone while posting needs its budget.
CONFIRM_RESERVE: Final = 10
_PAID: Final = ("Paid", "OverPaid")


class _Skip(Exception):
    """Not this organisation, not now."""


async def confirm_payments(poster: Resources, *, now: datetime) -> dict[str, int]:
    """`documents.confirm_payments`: Dinero's payment status onto every posted payment that
    still says "Registered". Per organisation one listing per kind of document paid (only
    those now Paid or OverPaid, changed since the oldest such payment), and for documents the
    listing has not shown paid after `FALLBACK_AFTER`, a read of their payments (at most
    `FALLBACK_PER_RUN`). An organisation whose budget is busy with posting, or whose
    connection fails, is left for the next run."""
    pending = await payment_status.registered_payments(
        poster.pool, backend=NAME, limit=CONFIRM_LIMIT
    )
    by_organization: dict[int, list[Registered]] = {}
    for payment in pending:
        by_organization.setdefault(payment.organization_id, []).append(payment)
    counts = {"organizations": 0, "confirmed": 0, "partly_paid": 0, "skipped": 0}
    for payments in by_organization.values():
        if min(p.asked_at for p in payments) > now - CONFIRM_AFTER:
            continue  # asked about recently: let more payments gather
        try:
            confirmed, partly = await _confirm_organization(poster, payments, now=now)
        except _Skip:
            counts["skipped"] += 1
            continue
        counts["organizations"] += 1
        counts["confirmed"] += confirmed
        counts["partly_paid"] += partly
    return counts


async def _confirm_organization(
    poster: Resources, payments: list[Registered], *, now: datetime
) -> tuple[int, int]:
    org = payments[0].organization_id
    key = BudgetKey(poster.client_id, org)
    if await poster.budget.free_slots(key, within=CONFIRM_EVERY) < CONFIRM_RESERVE:
        raise _Skip()
    session = session_for(
        poster,
        connection_id=payments[0].connection_id,
        organization_id=org,
        now=now,
        budget_wait=0.0,  # never waits for a slot: posting comes first
    )
    since = min(p.posted_at for p in payments) - CONFIRM_OVERLAP
    statuses: dict[UUID, str] = {}
    confirmed = partly = 0
    try:
        for kind in sorted({p.parent_kind for p in payments}):
            listed = await session.call(
                partial(_list_paid, org=org, kind=kind, changes_since=since)
            )
            statuses.update(listed)
        confirmed = await payment_status.store_statuses(
            poster.pool,
            [(p.id, statuses[p.parent_guid]) for p in payments if p.parent_guid in statuses],
            now=now,
        )
        await payment_status.mark_asked(
            poster.pool, [p.id for p in payments if p.parent_guid not in statuses], now=now
        )
        overdue = [
            p
            for p in payments
            if p.parent_guid not in statuses and p.posted_at < now - FALLBACK_AFTER
        ]
        for payment in overdue[:FALLBACK_PER_RUN]:
            try:
                read = await session.call(partial(_payments_on, org=org, payment=payment))
            except (NotFound, ValidationFailed) as exc:
                # About this document only (gone, or refused): the others are still asked.
                log.info("payments of document %s not read: %s", payment.id, exc)
                continue
            partly += await _store_read(poster, payment, read, now=now)
    except RateLimited as exc:
        await session.rate_limited(exc.retry_after)
        raise _Skip() from exc
    except (
        BudgetExhausted,
        ConnectionRejected,
        ConnectionUnusable,
        RefreshUnavailable,
        DineroError,
    ) as exc:
        log.info("payment status of organisation %s not confirmed now: %s", org, exc)
        if not (confirmed or partly):
            raise _Skip() from exc
    return confirmed, partly


async def _list_paid(
    client: DineroClient, *, org: int, kind: str, changes_since: datetime
) -> dict[UUID, str]:
    """The documents of this kind that Dinero shows paid (or over-paid) and that changed
    since: one page of up to 1000. More than that in one window is left to the fallback."""
    fields = ("Guid", "Status")
    if kind == "invoice":
        page = await client.list_invoices(
            org, changes_since=changes_since, status_filter=_PAID, fields=fields
        )
    else:
        page = await client.list_credit_notes(
            org, changes_since=changes_since, status_filter=_PAID, fields=fields
        )
    return {item.guid: item.status for item in page.items if item.status in _PAID}


async def _payments_on(client: DineroClient, *, org: int, payment: Registered) -> InvoicePayments:
    if payment.parent_kind == "invoice":
        return await client.invoice_payments(org, payment.parent_guid)
    return await client.credit_note_payments(org, payment.parent_guid)


async def _store_read(
    poster: Resources, payment: Registered, read: InvoicePayments, *, now: datetime
) -> int:
    """What a read of the document's payments says: paid, over-paid, or partly paid.
    Answers 1 for partly paid."""
    remaining = read.remaining_amount
    if remaining <= 0:
        status = "Paid" if remaining == 0 else "OverPaid"
        await payment_status.store_statuses(poster.pool, [(payment.id, status)], now=now)
        return 0
    return await payment_status.store_partly_paid(poster.pool, payment, remaining, now=now)
