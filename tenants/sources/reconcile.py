"""What every platform's reconcile shares: claiming the sources that are due (a run moves
`reconcile_due_at` past itself, so two workers never reconcile one source at once, and a
crashed run is taken up by the next one due), and recording how far a run got."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from gateway.db import Pool
from tenants.sources.repository import Platform

EVERY: Final = timedelta(minutes=10)
# A claimed run that has not finished after this is taken to have died.
LEASE: Final = timedelta(minutes=30)
RETRY_AFTER: Final = timedelta(minutes=2)


async def claim_due(
    pool: Pool, platform: Platform, now: datetime, *, limit: int = 20
) -> list[UUID]:
    rows = await pool.fetch(
        """
        UPDATE sources SET reconcile_due_at = $1 + $2::interval
        WHERE id IN (SELECT id FROM sources
                     WHERE platform = $4 AND status IN ('connected', 'failing')
                       AND reconcile_due_at <= $1
                     ORDER BY reconcile_due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING id
        """,
        now,
        LEASE,
        limit,
        platform,
    )
    return [r["id"] for r in rows]


async def finish(
    pool: Pool, source_id: UUID, watermark: datetime, found: int, due: datetime, now: datetime
) -> None:
    """What the run got through stays got through, even when it stopped early."""
    await pool.execute(
        """
        UPDATE sources SET reconcile_watermark = GREATEST(reconcile_watermark, $2),
            found_by_reconcile = found_by_reconcile + $3, reconcile_due_at = $4,
            reconciled_at = $5, updated_at = now()
        WHERE id = $1
        """,
        source_id,
        watermark,
        found,
        due,
        now,
    )
