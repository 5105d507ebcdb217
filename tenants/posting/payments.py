"""Registering a customer's payment on its booked invoice, or a refund's on its credit note,
in whatever accounting system (`Books`, `tenants.posting.backend`). (Confirming afterwards
that the books count the document as paid is the backend's: Dinero's `payment_status`.)

A payment document (`tenants.orders.documents` makes them) waits for its parent, the invoice
or credit note, to be posted. An attempt then takes one call on the happy path: the payment,
with the parent's version that booking stored on the parent's row. A backend may take no
client id for a payment (Dinero does not), so the payment's reference (the document's own,
deterministic) is how it is found again: an attempt after an uncertain one looks among the
parent's payments first (`Books.find_payment`) and registers nothing if ours is there. A
stale version (someone, perhaps an earlier payment, changed the parent since) is read
afresh and the payment sent once more.

"Registered" is what we know after the answer; "Paid" only what the books say.
"""

from __future__ import annotations

from datetime import date, datetime

from gateway.accounting import copenhagen_date
from tenants.orders.documents import ORDER_PAYMENT
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.outbox.payment_status import REGISTERED
from tenants.posting.attempt import CannotPost, posting_settings
from tenants.posting.backend import (
    BooksAttempt,
    Payment,
    Refused,
    SalesKind,
    StaleVersion,
)
from tenants.posting.outcomes import Outcome, Result
from tenants.shops.settings import ShopSettings


def switched_off(system: str) -> str:
    return (
        "Registering payments is switched off in the shop's settings, so this payment is not "
        f"registered in {system}"
    )


class PaymentAttempt(BooksAttempt):
    """A payment on an invoice (`source_ref` "order") or on a credit note (a refund)."""

    async def run(self) -> Result:
        doc = self.doc
        shop = await posting_settings(self.context.pool, doc.shop_id)
        if not shop.register_payments and not doc.uncertain:
            return await self._switched_off()
        parent = await self.parent(self._parent_label)
        organization_id = self.organisation(self.backend.organisation(shop), parent)
        self._books = self.backend.books(shop, organization_id, self.now)
        if doc.uncertain:
            # An earlier attempt may have registered it: with no client id for a payment,
            # look for its reference before paying again.
            found = await self._find(parent)
            if found is not None:
                return found
            if not shop.register_payments:
                return await self._switched_off()
        account = deposit_account(shop, doc.payload.get("method"))
        # Written ahead: from here on the payment may be in the books, whatever stops this
        # attempt (a lost answer, or our own database failing after the books answered), so
        # the next attempt reads the payments back before it sends anything.
        await self.record(
            organization_id=organization_id, settlement_account=account, uncertain=True
        )
        version = parent.backend_version
        if not self.books.says_booked(parent.backend_status, _kind(parent)) or not version:
            version = await self._fresh_version(parent)
        payment = Payment(
            amount=doc.amount,
            currency=doc.currency,
            account=account,
            description=await self._description(shop),
            paid_on=self._payment_date(),
            reference=doc.external_reference,
        )
        try:
            try:
                answer = await self.books.register_payment(parent, payment, version)
            except StaleVersion:
                fresh = await self._fresh_version(parent)
                answer = await self.books.register_payment(parent, payment, fresh)
        except (Refused, StaleVersion):
            await self.record(uncertain=False)  # refused: certainly not registered
            raise
        await self.record(backend_id=answer.id)
        return await self.posted(
            step="paid", number=None, status=REGISTERED, version=answer.version
        )

    @property
    def _parent_label(self) -> str:
        return "invoice" if self.doc.source_ref == ORDER_PAYMENT else "credit note"

    async def _switched_off(self) -> Result:
        message = switched_off(self.backend.system)
        await outbox.cancelled(self.context.pool, self.doc, now=self.now, message=message)
        return Result(Outcome.CANCELLED)

    async def _find(self, parent: Document) -> Result | None:
        """Our payment, if an earlier attempt registered it: the attempt then ends posted."""
        found = await self.books.find_payment(parent, self.doc.external_reference)
        if found is None:
            return None
        if found.account is not None:
            await self.record(backend_id=found.id, settlement_account=found.account)
        else:
            await self.record(backend_id=found.id)
        return await self.posted(step="paid", number=None, status=REGISTERED, version=None)

    async def _fresh_version(self, parent: Document) -> str:
        """The parent's current version, read from the books; a parent that is (still) a
        draft there takes no payment."""
        assert parent.backend_id is not None  # `parent` checked it
        version = await self.books.payable_version(_kind(parent), parent.backend_id)
        if version is None:
            what, books = self._parent_label, self.books.system
            raise CannotPost(
                f"The {what} is a draft in {books}, and {books} registers payments on booked "
                f"documents only. Book the {what} in {books}, then retry this payment.",
                "parent_draft",
            )
        return version

    async def _description(self, shop: ShopSettings) -> str:
        number = await self.context.pool.fetchval(
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


def _kind(parent: Document) -> SalesKind:
    return "invoice" if parent.kind == "invoice" else "credit_note"


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
