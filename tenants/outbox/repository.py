"""The outbox: every state change of a document after it was created, and the sweeper's
outcomes. The outbox's SQL on `documents` is here and in `sweeps` (its types are `models`,
its history lines `events`).

A worker owns a document while it holds its lease (`lease_owner` is a token unique to that
lease): every write made during an attempt checks the token, so a worker whose lease
expired and was taken over can never overwrite the new owner's progress (`LeaseLost`).
Each transition that ends an attempt releases the lease and records an event the owner sees.

Row states: `waiting` (for its parent) → `queued` (due at `next_attempt_at`) → `posted`,
`awaiting_activation` (its shop is not activated yet: `activation`),
`failed` (Dinero refused it; `retry` after a fix), `needs_reconnect` (parked until the
organisation is reconnected; never while its connection is active, which the sweeper keeps
true with `requeue_reconnected`) or `cancelled`.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID

from arq.connections import ArqRedis

from gateway import queue
from gateway.db import Connection, Pool
from tenants.mail import alerts
from tenants.outbox import events, identity
from tenants.outbox.events import event, event_for
from tenants.outbox.models import COLUMNS, Document, Due, LeaseLost, Ready, from_row

log = logging.getLogger(__name__)


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
        RETURNING {COLUMNS}
        """,  # noqa: S608 - constant column list
        document_id,
        f"{worker_id}/{secrets.token_hex(4)}",
        now,
        lease_for,
    )
    return from_row(row) if row else None


async def end_leases(pool: Pool, leases: Collection[tuple[int, str]], *, now: datetime) -> None:
    """Ends leases whose attempts an outage interrupted, as if they had run out: the
    sweeper releases them at its next run, and the next attempt checks Dinero first. A
    lease taken over meanwhile (another token) is left alone."""
    await pool.execute(
        "UPDATE documents d SET lease_expires_at = $3, updated_at = $3 "
        "FROM unnest($1::bigint[], $2::text[]) AS l(id, owner) "
        "WHERE d.id = l.id AND d.lease_owner = l.owner AND d.lease_expires_at > $3",
        [document_id for document_id, _ in leases],
        [owner for _, owner in leases],
        now,
    )


async def get(conn: Connection | Pool, shop_id: UUID, document_id: int) -> Document | None:
    row = await conn.fetchrow(
        f"SELECT {COLUMNS} FROM documents WHERE id = $2 AND shop_id = $1",  # noqa: S608
        shop_id,
        document_id,
    )
    return from_row(row) if row else None


async def stored_to_posted(pool: Pool, shop_id: UUID, document_id: int) -> float | None:
    """Seconds from the document's storing to its posting; None unless it is posted."""
    seconds = await pool.fetchval(
        "SELECT extract(epoch FROM posted_at - created_at) FROM documents "
        "WHERE id = $2 AND shop_id = $1 AND state = 'posted'",
        shop_id,
        document_id,
    )
    return None if seconds is None else max(float(seconds), 0.0)


_STEP_FIELDS: Final = frozenset(
    {
        "step",
        "organization_id",
        "contact_guid",
        "backend_id",
        "backend_version",
        "backend_status",
        "backend_number",
        "uncertain",
        "file_guid",
        "file_name",
        "settlement_account",
    }
)


async def record_step(pool: Pool, document: Document, *, now: datetime, **fields: Any) -> Document:
    """Writes what a step learned (`step`, `contact_guid`, `backend_id`, ...) before the
    next step starts, and answers the row as it now is."""
    unknown = set(fields) - _STEP_FIELDS
    if unknown or not fields:
        raise ValueError(f"not step fields: {sorted(unknown)}")
    names = sorted(fields)
    assignments = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, start=4))
    row = await pool.fetchrow(
        f"UPDATE documents SET {assignments}, updated_at = $3 "  # noqa: S608 - allow-listed names
        f"WHERE id = $1 AND lease_owner = $2 RETURNING {COLUMNS}",
        document.id,
        document.lease_owner,
        now,
        *(fields[name] for name in names),
    )
    if row is None:
        raise LeaseLost(f"document {document.id}")
    return from_row(row)


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
            await event(
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
        await event(conn, document, "document.failed", "error", message, {"code": code}, now=now)
        await alerts.document_failed(conn, document.shop_id, now=now)


async def posted(
    pool: Pool,
    document: Document,
    *,
    now: datetime,
    step: str,
    number: int | None,
    status: str | None,
    version: str | None = None,
) -> list[Ready]:
    """The document is in the books (booked, or a draft). Its waiting children (credit
    notes, payments) become due; enqueue the answer after this returns. `version` is the
    document's current one in the books (booking answers it), which a payment on it needs."""
    async with pool.acquire() as conn, conn.transaction():
        await _finish(
            conn,
            document,
            now=now,
            sets="state = 'posted', posted_at = $3, step = $4, backend_number = $5, "
            "backend_status = $6, backend_version = coalesce($7, backend_version), "
            "uncertain = false, last_error = NULL, last_error_code = NULL",
            args=(step, number, status, version),
        )
        label = events.label(document)
        if document.kind == "payment":
            message = f"Payment of {document.amount} {document.currency} registered"
        elif number:
            message = f"{label} booked as number {number}"
        else:
            message = f"{label} left as a draft"
        data = {"number": number, "status": status, "guid": str(document.backend_id)}
        await event(conn, document, "document.posted", "info", message, data, now=now)
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
        await event(conn, document, "document.cancelled", "info", message, {}, now=now)
        if parent_id is not None:
            await conn.execute(
                "UPDATE documents SET state = 'cancelled', updated_at = $3 "
                "WHERE id = $1 AND shop_id = $2",
                parent_id,
                document.shop_id,
                now,
            )
            await event_for(
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
        await event(conn, document, "document.needs_reconnect", "warning", reason, {}, now=now)


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
        await event_for(
            conn, shop_id, document_id, "document.retried", "info", "Queued again", now=now
        )
    return Ready(row["id"], row["attempts"])


# --- a new document type for what has not started -------------------------------------------

# A main document in one of these states, at step 'new', not leased and not uncertain, has
# sent nothing to Dinero (the rule ingest cancels by, too).
_UNSTARTED: Final = ("queued", "waiting", "awaiting_activation", "failed", "needs_reconnect")


async def convert_unstarted(
    conn: Connection, shop_id: UUID, old: str, new: str, *, now: datetime
) -> int:
    """Turns the shop's main documents of kind `old` that have sent nothing to Dinero into
    `new` ones, with the Guid and reference a `new` document of that order would have had.
    Call inside a transaction.

    The orders are locked first (ingest serialises an order's events on that lock), so no
    credit note or payment can be added to a document while it changes kind; the update
    then checks every condition again under the row locks, so a worker that leased a
    document meanwhile keeps it as it was."""
    candidates = await conn.fetch(
        """
        SELECT d.order_id FROM documents d
        WHERE d.shop_id = $1 AND d.kind = $2 AND d.seq = 0 AND d.step = 'new'
          AND NOT d.uncertain AND d.lease_owner IS NULL AND d.state = ANY($3::text[])
        """,
        shop_id,
        old,
        list(_UNSTARTED),
    )
    if not candidates:
        return 0
    locked = await conn.fetch(
        "SELECT id, external_id FROM orders WHERE shop_id = $1 AND id = ANY($2::bigint[]) "
        "ORDER BY id FOR UPDATE",
        shop_id,
        [row["order_id"] for row in candidates],
    )
    ids = [row["id"] for row in locked]
    guids = [identity.client_guid(shop_id, row["external_id"], new, seq=0) for row in locked]
    references = [
        identity.external_reference(shop_id, row["external_id"], new, seq=0) for row in locked
    ]
    converted = await conn.fetch(
        """
        UPDATE documents d SET kind = $3, client_guid = c.guid, external_reference = c.ref,
               updated_at = $8
        FROM unnest($5::bigint[], $6::uuid[], $7::text[]) AS c(order_id, guid, ref)
        WHERE d.shop_id = $1 AND d.order_id = c.order_id AND d.kind = $2 AND d.seq = 0
          AND d.step = 'new' AND NOT d.uncertain AND d.lease_owner IS NULL
          AND d.state = ANY($4::text[])
          AND NOT EXISTS (SELECT 1 FROM documents child
                          WHERE child.parent_id = d.id AND child.shop_id = d.shop_id)
        RETURNING d.id
        """,
        shop_id,
        old,
        new,
        list(_UNSTARTED),
        ids,
        guids,
        references,
        now,
    )
    if converted:
        await conn.execute(
            "INSERT INTO events (shop_id, document_id, kind, message, created_at) "
            "SELECT $1, id, 'document.converted', $3, $4 FROM unnest($2::bigint[]) AS id",
            shop_id,
            [row["id"] for row in converted],
            f"The shop's document type changed: this order will be posted as a {new}",
            now,
        )
    return len(converted)
