"""One attempt at one document, whatever accounting system it goes to: what every kind of
document and every backend shares.

An attempt walks its kind's steps (`tenants.posting.sales`) or its backend's own, through
the backend's operations (`tenants.posting.backend`), writing each step's result to the row
before the next starts, and ends in `settle`, which turns whatever stopped
it into the row's next state. A backend says what its own failures mean (`classify`) in this
module's words:

- `CannotPost`: the document cannot go as things stand (a refusal, a setting to fix); it
  stops as `failed` with the message, for the owner to retry after a fix;
- `Park`: no usable connection; it waits for a (re)connect;
- `Wait` / `CancelledParent`: its parent is not posted yet, or never will be;
- `Defer`: nothing went wrong, but not now (no call slot, a 429, a busy lock): no failure
  is counted;
- `RetryLater`: a counted failure (a 5xx, a lost answer, an unreachable server), tried again
  after a back-off with jitter.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol
from uuid import UUID

from gateway.db import Pool
from tenants.outbox import repository as outbox
from tenants.outbox.models import Document, LeaseLost
from tenants.posting.outcomes import Outcome, Result
from tenants.shops.settings import ShopSettings, shop_settings

log = logging.getLogger(__name__)

# Longer than any attempt can run (arq's job timeout is 120 s), so a live attempt never
# loses its lease; a dead one's document is free again after this.
LEASE_FOR: Final = timedelta(minutes=3)
BACKOFF_BASE: Final = timedelta(seconds=30)
UNCERTAIN_BASE: Final = timedelta(seconds=5)  # look again soon: the answer is just lost
BACKOFF_CAP: Final = timedelta(hours=1)


def backoff(failures: int, now: datetime, base: timedelta = BACKOFF_BASE) -> datetime:
    """When to try again after the `failures`-th failure in a row: doubling, capped, ±20 %
    jitter so documents that failed together do not return together."""
    delay: timedelta = min(base * 2 ** max(failures - 1, 0), BACKOFF_CAP)
    return now + delay * random.uniform(0.8, 1.2)


class CannotPost(Exception):
    """The document cannot be posted as things stand; `message` tells the owner why."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Stop(Exception):
    """Ends the attempt with a given row state (raised by the steps)."""


class Park(Stop):
    """The shop has no usable connection: wait for a (re)connect."""


class Wait(Stop):
    """The parent document is not posted yet: wait for it."""


class CancelledParent(Stop):
    """The parent was cancelled, so this document never will be posted."""


class Defer(Stop):
    """Nothing went wrong, but not now."""

    def __init__(self, until: datetime) -> None:
        super().__init__("deferred")
        self.until = until


class RetryLater(Exception):
    """A counted failure: tried again after a back-off from `base` (the backend's default
    when None), not before `not_before`. `uncertain`: it may have reached the books, so the
    next attempt looks before it creates anything."""

    def __init__(
        self,
        message: str,
        code: str,
        *,
        base: timedelta | None = None,
        uncertain: bool | None = None,
        not_before: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.base = base
        self.uncertain = uncertain
        self.not_before = not_before


class Context(Protocol):
    """What an attempt's plumbing needs of its process."""

    @property
    def pool(self) -> Pool: ...
    @property
    def backoff_base(self) -> timedelta: ...


async def posting_settings(pool: Pool, shop_id: UUID) -> ShopSettings:
    """The shop's settings as a worker posts with them; a shop gone means nothing to post."""
    shop = await shop_settings(pool, shop_id)
    if shop is None:
        raise CannotPost("The shop no longer exists", "shop_missing")
    return shop


class Attempt:
    """The plumbing an attempt's steps use. A backend's attempts implement `run` and
    `classify`."""

    def __init__(self, context: Context, document: Document, now: datetime) -> None:
        self.context = context
        self.doc = document
        self.now = now

    async def run(self) -> Result:
        raise NotImplementedError

    async def classify(self, exc: Exception) -> Exception:
        """The backend's own failure in this module's words; anything it does not know is
        returned as it is (and ends as an internal error, retried)."""
        return exc

    # -- for the steps ---------------------------------------------------------------------

    async def parent(self, what: str) -> Document:
        """The document this one belongs to (the invoice a credit note or payment is for),
        once it is posted; until then this one waits."""
        doc = self.doc
        if doc.parent_id is None:
            raise CannotPost(f"The {label(doc)} names no {what}", "no_parent")
        parent = await outbox.get(self.context.pool, doc.shop_id, doc.parent_id)
        if parent is None:
            raise CannotPost(f"The {what} this {label(doc)} is for no longer exists", "no_parent")
        if parent.state == "cancelled":
            raise CancelledParent(f"The {what} was cancelled, so is this {label(doc)}")
        if parent.state != "posted" or parent.backend_id is None:
            raise Wait()
        return parent

    def organisation(self, connected: int, parent: Document | None) -> int:
        """Where the document goes. Fixed at the first attempt (stored with the first step);
        a shop that moved to another organisation since sends nothing there that belongs
        with the old one: not a credit note, not a payment, not a retry of something begun."""
        doc = self.doc
        if parent is not None and parent.organization_id != connected:
            raise CannotPost(
                f"Its {label(parent)} was posted to organisation "
                f"{parent.organization_id}, but the shop is now connected to {connected}. "
                f"Connect the shop to {parent.organization_id} again to post this "
                f"{label(doc)}, or enter it by hand in the books.",
                "organization_moved",
            )
        if doc.organization_id is None or doc.organization_id == connected:
            return connected
        begun = doc.step not in ("new", "contact") or doc.uncertain or doc.backend_id is not None
        if begun:
            raise CannotPost(
                f"This document was begun in organisation {doc.organization_id}, but "
                f"the shop is now connected to {connected}. Connect the shop to "
                f"{doc.organization_id} again to finish it, or create it by hand.",
                "organization_moved",
            )
        # Nothing of it exists in the old organisation but perhaps a contact: start afresh.
        self.doc = replace(doc, contact_guid=None, organization_id=None)
        return connected

    async def record(self, **fields: Any) -> None:
        self.doc = await outbox.record_step(self.context.pool, self.doc, now=self.now, **fields)

    async def posted(
        self, *, step: str, number: int | None, status: str | None, version: str | None
    ) -> Result:
        released = await outbox.posted(
            self.context.pool,
            self.doc,
            now=self.now,
            step=step,
            number=number,
            status=status,
            version=version,
        )
        return Result(Outcome.POSTED, tuple(released))

    # -- how an attempt ends ---------------------------------------------------------------

    async def settle(self, exc: Exception) -> Result:
        """Turns whatever stopped the attempt into the row's next state."""
        if isinstance(exc, LeaseLost):
            raise exc
        exc = await self.classify(exc)
        pool, doc, now = self.context.pool, self.doc, self.now
        match exc:
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
            case RetryLater():
                await self._retry_later(exc)
            case _:
                log.exception("document %s: unexpected failure", doc.id, exc_info=exc)
                await self._retry_later(RetryLater("An internal error; retrying", "internal"))
        return Result(Outcome.DEFERRED)

    async def retry_later(self, message: str, code: str, *, base: timedelta | None = None) -> None:
        """Ends the attempt as a counted failure, to be tried again after a back-off."""
        await self._retry_later(RetryLater(message, code, base=base))

    async def _retry_later(self, failure: RetryLater) -> None:
        base = self.context.backoff_base if failure.base is None else failure.base
        until = backoff(self.doc.failures + 1, self.now, base)
        if failure.not_before is not None:
            until = max(until, failure.not_before)
        await outbox.defer(
            self.context.pool,
            self.doc,
            now=self.now,
            until=until,
            failure=failure.message,
            code=failure.code,
            uncertain=failure.uncertain,
        )


def label(document: Document) -> str:
    return document.kind.replace("_", " ")
