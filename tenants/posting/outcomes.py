"""How an attempt at a document ended, as the worker and the sweeper need to know it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tenants.outbox.models import Ready


class Outcome(StrEnum):
    POSTED = "posted"
    DEFERRED = "deferred"
    FAILED = "failed"
    PARKED = "parked"
    WAITING = "waiting"
    CANCELLED = "cancelled"
    AWAITING_ACTIVATION = "awaiting_activation"  # held until its shop is activated
    SKIPPED = "skipped"  # not due, gone, or leased by another worker
    LEASE_LOST = "lease_lost"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    released: tuple[Ready, ...] = ()  # children that became due: enqueue them
