"""The sweeper's questions, and parking: which documents are due (dealt out fairly), leases
whose worker died, children whose parent's fate is settled, and an organisation's documents
parked until its reconnect and released by it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.outbox.events import event_for
from tenants.outbox.models import Due, Ready


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
            SELECT d.id, d.attempts, d.backend, s.shop_id,
                coalesce(d.organization_id, s.organization_id) AS organization_id,
                row_number() OVER (PARTITION BY s.shop_id ORDER BY d.next_attempt_at, d.id)
                    AS shop_rank
            FROM shop_books s
            CROSS JOIN LATERAL (
                SELECT id, attempts, backend, organization_id, next_attempt_at FROM documents
                WHERE shop_id = s.shop_id AND state = 'queued' AND next_attempt_at <= $1
                    AND (lease_expires_at IS NULL OR lease_expires_at < $1)
                ORDER BY next_attempt_at, id
                LIMIT $3
            ) d
        ), dealt AS (
            SELECT *, row_number() OVER (
                PARTITION BY organization_id ORDER BY shop_rank, shop_id) AS round
            FROM picked
        )
        SELECT id, attempts, shop_id, organization_id, backend FROM dealt
        ORDER BY round, organization_id NULLS LAST, shop_id
        LIMIT $2
        """,
        now,
        limit,
        per_shop,
    )
    return [
        Due(r["id"], r["attempts"], r["shop_id"], r["organization_id"], r["backend"]) for r in rows
    ]


async def recover_expired_leases(pool: Pool, *, now: datetime) -> int:
    """Releases leases whose worker died mid-attempt. What it was doing may have reached
    Dinero, so the document is `uncertain`: its next attempt looks before creating."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "UPDATE documents SET lease_owner = NULL, lease_expires_at = NULL, "
            "uncertain = true, next_attempt_at = least(next_attempt_at, $1), updated_at = $1 "
            "WHERE lease_owner IS NOT NULL AND lease_expires_at <= $1 RETURNING id, shop_id",
            now,
        )
        for row in rows:
            await event_for(
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
        "FROM shop_books s "
        "WHERE d.state = 'needs_reconnect' AND d.shop_id = s.shop_id "
        "AND s.connection_status = 'active'",
        now,
    )
    return int(result.split()[-1])


async def park_documents(conn: Connection, connection_id: UUID, *, now: datetime) -> int:
    """Parks every queued document of the shops on this connection until a reconnect."""
    result = await conn.execute(
        "UPDATE documents SET state = 'needs_reconnect', updated_at = $2 "
        "WHERE state = 'queued' AND shop_id IN "
        "(SELECT shop_id FROM shop_books WHERE connection_id = $1)",
        connection_id,
        now,
    )
    return int(result.split()[-1])


async def release_documents(conn: Connection, connection_id: UUID, *, now: datetime) -> int:
    """Makes every parked document of the shops on this connection due now."""
    result = await conn.execute(
        "UPDATE documents SET state = 'queued', next_attempt_at = $2, updated_at = $2 "
        "WHERE state = 'needs_reconnect' AND shop_id IN "
        "(SELECT shop_id FROM shop_books WHERE connection_id = $1)",
        connection_id,
        now,
    )
    return int(result.split()[-1])
