"""An invoice or a credit note in Dinero, exactly once: the steps of its attempt.

An attempt leases the row, then walks the steps, writing each step's result to the row
before the next one starts, so an attempt that stops anywhere (a lost answer, an empty call
budget, a crash) is resumed by the next one from what the row says:

1. organisation: fixed from the shop's connection (a credit note's from its invoice) and
   stored with the contact, before anything is created in it;
2. contact: `tenants.dinero.contacts` (cache, mirror, or created with a deterministic guid);
3. create: the invoice or credit note with our deterministic `Guid`. If the row says an
   earlier create may have gone through (`uncertain`: a lost answer, or a worker that died
   holding the lease), it first asks Dinero for that `Guid`; a duplicate-guid refusal also
   means "it exists", and is read back. Nothing is ever created blindly twice;
4. book (mode `booked`) under the organisation's booking lock, with the stored timestamp;
   a stale one (code 58) is read again and the booking retried once.

The Dinero total must be the shop's total to the øre, or the document is not booked.
`gateway.accounting` builds every document so, and checks it. Dinero's own figure is checked
wherever we have it: when a document is read back, and before booking a document priced
excl. VAT, where DINERO.md leaves open whether Dinero rounds VAT per line or per document
(one read). A document priced incl. VAT totals the sum of its lines whichever way Dinero
rounds VAT, and those lines are the shop's own amounts, so that read would cost one of the
organisation's calls and could not fail; the booked answer carries the totals, and a
difference there is still recorded as an error event.

How each failure ends an attempt is `tenants.dinero.attempt`'s `DineroAttempt.classify` and
posting's `Attempt.settle`, shared with payments (`payments`) and manual vouchers
(`vouchers`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from gateway.accounting import DocumentDraft
from gateway.dinero.errors import NotFound, TimestampOutdated, ValidationFailed
from gateway.dinero.sales import SalesDocument
from gateway.orders import Order
from tenants.dinero import contacts, drafts
from tenants.dinero.attempt import DineroAttempt, Resources
from tenants.outbox import events
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document
from tenants.posting.attempt import CannotPost, Park
from tenants.posting.outcomes import Outcome, Result

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _InDinero:
    """What we know of the document in Dinero."""

    guid: UUID
    timestamp: str | None
    status: str | None
    number: int | None
    total: Decimal | None  # incl. VAT, when Dinero told us

    @property
    def booked(self) -> bool:
        return self.status is not None and self.status.lower() != "draft"

    @classmethod
    def read(cls, document: SalesDocument) -> _InDinero:
        return cls(
            document.guid,
            document.timestamp,
            document.status,
            document.number,
            document.total_incl_vat,
        )


class SalesAttempt(DineroAttempt):
    """An invoice or a credit note."""

    def __init__(self, poster: Resources, document: Document, now: datetime) -> None:
        super().__init__(poster, document, now)
        self.mismatch: str | None = None  # Dinero's total differed, found only once booked

    # -- the steps -------------------------------------------------------------------------

    async def run(self) -> Result:
        doc = self.doc
        shop = await drafts.posting_settings(self.p.pool, doc.shop_id)
        parent = await self.parent("invoice") if doc.kind == "credit_note" else None
        if shop.connection_id is None or shop.organization_id is None:
            raise Park("The shop is not connected to Dinero")
        organization_id = self.organisation(shop.organization_id, parent)
        order, draft = await drafts.draft_for(self.p.pool, doc, shop, now=self.now)
        self.open_session(shop, organization_id)
        credit_note_for: UUID | None = None
        if parent is not None:
            assert parent.backend_id is not None  # `parent` checked
            parent_booked = parent.backend_status is not None and parent.backend_status != "Draft"
            if not parent_booked:
                live = await self._read_parent(parent.backend_id)
                parent_booked = live is not None and live.booked
                if self.doc.payload.get("full") and not parent_booked:
                    return await self._cancel_draft(parent, live)
            credit_note_for = parent.backend_id if parent_booked else None
        contact_guid = await self._contact(order, parent)
        created = await self._create(draft, contact_guid, credit_note_for)
        if created.booked:
            return await self._posted(created)
        leave_draft = doc.mode == "draft" or (parent is not None and credit_note_for is None)
        if leave_draft:
            return await self._posted(created)
        if not draft.show_lines_incl_vat and created.total is None:
            created = await self._read(created.guid)
        self._check_total(created, draft, booked=False)
        booked = await self._book(created)
        self._check_total(booked, draft, booked=True)
        return await self._posted(booked)

    async def _contact(self, order: Order, parent: Document | None) -> UUID:
        doc = self.doc
        if doc.contact_guid is not None and doc.organization_id is not None:
            return doc.contact_guid
        if parent is not None and parent.contact_guid is not None:
            guid = parent.contact_guid  # the invoice's customer, already in Dinero
        else:
            guid = await contacts.resolve(self.p.pool, self.api(), order.customer, now=self.now)
        await self.record(step="contact", contact_guid=guid, organization_id=self.organization_id)
        return guid

    async def _create(
        self, draft: DocumentDraft, contact_guid: UUID, credit_note_for: UUID | None
    ) -> _InDinero:
        doc = self.doc
        if doc.backend_id is not None and not doc.uncertain:
            return _InDinero(doc.backend_id, doc.backend_version, doc.backend_status, None, None)
        found = await self._find(doc.client_guid) if doc.uncertain else None
        if found is None:
            org = self.organization_id
            reference = doc.external_reference
            try:
                if doc.kind == "invoice":
                    body = draft.invoice_create(
                        guid=doc.client_guid,
                        external_reference=reference,
                        contact_guid=contact_guid,
                    )
                    made = await self.call(lambda c: c.create_invoice(org, body))
                else:
                    note = draft.credit_note_create(
                        guid=doc.client_guid,
                        external_reference=reference,
                        contact_guid=contact_guid,
                        credit_note_for=credit_note_for,
                    )
                    made = await self.call(lambda c: c.create_credit_note(org, note))
                found = _InDinero(made.guid, made.timestamp, "Draft", None, None)
            except ValidationFailed as exc:
                if exc.duplicate_guid:
                    found = await self._read(doc.client_guid)
                else:
                    if "contactguid" in " ".join(exc.field_errors).lower():
                        # The cached contact is gone from Dinero: find or make it afresh.
                        await contacts.forget(self.p.pool, org, contact_guid)
                        await self.record(step="new", contact_guid=None)
                    raise
        await self.record(
            step="created",
            backend_id=found.guid,
            backend_version=found.timestamp,
            backend_status=found.status,
            uncertain=False,
        )
        if found.total is not None:
            self._check_total(found, draft, booked=found.booked)
        return found

    async def _book(self, current: _InDinero) -> _InDinero:
        """Books under the organisation's booking lock, so numbers are taken one at a time."""
        async with self.booking():
            try:
                return await self._book_call(current.guid, current.timestamp)
            except TimestampOutdated:
                fresh = await self._read(current.guid)
                if fresh.booked:
                    return fresh
                return await self._book_call(fresh.guid, fresh.timestamp)
            except ValidationFailed:
                # Perhaps booked already, by an attempt whose answer was lost.
                fresh = await self._read(current.guid)
                if fresh.booked:
                    return fresh
                raise

    async def _book_call(self, guid: UUID, timestamp: str | None) -> _InDinero:
        if not timestamp:
            fresh = await self._read(guid)
            if fresh.booked:
                return fresh
            timestamp = fresh.timestamp or ""
        org, stamp = self.organization_id, timestamp
        if self.doc.kind == "invoice":
            booked: SalesDocument = await self.call(lambda c: c.book_invoice(org, guid, stamp))
        else:
            booked = await self.call(lambda c: c.book_credit_note(org, guid, stamp))
        return _InDinero.read(booked)

    async def _cancel_draft(self, parent: Document, live: _InDinero | None) -> Result:
        """The order was cancelled and its invoice is still a draft in Dinero: delete the
        draft instead of crediting it, and neither document is posted."""
        org = self.organization_id
        if live is not None:
            guid, stamp = live.guid, live.timestamp or ""
            try:
                await self.call(lambda c: c.delete_invoice(org, guid, stamp))
            except ValidationFailed:
                # Perhaps deleted already by an attempt whose answer was lost: deleted
                # drafts are not listed.
                reference = parent.external_reference
                listed = await self.call(
                    lambda c: c.find_invoices(org, external_reference=reference)
                )
                if any(summary.guid == guid for summary in listed):
                    raise
        await outbox.cancelled(
            self.p.pool,
            self.doc,
            now=self.now,
            message="The order was cancelled: its draft invoice was deleted from Dinero",
            parent_id=parent.id,
        )
        return Result(Outcome.CANCELLED)

    async def _read_parent(self, guid: UUID) -> _InDinero | None:
        org = self.organization_id
        try:
            return _InDinero.read(await self.call(lambda c: c.get_invoice(org, guid)))
        except NotFound:
            return None

    async def _read(self, guid: UUID) -> _InDinero:
        org = self.organization_id
        if self.doc.kind == "invoice":
            found: SalesDocument = await self.call(lambda c: c.get_invoice(org, guid))
        else:
            found = await self.call(lambda c: c.get_credit_note(org, guid))
        return _InDinero.read(found)

    async def _find(self, guid: UUID) -> _InDinero | None:
        try:
            return await self._read(guid)
        except NotFound:
            return None

    def _check_total(self, found: _InDinero, draft: DocumentDraft, *, booked: bool) -> None:
        expected = draft.totals.total_incl_vat
        if found.total is None or found.total == expected:
            return
        message = f"Dinero totals {found.total} {draft.currency} where the shop charged {expected}"
        if booked:
            # Too late to hold it back: say so loudly, and keep the booked state true.
            log.error("document %s: %s", self.doc.id, message)
            self.mismatch = message
            return
        raise CannotPost(message + ", so it is not booked", "total_mismatch")

    async def _posted(self, found: _InDinero) -> Result:
        result = await self.posted(
            step="booked" if found.booked else "created",
            number=found.number,
            status=found.status,
            version=found.timestamp,
        )
        if self.mismatch:
            await events.event(
                self.p.pool,
                self.doc,
                "document.total_mismatch",
                "error",
                self.mismatch,
                now=self.now,
            )
        return result
