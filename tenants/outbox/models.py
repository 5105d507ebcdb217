"""What the outbox holds: a document row as posting reads it, and the handles that wake a
worker for one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import asyncpg

from gateway import queue


class LeaseLost(Exception):
    """The lease expired and another worker took the document over."""


@dataclass(frozen=True)
class Document:
    id: int
    shop_id: UUID
    order_id: int
    kind: str
    seq: int
    source_ref: str | None
    parent_id: int | None
    organization_id: int | None
    backend: str  # which accounting system: the key of the workers' registry
    state: str
    step: str
    mode: str
    payload: dict[str, Any]
    currency: str
    amount: Decimal
    client_guid: UUID
    backend_id: UUID | None  # the backend's id for it (Dinero's Guid)
    external_reference: str
    contact_guid: UUID | None
    backend_version: str | None  # sent back to book or pay it (Dinero's Timestamp)
    backend_number: int | None
    backend_status: str | None
    file_guid: str | None
    file_name: str | None
    settlement_account: int | None
    uncertain: bool
    attempts: int
    failures: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    last_error_code: str | None
    posted_at: datetime | None


COLUMNS: Final = ", ".join(Document.__dataclass_fields__)


def from_row(row: asyncpg.Record) -> Document:
    return Document(**{key: row[key] for key in Document.__dataclass_fields__})


@dataclass(frozen=True)
class Ready:
    """A document to wake a worker for. The job id carries the attempt count, so a row is
    in arq's queue at most once per attempt whoever enqueues it."""

    id: int
    attempts: int

    @property
    def job_id(self) -> str:
        return queue.post_job_id(self.id, self.attempts)


@dataclass(frozen=True)
class Due(Ready):
    shop_id: UUID
    organization_id: int | None
    backend: str
