"""Posting one document to Dinero, exactly once: the state machine behind `documents.post`.

An attempt leases the row, then walks the steps, writing each step's result to the row
before the next one starts, so an attempt that stops anywhere (a lost answer, an empty call
budget, a crash) is resumed by the next one from what the row says:

1. organisation: fixed from the shop's connection (a credit note's from its invoice) and
   stored with the contact, before anything is created in it;
2. contact: `tenants.contacts` (cache, mirror, or created with a deterministic guid);
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

How each failure ends an attempt (`_Attempt.settle`): an empty call budget or a 429 defers
without counting a failure; a 5xx, a lost answer or an unreachable Visma backs off with
jitter and counts one; a 400 stops the document as `failed` with Dinero's message, for the
owner to retry after a fix; a dead grant parks the whole organisation until it is reconnected.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final, TypeVar
from uuid import UUID

import httpx

from gateway.accounting import DocumentDraft
from gateway.db import Pool
from gateway.dinero.client import CallObserver, DineroClient
from gateway.dinero.errors import (
    DineroError,
    Forbidden,
    NotFound,
    RateLimited,
    TimestampOutdated,
    Uncertain,
    ValidationFailed,
)
from gateway.dinero.oauth import VismaConnect
from gateway.dinero.readmodels import SalesDocument
from gateway.orders import Order
from gateway.ratelimit import BookingLock, RateBudget
from gateway.vault import Vault
from tenants import contacts, drafts, outbox
from tenants.connections import ConnectionUnusable, RefreshUnavailable
from tenants.dinero_session import BudgetExhausted, ConnectionRejected, DineroSession
from tenants.drafts import CannotPost
from tenants.outbox import Document, Ready

log = logging.getLogger(__name__)

# Longer than any attempt can run (arq's job timeout is 120 s), so a live attempt never
# loses its lease; a dead one's document is free again after this.
LEASE_FOR: Final = timedelta(minutes=3)
BACKOFF_BASE: Final = timedelta(seconds=30)
UNCERTAIN_BASE: Final = timedelta(seconds=5)  # look again soon: the answer is just lost
BACKOFF_CAP: Final = timedelta(hours=1)
BUSY_LOCK_DELAY: Final = timedelta(seconds=1)
VOUCHERS_NOT_YET: Final = "Voucher mode is not available yet"
PAYMENTS_NOT_YET: Final = "Registering payments is not available yet"

T = TypeVar("T")


@dataclass(frozen=True)
class Poster:
    """What posting needs from its process: built once per worker (`workers.documents`)."""

    pool: Pool
    vault: Vault
    visma: VismaConnect
    http: httpx.AsyncClient
    budget: RateBudget
    bookings: BookingLock
    api_url: str
    client_id: str
    worker_id: str
    on_call: CallObserver | None = None
    # How long an attempt may wait for a call slot or the booking lock before it defers.
    budget_wait: float = 1.0
    booking_wait: float = 5.0
    lease_for: timedelta = LEASE_FOR
    # The waits after a failure. Only tests shorten them (`workers.documents.Pace`).
    backoff_base: timedelta = BACKOFF_BASE
    uncertain_base: timedelta = UNCERTAIN_BASE
    # How long a 429 holds the organisation's budget; None: what the answer says, or the
    # client's default when it says nothing (Dinero documents no Retry-After).
    rate_limit_pause: float | None = None


class Outcome(StrEnum):
    POSTED = "posted"
    DEFERRED = "deferred"
    FAILED = "failed"
    PARKED = "parked"
    WAITING = "waiting"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # not due, gone, or leased by another worker
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    released: tuple[Ready, ...] = ()  # children that became due: enqueue them


async def post_document(poster: Poster, document_id: int, *, now: datetime) -> Result:
    """One attempt at the document. Never raises for anything Dinero or the data does:
    every outcome is written to the row and the lease released."""
    document = await outbox.lease(
        poster.pool, document_id, poster.worker_id, now=now, lease_for=poster.lease_for
    )
    if document is None:
        return Result(Outcome.SKIPPED)
    attempt = _Attempt(poster, document, now)
    try:
        try:
            return await attempt.run()
        except Exception as exc:  # every failure ends in a row state
            return await attempt.settle(exc)
    except outbox.LeaseLost:
        log.warning("document %s: lease lost to another worker", document_id)
        return Result(Outcome.LEASE_LOST)


def backoff(failures: int, now: datetime, base: timedelta = BACKOFF_BASE) -> datetime:
    """When to try again after the `failures`-th failure in a row: doubling, capped, ±20 %
    jitter so documents that failed together do not return together."""
    delay: timedelta = min(base * 2 ** max(failures - 1, 0), BACKOFF_CAP)
    return now + delay * random.uniform(0.8, 1.2)


class _Stop(Exception):
    """Ends the attempt with a given row state (raised by the steps)."""


class _Park(_Stop):
    pass


class _Wait(_Stop):
    pass


class _Defer(_Stop):
    def __init__(self, until: datetime) -> None:
        super().__init__("deferred")
        self.until = until


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


class _Attempt:
    def __init__(self, poster: Poster, document: Document, now: datetime) -> None:
        self.p = poster
        self.doc = document
        self.now = now
        self.session: DineroSession | None = None
        self.organization_id = 0
        self.mismatch: str | None = None  # Dinero's total differed, found only once booked

    # -- the steps -------------------------------------------------------------------------

    async def run(self) -> Result:
        doc = self.doc
        if doc.kind == "voucher":
            raise CannotPost(VOUCHERS_NOT_YET, "not_available")
        if doc.kind not in ("invoice", "credit_note"):
            raise CannotPost(PAYMENTS_NOT_YET, "not_available")
        shop = await drafts.shop_settings(self.p.pool, doc.shop_id)
        parent = await self._parent()
        if shop.connection_id is None or shop.organization_id is None:
            raise _Park("The shop is not connected to Dinero")
        self.organization_id = self._organisation(shop.organization_id, parent)
        order, draft = await drafts.draft_for(self.p.pool, doc, shop, now=self.now)
        self.session = DineroSession(
            pool=self.p.pool,
            vault=self.p.vault,
            visma=self.p.visma,
            http=self.p.http,
            api_url=self.p.api_url,
            budget=self.p.budget,
            client_id=self.p.client_id,
            connection_id=shop.connection_id,
            organization_id=self.organization_id,
            now=self.now,
            budget_wait=self.p.budget_wait,
            on_call=self.p.on_call,
        )
        credit_note_for: UUID | None = None
        if parent is not None:
            assert parent.dinero_guid is not None  # `_parent` checked
            parent_booked = parent.dinero_status is not None and parent.dinero_status != "Draft"
            if not parent_booked:
                live = await self._read_parent(parent.dinero_guid)
                parent_booked = live is not None and live.booked
                if self.doc.payload.get("full") and not parent_booked:
                    return await self._cancel_draft(parent, live)
            credit_note_for = parent.dinero_guid if parent_booked else None
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

    async def _parent(self) -> Document | None:
        """A credit note's invoice, once it is in Dinero; until then the note waits."""
        if self.doc.kind != "credit_note":
            return None
        if self.doc.parent_id is None:
            raise CannotPost("The credit note names no invoice", "no_parent")
        parent = await outbox.get(self.p.pool, self.doc.shop_id, self.doc.parent_id)
        if parent is None:
            raise CannotPost("The invoice this credit note is for no longer exists", "no_parent")
        if parent.state == "cancelled":
            raise _CancelledParent()
        if parent.state != "posted" or parent.dinero_guid is None:
            raise _Wait()
        return parent

    def _organisation(self, connected: int, parent: Document | None) -> int:
        """Where the document goes. Fixed at the first attempt (stored with the contact);
        a shop that moved to another organisation since sends nothing there that belongs
        with the old one: not a credit note, not a retry of something already begun."""
        doc = self.doc
        if parent is not None and parent.organization_id != connected:
            raise CannotPost(
                f"The invoice was posted to Dinero organisation {parent.organization_id}, but "
                f"the shop is now connected to {connected}. Connect the shop to "
                f"{parent.organization_id} again to post this credit note, or credit the "
                "invoice by hand in Dinero.",
                "organization_moved",
            )
        if doc.organization_id is None or doc.organization_id == connected:
            return connected
        begun = doc.step not in ("new", "contact") or doc.uncertain or doc.dinero_guid
        if begun:
            raise CannotPost(
                f"This document was begun in Dinero organisation {doc.organization_id}, but "
                f"the shop is now connected to {connected}. Connect the shop to "
                f"{doc.organization_id} again to finish it, or create it by hand.",
                "organization_moved",
            )
        # Nothing of it exists in the old organisation but perhaps a contact: start afresh.
        self.doc = replace(doc, contact_guid=None, organization_id=None)
        return connected

    async def _contact(self, order: Order, parent: Document | None) -> UUID:
        doc = self.doc
        if doc.contact_guid is not None and doc.organization_id is not None:
            return doc.contact_guid
        if parent is not None and parent.contact_guid is not None:
            guid = parent.contact_guid  # the invoice's customer, already in Dinero
        else:
            guid = await contacts.resolve(self.p.pool, self._api(), order.customer, now=self.now)
        await self._record(step="contact", contact_guid=guid, organization_id=self.organization_id)
        return guid

    async def _create(
        self, draft: DocumentDraft, contact_guid: UUID, credit_note_for: UUID | None
    ) -> _InDinero:
        doc = self.doc
        if doc.dinero_guid is not None and not doc.uncertain:
            return _InDinero(doc.dinero_guid, doc.dinero_timestamp, doc.dinero_status, None, None)
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
                    made = await self._call(lambda c: c.create_invoice(org, body))
                else:
                    note = draft.credit_note_create(
                        guid=doc.client_guid,
                        external_reference=reference,
                        contact_guid=contact_guid,
                        credit_note_for=credit_note_for,
                    )
                    made = await self._call(lambda c: c.create_credit_note(org, note))
                found = _InDinero(made.guid, made.timestamp, "Draft", None, None)
            except ValidationFailed as exc:
                if exc.duplicate_guid:
                    found = await self._read(doc.client_guid)
                else:
                    if "contactguid" in " ".join(exc.field_errors).lower():
                        # The cached contact is gone from Dinero: find or make it afresh.
                        await contacts.forget(self.p.pool, org, contact_guid)
                        await self._record(step="new", contact_guid=None)
                    raise
        await self._record(
            step="created",
            dinero_guid=found.guid,
            dinero_timestamp=found.timestamp,
            dinero_status=found.status,
            uncertain=False,
        )
        if found.total is not None:
            self._check_total(found, draft, booked=found.booked)
        return found

    async def _book(self, current: _InDinero) -> _InDinero:
        """Books under the organisation's booking lock, so numbers are taken one at a time."""
        org = self.organization_id
        token = await self.p.bookings.acquire(org, wait=self.p.booking_wait)
        if token is None:
            raise _Defer(self.now + BUSY_LOCK_DELAY * random.uniform(1, 2))
        try:
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
        finally:
            await self.p.bookings.release(org, token)

    async def _book_call(self, guid: UUID, timestamp: str | None) -> _InDinero:
        if not timestamp:
            fresh = await self._read(guid)
            if fresh.booked:
                return fresh
            timestamp = fresh.timestamp or ""
        org, stamp = self.organization_id, timestamp
        if self.doc.kind == "invoice":
            booked: SalesDocument = await self._call(lambda c: c.book_invoice(org, guid, stamp))
        else:
            booked = await self._call(lambda c: c.book_credit_note(org, guid, stamp))
        return _InDinero.read(booked)

    async def _cancel_draft(self, parent: Document, live: _InDinero | None) -> Result:
        """The order was cancelled and its invoice is still a draft in Dinero: delete the
        draft instead of crediting it, and neither document is posted."""
        org = self.organization_id
        if live is not None:
            guid, stamp = live.guid, live.timestamp or ""
            try:
                await self._call(lambda c: c.delete_invoice(org, guid, stamp))
            except ValidationFailed:
                # Perhaps deleted already by an attempt whose answer was lost: deleted
                # drafts are not listed.
                reference = parent.external_reference
                listed = await self._call(
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
            return _InDinero.read(await self._call(lambda c: c.get_invoice(org, guid)))
        except NotFound:
            return None

    async def _read(self, guid: UUID) -> _InDinero:
        org = self.organization_id
        if self.doc.kind == "invoice":
            found: SalesDocument = await self._call(lambda c: c.get_invoice(org, guid))
        else:
            found = await self._call(lambda c: c.get_credit_note(org, guid))
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
        released = await outbox.posted(
            self.p.pool,
            self.doc,
            now=self.now,
            step="booked" if found.booked else "created",
            number=found.number,
            status=found.status,
        )
        if self.mismatch:
            await outbox.note(
                self.p.pool,
                self.doc,
                "document.total_mismatch",
                "error",
                self.mismatch,
                now=self.now,
            )
        return Result(Outcome.POSTED, tuple(released))

    # -- plumbing --------------------------------------------------------------------------

    def _api(self) -> DineroSession:
        assert self.session is not None
        return self.session

    async def _call(self, request: Callable[[DineroClient], Awaitable[T]]) -> T:
        return await self._api().call(request)

    async def _record(self, **fields: Any) -> None:
        self.doc = await outbox.record_step(self.p.pool, self.doc, now=self.now, **fields)

    # -- how an attempt ends ---------------------------------------------------------------

    async def settle(self, exc: Exception) -> Result:
        """Turns whatever stopped the attempt into the row's next state."""
        pool, doc, now = self.p.pool, self.doc, self.now
        match exc:
            case outbox.LeaseLost():
                raise exc
            case CannotPost(message=message, code=code):
                await outbox.fail(pool, doc, now=now, message=message, code=code)
                return Result(Outcome.FAILED)
            case _Park():
                await outbox.park(pool, doc, now=now, reason=str(exc))
                return Result(Outcome.PARKED)
            case _Wait():
                await outbox.wait_for_parent(pool, doc, now=now)
                return Result(Outcome.WAITING)
            case _CancelledParent():
                await outbox.cancelled(
                    pool, doc, now=now, message="The invoice was cancelled, so is its credit note"
                )
                return Result(Outcome.CANCELLED)
            case _Defer(until=until):
                await outbox.defer(pool, doc, now=now, until=until)
            case BudgetExhausted(wait=wait):
                until = now + timedelta(seconds=wait + random.uniform(0, 0.5))
                await outbox.defer(pool, doc, now=now, until=until)
            case RateLimited(retry_after=retry_after):
                if self.p.rate_limit_pause is not None:
                    retry_after = self.p.rate_limit_pause
                await self._api().rate_limited(retry_after)
                until = now + timedelta(seconds=retry_after + random.uniform(0, 1))
                await outbox.defer(pool, doc, now=now, until=until)
            case TimestampOutdated():  # outdated again right after a fresh read
                await self._retry_later(exc, _code(exc))
            case Uncertain():
                await self._retry_later(
                    exc, "uncertain", base=self.p.uncertain_base, uncertain=True
                )
            case Forbidden() if exc.not_pro:
                message = "The Dinero organisation needs Dinero Pro to be used through the API"
                await outbox.fail(pool, doc, now=now, message=message, code="not_pro")
                return Result(Outcome.FAILED)
            case Forbidden() | ConnectionRejected():
                reason = (
                    "Dinero refused access to the organisation"
                    if isinstance(exc, Forbidden)
                    else "Dinero refused the token right after it was renewed"
                )
                await outbox.park_organization(pool, self._api().connection_id, reason, now=now)
                await outbox.park(pool, doc, now=now, reason=reason)
                return Result(Outcome.PARKED)
            case ValidationFailed():
                await outbox.fail(pool, doc, now=now, message=_refusal(exc), code=_code(exc))
                return Result(Outcome.FAILED)
            case NotFound() if exc.method != "GET":
                await outbox.fail(pool, doc, now=now, message=_refusal(exc), code=_code(exc))
                return Result(Outcome.FAILED)
            case ConnectionUnusable():
                await outbox.park(pool, doc, now=now, reason=str(exc))
                return Result(Outcome.PARKED)
            case RefreshUnavailable(retry_at=retry_at):
                await self._retry_later(exc, "token_refresh", not_before=retry_at)
            case DineroError():
                await self._retry_later(exc, _code(exc))
            case _:
                log.exception("document %s: unexpected failure", doc.id, exc_info=exc)
                await self._retry_later(exc, "internal", message="An internal error; retrying")
        return Result(Outcome.DEFERRED)

    async def _retry_later(
        self,
        exc: Exception,
        code: str,
        *,
        base: timedelta | None = None,
        uncertain: bool | None = None,
        not_before: datetime | None = None,
        message: str | None = None,
    ) -> None:
        until = backoff(
            self.doc.failures + 1, self.now, self.p.backoff_base if base is None else base
        )
        if not_before is not None:
            until = max(until, not_before)
        await outbox.defer(
            self.p.pool,
            self.doc,
            now=self.now,
            until=until,
            failure=message or str(exc),
            code=code,
            uncertain=uncertain,
        )


class _CancelledParent(_Stop):
    pass


def _refusal(exc: DineroError) -> str:
    """Dinero's own words, for the owner."""
    fields = getattr(exc, "field_errors", {})
    detail = "; ".join(f"{name}: {text}" for name, text in fields.items())
    return f"Dinero refused it: {exc.message}" + (f" ({detail})" if detail else "")


def _code(exc: DineroError) -> str:
    if exc.code is not None:
        return str(exc.code)
    return f"http_{exc.status}" if exc.status is not None else "no_answer"
