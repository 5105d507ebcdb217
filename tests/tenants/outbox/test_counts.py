"""The document counts the triggers on `documents` keep (`tenants.outbox.counts`), on real
Postgres: after every kind of write the outbox makes they equal counting the documents
afresh, before and after a fold; concurrent writers of one shop neither wait for each other
nor lose a count; a rolled-back write counts nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

from gateway.db import Pool
from gateway.vault import Vault
from tenants.dinero.connections import service as connections
from tenants.outbox import activation, counts, creation, sweeps
from tenants.outbox import repository as outbox
from tenants.shops import repository as shops
from tests.tenants.outbox.test_outbox import (
    leased,
    make_connection,
    make_credit_note,
    make_document,
    make_order,
    order_body,
    refund_body,
    shop_on,
)

Key = tuple[UUID, str, str]


async def kept(pool: Pool) -> dict[Key, int]:
    rows = await pool.fetch(
        "SELECT shop_id, kind, state, sum(n)::bigint AS n FROM document_counts "
        "GROUP BY shop_id, kind, state HAVING sum(n) <> 0"
    )
    return {(r["shop_id"], r["kind"], r["state"]): r["n"] for r in rows}


async def counted(pool: Pool) -> dict[Key, int]:
    rows = await pool.fetch(
        "SELECT shop_id, kind, state, count(*) AS n FROM documents GROUP BY shop_id, kind, state"
    )
    return {(r["shop_id"], r["kind"], r["state"]): r["n"] for r in rows}


async def totals(pool: Pool) -> dict[tuple[str, str], int]:
    rows = await pool.fetch(
        "SELECT kind, state, sum(n)::bigint AS n FROM document_totals "
        "GROUP BY kind, state HAVING sum(n) <> 0"
    )
    return {(r["kind"], r["state"]): r["n"] for r in rows}


async def per_connection(pool: Pool, view: str) -> dict[tuple[UUID, str], int]:
    if view == "documents":
        query = (
            "SELECT s.connection_id, d.state, count(*) AS n FROM documents d "
            "JOIN shops s ON s.id = d.shop_id WHERE s.connection_id IS NOT NULL "
            "GROUP BY s.connection_id, d.state"
        )
    else:
        query = (
            "SELECT connection_id, state, sum(n)::bigint AS n FROM connection_document_counts "
            "GROUP BY connection_id, state HAVING sum(n) <> 0"
        )
    return {(r["connection_id"], r["state"]): r["n"] for r in await pool.fetch(query)}


def summed(fresh: dict[Key, int]) -> dict[tuple[str, str], int]:
    by_kind_state: dict[tuple[str, str], int] = {}
    for (_, kind, state), n in fresh.items():
        by_kind_state[kind, state] = by_kind_state.get((kind, state), 0) + n
    return by_kind_state


async def assert_exact(pool: Pool) -> None:
    """The kept counts and totals equal a fresh count, and still do after a fold, which
    leaves nothing pending and no per-shop zero behind."""
    fresh = await counted(pool)
    by_connection = await per_connection(pool, "documents")
    assert await kept(pool) == fresh
    assert await totals(pool) == summed(fresh)
    assert await per_connection(pool, "kept") == by_connection
    await counts.fold(pool)
    assert await pool.fetchval("SELECT count(*) FROM document_counts_pending") == 0
    assert await pool.fetchval("SELECT count(*) FROM document_counts_folded WHERE n = 0") == 0
    assert await kept(pool) == fresh
    assert await totals(pool) == summed(fresh)
    assert await per_connection(pool, "kept") == by_connection
    folded = await pool.fetch("SELECT shop_id, kind, state, n FROM document_counts_folded")
    assert {(r["shop_id"], r["kind"], r["state"]): r["n"] for r in folded} == fresh


async def active_connection(pool: Pool, organization_id: int) -> UUID:
    connection = await make_connection(pool, organization_id)
    await pool.execute(
        "UPDATE dinero_connections SET status = 'active', access_token_enc = 'x', "
        "refresh_token_enc = 'x', access_expires_at = now() WHERE id = $1",
        connection,
    )
    return connection


async def test_counts_follow_every_transition_of_the_outbox(pool: Pool, vault: Vault) -> None:
    connection = await active_connection(pool, 1001)
    shop = await shop_on(pool, vault, connection)
    other = await shop_on(pool, vault, None)
    orders = [await make_order(pool, shop, order_body(str(n))) for n in range(8)]
    invoices = [await make_document(pool, shop, o) for o in orders]
    await make_document(pool, other, await make_order(pool, other))
    now = datetime.now(UTC)
    await assert_exact(pool)

    # A lease and a step change no state: nothing to count, and still exact.
    first = await leased(pool, invoices[0], now)
    first = await outbox.record_step(pool, first, now=now, step="contact")
    assert await pool.fetchval("SELECT count(*) FROM document_counts_pending") == 0
    await outbox.defer(pool, first, now=now, until=now, failure="500", code="http_500")
    await outbox.fail(pool, await leased(pool, invoices[0], now), now=now, message="x", code="1")
    await assert_exact(pool)
    assert await outbox.retry(pool, shop, invoices[0], now=now) is not None

    # Posting releases the invoice's waiting credit notes in the same transaction.
    notes = [
        await make_credit_note(pool, shop, orders[1], invoices[1], refund_body(f"r{n}"), n)
        for n in (1, 2)
    ]
    released = await outbox.posted(
        pool, await leased(pool, invoices[1], now), now=now, step="booked", number=1,
        status="Booked",
    )  # fmt: skip
    assert len(released) == 2
    await outbox.wait_for_parent(pool, await leased(pool, notes[0], now), now=now)
    await outbox.cancelled(
        pool, await leased(pool, invoices[2], now), now=now, message="gone", parent_id=None
    )
    await outbox.park(pool, await leased(pool, invoices[3], now), now=now, reason="401")
    await assert_exact(pool)

    # The sweeper and the connection's bulk moves.
    async with pool.acquire() as conn, conn.transaction():
        await sweeps.park_documents(conn, connection, now=now)
    await assert_exact(pool)
    assert await sweeps.requeue_reconnected(pool, now=now) > 0
    await connections.mark_needs_reconnect(pool, connection, "token refused", now=now)
    await assert_exact(pool)
    async with pool.acquire() as conn, conn.transaction():
        await sweeps.release_documents(conn, connection, now=now)
    await sweeps.release_orphans(pool, now=now)
    await leased(pool, invoices[4], now)
    await sweeps.recover_expired_leases(pool, now=now + timedelta(hours=1))
    await assert_exact(pool)

    # Ingest's cancellation, a change of document type, holding for activation.
    async with pool.acquire() as conn, conn.transaction():
        await creation.cancel_unposted(conn, shop, orders[5])
        assert await outbox.convert_unstarted(conn, shop, "invoice", "voucher", now=now) > 0
    await pool.execute("UPDATE shops SET activated_at = NULL WHERE id = $1", shop)
    await activation.hold_inactive(pool, now=now)
    await assert_exact(pool)
    async with pool.acquire() as conn, conn.transaction():
        await activation.release(conn, shop, now=now)
    await assert_exact(pool)

    # Deletes (nothing in the product deletes documents today; a purge would).
    await pool.execute("DELETE FROM documents WHERE shop_id = $1 AND parent_id IS NOT NULL", shop)
    await pool.execute("DELETE FROM documents WHERE shop_id = $1 AND state = 'posted'", shop)
    await assert_exact(pool)


async def test_a_rolled_back_write_counts_nothing(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    before = await kept(pool)

    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("UPDATE documents SET state = 'failed' WHERE id = $1", document_id)
        await conn.execute(
            "INSERT INTO documents (shop_id, order_id, kind, seq, currency, amount, client_guid, "
            "external_reference) SELECT shop_id, order_id, kind, 9, currency, amount, "
            "gen_random_uuid(), 'r9' FROM documents WHERE id = $1",
            document_id,
        )
        await transaction.rollback()

    assert await kept(pool) == before == await counted(pool)


async def test_two_writers_of_one_shop_never_wait_for_each_others_counts(
    pool: Pool, vault: Vault
) -> None:
    """With a counter row per shop and state, the second writer would wait here for the
    first one's commit (and two writers moving documents in opposite directions could
    deadlock); pending rows are only inserted, so neither waits."""
    shop = await shop_on(pool, vault, None)
    order_id = await make_order(pool, shop)
    a = await make_document(pool, shop, order_id)
    b = await make_document(pool, shop, order_id, seq=1, state="failed")

    async with pool.acquire() as first, pool.acquire() as second:
        one, two = first.transaction(), second.transaction()
        await one.start()
        await two.start()
        await first.execute("UPDATE documents SET state = 'failed' WHERE id = $1", a)
        # The opposite move, between the same two states of the same shop.
        await asyncio.wait_for(
            second.execute("UPDATE documents SET state = 'queued' WHERE id = $1", b), timeout=5
        )
        await asyncio.wait_for(
            second.execute("UPDATE documents SET state = 'needs_reconnect' WHERE id = $1", b),
            timeout=5,
        )
        await asyncio.wait_for(two.commit(), timeout=5)
        await one.commit()

    await assert_exact(pool)


async def test_concurrent_writers_and_folds_lose_no_count(pool: Pool, vault: Vault) -> None:
    connection = await active_connection(pool, 1001)
    shops = [await shop_on(pool, vault, connection) for _ in range(2)]
    now = datetime.now(UTC)
    documents: list[tuple[UUID, int]] = []
    for shop in shops:
        for n in range(15):
            order_id = await make_order(pool, shop, order_body(str(n)))
            documents.append((shop, await make_document(pool, shop, order_id)))

    async def attempt(shop: UUID, document_id: int, n: int) -> None:
        document = await outbox.lease(pool, document_id, f"w{n}", now=now, lease_for=timedelta(1))
        if document is None:
            return  # parked by the bulk move first
        if n % 3 == 0:
            await outbox.fail(pool, document, now=now, message="no", code="1")
            await outbox.retry(pool, shop, document_id, now=now)
        elif n % 3 == 1:
            await outbox.posted(pool, document, now=now, step="booked", number=n, status="Booked")
        else:
            await outbox.park(pool, document, now=now, reason="401")

    async def bulk() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await sweeps.park_documents(conn, connection, now=now)
        await sweeps.requeue_reconnected(pool, now=now)

    async def inserts(shop: UUID) -> None:
        for n in range(10):
            await make_document(pool, shop, await make_order(pool, shop, order_body(f"x{n}")))

    async def folds() -> None:
        for _ in range(10):
            await counts.fold(pool)
            await asyncio.sleep(0)

    await asyncio.wait_for(
        asyncio.gather(
            *(attempt(s, d, n) for n, (s, d) in enumerate(documents)),
            bulk(),
            *(inserts(s) for s in shops),
            folds(),
            folds(),
        ),
        timeout=60,
    )

    await assert_exact(pool)


async def test_a_shop_takes_its_counts_to_its_new_connection(pool: Pool, vault: Vault) -> None:
    first, second = await make_connection(pool, 1001), await make_connection(pool, 1002)
    shop = await shop_on(pool, vault, first)
    neighbour = await shop_on(pool, vault, first)
    for n in range(3):
        await make_document(pool, shop, await make_order(pool, shop, order_body(str(n))),
                            state="needs_reconnect")  # fmt: skip
    await make_document(pool, neighbour, await make_order(pool, neighbour))
    await counts.fold(pool)
    # One more parked that is still pending when the shop moves.
    await make_document(pool, shop, await make_order(pool, shop), state="needs_reconnect")
    now = datetime.now(UTC)

    async with pool.acquire() as conn, conn.transaction():
        await shops.set_connection(conn, shop, second, now=now)
    parked = await per_connection(pool, "kept")
    assert parked[second, "needs_reconnect"] == 4
    assert (first, "needs_reconnect") not in parked
    await assert_exact(pool)

    async with pool.acquire() as conn, conn.transaction():
        await shops.set_connection(conn, shop, None, now=now)
    await assert_exact(pool)
    async with pool.acquire() as conn, conn.transaction():
        await shops.set_connection(conn, shop, first, now=now)
    await pool.execute("DELETE FROM dinero_connections WHERE id = $1", first)  # SET NULL
    await assert_exact(pool)
    assert await per_connection(pool, "kept") == {}


async def test_moves_folds_and_writes_at_once_lose_no_count(pool: Pool, vault: Vault) -> None:
    first, second = await make_connection(pool, 1001), await make_connection(pool, 1002)
    shop = await shop_on(pool, vault, first)
    ids = [
        await make_document(pool, shop, await make_order(pool, shop, order_body(str(n))))
        for n in range(20)
    ]
    now = datetime.now(UTC)

    async def moves() -> None:
        for n in range(10):
            async with pool.acquire() as conn, conn.transaction():
                await shops.set_connection(conn, shop, (first, second, None)[n % 3], now=now)

    async def parks() -> None:
        for document_id in ids:
            await pool.execute(
                "UPDATE documents SET state = 'needs_reconnect' WHERE id = $1", document_id
            )

    async def folds() -> None:
        for _ in range(20):
            await counts.fold(pool)

    await asyncio.wait_for(asyncio.gather(moves(), parks(), folds(), folds()), timeout=60)

    await assert_exact(pool)


async def test_truncating_documents_empties_the_counts(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    await make_document(pool, shop, await make_order(pool, shop))
    await counts.fold(pool)
    await make_document(pool, shop, await make_order(pool, shop, order_body("2")))

    await pool.execute("TRUNCATE documents CASCADE")

    assert await kept(pool) == {}
    assert await totals(pool) == {}
    assert await pool.fetchval("SELECT count(*) FROM document_counts_folded") == 0
