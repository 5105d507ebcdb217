"""`tenants.orders.batch`: events recorded in one call behave as one at a time would:
the same rows and receipts, later events of one order and repeated ids left to
`record_event` in arrival order, and nothing of a batch stored when Postgres fails in it."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.orders import parse_event
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.orders import ingest as orders
from tenants.orders.batch import Fallback, IngestBatcher
from tenants.shops.ingest_cache import IngestShops
from tenants.shops.ingest_secrets import IngestShop
from tests.factories import make_shop
from tests.web.test_ingest import event, refund_event

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
async def batcher(settings: Settings, redis: ArqRedis) -> AsyncIterator[IngestBatcher]:
    b = IngestBatcher(settings.database_url, redis, window=0)
    yield b
    await b.close()


async def cached_shop(pool: Pool, vault: Vault) -> IngestShop:
    shop, _, _ = await make_shop(pool, vault)
    cache = IngestShops(vault)
    await cache.load(pool, shop.id, NOW)
    cached = cache.cached(shop.id, NOW)
    assert cached is not None and cached.fingerprint is not None
    return cached


async def submit(
    batcher: IngestBatcher, pool: Pool, shop: IngestShop, *bodies: dict[str, Any]
) -> list[Any]:
    """Submits the bodies as one batch; runs each fallback as the route does. Answers the
    receipt, or the exception, of each."""

    async def one(body: dict[str, Any]) -> Any:
        raw = json.dumps(body).encode()
        parsed = parse_event(raw)
        result = await batcher.record(shop, parsed, raw)
        if isinstance(result, orders.Recorded):
            return ("batch", result.receipt)
        assert isinstance(result, Fallback)
        async with result, pool.acquire() as conn:
            recorded = await orders.record_event(
                conn, shop, parsed, body_sha256=hashlib.sha256(raw).digest()
            )
        return ("alone", recorded.receipt)

    return await asyncio.gather(*(one(b) for b in bodies), return_exceptions=True)


async def test_new_orders_are_recorded_in_one_batch_as_one_at_a_time_would(
    batcher: IngestBatcher, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop = await cached_shop(pool, vault)
    bodies = [event(**{"order/id": f"b{n}", "order/number": f"b{n}"}) for n in range(3)]
    results = await submit(batcher, pool, shop, *bodies)
    assert [how for how, _ in results] == ["batch"] * 3
    rows = await pool.fetch(
        "SELECT o.external_id, d.kind, d.state, d.seq, d.client_guid, d.external_reference, "
        "d.amount, dl.response_body FROM documents d JOIN orders o ON o.id = d.order_id "
        "JOIN deliveries dl ON dl.shop_id = d.shop_id AND dl.response_body->>'order_id' = "
        "o.external_id ORDER BY d.id"
    )
    assert [r["external_id"] for r in rows] == ["b0", "b1", "b2"]
    for (_, receipt), row in zip(results, rows, strict=True):
        assert receipt == row["response_body"]  # a repeat renders the same bytes
        assert (row["kind"], row["state"], row["seq"]) == ("invoice", "queued", 0)
        assert row["client_guid"] == orders.client_guid(
            shop.id, row["external_id"], "invoice", seq=0
        )
        assert row["amount"] == parse_event(json.dumps(bodies[0]).encode()).order.total
    assert await redis.zcard("gateway:queue") == 3  # enqueued after the commit


async def test_later_events_of_an_order_in_the_batch_apply_after_it_in_order(
    batcher: IngestBatcher, pool: Pool, vault: Vault
) -> None:
    shop = await cached_shop(pool, vault)
    created = event("order.created", **{"order/paid_at": None})
    paid = event("order.paid")
    refunded = refund_event("r1", "33.33")
    results = await submit(batcher, pool, shop, created, paid, refunded)
    assert [how for how, _ in results] == ["batch", "alone", "alone"]
    kinds = await pool.fetch("SELECT kind, seq FROM documents ORDER BY id")
    assert [(r["kind"], r["seq"]) for r in kinds] == [("invoice", 0), ("credit_note", 0)]
    assert await pool.fetchval("SELECT paid_at IS NOT NULL FROM orders")


async def test_each_document_goes_to_the_backend_its_shop_chose_when_it_was_made(
    batcher: IngestBatcher, pool: Pool, vault: Vault
) -> None:
    shop = await cached_shop(pool, vault)
    (invoice,) = await submit(batcher, pool, shop, event())
    await pool.execute("UPDATE shops SET backend = 'economic' WHERE id = $1", shop.id)
    (refund,) = await submit(batcher, pool, shop, refund_event("r1", "33.33"))
    assert [invoice[0], refund[0]] == ["batch", "alone"]  # both ways a document is made
    rows = await pool.fetch("SELECT kind, backend FROM documents ORDER BY id")
    assert [(r["kind"], r["backend"]) for r in rows] == [
        ("invoice", "dinero"),  # made before the change, stays where it was going
        ("credit_note", "economic"),
    ]
    books = await pool.fetchrow("SELECT * FROM shop_books WHERE shop_id = $1", shop.id)
    assert books is not None and (books["backend"], books["connection_id"]) == ("economic", None)


async def test_a_repeated_event_id_in_one_batch_gets_the_first_answer(
    batcher: IngestBatcher, pool: Pool, vault: Vault
) -> None:
    shop = await cached_shop(pool, vault)
    body = event()
    first, second = await submit(batcher, pool, shop, body, body)
    assert first[0] == "batch" and second[0] == "alone"
    assert first[1] == second[1]
    assert await pool.fetchval("SELECT count(*) FROM documents") == 1


async def test_an_event_id_reused_in_one_batch_is_refused(
    batcher: IngestBatcher, pool: Pool, vault: Vault
) -> None:
    shop = await cached_shop(pool, vault)
    body = event()
    other = dict(body, order=dict(body["order"], id="another", number="another"))
    first, second = await submit(batcher, pool, shop, body, other)
    assert first[0] == "batch"
    assert isinstance(second, orders.EventIdReused)
    assert await pool.fetchval("SELECT count(*) FROM orders") == 1


async def test_a_changed_shop_stores_nothing(
    batcher: IngestBatcher, pool: Pool, vault: Vault
) -> None:
    shop = await cached_shop(pool, vault)
    await pool.execute("UPDATE shops SET trigger = 'created' WHERE id = $1", shop.id)
    [result] = await submit(batcher, pool, shop, event())
    assert isinstance(result, orders.ShopChanged)
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0


@pytest.fixture
async def postgres_dies_on_order_boom(pool: Pool) -> AsyncIterator[None]:
    """Postgres ends the session that inserts order "boom", in the middle of its batch."""
    await pool.execute(
        """
        CREATE FUNCTION test_die() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.external_id = 'boom' THEN PERFORM pg_terminate_backend(pg_backend_pid());
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_die AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION test_die();
        """
    )
    try:
        yield
    finally:
        await pool.execute("DROP TRIGGER test_die ON orders; DROP FUNCTION test_die()")


async def test_postgres_failing_mid_batch_fails_every_event_and_stores_nothing(
    batcher: IngestBatcher, pool: Pool, vault: Vault, postgres_dies_on_order_boom: None
) -> None:
    shop = await cached_shop(pool, vault)
    bodies = [event(**{"order/id": name, "order/number": name}) for name in ("a", "boom", "z")]
    results = await submit(batcher, pool, shop, *bodies)
    assert all(isinstance(r, asyncpg.exceptions.ConnectionDoesNotExistError) for r in results), (
        results
    )
    for table in ("orders", "deliveries", "documents"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table}") == 0
    # The next batch connects again.
    [result] = await submit(batcher, pool, shop, event())
    assert result[0] == "batch"


async def test_an_event_waits_for_an_earlier_batchs_fallback_of_its_order(
    batcher: IngestBatcher, pool: Pool, vault: Vault
) -> None:
    shop = await cached_shop(pool, vault)
    refund = json.dumps(refund_event("r1", "33.33")).encode()
    paid = json.dumps(event()).encode()
    first = await batcher.record(shop, parse_event(refund), refund)
    assert isinstance(first, Fallback)  # a refund: not for the batch, and not run yet
    second = await batcher.record(shop, parse_event(paid), paid)
    assert isinstance(second, Fallback)  # its order has an earlier event still in line
    entered: list[str] = []

    async def run(place: Fallback, raw: bytes, name: str) -> None:
        async with place, pool.acquire() as conn:
            entered.append(name)
            await orders.record_event(
                conn, shop, parse_event(raw), body_sha256=hashlib.sha256(raw).digest()
            )

    await asyncio.gather(run(second, paid, "paid"), run(first, refund, "refund"))
    assert entered == ["refund", "paid"]
    assert await pool.fetchval("SELECT count(*) FROM refunds") == 1
