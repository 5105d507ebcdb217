"""The activation gate: until its owner activates a shop, only its test order posts. Its
other documents, when a worker comes to claim them, are held in `awaiting_activation`
(they stay out of the sweeper's `queued` questions, so nothing spins on them), and
activating the shop makes them due again, oldest first, in the same transaction.

A test order is the one the shop page sends (`tenants.dashboard.sample_order`): its main
document carries a `TEST_ORDER_EVENT` line, written in the transaction that records the
order, and nothing else ever writes one. An order id is no proof, as a shop may name a
real order `test-…`; so every document of an order whose main document has that line
posts before activation (the draft invoice, and whatever follows from it), and no other.

Holding and releasing meet on the shop row's lock: the hold reads `activated_at` under
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
HELD_MESSAGE: Final = "Waiting until the shop is activated"


async def hold_if_inactive(pool: Pool, document_id: int, *, now: datetime) -> bool:
    """Holds the document if its shop is not activated and it is not part of the shop's
    test order; True when it did. False for everything a worker may go on to claim (or
    that is not there to claim: the lease that follows says so)."""
    found = await pool.fetchrow(
        "SELECT d.shop_id, d.order_id, s.activated_at IS NOT NULL AS active "
        "FROM documents d JOIN shops s ON s.id = d.shop_id "
        "WHERE d.id = $1 AND d.state = 'queued'",
        document_id,
    )
    if found is None or found["active"]:  # activation is never undone: no lock needed
        return False
    shop_id, order_id = found["shop_id"], found["order_id"]
    async with pool.acquire() as conn, conn.transaction():
        active = await conn.fetchval(
            "SELECT activated_at IS NOT NULL FROM shops WHERE id = $1 FOR SHARE", shop_id
        )
        if active or await is_test_order(conn, shop_id, order_id):
            return False
        # Counted as an attempt, so the job that releases it has a new id (a job id carries
        # the attempt count, and this one's may still be running when the owner activates).
        held = await conn.fetchval(
            "UPDATE documents SET state = $4, attempts = attempts + 1, updated_at = $3 "
            "WHERE id = $1 AND shop_id = $2 AND state = 'queued' AND next_attempt_at <= $3 "
            "AND (lease_expires_at IS NULL OR lease_expires_at < $3) RETURNING true",
            document_id,
            shop_id,
            now,
            STATE,
        )
        if held:
            await event_for(
                conn,
                shop_id,
                document_id,
                "document.awaiting_activation",
                "info",
                HELD_MESSAGE,
                now=now,
            )
    return bool(held)


async def is_test_order(conn: Connection | Pool, shop_id: UUID, order_id: int) -> bool:
    """Whether the order is one the shop page sent as its test order."""
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM documents m JOIN events e "
        "ON e.document_id = m.id AND e.shop_id = m.shop_id "
        "WHERE m.shop_id = $1 AND m.order_id = $2 AND m.seq = 0 AND e.kind = $3)",
        shop_id,
        order_id,
        TEST_ORDER_EVENT,
    )
    return bool(found)


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
