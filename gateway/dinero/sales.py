"""Invoices and credit notes alike: what Dinero answers for them, and how both are listed
and found by reference (`InvoiceCalls` and `CreditNoteCalls` build on `SalesCalls`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Final, Self, TypedDict
from uuid import UUID

from gateway.dinero.jsonmoney import ObjectReader
from gateway.dinero.pages import (
    MAX_PAGE_SIZE,
    Page,
    list_params,
    page_params,
    parse_collection,
    parse_page,
)
from gateway.dinero.query import eq, query_filter
from gateway.dinero.transport import Transport

# The list fields Dinero documents for invoices and credit notes; `TimeStamp` is not one of
# them (a summary's `timestamp` is read when a deployment sends it anyway).
SUMMARY_FIELDS: Final = ("Guid", "Number", "Status", "ExternalReference")
# What `list_invoices`/`list_credit_notes` ask for unless told otherwise: enough to see each
# document's payment status and, for foreign currency, its total in DKK.
SALES_LIST_FIELDS: Final = (
    "Guid",
    "Number",
    "Status",
    "ExternalReference",
    "Currency",
    "TotalInclVat",
    "TotalInclVatInDkk",
)
# The values `statusFilter` takes (Dinero's list of a document's payment statuses).
SALES_STATUSES: Final = ("Draft", "Booked", "Paid", "OverPaid", "Overdue")


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


def _number(f: ObjectReader) -> int | None:
    """A document's `Number`. Numbers start at 1; a draft has none (shown as 0 or null)."""
    return f.integer_or_none("Number") or None


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
            "number": _number(f),
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
            number=_number(f),
            status=f.text_or_none("Status"),
            external_reference=f.text_or_none("ExternalReference"),
            timestamp=f.text_or_none("TimeStamp"),
            currency=f.text_or_none("Currency"),
            total_incl_vat=f.decimal_or_none("TotalInclVat"),
            total_incl_vat_in_dkk=f.decimal_or_none("TotalInclVatInDkk"),
        )


class SalesListing(TypedDict, total=False):
    """The keywords `list_invoices` and `list_credit_notes` take, all optional (the defaults
    are `_list_sales`'s): `changes_since` (timezone-aware), `status_filter` (some of
    `SALES_STATUSES`), `query_filter`, `fields` (with `Guid`), `page` and `page_size`."""

    changes_since: dt.datetime | None
    status_filter: Sequence[str]
    query_filter: str | None
    fields: Sequence[str]
    page: int
    page_size: int


class SalesCalls(Transport):
    """What listing and finding invoices and credit notes share; only the path differs."""

    async def _list_sales(
        self,
        path: str,
        *,
        changes_since: dt.datetime | None = None,
        status_filter: Sequence[str] = (),
        query_filter: str | None = None,
        fields: Sequence[str] = SALES_LIST_FIELDS,
        page: int = 0,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Page[InvoiceSummary]:
        unknown = [status for status in status_filter if status not in SALES_STATUSES]
        if unknown:
            raise ValueError(f"not a status Dinero filters on: {unknown}")
        if "Guid" not in fields:
            raise ValueError("a listing needs the Guid field")
        params = list_params(
            page=page,
            page_size=page_size,
            fields=fields,
            status_filter=status_filter,
            query_filter=query_filter,
            changes_since=changes_since,
        )
        parse = partial(parse_page, parse=InvoiceSummary.from_json)
        return await self._call("GET", path, parse, params=params)

    async def _find_sales(self, path: str, external_reference: str) -> list[InvoiceSummary]:
        params = page_params(0, MAX_PAGE_SIZE) | {
            "queryFilter": query_filter(eq("ExternalReference", external_reference)),
            "fields": ",".join(SUMMARY_FIELDS),
        }
        parse = partial(parse_collection, parse=InvoiceSummary.from_json)
        return await self._call("GET", path, parse, params=params)
