"""Registering a customer's payment on its booked invoice, or a refund's on its credit note.
(Confirming afterwards that Dinero counts the document as paid is `payment_status`.)

A payment document (`tenants.orders.documents` makes them) waits for its parent, the invoice
or credit note, to be posted. An attempt then takes one call on the happy path: the payment,
with the parent's timestamp that booking stored on the parent's row. Dinero takes no client
guid for a payment, so the payment's `ExternalReference` (the document's own, deterministic)
is how it is found again: an attempt after an uncertain one reads the parent's payments
first and registers nothing if ours is there. A stale timestamp (code 58: someone, perhaps
an earlier payment, changed the parent since) is read afresh and the payment sent once more.

"Registered" is what we know after the answer; "Paid" only what Dinero says.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, datetime
from typing import Final

from gateway.accounting import copenhagen_date
from gateway.dinero.errors import (
    TimestampOutdated,
    ValidationFailed,
)
from gateway.dinero.models import PaymentCreate
from gateway.dinero.payments import InvoicePayments, PaymentCreated
from gateway.dinero.query import eq, query_filter
from gateway.dinero.sales import SalesDocument
from gateway.orders import round_half_up
from tenants.dinero import drafts
from tenants.dinero.attempt import DineroAttempt
from tenants.orders.documents import ORDER_PAYMENT
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.outbox.payment_status import REGISTERED
from tenants.posting.attempt import CannotPost, Park
from tenants.posting.outcomes import Outcome, Result
from tenants.shops.settings import ShopSettings

log = logging.getLogger(__name__)

SWITCHED_OFF: Final = (
    "Registering payments is switched off in the shop's settings, so this payment is not "
    "registered in Dinero"
)


class PaymentAttempt(DineroAttempt):
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
        timestamp = parent.backend_version
        if parent.backend_status in (None, "Draft") or not timestamp:
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
        await self.record(backend_id=answer.guid)
        return await self.posted(
            step="paid", number=None, status=REGISTERED, version=answer.timestamp
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
                backend_id=found.guid, settlement_account=found.deposit_account_number
            )
        else:
            await self.record(backend_id=found.guid)
        return await self.posted(step="paid", number=None, status=REGISTERED, version=None)

    async def _payments_of(self, parent: Document) -> InvoicePayments:
        org, guid = self.organization_id, parent.backend_id
        assert guid is not None  # `parent` checked it
        if parent.kind == "invoice":
            return await self.call(lambda c: c.invoice_payments(org, guid))
        return await self.call(lambda c: c.credit_note_payments(org, guid))

    async def _fresh_timestamp(self, parent: Document) -> str:
        """The parent's current timestamp, read from Dinero; a parent that is (still) a
        draft there takes no payment."""
        org, guid = self.organization_id, parent.backend_id
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
        org, guid = self.organization_id, parent.backend_id
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
        listed = next((item for item in page.items if item.guid == parent.backend_id), None)
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
