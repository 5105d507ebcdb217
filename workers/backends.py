"""The accounting systems documents are posted to, built once per worker and found by the
name a document's row carries (`documents.backend`): this is where a backend is chosen.
Dinero is the first; a second adds its builder to `BUILDERS`. Also Dinero's own cron,
`documents.confirm_payments` (every `payment_status.CONFIRM_EVERY` seconds, on one worker),
which asks Dinero whether the invoices and credit notes our payments were registered on
are paid now (`tenants.dinero.payment_status.confirm_payments`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from gateway.metrics import Metrics
from gateway.pdf import FetchPolicy
from gateway.ratelimit import BUDGET, DINERO_LIMIT, BookingLock, RateBudget
from gateway.settings import Settings
from tenants.dinero import payment_status
from tenants.dinero.poster import NAME as DINERO
from tenants.dinero.poster import Poster
from tenants.posting.attempt import BACKOFF_BASE, UNCERTAIN_BASE
from tenants.posting.backend import Backend
from tenants.posting.registry import Backends
from workers.connections import visma_from

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pace:
    """How fast posting may go and how long it waits after a failure. Production runs on
    the defaults: Dinero's limit, our budget under it, the real back-off. A test passes
    another in the worker's `ctx["pace"]` to post hundreds of documents through a sandbox
    whose limit it raised to match (`/_sandbox/settings` `rate_limit_per_minute`), with
    the same code paths and shorter waits."""

    dinero_limit: int = DINERO_LIMIT
    budget: int = BUDGET
    backoff_base: timedelta = BACKOFF_BASE
    uncertain_base: timedelta = UNCERTAIN_BASE
    rate_limit_pause: float | None = None


def poster_from(ctx: dict[str, Any]) -> Poster:
    """Dinero's backend, from the worker's resources."""
    settings: Settings = ctx["settings"]
    redis = ctx["redis"]
    pace: Pace = ctx.get("pace") or Pace()
    metrics: Metrics | None = ctx.get("metrics")
    return Poster(
        pool=ctx["pool"],
        vault=ctx["vault"],
        visma=ctx.get("visma") or visma_from(ctx),
        http=ctx["http"],
        budget=RateBudget(
            redis, limit=pace.budget, dinero_limit=pace.dinero_limit, metrics=metrics
        ),
        bookings=BookingLock(redis),
        api_url=settings.dinero_api_url,
        client_id=settings.dinero_client_id,
        worker_id=ctx["worker_id"],
        backoff_base=pace.backoff_base,
        uncertain_base=pace.uncertain_base,
        rate_limit_pause=pace.rate_limit_pause,
        pdf_policy=ctx.get("pdf_policy") or _pdf_policy(settings),
        metrics=metrics,
    )


def _pdf_policy(settings: Settings) -> FetchPolicy | None:
    """Production fetches a shop's PDF over https from public addresses only (None: the
    strict default). On a developer's machine the demo shop may serve it over http from
    this very machine; private networks stay refused everywhere."""
    if settings.env == "development":
        return FetchPolicy(allow_http=True, allow_loopback=True)
    return None


def dinero(ctx: dict[str, Any]) -> Poster:
    """The worker's Dinero poster (built at start-up, or by a test), else a new one."""
    poster: Poster = ctx.get("poster") or poster_from(ctx)
    return poster


BUILDERS: Final[dict[str, Callable[[dict[str, Any]], Backend]]] = {DINERO: dinero}


def backends_from(ctx: dict[str, Any]) -> Backends:
    """Every backend the worker posts to, by name (`ctx["backends"]` once built)."""
    if ctx.get("backends") is not None:
        built: Backends = ctx["backends"]
        return built
    named = {name: build(ctx) for name, build in BUILDERS.items()}
    first = named[DINERO]
    return Backends(
        named=named,
        pool=first.pool,
        worker_id=first.worker_id,
        lease_for=first.lease_for,
        backoff_base=first.backoff_base,
    )


async def confirm_payments(ctx: dict[str, Any], *, now: datetime | None = None) -> dict[str, int]:
    """`documents.confirm_payments`: Dinero's payment status onto registered payments."""
    counts = await payment_status.confirm_payments(dinero(ctx), now=now or datetime.now(UTC))
    if counts["confirmed"] or counts["partly_paid"]:
        log.info("payment confirmation: %s", counts)
    return counts
