"""The documents an order is owed: which rows an event creates, under the order's lock.

`tenants.orders.ingest.record_event` decides what happened to the order; `OrderDocuments` turns that
into `documents` rows (the pipeline contract, and the settlement issue's additions):

- The order's own document: seq 0, an `invoice`, or a `voucher` in voucher mode.
- A refund: a `credit_note` for the invoice, or in voucher mode a reversing `voucher` (seq 1
  and up) whose parent is the order's voucher; `payload.refund_id` names the refund row.
- A cancellation after the document reached Dinero: the same kind, `source_ref` "cancel",
  `payload.full`. It credits only what the refunds left: the order's total less every
  refund that has its own credit note already (its `payload` then says `remaining` and
  `refund_ids`, for the draft to leave those out); when nothing is left, no document.
- Payments (invoice mode, a shop that registers payments and books its invoices, a paid
  order): a `payment` for the invoice (`source_ref` "order", seq 1) and one per credit note
  ("refund:<refund id>", "refund:cancel"), each waiting for its parent to be posted. The
  invoice's is made when the invoice is created for a paid order, or when the order becomes
  paid (a later `order.paid`); a credit note's when the credit note is created for a paid
  order (a refund of an order not paid yet lowers what is owed: no money goes back). Never
  after that: an owner who switches payments on gets them for what is paid or refunded from
  then on, not a wave of payments for invoices long settled by hand.
- Voucher mode: an order paid after a worker began on its voucher (which may then have been
  balanced against the receivable account) gets a payment voucher (`source_ref` "payment",
  `payload.settlement`) that moves the money to the deposit account; the worker cancels it
  if the voucher was balanced against the deposit account after all.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import asyncpg

from gateway.db import Connection
from gateway.orders import Order
from tenants.outbox import creation
from tenants.outbox.creation import OrderDocument
from tenants.outbox.identity import client_guid, external_reference
from tenants.shops import repository as shops
from tenants.shops.ingest_secrets import IngestShop

log = logging.getLogger(__name__)

CANCEL_REF: Final = "cancel"
# The source_ref of a voucher-mode order's payment voucher. Like CANCEL_REF, not a refund id.
SETTLEMENT_REF: Final = "payment"
RESERVED_REFS: Final = frozenset({CANCEL_REF, SETTLEMENT_REF})
ORDER_PAYMENT: Final = "order"  # the source_ref of the payment of the order itself


@dataclass(frozen=True)
class OrderFacts:
    id: int
    inserted: bool
    applied: bool  # False for a stale event
    currency: str
    total: Decimal
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    cancelled_at: dt.datetime | None
    newly_paid: bool = False  # this event is the first to say the order is paid


class OrderDocuments:
    """One event's changes to one order's documents, under the order's lock."""

    def __init__(
        self,
        conn: Connection,
        shop: IngestShop,
        external_id: str,
        order: OrderFacts,
        documents: list[OrderDocument],
    ) -> None:
        self.conn = conn
        self.shop = shop
        self.external_id = external_id
        self.order = order
        self.documents = documents
        self.new_queued: list[int] = []
        self.created: list[OrderDocument] = []  # by this event
        self.invoice_created = False

    @property
    def invoice(self) -> OrderDocument | None:
        """The order's own document: its invoice, or in voucher mode its voucher."""
        return next(
            (d for d in self.documents if d.kind in ("invoice", "voucher") and d.seq == 0), None
        )

    async def ensure_invoice(self) -> None:
        if self.invoice is not None:
            return
        # Read again here, in the transaction that holds the order's lock, rather than
        # trusting what was read before it began: an owner switching invoice <-> voucher
        # meanwhile converts unstarted documents under the orders' locks, so this one is
        # either made with the new kind or converted with the rest.
        document_kind = await shops.document_kind(self.conn, self.shop.id)
        kind = "voucher" if document_kind == "voucher" else "invoice"
        await self._insert(kind, seq=0, source_ref=None, parent=None, payload={})
        self.invoice_created = True

    async def cancel(self) -> None:
        invoice = self.invoice
        if invoice is None or invoice.state == "cancelled":
            return
        if invoice.unstarted:
            # Nothing of the order has reached Dinero (a child is never posted before its
            # parent), so everything it is owed is cancelled: credit notes, payments, all.
            await creation.cancel_unposted(self.conn, self.shop.id, self.order.id)
            for document in self.documents:
                if document.state != "posted":
                    document.state = "cancelled"
            return
        if any(d.source_ref == CANCEL_REF for d in self.documents):
            return
        # Credit (or reverse) what the refunds have not: the order's total less every
        # refund that has its own credit note (or reversing voucher) already, posted or
        # still owed (a failed one is the owner's to retry, not this note's to cover).
        kind = _credit_kind(invoice)
        credited = [
            d for d in self._credits(kind) if d.source_ref != CANCEL_REF and d.state != "cancelled"
        ]
        remaining = self.order.total - sum((d.amount for d in credited), Decimal(0))
        if remaining <= 0:
            return  # refunded in full: nothing is left to credit
        payload: dict[str, Any] = {"full": True}
        if credited:
            payload["remaining"] = str(remaining)
            payload["refund_ids"] = [d.payload["refund_id"] for d in credited]
        await self._insert(
            kind,
            seq=self._next_seq(kind),
            source_ref=CANCEL_REF,
            parent=invoice,
            payload=payload,
            amount=remaining,
        )

    async def credit_refunds(self) -> None:
        invoice = self.invoice
        if invoice is None or invoice.state == "cancelled" or self.order.cancelled_at:
            return
        kind = _credit_kind(invoice)
        rows = await self.conn.fetch(
            """
            SELECT r.id, r.refund_id, r.total FROM refunds r
            WHERE r.shop_id = $1 AND r.order_id = $2 AND NOT EXISTS (
                SELECT 1 FROM documents d
                WHERE d.shop_id = r.shop_id AND d.order_id = r.order_id
                  AND d.kind = $3 AND d.source_ref = r.refund_id)
            ORDER BY r.occurred_at, r.id
            """,
            self.shop.id,
            self.order.id,
            kind,
        )
        for row in rows:
            await self._insert(
                kind,
                seq=self._next_seq(kind),
                source_ref=row["refund_id"],
                parent=invoice,
                payload={"refund_id": row["id"]},
                amount=row["total"],
            )

    async def ensure_payments(self, order: Order) -> None:
        """The payment documents this event is the reason for: see the module's docstring.
        `order` is the event's (for a stale event, older than the stored one; it is then
        only asked for the payment method a refund falls back to)."""
        invoice = self.invoice
        if not (
            self.shop.register_payments
            and self.shop.mode == "booked"
            and self.order.paid_at is not None
            and invoice is not None
            and invoice.kind == "invoice"
            and invoice.mode == "booked"
            and invoice.state != "cancelled"
        ):
            return
        newly_paid = self.order.newly_paid
        created = {d.id for d in self.created}
        existing = {d.source_ref for d in self.documents if d.kind == "payment"}
        # A cancelled order's invoice is credited in full: a payment arriving after the
        # cancellation is not registered on it (nor paid back on a credit note).
        owed = (newly_paid or invoice.id in created) and self.order.cancelled_at is None
        if owed and ORDER_PAYMENT not in existing:
            payment = order.payment
            await self._insert(
                "payment",
                seq=1,
                source_ref=ORDER_PAYMENT,
                parent=invoice,
                payload=_payment_payload(
                    payment.method if payment else None,
                    (payment.paid_at if payment else None) or self.order.paid_at,
                    payment.reference if payment else None,
                ),
                amount=payment.amount if payment else self.order.total,
            )
        notes = [
            d
            for d in self._credits("credit_note")
            if d.state != "cancelled" and d.id in created and _refund_payment_ref(d) not in existing
        ]
        if not notes:
            return
        refunds = await self._refunds()
        # Money goes back the way it came: the order's payment method, as this event or
        # the order's payment document says.
        paid_with = next(
            (
                d.payload.get("method")
                for d in self.documents
                if d.kind == "payment" and d.source_ref == ORDER_PAYMENT
            ),
            None,
        )
        method = order.payment.method if order.payment else paid_with
        for note in notes:
            refund = refunds.get(note.payload.get("refund_id", 0))
            if refund is None:  # the cancellation's: the money that was left
                payload = _payment_payload(method, self.order.cancelled_at, None)
                amount = note.amount
            else:
                paid: dict[str, Any] = refund["payment"] or {}
                payload = _payment_payload(
                    paid.get("method") or method,
                    _time(paid.get("paid_at")) or refund["occurred_at"],
                    paid.get("reference"),
                )
                amount = Decimal(paid["amount"]) if paid.get("amount") else note.amount
            await self._insert(
                "payment",
                seq=max((d.seq for d in self.documents if d.kind == "payment"), default=1) + 1,
                source_ref=_refund_payment_ref(note),
                parent=note,
                payload=payload,
                amount=amount,
            )

    def _credits(self, kind: str) -> list[OrderDocument]:
        """The order's credit notes (or reversing vouchers), cancellation's included."""
        return [
            d
            for d in self.documents
            if d.kind == kind
            and not (kind == "voucher" and (d.seq == 0 or d.source_ref == SETTLEMENT_REF))
        ]

    async def ensure_voucher_settlement(self, order: Order) -> None:
        """A voucher-mode order paid after a worker began on its voucher: the payment
        voucher that clears the receivable account (see the module's docstring)."""
        voucher = self.invoice
        if not (
            voucher is not None
            and voucher.kind == "voucher"
            and voucher.state != "cancelled"
            and self.order.newly_paid
            and self.order.cancelled_at is None
            and not voucher.unstarted
            and voucher not in self.created
        ):
            return
        if any(d.kind == "voucher" and d.source_ref == SETTLEMENT_REF for d in self.documents):
            return
        payment = order.payment
        payload = _payment_payload(
            payment.method if payment else None,
            (payment.paid_at if payment else None) or self.order.paid_at,
            payment.reference if payment else None,
        )
        await self._insert(
            "voucher",
            seq=self._next_seq("voucher"),
            source_ref=SETTLEMENT_REF,
            parent=voucher,
            payload={**payload, "settlement": True},
            amount=payment.amount if payment else self.order.total,
        )

    async def _refunds(self) -> dict[int, asyncpg.Record]:
        """The order's refunds by row id, with what their events said about the money paid
        back (`payment`, or null: then it is the refund's total)."""
        rows = await self.conn.fetch(
            "SELECT id, occurred_at, payload->'payment' AS payment FROM refunds "
            "WHERE shop_id = $1 AND order_id = $2",
            self.shop.id,
            self.order.id,
        )
        return {row["id"]: row for row in rows}

    def _next_seq(self, kind: str) -> int:
        return 1 + max((d.seq for d in self.documents if d.kind == kind), default=-1)

    async def _insert(
        self,
        kind: str,
        *,
        seq: int,
        source_ref: str | None,
        parent: OrderDocument | None,
        payload: dict[str, Any],
        amount: Decimal | None = None,
    ) -> None:
        # A credit note or payment waits for its parent to be posted; `outbox.posted`
        # releases it then.
        state = "waiting" if parent is not None and parent.state != "posted" else "queued"
        amount = self.order.total if amount is None else amount
        document_id = await creation.insert(
            self.conn,
            creation.NewDocument(
                shop_id=self.shop.id,
                order_id=self.order.id,
                kind=kind,
                seq=seq,
                source_ref=source_ref,
                parent_id=parent.id if parent else None,
                state=state,
                mode=self.shop.mode,
                payload=payload,
                currency=self.order.currency,
                amount=amount,
                client_guid=client_guid(
                    self.shop.id, self.external_id, kind, seq=seq, source_ref=source_ref
                ),
                external_reference=external_reference(
                    self.shop.id, self.external_id, kind, seq=seq
                ),
            ),
        )
        # The order's lock makes a conflict impossible; if one came anyway, the unique key
        # has done its job and the existing row stands.
        if document_id is None:
            log.warning("document %s/%s of order %s already exists", kind, seq, self.order.id)
            return
        document = OrderDocument(
            document_id, kind, seq, source_ref, state, self.shop.mode, amount, payload
        )
        self.documents.append(document)
        self.created.append(document)
        if state == "queued":
            self.new_queued.append(document_id)


def _credit_kind(invoice: OrderDocument) -> str:
    """What undoes part of the order's document: a credit note, or a reversing voucher."""
    return "voucher" if invoice.kind == "voucher" else "credit_note"


def _refund_payment_ref(note: OrderDocument) -> str:
    return f"refund:{note.source_ref}"


def _payment_payload(
    method: str | None, paid_at: dt.datetime | None, reference: str | None
) -> dict[str, Any]:
    when = paid_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if paid_at else None
    return {"method": method, "paid_at": when, "reference": reference}


def _time(text: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if isinstance(text, str) else None
