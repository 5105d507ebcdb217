"""What Dinero answers: read models as frozen dataclasses, parsed whatever the key casing.

Every object is read through `ObjectReader` (see `jsonmoney`). Amounts are `Decimal` and are
never defaulted: a missing total is a `ParseError`, not a zero. Unknown properties are ignored,
and only what the gateway uses is kept. Properties that a `fields=` list may leave out are
optional here.

Each model lives with the calls that answer it (`contacts`, `sales`, `payments`, ...), lists
and pages in `pages`; this module gathers them in one place to import from.
"""

from __future__ import annotations

from gateway.dinero.contacts import Contact
from gateway.dinero.files import ArchivedFile, FileLink
from gateway.dinero.organizations import DepositAccount, EntryAccount, Organization, VatType
from gateway.dinero.pages import Page, Pagination, parse_collection, parse_list, parse_page
from gateway.dinero.payments import InvoicePayments, Payment, PaymentCreated
from gateway.dinero.sales import (
    Created,
    CreditNote,
    Invoice,
    InvoiceLineRead,
    InvoiceSummary,
    InvoiceTotals,
    SalesDocument,
)
from gateway.dinero.vouchers import ManualVoucher, ManualVoucherLineRead

__all__ = [
    "ArchivedFile",
    "Contact",
    "Created",
    "CreditNote",
    "DepositAccount",
    "EntryAccount",
    "FileLink",
    "Invoice",
    "InvoiceLineRead",
    "InvoicePayments",
    "InvoiceSummary",
    "InvoiceTotals",
    "ManualVoucher",
    "ManualVoucherLineRead",
    "Organization",
    "Page",
    "Pagination",
    "Payment",
    "PaymentCreated",
    "SalesDocument",
    "VatType",
    "parse_collection",
    "parse_list",
    "parse_page",
]
