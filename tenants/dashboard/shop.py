"""What the owner's pages ask about one shop, and the few things they change: the shop list,
its health and set-up. A shop's documents are `documents`, its test order `sample_order`.
Every query takes the shop (or, for the shop list, the user) it is about.

The pages must stay fast for a shop with a million documents, so every question is one
index range: documents by shop and time (`documents_shop_created_idx`) or by shop, state
and time (`documents_shop_state_idx`), orders by shop and number (`orders_shop_number_idx`),
events by shop and time (`events_shop_idx`) or by document. Counts that could run into
the millions are counted only up to `COUNT_CAP`: "1000+" says all an owner needs, and a
page that polls every few seconds must not count a backlog row by row.

Lists are paged by keyset (a document id as the cursor, `(created_at, id)` as the order),
not by offset: the hundredth page costs what the first does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.outbox import activation

COUNT_CAP: Final = 1000
RECENT: Final = timedelta(hours=24)
TEST_ORDER_EVENT: Final = activation.TEST_ORDER_EVENT


def capped(condition: str) -> str:
    """A count of the documents matching `condition` (over `d`), stopping at COUNT_CAP."""
    return (
        f"(SELECT count(*) FROM (SELECT 1 FROM documents d WHERE {condition} "  # noqa: S608
        f"LIMIT {COUNT_CAP}) AS capped)"
    )


# --- the shop list -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ShopBadge:
    id: UUID
    name: str
    activated_at: datetime | None
    connection_status: str | None
    organization_name: str | None
    failed_documents: int  # up to COUNT_CAP
    parked_documents: int  # up to COUNT_CAP

    @property
    def badge(self) -> str:
        """The one thing the owner should know first: a lost connection, then failures."""
        if self.connection_status is None or self.connection_status == "revoked":
            return "not_connected"
        if self.connection_status == "needs_reconnect":
            return "needs_reconnect"
        if self.failed_documents:
            return "failing"
        return "connected"


async def shops_for_user(conn: Connection | Pool, user_id: UUID) -> list[ShopBadge]:
    """Every shop the user is a member of, with what its badge needs, in one query."""
    rows = await conn.fetch(
        f"""
        SELECT s.id, s.name, s.activated_at, c.status AS connection_status,
               c.organization_name,
               {capped("d.shop_id = s.id AND d.state = 'failed'")} AS failed_documents,
               {capped("d.shop_id = s.id AND d.state = 'needs_reconnect'")} AS parked_documents
        FROM memberships m JOIN shops s ON s.id = m.shop_id
        LEFT JOIN dinero_connections c ON c.id = s.connection_id
        WHERE m.user_id = $1
        ORDER BY s.name, s.id
        """,  # noqa: S608 - constant fragments only
        user_id,
    )
    return [ShopBadge(**dict(row)) for row in rows]


# --- the shop page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    queued: int  # now, up to COUNT_CAP (waiting for a parent included)
    failed: int  # now, up to COUNT_CAP
    parked: int  # now, up to COUNT_CAP
    awaiting_activation: int  # now, up to COUNT_CAP (held until the shop is activated)
    posted_recently: int  # within RECENT, up to COUNT_CAP
    last_posted_at: datetime | None


async def health(conn: Connection | Pool, shop_id: UUID, *, now: datetime) -> Health:
    """The shop's documents at a glance. "Posted in the last 24 hours" counts `posted`
    events, which have an index by shop and time; `documents.posted_at` has none."""
    row = await conn.fetchrow(
        f"""
        SELECT {capped("d.shop_id = $1 AND d.state IN ('queued', 'waiting')")} AS queued,
               {capped("d.shop_id = $1 AND d.state = 'failed'")} AS failed,
               {capped("d.shop_id = $1 AND d.state = 'needs_reconnect'")} AS parked,
               {capped("d.shop_id = $1 AND d.state = 'awaiting_activation'")}
                   AS awaiting_activation,
               (SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.shop_id = $1
                    AND e.created_at > $2 AND e.kind = 'document.posted'
                    ORDER BY e.created_at DESC LIMIT {COUNT_CAP}) AS capped) AS posted_recently,
               (SELECT e.created_at FROM events e WHERE e.shop_id = $1
                    AND e.kind = 'document.posted'
                    ORDER BY e.created_at DESC LIMIT 1) AS last_posted_at
        """,  # noqa: S608 - constant fragments only
        shop_id,
        now - RECENT,
    )
    assert row is not None
    return Health(**dict(row))


@dataclass(frozen=True)
class TestOrder:
    document_id: int
    order_number: str
    state: str
    backend_number: int | None
    sent_at: datetime


@dataclass(frozen=True)
class Setup:
    """Where the owner is in the set-up guide: connect, send a test order, activate."""

    activated_at: datetime | None
    test_order: TestOrder | None  # the latest one


async def setup(conn: Connection | Pool, shop_id: UUID) -> Setup:
    """The guide's state. Its test order is only looked for while the guide is shown
    (before activation): the search walks the shop's events back to the latest one."""
    row = await conn.fetchrow(
        """
        SELECT s.activated_at, t.document_id, t.order_number, t.state, t.backend_number,
               t.sent_at
        FROM shops s LEFT JOIN LATERAL (
            SELECT d.id AS document_id, o.number AS order_number, d.state, d.backend_number,
                   e.created_at AS sent_at
            FROM events e
            JOIN documents d ON d.id = e.document_id AND d.shop_id = e.shop_id
            JOIN orders o ON o.id = d.order_id AND o.shop_id = d.shop_id
            WHERE e.shop_id = s.id AND e.kind = $2 AND s.activated_at IS NULL
            ORDER BY e.created_at DESC, e.id DESC LIMIT 1
        ) t ON true
        WHERE s.id = $1
        """,
        shop_id,
        TEST_ORDER_EVENT,
    )
    if row is None:
        return Setup(activated_at=None, test_order=None)
    test = None
    if row["document_id"] is not None:
        test = TestOrder(
            document_id=row["document_id"],
            order_number=row["order_number"],
            state=row["state"],
            backend_number=row["backend_number"],
            sent_at=row["sent_at"],
        )
    return Setup(activated_at=row["activated_at"], test_order=test)
