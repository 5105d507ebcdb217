"""One organisation's books in the sandbox: contacts and sales documents (invoices and credit
notes) with their payments (checked in `payments`), and its files and manual vouchers (kept
in `vouchers`).

Every method is synchronous and the API calls it after its last `await`, so a check and the
change it guards never interleave with another request on the sandbox's one event loop.
Methods take request bodies already bound by `rules` and raise `DineroApiError`.

Each change gives the entity a new `TimeStamp` from the organisation's version counter (a
16-digit hex string like Dinero's). Invoices and credit notes share one guid space and one
number series; manual vouchers have a series of their own.

Choices where DINERO.md says "Unsure" or the OpenAPI file is silent:
- A repeated client guid (invoice, credit note or contact) is a 400 whose message names the
  guid and says it already exists; a deleted draft keeps its guid taken.
- Booking something already booked is a 400 even with a stale timestamp (that check comes
  before the timestamp's).
- Credit-note line amounts are positive, as on the invoice they credit; a credit note whose
  total incl. VAT would be negative is refused.
- A deleted draft can still be read by its guid (with `DeletedAt` set) but is listed only with
  `deletedOnly=true`.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

from sandbox.chart import Chart
from sandbox.entries import (
    CREDIT_NOTE,
    INVOICE,
    DocumentKind,
    already_exists,
    check_timestamp,
    label,
    not_found,
    parse_date,
    take_number,
)
from sandbox.errors import validation_error
from sandbox.money import ZERO, PricedLine, Totals, document_totals, line_total
from sandbox.payments import Payment, new_payment
from sandbox.rules import CREDIT_NOTE_CREATE
from sandbox.vouchers import Vouchers

DEFAULT_PAYMENT_DAYS = 8
_FIRST_VERSION = 0x20A5E00

_DEFAULT_DESCRIPTIONS = {
    (INVOICE, "da-DK"): "Faktura",
    (INVOICE, "en-GB"): "Invoice",
    (CREDIT_NOTE, "da-DK"): "Kreditnota",
    (CREDIT_NOTE, "en-GB"): "Credit note",
}


@dataclass(eq=False)
class Contact:
    guid: UUID
    data: dict[str, Any]  # the bound ContactCreateModel
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return str(self.data["Name"])


@dataclass(frozen=True)
class DocumentLine:
    line_type: str
    description: str | None
    comments: str | None
    quantity: Decimal
    base_amount: Decimal  # as entered: excl. VAT, or incl. with ShowLinesInclVat
    discount: Decimal
    account_number: int
    unit: str | None
    product_guid: UUID | None
    rate: Decimal
    total: Decimal  # rounded, as entered; 0 on a Text line


@dataclass(eq=False)
class SalesDocument:
    kind: DocumentKind
    guid: UUID
    data: dict[str, Any]  # the bound create model, for the fields stored as given
    lines: list[DocumentLine]
    totals: Totals
    contact_guid: UUID | None
    currency: str
    language: str
    issue_date: date
    description: str
    payment_condition: tuple[str, int]
    payment_date: date | None
    credit_note_for: UUID | None
    created_at: datetime
    updated_at: datetime
    timestamp: str = ""
    status: Literal["Draft", "Booked"] = "Draft"
    number: int = 0
    deleted_at: datetime | None = None
    payments: list[Payment] = field(default_factory=list)

    @property
    def show_lines_incl_vat(self) -> bool:
        return bool(self.data["ShowLinesInclVat"])

    @property
    def external_reference(self) -> str | None:
        value = self.data["ExternalReference"]
        return None if value is None else str(value)

    @property
    def paid(self) -> Decimal:
        return sum((payment.amount for payment in self.payments), ZERO)

    @property
    def remaining(self) -> Decimal:
        fees = sum((payment.fee for payment in self.payments), ZERO)
        return self.totals.incl_vat - self.paid - fees

    def changed_at(self) -> datetime:
        return max(self.updated_at, self.deleted_at or self.updated_at)


class Ledger:
    """Everything stored for one organisation."""

    def __init__(self, organization_id: int, *, now: Callable[[], datetime]) -> None:
        self.organization_id = organization_id
        self.now = now
        self.chart = Chart.standard()
        self.contacts: dict[UUID, Contact] = {}
        self.documents: dict[UUID, SalesDocument] = {}
        self._payments: list[Payment] = []
        self._version = _FIRST_VERSION
        self._document_numbers: set[int] = set()
        self.vouchers = Vouchers(self.chart, now=now, stamp=self._stamp)

    def today(self) -> date:
        return self.now().date()

    def _stamp(self) -> str:
        self._version += 1
        return f"{self._version:016X}"

    # -- contacts ---------------------------------------------------------------------

    def create_contact(self, data: dict[str, Any]) -> Contact:
        guid = data["ContactGuid"] or uuid4()
        if guid in self.contacts:
            raise already_exists("ContactGuid", guid)
        now = self.now()
        contact = self.contacts[guid] = Contact(guid, dict(data, ContactGuid=guid), now, now)
        return contact

    def contact(self, guid: UUID) -> Contact:
        contact = self.contacts.get(guid)
        if contact is None:
            raise not_found("Contact", guid)
        return contact

    # -- invoices and credit notes ----------------------------------------------------

    def create_document(self, kind: DocumentKind, data: dict[str, Any]) -> SalesDocument:
        guid = data["Guid"]
        if guid is not None and guid in self.documents:
            raise already_exists("Guid", guid)
        document = self.preview_document(kind, data)
        document.guid = guid or uuid4()
        document.timestamp = self._stamp()
        self.documents[document.guid] = document
        return document

    def preview_document(self, kind: DocumentKind, data: dict[str, Any]) -> SalesDocument:
        """The document a create would store, checked against the books but not stored."""
        errors: dict[str, str] = {}
        contact = self._document_contact(data["ContactGuid"], errors)
        currency = data["Currency"] or "DKK"
        if currency not in self.chart.currency_rates:
            errors["Currency"] = f"The currency {currency} is not supported."
        lines_incl_vat = bool(data["ShowLinesInclVat"])
        lines = [
            self._document_line(i, line, errors) for i, line in enumerate(data["ProductLines"])
        ]
        credit_note_for = data.get("CreditNoteFor")
        if credit_note_for is not None:
            self._check_credited_invoice(credit_note_for, errors)
        if errors:
            raise validation_error("The document is invalid.", **errors)

        totals = document_totals(
            (PricedLine(line.total, line.rate) for line in lines if line.line_type == "Product"),
            lines_incl_vat=lines_incl_vat,
        )
        if kind == CREDIT_NOTE and totals.incl_vat < 0:
            raise validation_error(
                "A credit note's amounts are positive, as on the invoice it credits.",
                ProductLines="The credit note's total incl. VAT is negative.",
            )
        language = data["Language"] or "da-DK"
        issued = parse_date(data["Date"]) or self.today()
        condition = _payment_condition(data, contact) if kind == INVOICE else ("Netto", 0)
        now = self.now()
        return SalesDocument(
            kind=kind,
            guid=data["Guid"] or UUID(int=0),
            data=data,
            lines=lines,
            totals=totals,
            contact_guid=contact.guid if contact else None,
            currency=currency,
            language=language,
            issue_date=issued,
            description=data["Description"] or _DEFAULT_DESCRIPTIONS[kind, language],
            payment_condition=condition,
            payment_date=_payment_date(issued, condition) if kind == INVOICE else None,
            credit_note_for=credit_note_for,
            created_at=now,
            updated_at=now,
        )

    def _document_contact(self, guid: UUID | None, errors: dict[str, str]) -> Contact | None:
        if guid is None:
            return None
        contact = self.contacts.get(guid)
        if contact is None:
            errors["ContactGuid"] = f"No contact with guid {guid} exists."
        return contact

    def _document_line(
        self, index: int, line: Mapping[str, Any], errors: dict[str, str]
    ) -> DocumentLine:
        is_product = line["LineType"] == "Product"
        account_number = int(line["AccountNumber"])
        if line["ProductGuid"] is not None:
            errors[f"ProductLines[{index}].ProductGuid"] = "No such product."
        if is_product and account_number not in self.chart.entry_accounts:
            errors[f"ProductLines[{index}].AccountNumber"] = f"No account {account_number}."
        base, quantity, discount = line["BaseAmountValue"], line["Quantity"], line["Discount"]
        return DocumentLine(
            line_type=line["LineType"],
            description=line["Description"],
            comments=line["Comments"],
            quantity=quantity,
            base_amount=base,
            discount=discount,
            account_number=account_number,
            unit=line["Unit"],
            product_guid=line["ProductGuid"],
            rate=self.chart.account_rate(account_number) if is_product else Decimal(0),
            total=line_total(base, quantity, discount) if is_product else ZERO,
        )

    def _check_credited_invoice(self, guid: UUID, errors: dict[str, str]) -> None:
        invoice = self.documents.get(guid)
        if invoice is None or invoice.kind != INVOICE or invoice.deleted_at is not None:
            errors["CreditNoteFor"] = f"No invoice with guid {guid} exists."
        elif invoice.status != "Booked":
            errors["CreditNoteFor"] = f"The invoice {guid} is not booked."

    def document(self, kind: DocumentKind, guid: UUID) -> SalesDocument:
        document = self.documents.get(guid)
        if document is None or document.kind != kind:
            raise not_found(label(kind), guid)
        return document

    def listed_documents(
        self, kind: DocumentKind, *, deleted: bool = False
    ) -> Iterator[SalesDocument]:
        for document in self.documents.values():
            if document.kind == kind and (document.deleted_at is not None) == deleted:
                yield document

    def book_document(
        self, kind: DocumentKind, guid: UUID, timestamp: str, number: int | None
    ) -> SalesDocument:
        document = self.document(kind, guid)
        what = label(kind)
        if document.deleted_at is not None:
            raise validation_error(f"The {what.lower()} {guid} is deleted.")
        if document.status == "Booked":
            raise validation_error(f"The {what.lower()} {guid} is already booked.")
        check_timestamp(what, document.timestamp, timestamp)
        if document.contact_guid is None or document.contact_guid not in self.contacts:
            raise validation_error(
                f"The {what.lower()} needs a contact to be booked.",
                ContactGuid="A contact is required for booking.",
            )
        document.number = take_number(self._document_numbers, number)
        document.status = "Booked"
        self._touch(document)
        return document

    def delete_draft(self, kind: DocumentKind, guid: UUID, timestamp: str | None) -> None:
        document = self.document(kind, guid)
        what = label(kind).lower()
        if document.status == "Booked":
            raise validation_error(f"The {what} {guid} is booked and cannot be deleted.")
        if document.deleted_at is not None:
            raise validation_error(f"The {what} {guid} is already deleted.")
        if timestamp is not None:
            check_timestamp(label(kind), document.timestamp, timestamp)
        document.deleted_at = self.now()
        document.timestamp = self._stamp()

    def generate_credit_note(self, invoice_guid: UUID, timestamp: str | None) -> SalesDocument:
        invoice = self.document(INVOICE, invoice_guid)
        if invoice.deleted_at is not None or invoice.status != "Booked":
            raise validation_error(f"The invoice {invoice_guid} is not booked.")
        if timestamp is not None:
            check_timestamp("Invoice", invoice.timestamp, timestamp)
        # A full credit: the invoice's contact, currency and lines, pointing back at it.
        data: dict[str, Any] = dict.fromkeys(CREDIT_NOTE_CREATE.props)
        for key in ("ContactGuid", "ShowLinesInclVat", "Currency", "Language", "Address"):
            data[key] = invoice.data[key]
        data.update(CreditNoteFor=invoice.guid, ProductLines=invoice.data["ProductLines"])
        return self.create_document(CREDIT_NOTE, data)

    def _touch(self, document: SalesDocument) -> None:
        document.timestamp = self._stamp()
        document.updated_at = self.now()

    def payment_status(self, document: SalesDocument) -> str:
        if document.status == "Draft":
            return "Draft"
        if document.remaining < 0:
            return "OverPaid"
        if document.remaining == 0:
            return "Paid"
        if document.payment_date is not None and document.payment_date < self.today():
            return "Overdue"
        return "Booked"

    def contact_name(self, document: SalesDocument) -> str | None:
        contact = self.contacts.get(document.contact_guid) if document.contact_guid else None
        return contact.name if contact else None

    # -- payments ---------------------------------------------------------------------

    def add_payment(self, kind: DocumentKind, guid: UUID, data: dict[str, Any]) -> Payment:
        document = self.document(kind, guid)
        payment = new_payment(document, data, chart=self.chart, today=self.today)
        document.payments.append(payment)
        self._payments.append(payment)
        self._touch(document)
        return payment

    def payments(self) -> list[Payment]:
        """Every payment, in the order they were made."""
        return list(self._payments)


def _payment_condition(data: Mapping[str, Any], contact: Contact | None) -> tuple[str, int]:
    kind, days = data["PaymentConditionType"], data["PaymentConditionNumberOfDays"]
    if kind is None and days is None and contact is not None:
        kind = contact.data["PaymentConditionType"]
        days = contact.data["PaymentConditionNumberOfDays"]
    kind = kind or "Netto"
    if kind in ("NettoCash", "Paid"):
        return kind, 0
    return kind, DEFAULT_PAYMENT_DAYS if days is None else int(days)


def _payment_date(issued: date, condition: tuple[str, int]) -> date:
    kind, days = condition
    if kind == "CurrentMonthOut":
        month_end = issued.replace(day=calendar.monthrange(issued.year, issued.month)[1])
        return month_end + timedelta(days=days)
    return issued + timedelta(days=days)
