"""The outbox: every state change of a document after it was created, and the sweeper's
questions. All SQL on `documents` that posting needs lives here.

A worker owns a document while it holds its lease (`lease_owner` is a token unique to that
lease): every write made during an attempt checks the token, so a worker whose lease
expired and was taken over can never overwrite the new owner's progress (`LeaseLost`).
Each transition that ends an attempt releases the lease and records an event the owner sees.

Row states: `waiting` (for its parent) → `queued` (due at `next_attempt_at`) → `posted`,
`failed` (Dinero refused it; `retry` after a fix), `needs_reconnect` (parked until the
organisation is reconnected; never while its connection is active, which the sweeper keeps
true with `requeue_reconnected`) or `cancelled`.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import asyncpg
from arq.connections import ArqRedis

from gateway import queue
from gateway.db import Connection, Pool
from tenants.connections import service as connections

log = logging.getLogger(__name__)


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
    state: str
    step: str
    mode: str
    payload: dict[str, Any]
    currency: str
    amount: Decimal
    client_guid: UUID
    dinero_guid: UUID | None
    external_reference: str
    contact_guid: UUID | None
    dinero_timestamp: str | None
    dinero_number: int | None
    dinero_status: str | None
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


_COLUMNS: Final = ", ".join(Document.__dataclass_fields__)


def _document(row: asyncpg.Record) -> Document:
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


async def enqueue(redis: ArqRedis, documents: list[Ready] | list[Due]) -> int:
    """Wakes workers for these documents; answers how many jobs were new. Call after the
    commit that made them due. Redis being down is logged and ignored: the sweeper finds
    the rows later."""
    return await queue.enqueue_posts(redis, [(d.id, d.attempts) for d in documents])


# --- one attempt -----------------------------------------------------------------------------


async def lease(
    pool: Pool, document_id: int, worker_id: str, *, now: datetime, lease_for: timedelta
) -> Document | None:
    """Takes the document for one attempt if it is queued, due and not leased by a live
    worker. A lease that was never released means the last attempt died somewhere: it may
    have reached Dinero, so the document is marked `uncertain`."""
    row = await pool.fetchrow(
        f"""
        UPDATE documents SET lease_owner = $2, lease_expires_at = $3::timestamptz + $4,
            attempts = attempts + 1, uncertain = uncertain OR lease_owner IS NOT NULL,
            updated_at = $3
        WHERE id = $1 AND state = 'queued' AND next_attempt_at <= $3
            AND (lease_expires_at IS NULL OR lease_expires_at < $3)
        RETURNING {_COLUMNS}
        """,  # noqa: S608 - constant column list
        document_id,
        f"{worker_id}/{secrets.token_hex(4)}",
        now,
        lease_for,
    )
    return _document(row) if row else None


async def get(conn: Connection | Pool, shop_id: UUID, document_id: int) -> Document | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM documents WHERE id = $2 AND shop_id = $1",  # noqa: S608
        shop_id,
        document_id,
    )
    return _document(row) if row else None


_STEP_FIELDS: Final = frozenset(
    {
        "step",
        "organization_id",
        "contact_guid",
        "dinero_guid",
        "dinero_timestamp",
        "dinero_status",
        "dinero_number",
        "uncertain",
        "file_guid",
        "file_name",
        "settlement_account",
    }
)


async def record_step(pool: Pool, document: Document, *, now: datetime, **fields: Any) -> Document:
    """Writes what a step learned (`step`, `contact_guid`, `dinero_guid`, ...) before the
    next step starts, and answers the row as it now is."""
    unknown = set(fields) - _STEP_FIELDS
    if unknown or not fields:
        raise ValueError(f"not step fields: {sorted(unknown)}")
    names = sorted(fields)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=4))
    row = await pool.fetchrow(
        f"UPDATE documents SET {assignments}, updated_at = $3 "  # noqa: S608 - allow-listed names
        f"WHERE id = $1 AND lease_owner = $2 RETURNING {_COLUMNS}",
        document.id,
        document.lease_owner,
        now,
        *(fields[name] for name in names),
    )
    if row is None:
        raise LeaseLost(f"document {document.id}")
    return _document(row)


async def defer(
    pool: Pool,
    document: Document,
    *,
    now: datetime,
    until: datetime,
    failure: str | None = None,
    code: str | None = None,
    uncertain: bool | None = None,
) -> None:
    """Puts the document back in the queue until `until`. With `failure` (a message for the
    owner) the attempt counts as failed; without it (no call slot, 429, a busy booking
    lock) nothing went wrong and nothing is counted."""
    async with pool.acquire() as conn, conn.transaction():
        updated = await conn.fetchval(
            "UPDATE documents SET next_attempt_at = $3, lease_owner = NULL, "
            "lease_expires_at = NULL, updated_at = $4, uncertain = coalesce($7, uncertain), "
            "failures = failures + CASE WHEN $5::text IS NULL THEN 0 ELSE 1 END, "
            "last_error = coalesce($5, last_error), "
            "last_error_code = CASE WHEN $5::text IS NULL THEN last_error_code ELSE $6 END "
            "WHERE id = $1 AND lease_owner = $2 RETURNING failures",
            document.id,
            document.lease_owner,
            until,
            now,
            failure,
            code,
            uncertain,
        )
        if updated is None:
            raise LeaseLost(f"document {document.id}")
        if failure is not None:
            await _event(
                conn,
                document,
                "document.retrying",
                "warning",
                f"{failure} — trying again at {until:%Y-%m-%d %H:%M:%S} UTC",
                {"failures": updated, "code": code},
                now=now,
            )


async def fail(
    pool: Pool, document: Document, *, now: datetime, message: str, code: str | None
) -> None:
    """Dinero (or our own checks) refused the document: it stops until someone fixes the
    cause and retries it."""
    async with pool.acquire() as conn, conn.transaction():
        await _finish(
            conn,
            document,
            now=now,
            sets="state = 'failed', failures = failures + 1, last_error = $4, last_error_code = $5",
            args=(message, code),
        )
        await _event(conn, document, "document.failed", "error", message, {"code": code}, now=now)


async def posted(
    pool: Pool,
    document: Document,
    *,
    now: datetime,
    step: str,
    number: int | None,
    status: str | None,
    timestamp: str | None = None,
) -> list[Ready]:
    """The document is in Dinero (booked, or left as a draft). Its waiting children (credit
    notes, payments) become due; enqueue the answer after this returns. `timestamp` is the
    document's current one in Dinero (booking answers it), which a payment on it needs."""
    async with pool.acquire() as conn, conn.transaction():
        await _finish(
            conn,
            document,
            now=now,
            sets="state = 'posted', posted_at = $3, step = $4, dinero_number = $5, "
            "dinero_status = $6, dinero_timestamp = coalesce($7, dinero_timestamp), "
            "uncertain = false, last_error = NULL, last_error_code = NULL",
            args=(step, number, status, timestamp),
        )
        label = _label(document)
        if document.kind == "payment":
            message = f"Payment of {document.amount} {document.currency} registered"
        elif number:
            message = f"{label} booked as number {number}"
        else:
            message = f"{label} left as a draft"
        data = {"number": number, "status": status, "guid": str(document.dinero_guid)}
        await _event(conn, document, "document.posted", "info", message, data, now=now)
        rows = await conn.fetch(
            "UPDATE documents SET state = 'queued', next_attempt_at = $2, updated_at = $2 "
            "WHERE parent_id = $1 AND state = 'waiting' RETURNING id, attempts",
            document.id,
            now,
        )
    return [Ready(r["id"], r["attempts"]) for r in rows]


async def cancelled(
    pool: Pool,
    document: Document,
    *,
    now: datetime,
    message: str,
    parent_id: int | None = None,
) -> None:
    """The document will not be posted (and, given `parent_id`, neither is its parent any
    more: a cancelled order's draft invoice was deleted)."""
    async with pool.acquire() as conn, conn.transaction():
        await _finish(conn, document, now=now, sets="state = 'cancelled', last_error = NULL")
        await _event(conn, document, "document.cancelled", "info", message, {}, now=now)
        if parent_id is not None:
            await conn.execute(
                "UPDATE documents SET state = 'cancelled', updated_at = $3 "
                "WHERE id = $1 AND shop_id = $2",
                parent_id,
                document.shop_id,
                now,
            )
            await _event_for(
                conn, document.shop_id, parent_id, "document.cancelled", "info", message, now=now
            )
            # Its other credit notes waiting for it will never have an invoice to credit.
            await conn.execute(
                "UPDATE documents SET state = 'cancelled', updated_at = $3 "
                "WHERE parent_id = $1 AND shop_id = $2 AND state = 'waiting'",
                parent_id,
                document.shop_id,
                now,
            )


async def wait_for_parent(pool: Pool, document: Document, *, now: datetime) -> None:
    """A credit note whose invoice is not in Dinero yet goes back to waiting for it."""
    async with pool.acquire() as conn:
        await _finish(conn, document, now=now, sets="state = 'waiting'")


async def park(pool: Pool, document: Document, *, now: datetime, reason: str) -> None:
    """This document waits until its shop is (re)connected to Dinero."""
    async with pool.acquire() as conn, conn.transaction():
        await _finish(
            conn,
            document,
            now=now,
            sets="state = 'needs_reconnect', last_error = $4, last_error_code = 'needs_reconnect'",
            args=(reason,),
        )
        await _event(conn, document, "document.needs_reconnect", "warning", reason, {}, now=now)


async def park_organization(pool: Pool, connection_id: UUID, reason: str, *, now: datetime) -> None:
    """Dinero refused the organisation's freshly renewed token: the connection needs a
    reconnect and every queued document of its shops is parked until then."""
    await connections.mark_needs_reconnect(pool, connection_id, reason, now=now)


async def _finish(
    conn: Connection,
    document: Document,
    *,
    now: datetime,
    sets: str,
    args: tuple[Any, ...] = (),
) -> None:
    """Ends the attempt: applies `sets` ($4... are `args`) and releases the lease."""
    updated = await conn.fetchval(
        f"UPDATE documents SET {sets}, lease_owner = NULL, lease_expires_at = NULL, "  # noqa: S608
        "updated_at = $3 WHERE id = $1 AND lease_owner = $2 RETURNING id",
        document.id,
        document.lease_owner,
        now,
        *args,
    )
    if updated is None:
        raise LeaseLost(f"document {document.id}")


# --- the owner's manual retry ------------------------------------------------------------------


async def retry(pool: Pool, shop_id: UUID, document_id: int, *, now: datetime) -> Ready | None:
    """Queues a failed document again, now. None for a document that is not failed, or not
    this shop's (another tenant's id behaves exactly like a missing one). Enqueue the
    answer after this returns."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "UPDATE documents SET state = 'queued', next_attempt_at = $3, failures = 0, "
            "last_error = NULL, last_error_code = NULL, updated_at = $3 "
            "WHERE id = $2 AND shop_id = $1 AND state = 'failed' RETURNING id, attempts",
            shop_id,
            document_id,
            now,
        )
        if row is None:
            return None
        await _event_for(
            conn, shop_id, document_id, "document.retried", "info", "Queued again", now=now
        )
    return Ready(row["id"], row["attempts"])


# --- the sweeper's questions -------------------------------------------------------------------


async def due_for_sweep(pool: Pool, *, now: datetime, limit: int, per_shop: int) -> list[Due]:
    """Due documents, fairly: at most `per_shop` from each shop, dealt out round-robin,
    first across organisations (each has its own call budget) and within one across its
    shops. So the first document of a shop with nothing queued comes in the first round,
    however long another shop's backlog is.

    Each shop's due rows come from its own index range (`documents_shop_due_idx`), so the
    cost follows the number of shops, not the length of a backlog.
    """
    rows = await pool.fetch(
        """
        WITH picked AS (
            SELECT d.id, d.attempts, s.id AS shop_id,
                coalesce(d.organization_id, c.organization_id) AS organization_id,
                row_number() OVER (PARTITION BY s.id ORDER BY d.next_attempt_at, d.id)
                    AS shop_rank
            FROM shops s
            LEFT JOIN dinero_connections c ON c.id = s.connection_id
            CROSS JOIN LATERAL (
                SELECT id, attempts, organization_id, next_attempt_at FROM documents
                WHERE shop_id = s.id AND state = 'queued' AND next_attempt_at <= $1
                    AND (lease_expires_at IS NULL OR lease_expires_at < $1)
                ORDER BY next_attempt_at, id
                LIMIT $3
            ) d
        ), dealt AS (
            SELECT *, row_number() OVER (
                PARTITION BY organization_id ORDER BY shop_rank, shop_id) AS round
            FROM picked
        )
        SELECT id, attempts, shop_id, organization_id FROM dealt
        ORDER BY round, organization_id NULLS LAST, shop_id
        LIMIT $2
        """,
        now,
        limit,
        per_shop,
    )
    return [Due(r["id"], r["attempts"], r["shop_id"], r["organization_id"]) for r in rows]


async def recover_expired_leases(pool: Pool, *, now: datetime) -> int:
    """Releases leases whose worker died mid-attempt. What it was doing may have reached
    Dinero, so the document is `uncertain`: its next attempt looks before creating."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "UPDATE documents SET lease_owner = NULL, lease_expires_at = NULL, "
            "uncertain = true, next_attempt_at = least(next_attempt_at, $1), updated_at = $1 "
            "WHERE lease_owner IS NOT NULL AND lease_expires_at < $1 RETURNING id, shop_id",
            now,
        )
        for row in rows:
            await _event_for(
                conn,
                row["shop_id"],
                row["id"],
                "document.lease_expired",
                "warning",
                "A worker stopped in the middle of posting; the document will be checked "
                "in Dinero and posted again",
                now=now,
            )
    return len(rows)


async def release_orphans(pool: Pool, *, now: datetime) -> list[Ready]:
    """Waiting children whose parent's fate is settled but who missed the moment (a credit
    note created in the same instant its invoice was posted): released if the parent is
    posted, cancelled with it if it was cancelled."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "UPDATE documents c SET state = 'cancelled', updated_at = $1 FROM documents p "
            "WHERE c.state = 'waiting' AND p.id = c.parent_id AND p.shop_id = c.shop_id "
            "AND p.state = 'cancelled'",
            now,
        )
        rows = await conn.fetch(
            "UPDATE documents c SET state = 'queued', next_attempt_at = $1, updated_at = $1 "
            "FROM documents p WHERE c.state = 'waiting' AND p.id = c.parent_id "
            "AND p.shop_id = c.shop_id AND p.state = 'posted' RETURNING c.id, c.attempts",
            now,
        )
    return [Ready(r["id"], r["attempts"]) for r in rows]


async def requeue_reconnected(pool: Pool, *, now: datetime) -> int:
    """Parked documents whose shop's connection is active: due again now. A document is
    parked on what its attempt read of the connection, which a reconnect may change before
    the attempt has parked it; the reconnect has then released the others already and would
    leave this one parked for ever. So "parked only while the connection is not active"
    is kept here rather than by a lock every attempt would take."""
    result = await pool.execute(
        "UPDATE documents d SET state = 'queued', next_attempt_at = $1, updated_at = $1 "
        "FROM shops s JOIN dinero_connections c ON c.id = s.connection_id "
        "WHERE d.state = 'needs_reconnect' AND d.shop_id = s.id AND c.status = 'active'",
        now,
    )
    return int(result.split()[-1])


# --- events ----------------------------------------------------------------------------------


def _label(document: Document) -> str:
    return _LABELS.get(document.kind, "Invoice")


_LABELS: Final = {
    "invoice": "Invoice",
    "credit_note": "Credit note",
    "voucher": "Voucher",
    "payment": "Payment",
}


async def _event(
    conn: Connection,
    document: Document,
    kind: str,
    level: str,
    message: str,
    data: dict[str, Any],
    *,
    now: datetime,
) -> None:
    await _event_for(conn, document.shop_id, document.id, kind, level, message, data, now=now)


async def _event_for(
    conn: Connection,
    shop_id: UUID,
    document_id: int,
    kind: str,
    level: str,
    message: str,
    data: dict[str, Any] | None = None,
    *,
    now: datetime,
) -> None:
    await conn.execute(
        "INSERT INTO events (shop_id, document_id, kind, level, message, data, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        shop_id,
        document_id,
        kind,
        level,
        message,
        {k: v for k, v in (data or {}).items() if v is not None},
        now,
    )


async def note(
    pool: Pool,
    document: Document,
    kind: str,
    level: str,
    message: str,
    data: dict[str, Any] | None = None,
    *,
    now: datetime,
) -> None:
    """An event about the document that changes nothing about its state."""
    async with pool.acquire() as conn:
        await _event(conn, document, kind, level, message, data or {}, now=now)
