"""One Dinero organisation's books, as posting's steps speak to them (`Books` in
`tenants.posting.backend`): Dinero's calls for invoices and credit notes (payments:
`tenants.dinero.payments`; manual vouchers: `tenants.dinero.vouchers`), and Dinero's answers
in posting's words.

Dinero's ways, behind the operations: a document's id is the `Guid` we create it with, its
version the `Timestamp` booking sends back; "find again" is a read by that `Guid` (a 404 is
"not there"); a repeated `Guid` is refused as a duplicate (`Exists`); a stale `Timestamp` is
code 58 (`StaleVersion`); any other 400 is a refusal in Dinero's words (`Refused`), naming
the contact when its `ContactGuid` is what Dinero did not take.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Final, TypeVar
from uuid import UUID

from gateway.accounting import DocumentDraft
from gateway.dinero.client import DineroClient
from gateway.dinero.errors import NotFound, TimestampOutdated, ValidationFailed
from gateway.dinero.sales import SalesDocument
from gateway.orders import Customer, Order
from tenants.dinero import bodies, contacts
from tenants.dinero.attempt import Resources, booking, classify, code_of, refusal
from tenants.dinero.payments import DineroPayments
from tenants.dinero.session import DineroSession
from tenants.dinero.vouchers import DineroVouchers
from tenants.outbox.models import Document
from tenants.posting import drafts
from tenants.posting.backend import (
    Exists,
    InBooks,
    Kind,
    Payment,
    PaymentInBooks,
    Refused,
    SalesKind,
    StaleVersion,
    VoucherPlan,
)
from tenants.shops.settings import ShopSettings

T = TypeVar("T")

SYSTEM: Final = "Dinero"


def in_books(document: SalesDocument) -> InBooks:
    status = document.status
    return InBooks(
        id=document.guid,
        version=document.timestamp,
        status=status,
        number=document.number,
        total=document.total_incl_vat,
        booked=status is not None and status.lower() != "draft",
    )


class DineroBooks:
    """One organisation's books for one attempt: its session (call budget, 401 policy)."""

    def __init__(self, poster: Resources, session: DineroSession, now: datetime) -> None:
        self._poster = poster
        self.session = session
        self._now = now
        self._payment_calls: DineroPayments | None = None

    @property
    def _vouchers(self) -> DineroVouchers:
        return DineroVouchers(self.session, self._now)

    @property
    def _payments(self) -> DineroPayments:
        if self._payment_calls is None:
            self._payment_calls = DineroPayments(self.session)
        return self._payment_calls

    @property
    def organization_id(self) -> int:
        return self.session.organization_id

    @property
    def system(self) -> str:
        return SYSTEM

    def says_booked(self, status: str | None, kind: Kind) -> bool:
        if kind == "voucher":
            return status is not None and status.lower() == "booked"
        return status is not None and status != "Draft"

    async def _call(self, request: Callable[[DineroClient], Awaitable[T]]) -> T:
        return await self.session.call(request)

    async def draft(self, document: Document, shop: ShopSettings) -> tuple[Order, DocumentDraft]:
        return await drafts.draft_for(self._poster.pool, document, shop, now=self._now)

    async def contact(self, customer: Customer) -> UUID:
        return await contacts.resolve(self._poster.pool, self.session, customer, now=self._now)

    async def forget_contact(self, contact: UUID) -> None:
        await contacts.forget(self._poster.pool, self.organization_id, contact)

    async def create(
        self,
        kind: SalesKind,
        draft: DocumentDraft,
        *,
        client_id: UUID,
        reference: str,
        contact: UUID,
        credits: UUID | None,
    ) -> InBooks:
        org = self.organization_id
        try:
            if kind == "invoice":
                body = bodies.invoice(
                    draft, guid=client_id, external_reference=reference, contact_guid=contact
                )
                made = await self._call(lambda c: c.create_invoice(org, body))
            else:
                note = bodies.credit_note(
                    draft,
                    guid=client_id,
                    external_reference=reference,
                    contact_guid=contact,
                    credit_note_for=credits,
                )
                made = await self._call(lambda c: c.create_credit_note(org, note))
        except ValidationFailed as exc:
            if exc.duplicate_guid:
                raise Exists() from exc
            names_contact = "contactguid" in " ".join(exc.field_errors).lower()
            raise Refused(refusal(exc), code_of(exc), names_contact=names_contact) from exc
        return InBooks(made.guid, made.timestamp, "Draft", None, None, booked=False)

    async def read(self, kind: Kind, backend_id: UUID) -> InBooks:
        org = self.organization_id
        if kind == "voucher":
            return await self._vouchers.read(backend_id)
        if kind == "invoice":
            found: SalesDocument = await self._call(lambda c: c.get_invoice(org, backend_id))
        else:
            found = await self._call(lambda c: c.get_credit_note(org, backend_id))
        return in_books(found)

    async def find(self, kind: Kind, backend_id: UUID) -> InBooks | None:
        try:
            return await self.read(kind, backend_id)
        except NotFound:
            return None

    async def book(self, kind: Kind, backend_id: UUID, version: str) -> InBooks:
        org = self.organization_id
        if kind == "voucher":
            return await self._vouchers.book(backend_id, version)
        try:
            if kind == "invoice":
                booked: SalesDocument = await self._call(
                    lambda c: c.book_invoice(org, backend_id, version)
                )
            else:
                booked = await self._call(lambda c: c.book_credit_note(org, backend_id, version))
        except TimestampOutdated as exc:
            raise StaleVersion(str(exc), code_of(exc)) from exc
        except ValidationFailed as exc:
            raise Refused(refusal(exc), code_of(exc)) from exc
        return in_books(booked)

    async def delete_draft(self, backend_id: UUID, version: str) -> None:
        org = self.organization_id
        try:
            await self._call(lambda c: c.delete_invoice(org, backend_id, version))
        except ValidationFailed as exc:
            raise Refused(refusal(exc), code_of(exc)) from exc

    async def listed(self, kind: SalesKind, reference: str) -> list[UUID]:
        org = self.organization_id
        if kind != "invoice":
            raise NotImplementedError("Dinero's credit notes are not listed by reference here")
        found = await self._call(lambda c: c.find_invoices(org, external_reference=reference))
        return [summary.guid for summary in found]

    async def voucher_plan(self, document: Document, shop: ShopSettings) -> VoucherPlan:
        return await drafts.voucher_for(self._poster.pool, document, shop, now=self._now)

    async def find_attachment(self, name: str) -> str | None:
        return await self._vouchers.find_attachment(name)

    async def upload_attachment(self, name: str, content: bytes) -> str:
        return await self._vouchers.upload(name, content)

    async def voucher_of_attachment(
        self, attachment: str, reference: str, *, reversing: bool
    ) -> tuple[InBooks, int | None] | None:
        return await self._vouchers.of_attachment(attachment, reference, reversing=reversing)

    async def create_voucher(self, plan: VoucherPlan, attachment: str, reference: str) -> InBooks:
        return await self._vouchers.create(plan, attachment, reference)

    async def find_payment(self, parent: Document, reference: str) -> PaymentInBooks | None:
        return await self._payments.find(parent, reference)

    async def payable_version(self, kind: SalesKind, backend_id: UUID) -> str | None:
        return await self._payments.payable_version(kind, backend_id)

    async def register_payment(
        self, parent: Document, payment: Payment, version: str
    ) -> PaymentInBooks:
        return await self._payments.register(parent, payment, version)

    def booking(self) -> AbstractAsyncContextManager[None]:
        return booking(self._poster, self.organization_id, self._now)

    async def classify(self, exc: Exception) -> Exception:
        return await classify(self._poster, self.session, exc, self._now)
