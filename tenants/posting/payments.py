"""Registering a customer's payment on its booked invoice, or a refund's on its credit note,
and confirming afterwards that Dinero counts the document as paid.

A payment document (`tenants.orders.documents` makes them) waits for its parent, the invoice
or credit note, to be posted. An attempt then takes one call on the happy path: the payment,
with the parent's timestamp that booking stored on the parent's row. Dinero takes no client
guid for a payment, so the payment's `ExternalReference` (the document's own, deterministic)
is how it is found again: an attempt after an uncertain one reads the parent's payments
first and registers nothing if ours is there. A stale timestamp (code 58: someone, perhaps
an earlier payment, changed the parent since) is read afresh and the payment sent once more.

"Registered" is what we know after the answer; "Paid" only what Dinero says. The cron job
`documents.confirm_payments` (`confirm_payments` here) asks each organisation with
registered payments for its invoices and credit notes now paid, one listing per kind, and
stores Dinero's status on each payment document. A document Dinero still shows as partly
paid after `FALLBACK_AFTER` is read once on its own and stored as "Booked", with what
remains to be paid in an event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import Final
from uuid import UUID

from gateway.accounting import copenhagen_date
from gateway.dinero.client import DineroClient
from gateway.dinero.errors import (
    DineroError,
    NotFound,
    RateLimited,
    TimestampOutdated,
    ValidationFailed,
)
from gateway.dinero.models import PaymentCreate
from gateway.dinero.query import eq, query_filter
from gateway.dinero.readmodels import InvoicePayments, PaymentCreated, SalesDocument
from gateway.orders import round_half_up
from gateway.ratelimit import BudgetKey
from tenants.connections.dinero_session import BudgetExhausted, ConnectionRejected
from tenants.connections.service import ConnectionUnusable, RefreshUnavailable
from tenants.orders.documents import ORDER_PAYMENT
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.posting import drafts
from tenants.posting.attempt import Attempt, Outcome, Park, Poster, Result, session_for
from tenants.posting.drafts import CannotPost
from tenants.shops.settings import ShopSettings

log = logging.getLogger(__name__)

REGISTERED: Final = "Registered"  # our answer came back; Dinero's own status not read yet
SWITCHED_OFF: Final = (
    "Registering payments is switched off in the shop's settings, so this payment is not "
    "registered in Dinero"
)

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


class PaymentAttempt(Attempt):
    """A payment on an invoice (`source_ref` "order") or on a credit note (a refund)."""

    async def run(self) -> Result:
        doc = self.doc
        shop = await drafts.posting_settings(self.p.pool, doc.shop_id)
        if not shop.register_payments and not doc.uncertain:
            return await self._switched_off()
        parent = await self.parent(self._parent_label)
        if shop.connection_id is None or shop.organization_id is None:
            raise Park("The shop is not connected to Dinero")
        organization_id = self.organisation(shop.organization_id, parent)
        self.open_session(shop, organization_id)
        if doc.uncertain:
            # An earlier attempt may have registered it: Dinero takes no client guid for a
            # payment, so look for its reference before paying again.
            found = await self._find(parent)
            if found is not None:
                return found
            if not shop.register_payments:
                return await self._switched_off()
        account = deposit_account(shop, doc.payload.get("method"))
        # Written ahead: from here on the payment may be in Dinero, whatever stops this
        # attempt (a lost answer, or our own database failing after Dinero answered), so
        # the next attempt reads the payments back before it sends anything.
        await self.record(
            organization_id=organization_id, settlement_account=account, uncertain=True
        )
        timestamp = parent.dinero_timestamp
        if parent.dinero_status in (None, "Draft") or not timestamp:
            timestamp = await self._fresh_timestamp(parent)
        payment = PaymentCreate(
            timestamp=timestamp,
            deposit_account_number=account,
            description=await self._description(shop),
            amount=doc.amount,
            remainder_is_fee=False,
            payment_date=self._payment_date(),
            external_reference=doc.external_reference,
        )
        if doc.currency != "DKK":
            payment = await self._in_dkk(payment, parent)
        try:
            try:
                answer = await self._register(parent, payment)
            except TimestampOutdated:
                fresh = await self._fresh_timestamp(parent)
                answer = await self._register(parent, replace(payment, timestamp=fresh))
        except ValidationFailed:
            await self.record(uncertain=False)  # refused: certainly not registered
            raise
        await self.record(dinero_guid=answer.guid)
        return await self.posted(
            step="paid", number=None, status=REGISTERED, timestamp=answer.timestamp
        )

    @property
    def _parent_label(self) -> str:
        return "invoice" if self.doc.source_ref == ORDER_PAYMENT else "credit note"

    async def _switched_off(self) -> Result:
        await outbox.cancelled(self.p.pool, self.doc, now=self.now, message=SWITCHED_OFF)
        return Result(Outcome.CANCELLED)

    async def _find(self, parent: Document) -> Result | None:
        """Our payment, if an earlier attempt registered it: the attempt then ends posted."""
        payments = await self._payments_of(parent)
        reference = self.doc.external_reference
        found = next((p for p in payments.payments if p.external_reference == reference), None)
        if found is None:
            return None
        if found.deposit_account_number is not None:
            await self.record(
                dinero_guid=found.guid, settlement_account=found.deposit_account_number
            )
        else:
            await self.record(dinero_guid=found.guid)
        return await self.posted(step="paid", number=None, status=REGISTERED, timestamp=None)

    async def _payments_of(self, parent: Document) -> InvoicePayments:
        org, guid = self.organization_id, parent.dinero_guid
        assert guid is not None  # `parent` checked it
        if parent.kind == "invoice":
            return await self.call(lambda c: c.invoice_payments(org, guid))
        return await self.call(lambda c: c.credit_note_payments(org, guid))

    async def _fresh_timestamp(self, parent: Document) -> str:
        """The parent's current timestamp, read from Dinero; a parent that is (still) a
        draft there takes no payment."""
        org, guid = self.organization_id, parent.dinero_guid
        assert guid is not None
        if parent.kind == "invoice":
            live: SalesDocument = await self.call(lambda c: c.get_invoice(org, guid))
        else:
            live = await self.call(lambda c: c.get_credit_note(org, guid))
        if live.is_draft or not live.timestamp:
            what = self._parent_label
            raise CannotPost(
                f"The {what} is a draft in Dinero, and Dinero registers payments on booked "
                f"documents only. Book the {what} in Dinero, then retry this payment.",
                "parent_draft",
            )
        return live.timestamp

    async def _register(self, parent: Document, payment: PaymentCreate) -> PaymentCreated:
        org, guid = self.organization_id, parent.dinero_guid
        assert guid is not None
        if parent.kind == "invoice":
            return await self.call(lambda c: c.register_invoice_payment(org, guid, payment))
        return await self.call(lambda c: c.register_credit_note_payment(org, guid, payment))

    async def _in_dkk(self, payment: PaymentCreate, parent: Document) -> PaymentCreate:
        """A document in another currency is paid with both amounts: ours in its currency,
        and in DKK at the rate Dinero booked the document at (the listing's DKK total), so
        the payment leaves no exchange difference of our making. One call more."""
        org = self.organization_id
        where = query_filter(eq("ExternalReference", parent.external_reference))
        fields = ("Guid", "TotalInclVat", "TotalInclVatInDkk")
        if parent.kind == "invoice":
            page = await self.call(
                lambda c: c.list_invoices(org, query_filter=where, fields=fields, page_size=10)
            )
        else:
            page = await self.call(
                lambda c: c.list_credit_notes(org, query_filter=where, fields=fields, page_size=10)
            )
        listed = next((item for item in page.items if item.guid == parent.dinero_guid), None)
        total = listed.total_incl_vat if listed else None
        in_dkk = listed.total_incl_vat_in_dkk if listed else None
        if not total or in_dkk is None:
            raise CannotPost(
                f"Dinero did not say what the {self._parent_label} in {self.doc.currency} "
                "comes to in DKK, which a payment on it needs",
                "currency",
            )
        amount = round_half_up(payment.amount * in_dkk / total)
        return replace(payment, amount=amount, amount_in_foreign_currency=payment.amount)

    async def _description(self, shop: ShopSettings) -> str:
        number = await self.p.pool.fetchval(
            "SELECT number FROM orders WHERE id = $1 AND shop_id = $2",
            self.doc.order_id,
            self.doc.shop_id,
        )
        refund = self.doc.source_ref != ORDER_PAYMENT
        if shop.language == "da-DK":
            return f"{'Tilbagebetaling' if refund else 'Betaling'}, ordre {number}"
        return f"{'Refund' if refund else 'Payment'}, order {number}"

    def _payment_date(self) -> date:
        """The day the customer paid (or was paid back), in Denmark; today if the shop did
        not say."""
        paid_at = self.doc.payload.get("paid_at")
        moment = datetime.fromisoformat(paid_at) if isinstance(paid_at, str) else self.now
        return copenhagen_date(moment)


def deposit_account(shop: ShopSettings, method: object) -> int:
    """Where the money goes: the account chosen for the payment method, else the shop's
    default one. None chosen is the owner's to fix, in the shop's settings."""
    number = shop.deposit_account(method if isinstance(method, str) else None)
    if number is None:
        for_method = f" for {method} payments" if isinstance(method, str) else ""
        raise CannotPost(
            f"Choose the deposit account payments go to{for_method} (or a default one) in "
            "the shop's settings, then retry this payment",
            "settings",
        )
    return number


# --- confirming Dinero's payment status ----------------------------------------------------------


@dataclass(frozen=True)
class _Registered:
    """A posted payment whose document's payment status in Dinero is not known yet."""

    id: int
    organization_id: int
    connection_id: UUID
    parent_kind: str
    parent_guid: UUID
    posted_at: datetime
    asked_at: datetime  # when the payment was registered, or Dinero last asked about it


class _Skip(Exception):
    """Not this organisation, not now."""


async def confirm_payments(poster: Poster, *, now: datetime) -> dict[str, int]:
    """`documents.confirm_payments`: Dinero's payment status onto every posted payment that
    still says "Registered". Per organisation one listing per kind of document paid (only
    those now Paid or OverPaid, changed since the oldest such payment), and for documents the
    listing has not shown paid after `FALLBACK_AFTER`, a read of their payments (at most
    `FALLBACK_PER_RUN`). An organisation whose budget is busy with posting, or whose
    connection fails, is left for the next run."""
    pending = await _registered_payments(poster, limit=CONFIRM_LIMIT)
    by_organization: dict[int, list[_Registered]] = {}
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
    poster: Poster, payments: list[_Registered], *, now: datetime
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
        confirmed = await _store_statuses(
            poster,
            [(p.id, statuses[p.parent_guid]) for p in payments if p.parent_guid in statuses],
            now=now,
        )
        await poster.pool.execute(
            "UPDATE documents SET next_attempt_at = $2 WHERE id = ANY($1::bigint[]) "
            "AND dinero_status = $3",
            [p.id for p in payments if p.parent_guid not in statuses],
            now,
            REGISTERED,
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


async def _payments_on(client: DineroClient, *, org: int, payment: _Registered) -> InvoicePayments:
    if payment.parent_kind == "invoice":
        return await client.invoice_payments(org, payment.parent_guid)
    return await client.credit_note_payments(org, payment.parent_guid)


async def _registered_payments(poster: Poster, *, limit: int) -> list[_Registered]:
    """Posted payments still "Registered", of shops whose connection to the payment's
    organisation is active, oldest first: at most `limit` per organisation, so one
    organisation's pile (a long backlog, payments Dinero shows partly paid) never crowds
    the others out of a run."""
    rows = await poster.pool.fetch(
        """
        SELECT id, organization_id, connection_id, parent_kind, parent_guid, posted_at,
               asked_at
        FROM (
            SELECT d.id, d.organization_id, c.id AS connection_id, p.kind AS parent_kind,
                   p.dinero_guid AS parent_guid, d.posted_at,
                   greatest(d.posted_at, d.next_attempt_at) AS asked_at,
                   row_number() OVER (PARTITION BY d.organization_id
                                      ORDER BY d.posted_at) AS place
            FROM documents d
            JOIN documents p ON p.id = d.parent_id AND p.shop_id = d.shop_id
            JOIN shops s ON s.id = d.shop_id
            JOIN dinero_connections c ON c.id = s.connection_id
                AND c.organization_id = d.organization_id AND c.status = 'active'
            WHERE d.kind = 'payment' AND d.state = 'posted' AND d.dinero_status = $1
              AND p.dinero_guid IS NOT NULL
        ) AS registered
        WHERE place <= $2
        ORDER BY posted_at
        """,
        REGISTERED,
        limit,
    )
    return [_Registered(**dict(row)) for row in rows]


async def _store_statuses(poster: Poster, statuses: list[tuple[int, str]], *, now: datetime) -> int:
    """Dinero's status onto each payment document, with an event the owner sees; only
    where the row still says "Registered" (a second run at once changes nothing)."""
    if not statuses:
        return 0
    rows = await poster.pool.fetch(
        """
        WITH updated AS (
            UPDATE documents d SET dinero_status = u.status, updated_at = $4
            FROM unnest($1::bigint[], $2::text[]) AS u(id, status)
            WHERE d.id = u.id AND d.kind = 'payment' AND d.state = 'posted'
              AND d.dinero_status = $3
            RETURNING d.id, d.shop_id, d.source_ref, u.status
        )
        INSERT INTO events (shop_id, document_id, kind, level, message, data, created_at)
        SELECT shop_id, id, 'document.payment_confirmed', 'info',
               'Dinero shows the ' ||
               CASE WHEN source_ref = 'order' THEN 'invoice' ELSE 'credit note' END ||
               CASE WHEN status = 'OverPaid' THEN ' as over-paid' ELSE ' as paid' END,
               jsonb_build_object('status', status), $4
        FROM updated
        RETURNING document_id
        """,
        [s[0] for s in statuses],
        [s[1] for s in statuses],
        REGISTERED,
        now,
    )
    return len(rows)


async def _store_read(
    poster: Poster, payment: _Registered, read: InvoicePayments, *, now: datetime
) -> int:
    """What a read of the document's payments says: paid, over-paid, or partly paid (then
    "Booked", as Dinero calls a booked document not paid in full, and the remainder in the
    event). Answers 1 for partly paid."""
    remaining = read.remaining_amount
    if remaining <= 0:
        status = "Paid" if remaining == 0 else "OverPaid"
        await _store_statuses(poster, [(payment.id, status)], now=now)
        return 0
    what = "invoice" if payment.parent_kind == "invoice" else "credit note"
    async with poster.pool.acquire() as conn, conn.transaction():
        shop_id = await conn.fetchval(
            "UPDATE documents SET dinero_status = 'Booked', updated_at = $3 "
            "WHERE id = $1 AND state = 'posted' AND dinero_status = $2 RETURNING shop_id",
            payment.id,
            REGISTERED,
            now,
        )
        if shop_id is None:
            return 0
        await conn.execute(
            "INSERT INTO events (shop_id, document_id, kind, level, message, data, created_at) "
            "VALUES ($1, $2, 'document.payment_confirmed', 'warning', $3, $4, $5)",
            shop_id,
            payment.id,
            f"Dinero shows the {what} as partly paid: {remaining} is still to be paid",
            {"status": "Booked", "remaining": str(remaining)},
            now,
        )
    return 1
