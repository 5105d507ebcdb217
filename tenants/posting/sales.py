"""An invoice or a credit note in the books, exactly once: the steps of its attempt, in
whatever accounting system (`Books`, `tenants.posting.backend`).

An attempt leases the row, then walks the steps, writing each step's result to the row
before the next one starts, so an attempt that stops anywhere (a lost answer, an empty call
budget, a crash) is resumed by the next one from what the row says:

1. organisation: fixed from the shop's connection (a credit note's from its invoice) and
   stored with the contact, before anything is created in it;
2. contact: the backend's (Dinero's: a cache, a mirror, or created with a deterministic id);
3. create: the invoice or credit note with our deterministic id (`client_guid`). If the row
   says an earlier create may have gone through (`uncertain`: a lost answer, or a worker
   that died holding the lease), it first looks for that id in the books (`Books.find`);
   a create refused because the id exists (`Exists`) also means "it is there", and is
   read back. Nothing is ever created blindly twice;
4. book (mode `booked`) under the organisation's booking lock, with the stored version; a
   stale one (`StaleVersion`; Dinero's code 58) is read again and the booking retried once.

The total in the books must be the shop's total to the øre, or the document is not booked.
`gateway.accounting` builds every document so, and checks it. The books' own figure is
checked wherever we have it: when a document is read back, and before booking a document
priced excl. VAT, where DINERO.md leaves open whether Dinero rounds VAT per line or per
document (one read). A document priced incl. VAT totals the sum of its lines whichever way
VAT is rounded, and those lines are the shop's own amounts, so that read would cost one of
the organisation's calls and could not fail; the booked answer carries the totals, and a
difference there is still recorded as an error event.

How each failure ends an attempt is the backend's `Books.classify` and `Attempt.settle`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from gateway.accounting import DocumentDraft
from gateway.orders import Order
from tenants.outbox import events
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.posting.attempt import CannotPost, posting_settings
from tenants.posting.backend import (
    Backend,
    Books,
    BooksAttempt,
    Exists,
    InBooks,
    Kind,
    Refused,
    SalesKind,
    StaleVersion,
)
from tenants.posting.outcomes import Outcome, Result

log = logging.getLogger(__name__)


class SalesAttempt(BooksAttempt):
    """An invoice or a credit note."""

    def __init__(self, backend: Backend, document: Document, now: datetime) -> None:
        super().__init__(backend, document, now)
        self.mismatch: str | None = None  # the books' total differed, found only once booked

    @property
    def kind(self) -> SalesKind:
        return "invoice" if self.doc.kind == "invoice" else "credit_note"

    # -- the steps -------------------------------------------------------------------------

    async def run(self) -> Result:
        doc = self.doc
        shop = await posting_settings(self.context.pool, doc.shop_id)
        parent = await self.parent("invoice") if doc.kind == "credit_note" else None
        organization_id = self.organisation(self.backend.organisation(shop), parent)
        self._books = self.backend.books(shop, organization_id, self.now)
        order, draft = await self.books.draft(self.doc, shop)
        credits: UUID | None = None
        if parent is not None:
            assert parent.backend_id is not None  # `parent` checked
            parent_booked = self.books.says_booked(parent.backend_status, "invoice")
            if not parent_booked:
                live = await self.books.find("invoice", parent.backend_id)
                parent_booked = live is not None and live.booked
                if self.doc.payload.get("full") and not parent_booked:
                    return await self._cancel_draft(parent, live)
            credits = parent.backend_id if parent_booked else None
        contact = await self._contact(order, parent)
        created = await self._create(draft, contact, credits)
        if created.booked:
            return await self._posted(created)
        leave_draft = doc.mode == "draft" or (parent is not None and credits is None)
        if leave_draft:
            return await self._posted(created)
        if not draft.show_lines_incl_vat and created.total is None:
            created = await self.books.read(self.kind, created.id)
        self._check_total(created, draft, booked=False)
        booked = await book(self.books, self.kind, created)
        self._check_total(booked, draft, booked=True)
        return await self._posted(booked)

    async def _contact(self, order: Order, parent: Document | None) -> UUID:
        doc = self.doc
        if doc.contact_guid is not None and doc.organization_id is not None:
            return doc.contact_guid
        if parent is not None and parent.contact_guid is not None:
            guid = parent.contact_guid  # the invoice's customer, already in the books
        else:
            guid = await self.books.contact(order.customer)
        organization_id = self.books.organization_id
        await self.record(step="contact", contact_guid=guid, organization_id=organization_id)
        return guid

    async def _create(self, draft: DocumentDraft, contact: UUID, credits: UUID | None) -> InBooks:
        doc = self.doc
        if doc.backend_id is not None and not doc.uncertain:
            booked = self.books.says_booked(doc.backend_status, self.kind)
            return InBooks(
                doc.backend_id, doc.backend_version, doc.backend_status, None, None, booked
            )
        found = await self.books.find(self.kind, doc.client_guid) if doc.uncertain else None
        if found is None:
            try:
                found = await self.books.create(
                    self.kind,
                    draft,
                    client_id=doc.client_guid,
                    reference=doc.external_reference,
                    contact=contact,
                    credits=credits,
                )
            except Exists:
                found = await self.books.read(self.kind, doc.client_guid)
            except Refused as refused:
                if refused.names_contact:
                    # The cached contact is gone from the books: find or make it afresh.
                    await self.books.forget_contact(contact)
                    await self.record(step="new", contact_guid=None)
                raise
        await self.record(
            step="created",
            backend_id=found.id,
            backend_version=found.version,
            backend_status=found.status,
            uncertain=False,
        )
        if found.total is not None:
            self._check_total(found, draft, booked=found.booked)
        return found

    async def _cancel_draft(self, parent: Document, live: InBooks | None) -> Result:
        """The order was cancelled and its invoice is still a draft in the books: delete the
        draft instead of crediting it, and neither document is posted."""
        if live is not None:
            try:
                await self.books.delete_draft(live.id, live.version or "")
            except Refused:
                # Perhaps deleted already by an attempt whose answer was lost: deleted
                # drafts are not listed.
                listed = await self.books.listed("invoice", parent.external_reference)
                if live.id in listed:
                    raise
        await outbox.cancelled(
            self.context.pool,
            self.doc,
            now=self.now,
            message="The order was cancelled: its draft invoice was deleted from "
            + self.books.system,
            parent_id=parent.id,
        )
        return Result(Outcome.CANCELLED)

    def _check_total(self, found: InBooks, draft: DocumentDraft, *, booked: bool) -> None:
        expected = draft.totals.total_incl_vat
        if found.total is None or found.total == expected:
            return
        books = self.books.system
        message = f"{books} totals {found.total} {draft.currency} where the shop charged {expected}"
        if booked:
            # Too late to hold it back: say so loudly, and keep the booked state true.
            log.error("document %s: %s", self.doc.id, message)
            self.mismatch = message
            return
        raise CannotPost(message + ", so it is not booked", "total_mismatch")

    async def _posted(self, found: InBooks) -> Result:
        result = await self.posted(
            step="booked" if found.booked else "created",
            number=found.number,
            status=found.status,
            version=found.version,
        )
        if self.mismatch:
            await events.event(
                self.context.pool,
                self.doc,
                "document.total_mismatch",
                "error",
                self.mismatch,
                now=self.now,
            )
        return result


async def book(books: Books, kind: Kind, current: InBooks) -> InBooks:
    """Books under the organisation's booking lock, so numbers are taken one at a time; a
    stale version is read afresh and booked once more, and a refusal read back (perhaps an
    attempt whose answer was lost booked it already)."""
    async with books.booking():
        try:
            return await _book_call(books, kind, current.id, current.version)
        except StaleVersion:
            fresh = await books.read(kind, current.id)
            if fresh.booked:
                return fresh
            return await _book_call(books, kind, fresh.id, fresh.version)
        except Refused:
            fresh = await books.read(kind, current.id)
            if fresh.booked:
                return fresh
            raise


async def _book_call(books: Books, kind: Kind, backend_id: UUID, version: str | None) -> InBooks:
    if not version:
        fresh = await books.read(kind, backend_id)
        if fresh.booked:
            return fresh
        version = fresh.version or ""
    return await books.book(kind, backend_id, version)
