"""Alerts: the things a shop's people should hear about, recorded where they are noticed.

Each `raise_…` is called inside the transaction that saw the trouble (a connection marked
needs-reconnect, a renewal failing, a document refused, a source losing access), so an alert
exists exactly when the trouble was committed. Mails are written later from due alerts
(`tenants.mail.compose`), which also drops an alert whose trouble is over by then.

Rate limits, so a flapping connection sends one mail and not fifty:
- `dedupe_key` names what the alert is about; at most one alert per key is pending (a
  partial unique index), so the same trouble noticed again only finds the pending one;
- a new alert for a key is due no earlier than `MIN_INTERVAL[kind]` after the last one
  that was mailed, and by then it is dropped if the trouble has passed. A connection
  revoked, reconnected and revoked again all afternoon makes one mail at once and, only if
  it still needs reconnecting six hours later, one more.
The failed-documents digest uses the same interval as its "at most one an hour per shop".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.mail.preferences import Kind

MIN_INTERVAL: Final[dict[Kind, timedelta]] = {
    "connection.needs_reconnect": timedelta(hours=6),
    "connection.renewal_failing": timedelta(hours=24),
    "documents.failed": timedelta(hours=1),
    "source.stopped": timedelta(hours=24),
}
# Renewal failing this long (since the last success) is worth a mail, before it lapses.
RENEWAL_FAILING_FOR: Final = timedelta(hours=3)


async def raise_alert(
    conn: Connection | Pool,
    kind: Kind,
    *,
    now: datetime,
    connection_id: UUID | None = None,
    shop_id: UUID | None = None,
    source_id: UUID | None = None,
) -> bool:
    """Records the alert unless one about the same thing is pending: True if new."""
    about = connection_id or shop_id or source_id
    if about is None:
        raise ValueError("an alert is about a connection, a shop or a source")
    dedupe_key = f"{kind}:{about}"
    created = await conn.fetchval(
        """
        INSERT INTO alerts (kind, dedupe_key, connection_id, shop_id, source_id, due_at,
                            created_at)
        SELECT $1, $2, $3, $4, $5,
               GREATEST($6, COALESCE((SELECT max(done_at) FROM alerts
                                      WHERE dedupe_key = $2 AND state = 'mailed') + $7, $6)),
               $6
        ON CONFLICT (dedupe_key) WHERE state = 'pending' DO NOTHING
        RETURNING true
        """,
        kind,
        dedupe_key,
        connection_id,
        shop_id,
        source_id,
        now,
        MIN_INTERVAL[kind],
    )
    return bool(created)


async def connection_needs_reconnect(
    conn: Connection | Pool, connection_id: UUID, *, now: datetime
) -> None:
    await raise_alert(conn, "connection.needs_reconnect", connection_id=connection_id, now=now)


async def renewal_failing(
    conn: Connection | Pool, connection_id: UUID, *, last_success: datetime, now: datetime
) -> None:
    if now - last_success >= RENEWAL_FAILING_FOR:
        await raise_alert(conn, "connection.renewal_failing", connection_id=connection_id, now=now)


async def document_failed(conn: Connection | Pool, shop_id: UUID, *, now: datetime) -> None:
    await raise_alert(conn, "documents.failed", shop_id=shop_id, now=now)


async def source_stopped(conn: Connection | Pool, source_id: UUID, *, now: datetime) -> None:
    await raise_alert(conn, "source.stopped", source_id=source_id, now=now)
