"""What every attempt in Dinero shares: the worker's resources (`Resources`; `poster.Poster`
adds the attempts and is posting's `Backend` for Dinero), the conversation with one
organisation (call budget and 401 policy, `tenants.dinero.session`), the booking lock, and
what Dinero's failures mean for the row (`classify`, which `books.DineroBooks` answers):

an empty call budget or a 429 defers without counting a failure; a 5xx, a lost answer or an
unreachable Visma backs off with jitter and counts one; a 400 stops the document as `failed`
with Dinero's message, for the owner to retry after a fix; a dead grant parks the whole
organisation until it is reconnected.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import httpx

from gateway.db import Pool
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
from gateway.metrics import Metrics
from gateway.pdf import FetchPolicy
from gateway.ratelimit import BookingLock, RateBudget
from gateway.vault import Vault
from tenants.dinero.connections import service as connections
from tenants.dinero.connections.service import ConnectionUnusable, RefreshUnavailable
from tenants.dinero.session import BudgetExhausted, ConnectionRejected, DineroSession
from tenants.posting.attempt import (
    BACKOFF_BASE,
    LEASE_FOR,
    UNCERTAIN_BASE,
    CannotPost,
    Defer,
    Park,
    RetryLater,
)

BUSY_LOCK_DELAY: Final = timedelta(seconds=1)
NOT_PRO: Final = "The Dinero organisation needs Dinero Pro to be used through the API"


@dataclass(frozen=True)
class Resources:
    """What posting needs from its process: built once per worker (`workers.backends`)."""

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
    # Where Dinero calls are counted by outcome (`gateway.metrics`); None: not counted.
    metrics: Metrics | None = None
    # How long an attempt may wait for a call slot or the booking lock before it defers.
    budget_wait: float = 1.0
    booking_wait: float = 5.0
    lease_for: timedelta = LEASE_FOR
    # The waits after a failure. Only tests shorten them (`workers.backends.Pace`).
    backoff_base: timedelta = BACKOFF_BASE
    uncertain_base: timedelta = UNCERTAIN_BASE
    # How long a 429 holds the organisation's budget; None: what the answer says, or the
    # client's default when it says nothing (Dinero documents no Retry-After).
    rate_limit_pause: float | None = None
    # Where a voucher's PDF may be fetched from; None: the production policy. Tests and
    # `gateway dev` loosen it, to serve a PDF from this machine (`workers.backends`).
    pdf_policy: FetchPolicy | None = None


def session_for(
    poster: Resources,
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
        metrics=poster.metrics,
    )


@contextlib.asynccontextmanager
async def booking(poster: Resources, organization_id: int, now: datetime) -> AsyncIterator[None]:
    """The organisation's booking lock, so numbers are taken one at a time. A lock busy for
    longer than the poster waits defers the attempt."""
    token = await poster.bookings.acquire(organization_id, wait=poster.booking_wait)
    if token is None:
        raise Defer(now + BUSY_LOCK_DELAY * random.uniform(1, 2))
    try:
        yield
    finally:
        await poster.bookings.release(organization_id, token)


async def classify(
    poster: Resources, session: DineroSession | None, exc: Exception, now: datetime
) -> Exception:
    """What a failure of Dinero's, Visma's or the session's means for the row (`session`:
    the attempt's, once it has one)."""
    match exc:
        case BudgetExhausted(wait=wait):
            return Defer(now + timedelta(seconds=wait + random.uniform(0, 0.5)))
        case RateLimited(retry_after=retry_after):
            if poster.rate_limit_pause is not None:
                retry_after = poster.rate_limit_pause
            assert session is not None  # only a call answers 429
            await session.rate_limited(retry_after)
            return Defer(now + timedelta(seconds=retry_after + random.uniform(0, 1)))
        case TimestampOutdated():  # outdated again right after a fresh read
            return RetryLater(str(exc), code_of(exc))
        case Uncertain():
            return RetryLater(str(exc), "uncertain", base=poster.uncertain_base, uncertain=True)
        case Forbidden() if exc.not_pro:
            return CannotPost(NOT_PRO, "not_pro")
        case Forbidden() | ConnectionRejected():
            reason = (
                "Dinero refused access to the organisation"
                if isinstance(exc, Forbidden)
                else "Dinero refused the token right after it was renewed"
            )
            assert session is not None  # only a call is refused
            await connections.mark_needs_reconnect(
                poster.pool, session.connection_id, reason, now=now
            )
            return Park(reason)
        case ValidationFailed():
            return CannotPost(refusal(exc), code_of(exc))
        case NotFound() if exc.method != "GET":
            return CannotPost(refusal(exc), code_of(exc))
        case ConnectionUnusable():
            return Park(str(exc))
        case RefreshUnavailable(retry_at=retry_at):
            return RetryLater(str(exc), "token_refresh", not_before=retry_at)
        case DineroError():
            return RetryLater(str(exc), code_of(exc))
    return exc


def refusal(exc: DineroError) -> str:
    """Dinero's own words, for the owner."""
    fields = getattr(exc, "field_errors", {})
    detail = "; ".join(f"{name}: {text}" for name, text in fields.items())
    return f"Dinero refused it: {exc.message}" + (f" ({detail})" if detail else "")


def code_of(exc: DineroError) -> str:
    if exc.code is not None:
        return str(exc.code)
    return f"http_{exc.status}" if exc.status is not None else "no_answer"
