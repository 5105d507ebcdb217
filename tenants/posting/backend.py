"""The accounting-system boundary: what posting needs of the system documents go to.

Posting (`tenants.posting`) owns the outbox's side of an attempt: the lease, the steps'
records, and how an attempt ends. A backend owns everything about its system: which calls a
kind of document takes, how a lost answer is found again, its call budget, and what its
failures mean. Dinero is the first backend (`tenants.dinero`: `Poster` is this protocol,
its attempts subclass `tenants.posting.attempt.Attempt`). A second one (e-conomic) adds a
folder beside it and a way to pick it per connection; posting and the outbox stay as they
are.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from gateway.db import Pool
from tenants.outbox.models import Document
from tenants.posting.outcomes import Result


class Attempt(Protocol):
    """One attempt at one document (`tenants.posting.attempt.Attempt` is the base)."""

    async def run(self) -> Result: ...
    async def settle(self, exc: Exception) -> Result: ...


class Context(Protocol):
    """What an attempt's plumbing needs of its process."""

    @property
    def pool(self) -> Pool: ...
    @property
    def backoff_base(self) -> timedelta: ...


class Backend(Context, Protocol):
    """One worker's way into an accounting system."""

    @property
    def worker_id(self) -> str: ...
    @property
    def lease_for(self) -> timedelta: ...

    def attempt(self, document: Document, now: datetime) -> Attempt:
        """The attempt this backend makes at a document of its kind."""
        ...
