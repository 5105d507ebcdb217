"""The activation gate: until its owner activates a shop, only its test order posts. Its
other documents are held in `awaiting_activation`, out of the sweeper's `queued` questions,
and activating the shop makes them due again, oldest first, in the same transaction.

Documents are held where they are claimed: a worker about to lease one (`hold_if_inactive`,
for the job ingest enqueued), and the sweeper before it deals out what is due
(`hold_inactive`, for everything else: a backlog, an order stored while Redis was away). So
a shop still being set up never takes another shop's turn in the sweeper's rounds or its
organisation's share of the queue, and nothing spins on its documents.

A test order is the one the shop page sends (`tenants.dashboard.sample_order`): its main
document carries a `TEST_ORDER_EVENT` line, written in the transaction that records the
order, and nothing else ever writes one. An order id is no proof, as a shop may name a
real order `test-…`; so every document of an order whose main document has that line
posts before activation (the draft invoice, and whatever follows from it), and no other.

Holding and releasing meet on the shop row's lock: a hold reads the shop under
`FOR SHARE`, activating updates it. Whichever comes second waits for the first to commit
and then sees what it did, so a document is never held after the release that should have
freed it, and a released one is never held again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.outbox.events import event_for
from tenants.outbox.models import Ready

TEST_ORDER_EVENT: Final = "shop.test_order"
STATE: Final = "awaiting_activation"
HELD_EVENT: Final = "document.awaiting_activation"
HELD_MESSAGE: Final = "Waiting until the shop is activated"

# Over `d`: the document belongs to its shop's test order (the line's kind spelt out, as
# TEST_ORDER_EVENT).
_TEST_ORDER: Final = (
    "EXISTS (SELECT 1 FROM documents m JOIN events e "
    "ON e.document_id = m.id AND e.shop_id = m.shop_id "
    "WHERE m.shop_id = d.shop_id AND m.order_id = d.order_id AND m.seq = 0 "
    "AND e.kind = 'shop.test_order')"
)
# Over `d`: a claim may take it now (what `repository.lease` asks, $1 being now). Holding
# counts as an attempt, so the job that releases it has a new id: a job id carries the
# attempt count, and the job that held it may still be running when the owner activates.
_CLAIMABLE: Final = (
    "d.state = 'queued' AND d.next_attempt_at <= $1 "
    "AND (d.lease_expires_at IS NULL OR d.lease_expires_at < $1)"
)
_HOLD: Final = "state = 'awaiting_activation', attempts = d.attempts + 1, updated_at = $1"


async def hold_if_inactive(pool: Pool, document_id: int, *, now: datetime) -> bool:
    """Holds the document if its shop is not activated and it is not part of the shop's
    test order; True when it did. False for everything a worker may go on to claim (or
    that is not there to claim: the lease that follows says so)."""
    shop_id = await pool.fetchval(
        "SELECT d.shop_id FROM documents d JOIN shops s ON s.id = d.shop_id "
        "WHERE d.id = $1 AND d.state = 'queued' AND s.activated_at IS NULL",
        document_id,
    )
    if shop_id is None:  # gone, not queued, or its shop is live (which is never undone)
        return False
    async with pool.acquire() as conn, conn.transaction():
        held = await conn.fetchval(
            f"""
            WITH shop AS (SELECT id FROM shops WHERE id = $2 AND activated_at IS NULL
                          FOR SHARE)
            UPDATE documents d SET {_HOLD}
            FROM shop WHERE d.id = $3 AND d.shop_id = shop.id AND {_CLAIMABLE}
                AND NOT {_TEST_ORDER}
            RETURNING true
            """,  # noqa: S608 - constant fragments only
            now,
            shop_id,
            document_id,
        )
        if held:
            await event_for(conn, shop_id, document_id, HELD_EVENT, "info", HELD_MESSAGE, now=now)
    return bool(held)


async def hold_inactive(pool: Pool, *, now: datetime) -> int:
    """The sweeper's hold: every claimable document of every shop not activated, but its
    test order. Answers how many were held."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            f"""
            WITH shop AS (
                SELECT s.id FROM shops s WHERE s.activated_at IS NULL
                    AND EXISTS (SELECT 1 FROM documents q
                                WHERE q.shop_id = s.id AND q.state = 'queued')
                FOR SHARE OF s
            )
            UPDATE documents d SET {_HOLD}
            FROM shop WHERE d.shop_id = shop.id AND {_CLAIMABLE} AND NOT {_TEST_ORDER}
            RETURNING d.id, d.shop_id
            """,  # noqa: S608 - constant fragments only
            now,
        )
        if rows:
            await conn.execute(
                "INSERT INTO events (shop_id, document_id, kind, message, created_at) "
                "SELECT shop_id, id, $3, $4, $5 FROM unnest($1::uuid[], $2::bigint[]) "
                "AS held(shop_id, id)",
                [row["shop_id"] for row in rows],
                [row["id"] for row in rows],
                HELD_EVENT,
                HELD_MESSAGE,
                now,
            )
    return len(rows)


async def release(conn: Connection, shop_id: UUID, *, now: datetime) -> list[Ready]:
    """Makes every held document of the shop due now, oldest first; enqueue the answer, in
    its order, after the commit. Call inside the transaction that activates the shop,
    after its update of the shop row."""
    rows = await conn.fetch(
        "UPDATE documents SET state = 'queued', next_attempt_at = $2, updated_at = $2 "
        "WHERE shop_id = $1 AND state = $3 RETURNING id, attempts",
        shop_id,
        now,
        STATE,
    )
    if rows:
        await conn.execute(
            "INSERT INTO events (shop_id, document_id, kind, message, created_at) "
            "SELECT $1, id, 'document.released', $3, $4 FROM unnest($2::bigint[]) AS id",
            shop_id,
            [row["id"] for row in rows],
            "The shop was activated: queued for posting",
            now,
        )
    return sorted((Ready(r["id"], r["attempts"]) for r in rows), key=lambda r: r.id)
