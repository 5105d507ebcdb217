"""Dinero credit notes: creating one (or generating it from a booked invoice), reading,
finding, listing and booking them."""

from __future__ import annotations

from typing import Unpack
from uuid import UUID

from gateway.dinero.models import CreditNoteCreate, timestamp_body
from gateway.dinero.pages import Page
from gateway.dinero.sales import Created, CreditNote, InvoiceSummary, SalesCalls, SalesListing
from gateway.dinero.transport import api_path


class CreditNoteCalls(SalesCalls):
    async def create_credit_note(self, org: int, credit_note: CreditNoteCreate) -> Created:
        path = api_path(org, "sales", "creditnotes")
        return await self._call("POST", path, Created.from_json, body=credit_note.to_json())

    async def generate_credit_note(
        self, org: int, invoice_guid: UUID, timestamp: str | None = None
    ) -> Created:
        """A draft crediting the whole booked invoice. Given a `timestamp`, Dinero refuses
        (code 58) if the invoice changed since it was read."""
        path = api_path(org, "invoices", invoice_guid, "generate-creditnote")
        body = {} if timestamp is None else timestamp_body(timestamp)
        return await self._call("POST", path, Created.from_json, body=body)

    async def get_credit_note(self, org: int, guid: UUID) -> CreditNote:
        path = api_path(org, "sales", "creditnotes", guid)
        return await self._call("GET", path, CreditNote.from_json)

    async def find_credit_notes(self, org: int, *, external_reference: str) -> list[InvoiceSummary]:
        return await self._find_sales(api_path(org, "sales", "creditnotes"), external_reference)

    async def list_credit_notes(
        self, org: int, **listing: Unpack[SalesListing]
    ) -> Page[InvoiceSummary]:
        """As `list_invoices`, for credit notes."""
        return await self._list_sales(api_path(org, "sales", "creditnotes"), **listing)

    async def book_credit_note(
        self, org: int, guid: UUID, timestamp: str, *, number: int | None = None
    ) -> CreditNote:
        path = api_path(org, "sales", "creditnotes", guid, "book")
        body = timestamp_body(timestamp, number=number)
        return await self._call("POST", path, CreditNote.from_json, body=body)
