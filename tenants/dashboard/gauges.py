"""What `/metrics` asks Postgres at scrape time: the state of things, as opposed to the
events `gateway.metrics` counts. Read from the rows themselves, these are right however many
processes run, and after any restart. Nothing here is scoped to a tenant, and nothing
returned names one: counts by kind, state and status, and two ages.

Each question is one query; the two ages use partial indexes (`documents_due_idx`,
`shops_connection_id_idx`). Documents by kind and state come from the totals the triggers
on `documents` keep (`tenants.outbox.counts`), a few rows, not from the documents themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.db import Pool

DOCUMENT_STATES: Final = (
    "waiting",
    "awaiting_activation",
    "queued",
    "needs_reconnect",
    "failed",
    "posted",
    "cancelled",
)
CONNECTION_STATUSES: Final = ("active", "needs_reconnect", "revoked")
SOURCE_STATUSES: Final = ("connected", "needs_reconnect", "uninstalled", "failing")
STATEMENT_TIMEOUT_MS: Final = 5000


@dataclass(frozen=True)
class Gauges:
    documents: dict[tuple[str, str], int]  # (kind, state) -> count
    connections: dict[str, int]  # status -> count
    sources: dict[str, int]  # status -> count
    # How long the oldest due, queued document has been due: what the sweeper has not
    # caught up with (0 when nothing is due).
    sweeper_lag: float
    # How long the longest-waiting connection that shops still use has needed a reconnect.
    needs_reconnect_for: float


async def read(pool: Pool, *, now: datetime) -> Gauges:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        # A slow scrape gives up rather than pile up behind the next ones.
        await conn.execute(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}")
        documents = await conn.fetch(
            "SELECT kind, state, sum(n)::bigint AS n FROM document_totals GROUP BY kind, state"
        )
        connections = await conn.fetch(
            "SELECT status, count(*) AS n FROM dinero_connections GROUP BY status"
        )
        sources = await conn.fetch("SELECT status, count(*) AS n FROM sources GROUP BY status")
        lag = await conn.fetchval(
            "SELECT extract(epoch FROM $1 - min(next_attempt_at)) FROM documents "
            "WHERE state = 'queued' AND next_attempt_at <= $1",
            now,
        )
        waiting = await conn.fetchval(
            "SELECT extract(epoch FROM $1 - min(coalesce(c.last_error_at, c.updated_at))) "
            "FROM dinero_connections c WHERE c.status = 'needs_reconnect' "
            "AND EXISTS (SELECT 1 FROM shops s WHERE s.connection_id = c.id)",
            now,
        )
    return Gauges(
        documents={(r["kind"], r["state"]): r["n"] for r in documents},
        connections={r["status"]: r["n"] for r in connections},
        sources={r["status"]: r["n"] for r in sources},
        sweeper_lag=max(float(lag or 0), 0.0),
        needs_reconnect_for=max(float(waiting or 0), 0.0),
    )
