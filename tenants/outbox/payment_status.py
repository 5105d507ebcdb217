"""The payment documents whose status in Dinero is still to be confirmed, and what the
confirmation stores on them (`tenants.dinero.payment_status` asks Dinero)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final
from uuid import UUID

from gateway.db import Pool

REGISTERED: Final = "Registered"  # our answer came back; Dinero's own status not read yet


@dataclass(frozen=True)
class Registered:
    """A posted payment whose document's payment status in Dinero is not known yet."""

    id: int
    organization_id: int
    connection_id: UUID
    parent_kind: str
    parent_guid: UUID
    posted_at: datetime
    asked_at: datetime  # when the payment was registered, or Dinero last asked about it


async def registered_payments(pool: Pool, *, backend: str, limit: int) -> list[Registered]:
    """Posted payments to `backend` still "Registered", of shops whose connection to the
    payment's organisation is active, oldest first: at most `limit` per organisation, so one
    organisation's pile (a long backlog, payments Dinero shows partly paid) never crowds
    the others out of a run."""
    rows = await pool.fetch(
        """
        SELECT id, organization_id, connection_id, parent_kind, parent_guid, posted_at,
               asked_at
        FROM (
            SELECT d.id, d.organization_id, s.connection_id, p.kind AS parent_kind,
                   p.backend_id AS parent_guid, d.posted_at,
                   greatest(d.posted_at, d.next_attempt_at) AS asked_at,
                   row_number() OVER (PARTITION BY d.organization_id
                                      ORDER BY d.posted_at) AS place
            FROM documents d
            JOIN documents p ON p.id = d.parent_id AND p.shop_id = d.shop_id
            JOIN shop_books s ON s.shop_id = d.shop_id AND s.backend = d.backend
                AND s.organization_id = d.organization_id AND s.connection_status = 'active'
            WHERE d.backend = $3 AND d.kind = 'payment' AND d.state = 'posted'
              AND d.backend_status = $1
              AND p.backend_id IS NOT NULL
        ) AS registered
        WHERE place <= $2
        ORDER BY posted_at
        """,
        REGISTERED,
        limit,
        backend,
    )
    return [Registered(**dict(row)) for row in rows]


async def store_statuses(pool: Pool, statuses: list[tuple[int, str]], *, now: datetime) -> int:
    """Dinero's status onto each payment document, with an event the owner sees; only
    where the row still says "Registered" (a second run at once changes nothing)."""
    if not statuses:
        return 0
    rows = await pool.fetch(
        """
        WITH updated AS (
            UPDATE documents d SET backend_status = u.status, updated_at = $4
            FROM unnest($1::bigint[], $2::text[]) AS u(id, status)
            WHERE d.id = u.id AND d.kind = 'payment' AND d.state = 'posted'
              AND d.backend_status = $3
            RETURNING d.id, d.shop_id, d.source_ref, u.status
        )
        INSERT INTO events (shop_id, document_id, kind, level, message, data, created_at)
        SELECT shop_id, id, 'document.payment_confirmed', 'info',
               'Dinero shows the ' ||
               CASE WHEN source_ref = 'order' THEN 'invoice' ELSE 'credit note' END ||
               CASE WHEN status = 'OverPaid' THEN ' as over-paid' ELSE ' as paid' END,
               jsonb_build_object('status', status), $4
        FROM updated
        RETURNING document_id
        """,
        [s[0] for s in statuses],
        [s[1] for s in statuses],
        REGISTERED,
        now,
    )
    return len(rows)


async def store_partly_paid(
    pool: Pool, payment: Registered, remaining: Decimal, *, now: datetime
) -> int:
    """Dinero shows the payment's document partly paid: "Booked", as Dinero calls a booked
    document not paid in full, with the remainder in the event. Answers 1 if stored, 0 when
    another run stored a status first."""
    what = "invoice" if payment.parent_kind == "invoice" else "credit note"
    async with pool.acquire() as conn, conn.transaction():
        shop_id = await conn.fetchval(
            "UPDATE documents SET backend_status = 'Booked', updated_at = $3 "
            "WHERE id = $1 AND state = 'posted' AND backend_status = $2 RETURNING shop_id",
            payment.id,
            REGISTERED,
            now,
        )
        if shop_id is None:
            return 0
        await conn.execute(
            "INSERT INTO events (shop_id, document_id, kind, level, message, data, created_at) "
            "VALUES ($1, $2, 'document.payment_confirmed', 'warning', $3, $4, $5)",
            shop_id,
            payment.id,
            f"Dinero shows the {what} as partly paid: {remaining} is still to be paid",
            {"status": "Booked", "remaining": str(remaining)},
            now,
        )
    return 1


async def mark_asked(pool: Pool, payment_ids: list[int], *, now: datetime) -> None:
    """Dinero was asked about these payments and did not show them paid: a payment's
    `next_attempt_at`, unused once it is posted, says when it was last asked about."""
    await pool.execute(
        "UPDATE documents SET next_attempt_at = $2 WHERE id = ANY($1::bigint[]) "
        "AND backend_status = $3",
        payment_ids,
        now,
        REGISTERED,
    )
