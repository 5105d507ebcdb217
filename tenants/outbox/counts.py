"""Documents counted by shop, kind and state (migration 0019): triggers on `documents` add
every change to `document_counts_pending` in the transaction that makes it, and `fold`
moves those changes into `document_counts_folded` (per shop), `document_totals_folded`
(over all shops) and `connection_document_counts_folded` (per Dinero connection, over the
shops on it when folded; a trigger on `shops` moves a shop's folded counts when it changes
connection). Readers ask the views `document_counts`, `document_totals` and
`connection_document_counts`, which add the pending changes to the folded counts and so
always equal counting the documents themselves.

Folding is only upkeep: the pending rows grow by a few per write and stay small while the
sweeper folds them every few seconds. One fold runs at a time (a transaction-level advisory
lock; a second one finds it taken and does nothing), so the folded rows have one writer
and writers of documents never wait for a counter. A shop changing connection waits for a
fold in progress (the trigger takes the same lock), so the fold always adds a change under
the connection the shop is on.
"""

from __future__ import annotations

from typing import Final

from gateway.db import Pool

# Any fixed 64-bit number; it only has to differ from other advisory locks in the database.
# Migration 0019's trigger on shops takes it too, by its value (7237112404930555508).
_FOLD_LOCK: Final = 0x646F63636F756E74  # "doccount"


async def fold(pool: Pool) -> int:
    """Moves the pending changes into the folded counts and totals, drops per-shop counts
    that reached 0 (the totals, a few rows, keep theirs), and answers how many pending rows
    it moved (0 when another fold holds the lock)."""
    async with pool.acquire() as conn, conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _FOLD_LOCK):
            return 0
        rows = await conn.fetch(
            """
            WITH moved AS (
                DELETE FROM document_counts_pending RETURNING shop_id, kind, state, n
            ), folded AS (
                INSERT INTO document_counts_folded AS f (shop_id, kind, state, n)
                SELECT shop_id, kind, state, sum(n) FROM moved
                GROUP BY shop_id, kind, state HAVING sum(n) <> 0
                ON CONFLICT (shop_id, state, kind) DO UPDATE SET n = f.n + excluded.n
                RETURNING shop_id, kind, state, n
            ), totals AS (
                INSERT INTO document_totals_folded AS t (kind, state, n)
                SELECT kind, state, sum(n) FROM moved GROUP BY kind, state
                ON CONFLICT (kind, state) DO UPDATE SET n = t.n + excluded.n
            ), by_connection AS (
                INSERT INTO connection_document_counts_folded AS c (connection_id, state, n)
                SELECT s.connection_id, m.state, sum(m.n) FROM moved m
                JOIN shops s ON s.id = m.shop_id
                WHERE s.connection_id IS NOT NULL GROUP BY s.connection_id, m.state
                ON CONFLICT (connection_id, state) DO UPDATE SET n = c.n + excluded.n
            )
            SELECT m.moved, z.shop_id, z.kind, z.state
            FROM (SELECT count(*) AS moved FROM moved) m
            LEFT JOIN (SELECT shop_id, kind, state FROM folded WHERE n = 0) z ON true
            """
        )
        zeros = [r for r in rows if r["shop_id"] is not None]
        if zeros:
            # A statement does not see its own upserts, so the zeros go in a second one.
            await conn.execute(
                "DELETE FROM document_counts_folded f "
                "USING unnest($1::uuid[], $2::text[], $3::text[]) AS z(shop_id, kind, state) "
                "WHERE f.shop_id = z.shop_id AND f.kind = z.kind AND f.state = z.state "
                "AND f.n = 0",
                [r["shop_id"] for r in zeros],
                [r["kind"] for r in zeros],
                [r["state"] for r in zeros],
            )
    moved: int = rows[0]["moved"]
    return moved
