"""What Dinero answers: read models as frozen dataclasses, parsed whatever the key casing.

Every object is read through `ObjectReader` (see `jsonmoney`). Amounts are `Decimal` and are
never defaulted: a missing total is a `ParseError`, not a zero. Unknown properties are ignored,
and only what the gateway uses is kept. Properties that a `fields=` list may leave out are
optional here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, Self, TypeVar
from uuid import UUID

from gateway.dinero.jsonmoney import ObjectReader, ParseError

T = TypeVar("T")


def parse_list(data: object, parse: Callable[[object], T]) -> list[T]:
    """A top-level JSON array of read models."""
    if not isinstance(data, list):
        raise ParseError(f"expected a list, got {type(data).__name__}")
    return [parse(item) for item in data]


def parse_collection(data: object, parse: Callable[[object], T]) -> list[T]:
    """The items of a `{"Collection": [...], "Pagination": {...}}` answer."""
    return [parse(item) for item in ObjectReader(data).items("Collection")]


def parse_page(data: object, parse: Callable[[object], T]) -> Page[T]:
    f = ObjectReader(data)
    return Page(
        items=tuple(parse(item) for item in f.items("Collection")),
        pagination=Pagination.from_json(f.value("Pagination")),
    )


@dataclass(frozen=True, kw_only=True)
class Organization:
    id: int
    name: str | None
    is_pro: bool | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(id=f.integer("Id"), name=f.text_or_none("Name"), is_pro=f.flag_or_none("IsPro"))


@dataclass(frozen=True, kw_only=True)
class Pagination:
    page: int
    page_size: int
    result: int
    result_without_filter: int | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            page=f.integer("Page"),
            page_size=f.integer("PageSize"),
            result=f.integer("Result"),
            result_without_filter=f.integer_or_none("ResultWithoutFilter"),
        )


@dataclass(frozen=True, kw_only=True)
class Page(Generic[T]):
    """One page of a list (`{"Collection": [...], "Pagination": {...}}`)."""

    items: tuple[T, ...]
    pagination: Pagination


@dataclass(frozen=True, kw_only=True)
class Contact:
    """A contact as listed or read; which optional properties are present depends on
    the `fields` asked for."""

    contact_guid: UUID
    name: str | None = None
    external_reference: str | None = None
    email: str | None = None
    vat_number: str | None = None
    ean_number: str | None = None
    is_person: bool | None = None
    country_key: str | None = None
    street: str | None = None
    zip_code: str | None = None
    city: str | None = None
    phone: str | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            contact_guid=f.uuid("ContactGuid"),
            name=f.text_or_none("Name"),
            external_reference=f.text_or_none("ExternalReference"),
            email=f.text_or_none("Email"),
            vat_number=f.text_or_none("VatNumber"),
            ean_number=f.text_or_none("EanNumber"),
            is_person=f.flag_or_none("IsPerson"),
            country_key=f.text_or_none("CountryKey"),
            street=f.text_or_none("Street"),
            zip_code=f.text_or_none("ZipCode"),
            city=f.text_or_none("City"),
            phone=f.text_or_none("Phone"),
        )


@dataclass(frozen=True, kw_only=True)
class Created:
    """`CreatedResponseModel`: the new object's guid and first timestamp."""

    guid: UUID
    timestamp: str | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(guid=f.uuid("Guid"), timestamp=f.text_or_none("TimeStamp"))


@dataclass(frozen=True, kw_only=True)
class PaymentCreated:
    """`CreatedPaymentResponse`; `timestamp` is the paid document's new one."""

    guid: UUID
    timestamp: str | None
    related_voucher_guid: UUID | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            guid=f.uuid("Guid"),
            timestamp=f.text_or_none("TimeStamp"),
            related_voucher_guid=f.uuid_or_none("RelatedVoucherGuid"),
        )


@dataclass(frozen=True, kw_only=True)
class InvoiceLineRead:
    """`InvoiceLinesReadModel`: a line as Dinero computed it."""

    description: str | None
    account_number: int
    quantity: Decimal
    base_amount_value: Decimal
    base_amount_value_incl_vat: Decimal
    total_amount: Decimal
    total_amount_incl_vat: Decimal
    discount: Decimal
    unit: str | None
    line_type: str | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            description=f.text_or_none("Description"),
            account_number=f.integer("AccountNumber"),
            quantity=f.decimal("Quantity"),
            base_amount_value=f.decimal("BaseAmountValue"),
            base_amount_value_incl_vat=f.decimal("BaseAmountValueInclVat"),
            total_amount=f.decimal("TotalAmount"),
            total_amount_incl_vat=f.decimal("TotalAmountInclVat"),
            discount=f.decimal("Discount"),
            unit=f.text_or_none("Unit"),
            line_type=f.text_or_none("LineType"),
        )


def _totals(f: ObjectReader) -> dict[str, Any]:
    return {
        "currency": f.text_or_none("Currency"),
        "show_lines_incl_vat": f.flag_or_none("ShowLinesInclVat"),
        "total_excl_vat": f.decimal("TotalExclVat"),
        "total_vat": f.decimal("TotalVat"),
        "total_incl_vat": f.decimal("TotalInclVat"),
        "lines": tuple(InvoiceLineRead.from_json(line) for line in f.items("ProductLines")),
    }


@dataclass(frozen=True, kw_only=True)
class InvoiceTotals:
    """`InvoiceFetchReadModel`: what an invoice would total, without creating it."""

    currency: str | None
    show_lines_incl_vat: bool | None
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal
    lines: tuple[InvoiceLineRead, ...]

    @classmethod
    def from_json(cls, data: object) -> Self:
        return cls(**_totals(ObjectReader(data)))


@dataclass(frozen=True, kw_only=True)
class SalesDocument(InvoiceTotals):
    """What an invoice and a credit note have in common when read."""

    guid: UUID
    timestamp: str | None
    status: str | None
    number: int | None
    contact_guid: UUID | None
    external_reference: str | None
    date: dt.date | None
    payment_status: str | None

    @property
    def is_draft(self) -> bool:
        return (self.status or "").lower() == "draft"

    @classmethod
    def _fields(cls, f: ObjectReader) -> dict[str, Any]:
        return _totals(f) | {
            "guid": f.uuid("Guid"),
            "timestamp": f.text_or_none("TimeStamp"),
            "status": f.text_or_none("Status"),
            # Numbers start at 1; a draft has none (shown as 0 or null).
            "number": f.integer_or_none("Number") or None,
            "contact_guid": f.uuid_or_none("ContactGuid"),
            "external_reference": f.text_or_none("ExternalReference"),
            "date": f.date_or_none("Date"),
            "payment_status": f.text_or_none("PaymentStatus"),
        }

    @classmethod
    def from_json(cls, data: object) -> Self:
        return cls(**cls._fields(ObjectReader(data)))


@dataclass(frozen=True, kw_only=True)
class Invoice(SalesDocument):
    """`InvoiceReadModel`: what reading or booking an invoice answers."""


@dataclass(frozen=True, kw_only=True)
class CreditNote(SalesDocument):
    """`SalesCreditNoteReadModel` (booking answers an `InvoiceReadModel`: no `credit_note_for`)."""

    credit_note_for: UUID | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(**cls._fields(f), credit_note_for=f.uuid_or_none("CreditNoteFor"))


@dataclass(frozen=True, kw_only=True)
class InvoiceSummary:
    """`SalesVoucherReadListModel`: an invoice or credit note as a search or a list answers
    it. In a list `Status` is the payment status (Draft/Booked/Paid/OverPaid/Overdue); the
    total in DKK is there for a payment on a document in another currency, which is
    registered with both amounts. Properties the `fields` asked for left out are None."""

    guid: UUID
    number: int | None
    status: str | None
    external_reference: str | None
    timestamp: str | None
    currency: str | None = None
    total_incl_vat: Decimal | None = None
    total_incl_vat_in_dkk: Decimal | None = None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            guid=f.uuid("Guid"),
            number=f.integer_or_none("Number") or None,
            status=f.text_or_none("Status"),
            external_reference=f.text_or_none("ExternalReference"),
            timestamp=f.text_or_none("TimeStamp"),
            currency=f.text_or_none("Currency"),
            total_incl_vat=f.decimal_or_none("TotalInclVat"),
            total_incl_vat_in_dkk=f.decimal_or_none("TotalInclVatInDkk"),
        )


@dataclass(frozen=True, kw_only=True)
class EntryAccount:
    account_number: int
    name: str | None
    vat_code: str | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            account_number=f.integer("AccountNumber"),
            name=f.text_or_none("Name"),
            vat_code=f.text_or_none("VatCode"),
        )


@dataclass(frozen=True, kw_only=True)
class DepositAccount:
    account_number: int
    name: str | None
    is_default: bool | None
    is_hidden: bool | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            account_number=f.integer("AccountNumber"),
            name=f.text_or_none("Name"),
            is_default=f.flag_or_none("IsDefault"),
            is_hidden=f.flag_or_none("IsHidden"),
        )


@dataclass(frozen=True, kw_only=True)
class VatType:
    vat_code: str | None
    name: str | None
    vat_rate: Decimal

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            vat_code=f.text_or_none("VatCode"),
            name=f.text_or_none("Name"),
            vat_rate=f.decimal("VatRate"),
        )


@dataclass(frozen=True, kw_only=True)
class Payment:
    """`PaymentReadModel`: one payment registered on an invoice or credit note."""

    guid: UUID
    amount: Decimal
    description: str | None
    external_reference: str | None
    payment_date: dt.date | None
    deposit_account_number: int | None
    currency: str | None
    related_voucher_guid: UUID | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            guid=f.uuid("Guid"),
            amount=f.decimal("Amount"),
            description=f.text_or_none("Description"),
            external_reference=f.text_or_none("ExternalReference"),
            payment_date=f.date_or_none("PaymentDate"),
            deposit_account_number=f.integer_or_none("DepositAccountNumber"),
            currency=f.text_or_none("Currency"),
            related_voucher_guid=f.uuid_or_none("RelatedVoucherId"),
        )


@dataclass(frozen=True, kw_only=True)
class InvoicePayments:
    """`InvoicePaymentsModel`: the payments on a document and what is left to pay."""

    payments: tuple[Payment, ...]
    paid_amount: Decimal
    remaining_amount: Decimal
    total_including_reminder_expenses: Decimal
    remainder_as_fee_available: bool | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            payments=tuple(Payment.from_json(item) for item in f.items("Payments")),
            paid_amount=f.decimal("PaidAmount"),
            remaining_amount=f.decimal("RemainingAmount"),
            total_including_reminder_expenses=f.decimal("InvoiceTotalIncludingReminderExpenses"),
            remainder_as_fee_available=f.flag_or_none("RemainderAsFeeAvailable"),
        )


@dataclass(frozen=True, kw_only=True)
class FileLink:
    """A voucher a file is attached to (`FileLinkReadModel`)."""

    voucher_guid: UUID
    voucher_id: int | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(voucher_guid=f.uuid("VoucherGuid"), voucher_id=f.integer_or_none("VoucherId"))


@dataclass(frozen=True, kw_only=True)
class ArchivedFile:
    """`FilteredFileReadModel`: a file in the organisation's archive and its vouchers.
    `uploaded_at` is kept as Dinero wrote it (its time zone is not documented)."""

    file_guid: str | None  # a plain string in Dinero's schema, not a UUID
    name: str | None
    extension: str | None
    size: int | None
    uploaded_at: str | None
    linked: tuple[FileLink, ...]

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            file_guid=f.text_or_none("FileGuid"),
            name=f.text_or_none("Name"),
            extension=f.text_or_none("Extension"),
            size=f.integer_or_none("Size"),
            uploaded_at=f.text_or_none("UploadedAt"),
            linked=tuple(FileLink.from_json(item) for item in f.items("Linked")),
        )


@dataclass(frozen=True, kw_only=True)
class ManualVoucherLineRead:
    description: str | None
    account_number: int | None
    balancing_account_number: int | None
    amount_excl_vat_value: Decimal
    amount_incl_vat_value: Decimal
    vat_amount_value: Decimal
    account_vat_code: str | None
    balancing_account_vat_code: str | None

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            description=f.text_or_none("Description"),
            account_number=f.integer_or_none("AccountNumber"),
            balancing_account_number=f.integer_or_none("BalancingAccountNumber"),
            amount_excl_vat_value=f.decimal("AmountExclVatValue"),
            amount_incl_vat_value=f.decimal("AmountInclVatValue"),
            vat_amount_value=f.decimal("VatAmountValue"),
            account_vat_code=f.text_or_none("AccountVatCode"),
            balancing_account_vat_code=f.text_or_none("BalancingAccountVatCode"),
        )


@dataclass(frozen=True, kw_only=True)
class ManualVoucher:
    """`ManuelVoucherReadModel`: what creating, reading and booking a manual voucher answer."""

    guid: UUID
    timestamp: str | None
    status: str | None
    voucher_number: int | None
    voucher_date: dt.date | None
    file_guid: str | None  # a plain string in Dinero's schema, not a UUID
    external_reference: str | None
    total_excl_vat: Decimal
    total_incl_vat: Decimal
    lines: tuple[ManualVoucherLineRead, ...]

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = ObjectReader(data)
        return cls(
            guid=f.uuid("Guid"),
            timestamp=f.text_or_none("Timestamp"),
            status=f.text_or_none("Status"),
            voucher_number=f.integer_or_none("VoucherNumber") or None,
            voucher_date=f.date_or_none("VoucherDate"),
            file_guid=f.text_or_none("FileGuid"),
            external_reference=f.text_or_none("ExternalReference"),
            total_excl_vat=f.decimal("TotalExclVat"),
            total_incl_vat=f.decimal("TotalInclVat"),
            lines=tuple(ManualVoucherLineRead.from_json(item) for item in f.items("Lines")),
        )
