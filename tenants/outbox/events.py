"""The events table's lines about documents: what the owner and the admin read in a
document's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.outbox.models import Document


def label(document: Document) -> str:
    return _LABELS.get(document.kind, "Invoice")


_LABELS: Final = {
    "invoice": "Invoice",
    "credit_note": "Credit note",
    "voucher": "Voucher",
    "payment": "Payment",
}


async def event(
    conn: Connection | Pool,
    document: Document,
    kind: str,
    level: str,
    message: str,
    data: dict[str, Any] | None = None,
    *,
    now: datetime,
) -> None:
    """A line in the document's history (on its own, it changes nothing about the row)."""
    await event_for(conn, document.shop_id, document.id, kind, level, message, data, now=now)


async def event_for(
    conn: Connection | Pool,
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
