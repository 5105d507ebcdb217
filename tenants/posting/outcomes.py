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


class Interrupted(Exception):
    """Postgres or Redis went away in the middle of an attempt (the error is the cause).
    The attempt may have reached the books, so it cannot be settled; its lease is ended
    instead (`tenants.outbox.repository.end_leases`), once Postgres answers, so the sweeper
    hands the document on (to be checked in the books first) without waiting out the lease."""

    def __init__(self, document_id: int, lease_owner: str) -> None:
        super().__init__(f"document {document_id}: interrupted by an outage")
        self.lease = (document_id, lease_owner)
