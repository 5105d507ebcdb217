"""One attempt at one document: what every kind of document shares.

`tenants.posting.service` leases the row and picks the attempt for the document's kind: invoices and
credit notes (`tenants.posting.service`), payments (`tenants.posting.payments`), manual vouchers
(`tenants.posting.vouchers`). Each walks its own steps; this module holds what they have in common:
the Dinero session (call budget and 401 policy), writing a step's result before the next
step starts, ending as posted, and `settle`, which turns whatever stopped an attempt into the
row's next state:

an empty call budget or a 429 defers without counting a failure; a 5xx, a lost answer or an
unreachable Visma backs off with jitter and counts one; a 400 stops the document as `failed`
with Dinero's message, for the owner to retry after a fix; a dead grant parks the whole
organisation until it is reconnected.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, TypeVar
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.dinero.client import DineroClient
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
from gateway.dinero.transport import CallObserver
from gateway.pdf import FetchPolicy
from gateway.ratelimit import BookingLock, RateBudget
from gateway.vault import Vault
from tenants.connections import service as connections
from tenants.connections.dinero_session import BudgetExhausted, ConnectionRejected, DineroSession
from tenants.connections.service import ConnectionUnusable, RefreshUnavailable
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document, LeaseLost, Ready
from tenants.posting.drafts import CannotPost
from tenants.shops.settings import ShopSettings

log = logging.getLogger(__name__)

# Longer than any attempt can run (arq's job timeout is 120 s), so a live attempt never
# loses its lease; a dead one's document is free again after this.
LEASE_FOR: Final = timedelta(minutes=3)
BACKOFF_BASE: Final = timedelta(seconds=30)
UNCERTAIN_BASE: Final = timedelta(seconds=5)  # look again soon: the answer is just lost
BACKOFF_CAP: Final = timedelta(hours=1)

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
    # Where a voucher's PDF may be fetched from; None: the production policy. Tests and
    # `gateway dev` loosen it, to serve a PDF from this machine (`workers.documents`).
    pdf_policy: FetchPolicy | None = None


def session_for(
    poster: Poster,
    *,
    connection_id: UUID,
    organization_id: int,
    now: datetime,
    budget_wait: float | None = None,
) -> DineroSession:
    """A worker's conversation with one organisation: its call budget, the 401 policy,
    and the poster's call observer. `budget_wait` defaults to the poster's."""
    return DineroSession(
        pool=poster.pool,
        vault=poster.vault,
        visma=poster.visma,
        http=poster.http,
        api_url=poster.api_url,
        budget=poster.budget,
        client_id=poster.client_id,
        connection_id=connection_id,
        organization_id=organization_id,
        now=now,
        budget_wait=poster.budget_wait if budget_wait is None else budget_wait,
        on_call=poster.on_call,
    )


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


def backoff(failures: int, now: datetime, base: timedelta = BACKOFF_BASE) -> datetime:
    """When to try again after the `failures`-th failure in a row: doubling, capped, ±20 %
    jitter so documents that failed together do not return together."""
    delay: timedelta = min(base * 2 ** max(failures - 1, 0), BACKOFF_CAP)
    return now + delay * random.uniform(0.8, 1.2)


class Stop(Exception):
    """Ends the attempt with a given row state (raised by the steps)."""


class Park(Stop):
    """The shop has no usable connection: wait for a (re)connect."""


class Wait(Stop):
    """The parent document is not in Dinero yet: wait for it."""


class CancelledParent(Stop):
    """The parent was cancelled, so this document never will be posted."""


class Defer(Stop):
    """Nothing went wrong, but not now (a busy booking lock)."""

    def __init__(self, until: datetime) -> None:
        super().__init__("deferred")
        self.until = until


class Attempt:
    """The plumbing an attempt's steps use. Subclasses implement `run`."""

    def __init__(self, poster: Poster, document: Document, now: datetime) -> None:
        self.p = poster
        self.doc = document
        self.now = now
        self.session: DineroSession | None = None
        self.organization_id = 0

    async def run(self) -> Result:
        raise NotImplementedError

    # -- for the steps ---------------------------------------------------------------------

    async def parent(self, what: str) -> Document:
        """The document this one belongs to (the invoice a credit note or payment is for),
        once it is posted in Dinero; until then this one waits."""
        doc = self.doc
        if doc.parent_id is None:
            raise CannotPost(f"The {_label(doc)} names no {what}", "no_parent")
        parent = await outbox.get(self.p.pool, doc.shop_id, doc.parent_id)
        if parent is None:
            raise CannotPost(f"The {what} this {_label(doc)} is for no longer exists", "no_parent")
        if parent.state == "cancelled":
            raise CancelledParent(f"The {what} was cancelled, so is this {_label(doc)}")
        if parent.state != "posted" or parent.dinero_guid is None:
            raise Wait()
        return parent

    def organisation(self, connected: int, parent: Document | None) -> int:
        """Where the document goes. Fixed at the first attempt (stored with the first step);
        a shop that moved to another organisation since sends nothing there that belongs
        with the old one: not a credit note, not a payment, not a retry of something begun."""
        doc = self.doc
        if parent is not None and parent.organization_id != connected:
            raise CannotPost(
                f"Its {_label(parent)} was posted to Dinero organisation "
                f"{parent.organization_id}, but the shop is now connected to {connected}. "
                f"Connect the shop to {parent.organization_id} again to post this "
                f"{_label(doc)}, or enter it by hand in Dinero.",
                "organization_moved",
            )
        if doc.organization_id is None or doc.organization_id == connected:
            return connected
        begun = doc.step not in ("new", "contact") or doc.uncertain or doc.dinero_guid is not None
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

    def open_session(self, shop: ShopSettings, organization_id: int) -> None:
        if shop.connection_id is None:
            raise Park("The shop is not connected to Dinero")
        self.organization_id = organization_id
        self.session = session_for(
            self.p, connection_id=shop.connection_id, organization_id=organization_id, now=self.now
        )

    def api(self) -> DineroSession:
        assert self.session is not None
        return self.session

    async def call(self, request: Callable[[DineroClient], Awaitable[T]]) -> T:
        return await self.api().call(request)

    async def record(self, **fields: Any) -> None:
        self.doc = await outbox.record_step(self.p.pool, self.doc, now=self.now, **fields)

    async def posted(
        self, *, step: str, number: int | None, status: str | None, timestamp: str | None
    ) -> Result:
        released = await outbox.posted(
            self.p.pool,
            self.doc,
            now=self.now,
            step=step,
            number=number,
            status=status,
            timestamp=timestamp,
        )
        return Result(Outcome.POSTED, tuple(released))

    # -- how an attempt ends ---------------------------------------------------------------

    async def settle(self, exc: Exception) -> Result:
        """Turns whatever stopped the attempt into the row's next state."""
        pool, doc, now = self.p.pool, self.doc, self.now
        match exc:
            case LeaseLost():
                raise exc
            case CannotPost(message=message, code=code):
                await outbox.fail(pool, doc, now=now, message=message, code=code)
                return Result(Outcome.FAILED)
            case Park():
                await outbox.park(pool, doc, now=now, reason=str(exc))
                return Result(Outcome.PARKED)
            case Wait():
                await outbox.wait_for_parent(pool, doc, now=now)
                return Result(Outcome.WAITING)
            case CancelledParent():
                await outbox.cancelled(pool, doc, now=now, message=str(exc))
                return Result(Outcome.CANCELLED)
            case Defer(until=until):
                await outbox.defer(pool, doc, now=now, until=until)
            case BudgetExhausted(wait=wait):
                until = now + timedelta(seconds=wait + random.uniform(0, 0.5))
                await outbox.defer(pool, doc, now=now, until=until)
            case RateLimited(retry_after=retry_after):
                if self.p.rate_limit_pause is not None:
                    retry_after = self.p.rate_limit_pause
                await self.api().rate_limited(retry_after)
                until = now + timedelta(seconds=retry_after + random.uniform(0, 1))
                await outbox.defer(pool, doc, now=now, until=until)
            case TimestampOutdated():  # outdated again right after a fresh read
                await self._retry_later(exc, code_of(exc))
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
                await connections.mark_needs_reconnect(
                    pool, self.api().connection_id, reason, now=now
                )
                await outbox.park(pool, doc, now=now, reason=reason)
                return Result(Outcome.PARKED)
            case ValidationFailed():
                await outbox.fail(pool, doc, now=now, message=refusal(exc), code=code_of(exc))
                return Result(Outcome.FAILED)
            case NotFound() if exc.method != "GET":
                await outbox.fail(pool, doc, now=now, message=refusal(exc), code=code_of(exc))
                return Result(Outcome.FAILED)
            case ConnectionUnusable():
                await outbox.park(pool, doc, now=now, reason=str(exc))
                return Result(Outcome.PARKED)
            case RefreshUnavailable(retry_at=retry_at):
                await self._retry_later(exc, "token_refresh", not_before=retry_at)
            case DineroError():
                await self._retry_later(exc, code_of(exc))
            case _:
                log.exception("document %s: unexpected failure", doc.id, exc_info=exc)
                await self._retry_later(exc, "internal", message="An internal error; retrying")
        return Result(Outcome.DEFERRED)

    async def retry_later(self, message: str, code: str, *, base: timedelta | None = None) -> None:
        """Ends the attempt as a counted failure, to be tried again after a back-off."""
        await self._retry_later(Exception(message), code, base=base)

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


def _label(document: Document) -> str:
    return document.kind.replace("_", " ")


def refusal(exc: DineroError) -> str:
    """Dinero's own words, for the owner."""
    fields = getattr(exc, "field_errors", {})
    detail = "; ".join(f"{name}: {text}" for name, text in fields.items())
    return f"Dinero refused it: {exc.message}" + (f" ({detail})" if detail else "")


def code_of(exc: DineroError) -> str:
    if exc.code is not None:
        return str(exc.code)
    return f"http_{exc.status}" if exc.status is not None else "no_answer"
