"""Dinero invoices: creating, previewing, reading, finding, listing, booking and deleting."""

from __future__ import annotations

from typing import Unpack
from uuid import UUID

from gateway.dinero.models import InvoiceCreate, timestamp_body
from gateway.dinero.pages import Page
from gateway.dinero.sales import (
    Created,
    Invoice,
    InvoiceSummary,
    InvoiceTotals,
    SalesCalls,
    SalesListing,
)
from gateway.dinero.transport import api_path


class InvoiceCalls(SalesCalls):
    async def create_invoice(self, org: int, invoice: InvoiceCreate) -> Created:
        path = api_path(org, "invoices")
        return await self._call("POST", path, Created.from_json, body=invoice.to_json())

    async def preview_invoice(self, org: int, invoice: InvoiceCreate) -> InvoiceTotals:
        """Dinero's totals for this invoice, without creating anything (so always safe)."""
        path = api_path(org, "invoices", "fetch")
        return await self._call(
            "POST", path, InvoiceTotals.from_json, body=invoice.to_json(), safe=True
        )

    async def get_invoice(self, org: int, guid: UUID) -> Invoice:
        return await self._call("GET", api_path(org, "invoices", guid), Invoice.from_json)

    async def find_invoices(self, org: int, *, external_reference: str) -> list[InvoiceSummary]:
        """Invoices carrying this reference (deleted ones are not listed)."""
        return await self._find_sales(api_path(org, "invoices"), external_reference)

    async def list_invoices(
        self, org: int, **listing: Unpack[SalesListing]
    ) -> Page[InvoiceSummary]:
        """One page of the organisation's invoices: those changed since `changes_since`
        (created, paid, deleted...), with a `Status` in `status_filter` if given."""
        return await self._list_sales(api_path(org, "invoices"), **listing)

    async def book_invoice(
        self, org: int, guid: UUID, timestamp: str, *, number: int | None = None
    ) -> Invoice:
        """Books the draft; the answer is the booked invoice (number, new timestamp)."""
        path = api_path(org, "invoices", guid, "book")
        body = timestamp_body(timestamp, number=number)
        return await self._call("POST", path, Invoice.from_json, body=body)

    async def delete_invoice(self, org: int, guid: UUID, timestamp: str) -> None:
        """Deletes a draft (a booked invoice can only be credited)."""
        body = timestamp_body(timestamp)
        await self._send("DELETE", api_path(org, "invoices", guid), body=body)
