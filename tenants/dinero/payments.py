"""A payment in Dinero, as posting's payment steps (`tenants.posting.payments`) ask for it:
Dinero's calls behind `Books.find_payment`, `payable_version` and `register_payment`.

Dinero takes no client guid for a payment: ours is found again by its `ExternalReference`
among the invoice's (or credit note's) payments, one `GET …/payments`. The version a payment
is sent with is the parent's `Timestamp`; a stale one is code 58. A document in another
currency is paid with both amounts: ours in its currency, and in DKK at the rate Dinero
booked the document at (the listing's DKK total), so the payment leaves no exchange
difference of our making: one call more, made once per attempt.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from uuid import UUID

from gateway.dinero.errors import TimestampOutdated, ValidationFailed
from gateway.dinero.models import PaymentCreate
from gateway.dinero.payments import InvoicePayments, PaymentCreated
from gateway.dinero.query import eq, query_filter
from gateway.dinero.sales import SalesDocument
from gateway.orders import round_half_up
from tenants.dinero.attempt import code_of, refusal
from tenants.dinero.session import DineroSession
from tenants.outbox.models import Document
from tenants.posting.attempt import CannotPost, label
from tenants.posting.backend import Payment, PaymentInBooks, Refused, SalesKind, StaleVersion


class DineroPayments:
    """One attempt's payment calls to one organisation."""

    def __init__(self, session: DineroSession) -> None:
        self.session = session
        self._in_dkk: dict[
            int, tuple[Decimal, Decimal] | None
        ] = {}  # parent: the rate's two totals

    @property
    def _org(self) -> int:
        return self.session.organization_id

    async def find(self, parent: Document, reference: str) -> PaymentInBooks | None:
        payments = await self._payments_of(parent)
        found = next((p for p in payments.payments if p.external_reference == reference), None)
        if found is None:
            return None
        return PaymentInBooks(found.guid, found.deposit_account_number)

    async def _payments_of(self, parent: Document) -> InvoicePayments:
        org, guid = self._org, parent.backend_id
        assert guid is not None  # `parent` checked it
        if parent.kind == "invoice":
            return await self.session.call(lambda c: c.invoice_payments(org, guid))
        return await self.session.call(lambda c: c.credit_note_payments(org, guid))

    async def payable_version(self, kind: SalesKind, guid: UUID) -> str | None:
        org = self._org
        if kind == "invoice":
            live: SalesDocument = await self.session.call(lambda c: c.get_invoice(org, guid))
        else:
            live = await self.session.call(lambda c: c.get_credit_note(org, guid))
        if live.is_draft or not live.timestamp:
            return None
        return live.timestamp

    async def register(self, parent: Document, payment: Payment, version: str) -> PaymentInBooks:
        body = PaymentCreate(
            timestamp=version,
            deposit_account_number=payment.account,
            description=payment.description,
            amount=payment.amount,
            remainder_is_fee=False,
            payment_date=payment.paid_on,
            external_reference=payment.reference,
        )
        if payment.currency != "DKK":
            body = await self._converted(body, parent, payment.currency)
        try:
            answer = await self._register(parent, body)
        except TimestampOutdated as exc:
            raise StaleVersion(str(exc), code_of(exc)) from exc
        except ValidationFailed as exc:
            raise Refused(refusal(exc), code_of(exc)) from exc
        return PaymentInBooks(answer.guid, version=answer.timestamp)

    async def _register(self, parent: Document, payment: PaymentCreate) -> PaymentCreated:
        org, guid = self._org, parent.backend_id
        assert guid is not None
        if parent.kind == "invoice":
            return await self.session.call(lambda c: c.register_invoice_payment(org, guid, payment))
        return await self.session.call(lambda c: c.register_credit_note_payment(org, guid, payment))

    async def _converted(
        self, payment: PaymentCreate, parent: Document, currency: str
    ) -> PaymentCreate:
        """Both amounts, at the rate Dinero booked the parent at (read once per attempt)."""
        if parent.id not in self._in_dkk:
            self._in_dkk[parent.id] = await self._dkk_totals(parent)
        totals = self._in_dkk[parent.id]
        if totals is None:
            raise CannotPost(
                f"Dinero did not say what the {label(parent)} in {currency} comes to in DKK, "
                "which a payment on it needs",
                "currency",
            )
        total, in_dkk = totals
        amount = round_half_up(payment.amount * in_dkk / total)
        return replace(payment, amount=amount, amount_in_foreign_currency=payment.amount)

    async def _dkk_totals(self, parent: Document) -> tuple[Decimal, Decimal] | None:
        org = self._org
        where = query_filter(eq("ExternalReference", parent.external_reference))
        fields = ("Guid", "TotalInclVat", "TotalInclVatInDkk")
        if parent.kind == "invoice":
            page = await self.session.call(
                lambda c: c.list_invoices(org, query_filter=where, fields=fields, page_size=10)
            )
        else:
            page = await self.session.call(
                lambda c: c.list_credit_notes(org, query_filter=where, fields=fields, page_size=10)
            )
        listed = next((item for item in page.items if item.guid == parent.backend_id), None)
        total = listed.total_incl_vat if listed else None
        in_dkk = listed.total_incl_vat_in_dkk if listed else None
        if not total or in_dkk is None:
            return None
        return total, in_dkk
