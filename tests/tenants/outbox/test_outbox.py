"""The outbox on real Postgres: leases, every transition, the owner's retry, and the
sweeper's questions. The factories at the top are shared with the posting tests (orders and
documents are made with plain SQL, as ingest would store them)."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.queue import QUEUE_NAME
from gateway.vault import Vault
from tenants.dinero.connections import service as connections
from tenants.outbox import repository as outbox
from tenants.outbox import sweeps
from tenants.outbox.models import Document, LeaseLost, Ready
from tests.factories import make_shop
from web.openapi import EXAMPLE_EVENT

LEASE = timedelta(minutes=3)

# DESIGN.md's example order, as the OpenAPI document shows it (never changed: copied first).
ORDER: dict[str, Any] = EXAMPLE_EVENT["order"]


def order_body(external_id: str = "1001", **customer: Any) -> dict[str, Any]:
    """The example order of DESIGN.md under another id and, given, another customer."""
    body = copy.deepcopy(ORDER)
    body["id"] = body["number"] = external_id
    body["customer"].update(customer)
    return body


def refund_body(refund_id: str, quantity: int = 1, *, shipping: bool = False) -> dict[str, Any]:
    """`quantity` socks back (and the shipping, if asked)."""
    line = dict(ORDER["lines"][0], quantity=str(quantity))
    total = Decimal("33.33") * quantity + (Decimal("39.00") if shipping else 0)
    return {
        "id": refund_id,
        "lines": [line],
        "shipping": dict(ORDER["shipping"]) if shipping else None,
        "total": str(total),
    }


async def make_order(pool: Pool, shop_id: UUID, body: dict[str, Any] | None = None) -> int:
    body = body or order_body()
    created = datetime.fromisoformat(body["created_at"])
    order_id: int = await pool.fetchval(
        "INSERT INTO orders (shop_id, external_id, number, currency, total, payload, ordered_at, "
        "paid_at, last_event_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) RETURNING id",
        shop_id,
        body["id"],
        body["number"],
        body["currency"],
        Decimal(body["total"]),
        json.loads(json.dumps(body)),
        created,
    )
    return order_id


async def make_refund(pool: Pool, shop_id: UUID, order_id: int, body: dict[str, Any]) -> int:
    refund_id: int = await pool.fetchval(
        "INSERT INTO refunds (shop_id, order_id, refund_id, total, payload, occurred_at) "
        "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        shop_id,
        order_id,
        body["id"],
        Decimal(body["total"]),
        body,
        datetime(2026, 11, 26, 12, tzinfo=UTC),
    )
    return refund_id


async def make_document(
    pool: Pool,
    shop_id: UUID,
    order_id: int,
    *,
    kind: str = "invoice",
    seq: int = 0,
    source_ref: str | None = None,
    parent_id: int | None = None,
    state: str = "queued",
    mode: str = "booked",
    payload: dict[str, Any] | None = None,
    amount: Decimal = Decimal("128.99"),
    next_attempt_at: datetime | None = None,
) -> int:
    external_id = await pool.fetchval("SELECT external_id FROM orders WHERE id = $1", order_id)
    short = {"invoice": "inv", "credit_note": "cn"}.get(kind, kind[:3])
    reference = f"dg-{shop_id.hex[:12]}-{short}-{external_id}" + (f"-{seq}" if seq else "")
    document_id: int = await pool.fetchval(
        "INSERT INTO documents (shop_id, order_id, kind, seq, source_ref, parent_id, state, mode, "
        "payload, currency, amount, client_guid, external_reference, next_attempt_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'DKK', $10, $11, $12, "
        "coalesce($13, now())) RETURNING id",
        shop_id,
        order_id,
        kind,
        seq,
        source_ref,
        parent_id,
        state,
        mode,
        payload or {},
        amount,
        uuid4(),
        reference,
        next_attempt_at,
    )
    return document_id


async def make_credit_note(
    pool: Pool, shop_id: UUID, order_id: int, parent_id: int, refund: dict[str, Any], seq: int
) -> int:
    refund_row = await make_refund(pool, shop_id, order_id, refund)
    return await make_document(
        pool,
        shop_id,
        order_id,
        kind="credit_note",
        seq=seq,
        source_ref=refund["id"],
        parent_id=parent_id,
        state="waiting",
        payload={"refund_id": refund_row},
        amount=Decimal(refund["total"]),
    )


async def make_connection(pool: Pool, organization_id: int) -> UUID:
    """A connection row without tokens (enough for questions that never call Dinero)."""
    connection_id: UUID = await pool.fetchval(
        "INSERT INTO dinero_connections (organization_id, status) VALUES ($1, 'revoked') "
        "RETURNING id",
        organization_id,
    )
    return connection_id


async def shop_on(pool: Pool, vault: Vault, connection_id: UUID | None) -> UUID:
    shop, _, _ = await make_shop(pool, vault)
    await pool.execute("UPDATE shops SET connection_id = $2 WHERE id = $1", shop.id, connection_id)
    return shop.id


async def row(pool: Pool, document_id: int) -> dict[str, Any]:
    found = await pool.fetchrow("SELECT * FROM documents WHERE id = $1", document_id)
    assert found is not None
    return dict(found)


async def events(pool: Pool, document_id: int) -> list[str]:
    rows = await pool.fetch(
        "SELECT kind FROM events WHERE document_id = $1 ORDER BY id", document_id
    )
    return [r["kind"] for r in rows]


async def leased(pool: Pool, document_id: int, now: datetime) -> Document:
    document = await outbox.lease(pool, document_id, "test-worker", now=now, lease_for=LEASE)
    assert document is not None
    return document


# --- leases ------------------------------------------------------------------------------------


async def test_a_due_document_is_leased_once(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    now = datetime.now(UTC)

    results = await asyncio.gather(
        *(outbox.lease(pool, document_id, f"w{i}", now=now, lease_for=LEASE) for i in range(10))
    )

    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].attempts == 1
    assert winners[0].lease_owner is not None
    assert winners[0].lease_owner.startswith("w")
    assert not winners[0].uncertain


async def test_only_queued_due_documents_can_be_leased(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    order_id = await make_order(pool, shop)
    now = datetime.now(UTC)
    later = await make_document(pool, shop, order_id, next_attempt_at=now + timedelta(minutes=1))
    waiting = await make_document(pool, shop, order_id, kind="voucher", state="waiting")

    assert await outbox.lease(pool, later, "w", now=now, lease_for=LEASE) is None
    assert await outbox.lease(pool, waiting, "w", now=now, lease_for=LEASE) is None
    assert await outbox.lease(pool, 999_999, "w", now=now, lease_for=LEASE) is None
    assert (await row(pool, later))["attempts"] == 0


async def test_an_expired_lease_can_be_taken_over_and_marks_the_document_uncertain(
    pool: Pool, vault: Vault
) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    now = datetime.now(UTC)
    dead = await leased(pool, document_id, now)

    assert await outbox.lease(pool, document_id, "w2", now=now + LEASE / 2, lease_for=LEASE) is None
    taken = await outbox.lease(pool, document_id, "w2", now=now + LEASE * 2, lease_for=LEASE)

    assert taken is not None
    assert taken.uncertain  # the dead attempt may have reached Dinero
    assert taken.attempts == 2
    # The dead worker's writes no longer land.
    try:
        await outbox.record_step(pool, dead, now=now, step="contact")
    except LeaseLost:
        pass
    else:
        raise AssertionError("a lost lease was written through")
    assert (await row(pool, document_id))["step"] == "new"


async def test_record_step_writes_only_known_fields(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    document = await leased(pool, document_id, datetime.now(UTC))
    guid = uuid4()

    updated = await outbox.record_step(
        pool, document, now=datetime.now(UTC), step="created", backend_id=guid, uncertain=False
    )

    assert (updated.step, updated.backend_id) == ("created", guid)
    try:
        await outbox.record_step(pool, updated, now=datetime.now(UTC), state="posted")
    except ValueError:
        pass
    else:
        raise AssertionError("state is not a step field")


# --- transitions -------------------------------------------------------------------------------


async def test_a_deferral_without_failure_counts_nothing(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    now = datetime.now(UTC)
    document = await leased(pool, document_id, now)

    await outbox.defer(pool, document, now=now, until=now + timedelta(seconds=40))

    after = await row(pool, document_id)
    assert (after["state"], after["failures"], after["lease_owner"]) == ("queued", 0, None)
    assert after["next_attempt_at"] == now + timedelta(seconds=40)
    assert await events(pool, document_id) == []


async def test_a_failed_attempt_is_counted_and_shown(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    now = datetime.now(UTC)

    document = await leased(pool, document_id, now)
    await outbox.defer(
        pool, document, now=now, until=now, failure="Dinero answered 500", code="http_500"
    )
    document = await leased(pool, document_id, now)
    await outbox.fail(pool, document, now=now, message="Dinero refused it: no", code="2")

    after = await row(pool, document_id)
    assert (after["state"], after["failures"], after["lease_owner"]) == ("failed", 2, None)
    assert (after["last_error"], after["last_error_code"]) == ("Dinero refused it: no", "2")
    assert await events(pool, document_id) == ["document.retrying", "document.failed"]


async def test_posting_releases_the_waiting_children(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    order_id = await make_order(pool, shop)
    invoice = await make_document(pool, shop, order_id)
    notes = [
        await make_credit_note(pool, shop, order_id, invoice, refund_body(f"r{n}"), n)
        for n in (1, 2)
    ]
    now = datetime.now(UTC)
    document = await leased(pool, invoice, now)

    released = await outbox.posted(
        pool, document, now=now, step="booked", number=7, status="Booked"
    )

    assert sorted(r.id for r in released) == notes
    assert all(r.job_id == f"documents.post:{r.id}:0" for r in released)
    after = await row(pool, invoice)
    assert (after["state"], after["backend_number"], after["posted_at"]) == ("posted", 7, now)
    assert {(await row(pool, n))["state"] for n in notes} == {"queued"}
    assert await events(pool, invoice) == ["document.posted"]


async def test_retry_requeues_a_failed_document_of_that_shop_only(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    other_shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    now = datetime.now(UTC)
    await outbox.fail(pool, await leased(pool, document_id, now), now=now, message="x", code="1")

    assert await outbox.retry(pool, other_shop, document_id, now=now) is None
    assert (await row(pool, document_id))["state"] == "failed"
    ready = await outbox.retry(pool, shop, document_id, now=now)

    assert ready is not None
    assert ready.job_id == f"documents.post:{document_id}:1"
    after = await row(pool, document_id)
    assert (after["state"], after["failures"], after["last_error"]) == ("queued", 0, None)
    assert await outbox.retry(pool, shop, document_id, now=now) is None  # not failed now
    assert await outbox.retry(pool, shop, 999_999, now=now) is None


async def test_parking_an_organisation_parks_every_queued_document_of_its_shops(
    pool: Pool, vault: Vault
) -> None:
    connection = await make_connection(pool, 1001)
    await pool.execute(
        "UPDATE dinero_connections SET status = 'active', access_token_enc = 'x', "
        "refresh_token_enc = 'x', access_expires_at = now() WHERE id = $1",
        connection,
    )
    shops = [await shop_on(pool, vault, connection) for _ in range(2)]
    elsewhere = await shop_on(pool, vault, await make_connection(pool, 1002))
    documents = [await make_document(pool, s, await make_order(pool, s)) for s in shops]
    untouched = await make_document(pool, elsewhere, await make_order(pool, elsewhere))

    await connections.mark_needs_reconnect(pool, connection, "token refused", now=datetime.now(UTC))

    assert [(await row(pool, d))["state"] for d in documents] == ["needs_reconnect"] * 2
    assert (await row(pool, untouched))["state"] == "queued"
    status = await pool.fetchval("SELECT status FROM dinero_connections WHERE id = $1", connection)
    assert status == "needs_reconnect"


# --- the sweeper's questions -------------------------------------------------------------------


async def test_a_backlog_does_not_delay_another_shops_first_document(
    pool: Pool, vault: Vault
) -> None:
    busy = await shop_on(pool, vault, await make_connection(pool, 1001))
    quiet = await shop_on(pool, vault, await make_connection(pool, 1002))
    busy_order = await make_order(pool, busy)
    past = datetime.now(UTC) - timedelta(hours=1)
    await pool.execute(
        "INSERT INTO documents (shop_id, order_id, kind, seq, currency, amount, client_guid, "
        "external_reference, next_attempt_at) "
        "SELECT $1, $2, 'voucher', n, 'DKK', 1, gen_random_uuid(), 'r' || n, $3 "
        "FROM generate_series(1, 500) AS n",
        busy,
        busy_order,
        past,
    )
    newest = await make_document(pool, quiet, await make_order(pool, quiet))

    due = await sweeps.due_for_sweep(pool, now=datetime.now(UTC), limit=10, per_shop=5)

    assert len(due) == 6  # five of the backlog, one of the quiet shop: limit never reached
    assert newest in [d.id for d in due[:2]]
    assert {d.organization_id for d in due} == {1001, 1002}


async def test_shops_of_one_organisation_take_turns(pool: Pool, vault: Vault) -> None:
    connection = await make_connection(pool, 1001)
    shops = [await shop_on(pool, vault, connection) for _ in range(3)]
    owner: dict[int, UUID] = {}
    for shop in shops:
        for n in range(4):
            document_id = await make_document(
                pool, shop, await make_order(pool, shop, order_body(str(n)))
            )
            owner[document_id] = shop

    due = await sweeps.due_for_sweep(pool, now=datetime.now(UTC), limit=6, per_shop=10)

    assert len(due) == 6
    assert [owner[d.id] for d in due[:3]] != [owner[due[0].id]] * 3
    assert sorted(list(owner[d.id] for d in due).count(s) for s in shops) == [2, 2, 2]


async def test_leased_and_future_documents_are_not_due(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    order_id = await make_order(pool, shop)
    in_progress = await make_document(pool, shop, order_id)
    now = datetime.now(UTC)
    await leased(pool, in_progress, now)
    await make_document(pool, shop, order_id, seq=1, next_attempt_at=now + timedelta(minutes=5))
    due_one = await make_document(pool, shop, order_id, seq=2)

    due = await sweeps.due_for_sweep(pool, now=datetime.now(UTC), limit=100, per_shop=100)

    assert [d.id for d in due] == [due_one]
    assert due[0].organization_id is None


async def test_expired_leases_are_recovered_as_uncertain(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    now = datetime.now(UTC)
    await leased(pool, document_id, now)

    assert await sweeps.recover_expired_leases(pool, now=now + LEASE / 2) == 0
    assert await sweeps.recover_expired_leases(pool, now=now + LEASE * 2) == 1

    after = await row(pool, document_id)
    assert (after["lease_owner"], after["uncertain"], after["state"]) == (None, True, "queued")
    assert await events(pool, document_id) == ["document.lease_expired"]


async def test_orphaned_children_follow_their_parent(pool: Pool, vault: Vault) -> None:
    shop = await shop_on(pool, vault, None)
    order_id = await make_order(pool, shop)
    posted = await make_document(pool, shop, order_id)
    cancelled = await make_document(pool, shop, await make_order(pool, shop, order_body("2")))
    now = datetime.now(UTC)
    await pool.execute(
        "UPDATE documents SET state = 'posted', posted_at = $2 WHERE id = $1", posted, now
    )
    await pool.execute("UPDATE documents SET state = 'cancelled' WHERE id = $1", cancelled)
    to_release = await make_credit_note(pool, shop, order_id, posted, refund_body("r1"), 1)
    cancelled_order = await pool.fetchval("SELECT order_id FROM documents WHERE id = $1", cancelled)
    to_cancel = await make_credit_note(pool, shop, cancelled_order, cancelled, refund_body("r2"), 1)

    released = await sweeps.release_orphans(pool, now=now)

    assert [r.id for r in released] == [to_release]
    assert (await row(pool, to_release))["state"] == "queued"
    assert (await row(pool, to_cancel))["state"] == "cancelled"


async def test_enqueue_puts_an_attempt_in_the_queue_once(
    pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop = await shop_on(pool, vault, None)
    document_id = await make_document(pool, shop, await make_order(pool, shop))
    ready = [Ready(document_id, 0)]

    assert await outbox.enqueue(redis, ready) == 1
    assert await outbox.enqueue(redis, ready) == 0
    queued = await redis.zrange(QUEUE_NAME, 0, -1)
    assert queued == [f"documents.post:{document_id}:0".encode()]


async def test_enqueue_with_redis_down_is_not_an_error(pool: Pool) -> None:
    from gateway.queue import create_redis

    down = create_redis("redis://127.0.0.1:1/0")
    try:
        assert await outbox.enqueue(down, [Ready(1, 0)]) == 0
    finally:
        await down.aclose()
