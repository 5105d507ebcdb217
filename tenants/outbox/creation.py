"""The rows an order's events create, read and cancel in the ingest transaction, under the
order's lock (`tenants.orders.documents` decides which)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from gateway.db import Connection

# A document in one of these states, at step 'new', not leased and not uncertain, has not
# reached Dinero: cancelling it needs nothing from Dinero.
_UNSTARTED: Final = frozenset(
    {"queued", "waiting", "awaiting_activation", "failed", "needs_reconnect"}
)


@dataclass
class OrderDocument:
    id: int
    kind: str
    seq: int
    source_ref: str | None
    state: str
    mode: str
    amount: Decimal
    payload: dict[str, Any]
    step: str = "new"
    leased: bool = False
    uncertain: bool = False

    @property
    def unstarted(self) -> bool:
        return (
            self.state in _UNSTARTED
            and self.step == "new"
            and not self.leased
            and not self.uncertain
        )


async def documents_of(conn: Connection, shop_id: UUID, order_id: int) -> list[OrderDocument]:
    # Locked, so a worker cannot lease the invoice while we decide to cancel it.
    rows = await conn.fetch(
        """
        SELECT id, kind, seq, source_ref, state, mode, amount, payload, step, uncertain,
               coalesce(lease_expires_at > now(), false) AS leased
        FROM documents WHERE shop_id = $1 AND order_id = $2
        ORDER BY id FOR UPDATE
        """,
        shop_id,
        order_id,
    )
    return [OrderDocument(**dict(row)) for row in rows]


@dataclass(frozen=True)
class NewDocument:
    shop_id: UUID
    order_id: int
    kind: str
    seq: int
    source_ref: str | None
    parent_id: int | None
    state: str
    mode: str
    payload: dict[str, Any]
    currency: str
    amount: Decimal
    client_guid: UUID
    external_reference: str


async def insert(conn: Connection, new: NewDocument) -> int | None:
    """The new row's id; None if the order has that document already (its unique key)."""
    document_id: int | None = await conn.fetchval(
        """
        INSERT INTO documents (shop_id, order_id, kind, seq, source_ref, parent_id, state,
                               mode, payload, currency, amount, client_guid,
                               external_reference)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT DO NOTHING
        RETURNING id
        """,
        new.shop_id,
        new.order_id,
        new.kind,
        new.seq,
        new.source_ref,
        new.parent_id,
        new.state,
        new.mode,
        new.payload,
        new.currency,
        new.amount,
        new.client_guid,
        new.external_reference,
    )
    return document_id


async def cancel_unposted(conn: Connection, shop_id: UUID, order_id: int) -> None:
    """Cancels every document of the order not posted: nothing of it reached Dinero."""
    await conn.execute(
        """
        UPDATE documents SET state = 'cancelled', lease_owner = NULL,
               lease_expires_at = NULL, updated_at = now()
        WHERE shop_id = $1 AND order_id = $2 AND state <> 'posted'
        """,
        shop_id,
        order_id,
    )
