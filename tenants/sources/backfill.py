"""Backfill, for every platform: the orders a store took before it was connected, brought in
on the owner's word. The owner picks a start date; the orders created from then until the
moment they asked are read oldest first, page by page, and applied through the same path as
webhooks and reconcile, so an order already booked stays booked once. The platform's reader
stores its place (`cursor`) after every page: a restart (or a crash) resumes where the last
page ended.

Backfill never starves live orders: a slice reads a page only while the shop has fewer than
`BACKLOG` documents queued for posting, so a new order waits behind at most that many old
ones, whatever the backfill's size; the rest of Dinero's call budget stays with live work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.ratelimit import BUDGET, WINDOW
from tenants.sources.repository import Platform

# Documents a shop may have queued before backfill reads another page.
BACKLOG: Final = 50
# Pages per slice: a slice holds a worker for a few seconds at most.
PAGES_PER_SLICE: Final = 4
PAUSE: Final = timedelta(seconds=10)
LEASE: Final = timedelta(minutes=10)
RETRY_AFTER: Final = timedelta(minutes=2)
# Dinero calls a backfilled order costs, booked (contact, invoice, book; bench/posting.py).
CALLS_PER_ORDER: Final = 3


class CannotBackfill(Exception):
    """The message is safe to show the owner."""


@dataclass(frozen=True)
class Progress:
    since: datetime
    until: datetime
    status: str
    detail: str | None
    total: int | None
    read: int
    booked: int
    failed: int
    queued: int
    started_at: datetime
    finished_at: datetime | None
    # When the start is older than the platform lets the gateway read (Shopify: 60 days
    # without `read_all_orders`), the first instant it does read; else None.
    readable_since: datetime | None = None

    @property
    def older_than_shopify_shows(self) -> bool:
        return self.readable_since is not None

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        if not self.total:
            return 0
        return min(99, math.floor(100 * self.booked / self.total))

    @property
    def seconds_left(self) -> int | None:
        """Inside one organisation's Dinero budget, at `CALLS_PER_ORDER` calls an order."""
        if self.status != "running" or self.total is None:
            return None
        remaining = max(self.total - self.read, 0) + self.queued
        return math.ceil(remaining * CALLS_PER_ORDER * WINDOW / BUDGET)


async def start(conn: Connection, source_id: UUID, *, since: datetime, now: datetime) -> None:
    """Starts (or restarts from scratch) the source's backfill from `since`. Raises
    `CannotBackfill`."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    if since >= now:
        raise CannotBackfill("Pick a start date in the past.")
    status = await conn.fetchval("SELECT status FROM sources WHERE id = $1", source_id)
    if status not in ("connected", "failing"):
        raise CannotBackfill("Connect the store first.")
    await conn.execute(
        """
        INSERT INTO source_backfills (source_id, since, until, started_at, due_at)
        VALUES ($1, $2, $3, $3, $3)
        ON CONFLICT (source_id) DO UPDATE SET
            since = EXCLUDED.since, until = EXCLUDED.until, status = 'running', detail = NULL,
            cursor = NULL, total = NULL, read = 0, problems = 0, due_at = EXCLUDED.due_at,
            started_at = EXCLUDED.started_at, finished_at = NULL
        """,
        source_id,
        since,
        now,
    )


async def progress(
    conn: Connection | Pool, source_id: UUID, shop_id: UUID, visible: timedelta | None = None
) -> Progress | None:
    """The backfill's progress; `visible` is how far back the platform lets the gateway read
    (None: all of it)."""
    row = await conn.fetchrow("SELECT * FROM source_backfills WHERE source_id = $1", source_id)
    if row is None:
        return None
    counts = await conn.fetchrow(
        """
        SELECT count(*) FILTER (WHERE d.state = 'posted') AS booked,
               count(*) FILTER (WHERE d.state = 'failed') AS failed,
               count(*) FILTER (WHERE d.state IN ('queued', 'waiting')) AS queued
        FROM documents d JOIN orders o ON o.id = d.order_id AND o.shop_id = d.shop_id
        WHERE d.shop_id = $1 AND d.seq = 0 AND o.ordered_at >= $2 AND o.ordered_at < $3
        """,
        shop_id,
        row["since"],
        row["until"],
    )
    assert counts is not None  # an aggregate always has its row
    return Progress(
        since=row["since"],
        until=row["until"],
        status=row["status"],
        detail=row["detail"],
        total=row["total"],
        read=row["read"],
        booked=counts["booked"],
        failed=counts["failed"] + row["problems"],
        queued=counts["queued"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        readable_since=(
            row["started_at"] - visible
            if visible is not None and row["since"] < row["started_at"] - visible
            else None
        ),
    )


async def claim_due(
    pool: Pool, platform: Platform, now: datetime, *, limit: int = 10
) -> list[UUID]:
    rows = await pool.fetch(
        """
        UPDATE source_backfills SET due_at = $1 + $2::interval
        WHERE source_id IN (
            SELECT b.source_id FROM source_backfills b JOIN sources s ON s.id = b.source_id
            WHERE b.status = 'running' AND b.due_at <= $1 AND s.platform = $4
              AND s.status IN ('connected', 'failing')
            ORDER BY b.due_at LIMIT $3 FOR UPDATE OF b SKIP LOCKED)
        RETURNING source_id
        """,
        now,
        LEASE,
        limit,
        platform,
    )
    return [r["source_id"] for r in rows]


@dataclass(frozen=True)
class Slice:
    source_id: UUID
    read: int = 0
    enqueue: tuple[int, ...] = ()
    waiting_for_backlog: bool = False
    done: bool = False
    error: str | None = None


async def backlog(conn: Connection | Pool, shop_id: UUID) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM (SELECT 1 FROM documents WHERE shop_id = $1 AND state = 'queued' "
        "LIMIT $2) q",
        shop_id,
        BACKLOG,
    )
    return count


async def due(conn: Connection | Pool, source_id: UUID, when: datetime) -> None:
    await conn.execute(
        "UPDATE source_backfills SET due_at = $2 WHERE source_id = $1", source_id, when
    )


async def done(conn: Connection | Pool, source_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE source_backfills SET status = 'done', finished_at = $2 WHERE source_id = $1",
        source_id,
        now,
    )
