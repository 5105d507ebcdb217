"""The activation gate against the live sandbox: a shop not yet activated posts only its
test order; its real orders (and the payments waiting on them) wait, counted, until
Activate releases them, oldest first, to be booked exactly once. And the hold and the
release cannot miss each other, whichever reaches the shop row first."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.vault import Vault
from tenants.dashboard import gauges
from tenants.dashboard import sample_order as sample_orders
from tenants.dashboard import shop as dashboard
from tenants.dinero.poster import Poster
from tenants.orders import ingest as orders
from tenants.outbox import activation, sweeps
from tenants.posting.outcomes import Outcome
from tenants.shops import repository as shops
from tests.factories import make_shop
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.tenants.outbox.test_outbox import make_document, make_order, order_body
from tests.tenants.posting.test_payments import ACCOUNTS, ingest, paid, post_all
from tests.tenants.posting.test_posting import post, stored

pytestmark = pytest.mark.usefixtures("no_faults_left")


async def unactivated_shop(
    pool: Pool, vault: Vault, live: LiveSandbox, visma: VismaConnect
) -> orders.IngestShop:
    """A shop still being set up, connected to the sandbox, that registers payments."""
    shop, _, _ = await make_shop(pool, vault, activated=False)
    await connect(pool, vault, live, visma, shop=shop)
    await pool.execute(
        "UPDATE shops SET register_payments = true, payment_accounts = $2 WHERE id = $1",
        shop.id,
        ACCOUNTS,
    )
    found = await orders.shop_for_ingest(pool, vault, shop.id, datetime.now(UTC))
    assert found is not None
    return found


async def activate(pool: Pool, shop_id: UUID, *, now: datetime) -> shops.Activated | None:
    """What the shop page's Activate does: one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        return await shops.activate(conn, shop_id, now=now)


async def states(pool: Pool, shop_id: UUID) -> dict[int, tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT id, kind, state FROM documents WHERE shop_id = $1 ORDER BY id", shop_id
    )
    return {r["id"]: (r["kind"], r["state"]) for r in rows}


async def test_real_orders_wait_for_activation_and_post_once_in_order_after_it(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    shop = await unactivated_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid("2001"))
    await ingest(pool, shop, paid("2002"))
    test = await sample_orders.send_test_order(pool, shop.id, now=datetime.now(UTC))

    outcomes = await post_all(poster, pool, shop.id)

    # Only the test order reached Dinero, as a draft; each real invoice was held once, and
    # its payment waits on it.
    assert sorted(outcomes) == sorted(
        [Outcome.POSTED, Outcome.AWAITING_ACTIVATION, Outcome.AWAITING_ACTIVATION]
    )
    held = await states(pool, shop.id)
    invoices = [i for i, (kind, _) in held.items() if kind == "invoice" and i != test.document_id]
    payments = [i for i, (kind, _) in held.items() if kind == "payment"]
    assert held[test.document_id] == ("invoice", "posted")
    assert [held[i][1] for i in invoices] == ["awaiting_activation"] * 2
    assert [held[i][1] for i in payments] == ["waiting"] * 2
    [draft] = await stored(http, sandbox_server)
    assert draft["Status"] == "Draft" and await stored(http, sandbox_server, "payments") == []
    # Counted where the owner and the admin look, and never dealt out by the sweeper.
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert (await dashboard.health(pool, shop.id, now=now)).awaiting_activation == 2
    assert (await gauges.read(pool, now=now)).documents[("invoice", "awaiting_activation")] >= 2
    assert not {
        d.id for d in await sweeps.due_for_sweep(pool, now=now, limit=100, per_shop=8)
    } & set(invoices)

    activated = await activate(pool, shop.id, now=datetime.now(UTC))

    assert activated is not None and [r.id for r in activated.released] == invoices
    assert await post_all(poster, pool, shop.id) == [Outcome.POSTED] * 4
    after = await pool.fetch(
        "SELECT id, state, backend_number FROM documents WHERE id = ANY($1::bigint[]) ORDER BY id",
        invoices,
    )
    # Booked in the order the orders came: numbers follow their age.
    assert [(r["state"], r["backend_number"]) for r in after] == [("posted", 1), ("posted", 2)]
    booked = [i for i in await stored(http, sandbox_server) if i["Status"] != "Draft"]
    assert sorted(i["Number"] for i in booked) == [1, 2]
    assert len(await stored(http, sandbox_server, "payments")) == 2
    # Exactly once: nothing is left to post, and posting again changes nothing.
    for document_id in [*invoices, *payments]:
        assert (await post(poster, document_id)).outcome is Outcome.SKIPPED
    assert len(await stored(http, sandbox_server)) == 3
    posted_events = await pool.fetchval(
        "SELECT count(*) FROM events WHERE shop_id = $1 AND kind = 'document.posted'", shop.id
    )
    assert posted_events == 5  # the draft, two invoices, two payments


async def test_an_order_named_like_a_test_order_still_waits(
    pool: Pool, vault: Vault, visma: VismaConnect, sandbox_server: LiveSandbox, poster: Poster
) -> None:
    """A test order is known by what the shop page recorded, not by its id."""
    shop = await unactivated_shop(pool, vault, sandbox_server, visma)
    recorded = await ingest(pool, shop, paid("test-20261207-101010-abcd"))
    invoice = recorded.receipt["documents"][0]["id"]

    assert (await post(poster, invoice)).outcome is Outcome.AWAITING_ACTIVATION
    assert await pool.fetchval("SELECT state FROM documents WHERE id = $1", invoice) == (
        "awaiting_activation"
    )


async def test_an_order_cancelled_while_it_waits_is_never_posted(
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
    poster: Poster,
) -> None:
    """Nothing of a held order reached Dinero, so cancelling it cancels all it was owed
    (no credit note for an invoice that was never sent), and activating sends nothing."""
    shop = await unactivated_shop(pool, vault, sandbox_server, visma)
    await ingest(pool, shop, paid("4001", occurred_at="2026-11-24T10:00:00Z"))
    assert await post_all(poster, pool, shop.id) == [Outcome.AWAITING_ACTIVATION]
    cancel = paid("4001", occurred_at="2026-11-26T10:00:00Z")
    cancel["type"] = "order.cancelled"

    await ingest(pool, shop, cancel)

    assert {state for _, state in (await states(pool, shop.id)).values()} == {"cancelled"}
    activated = await activate(pool, shop.id, now=datetime.now(UTC))
    assert activated is not None and activated.released == ()
    assert await post_all(poster, pool, shop.id) == []
    assert await stored(http, sandbox_server) == []


async def test_an_activated_shops_documents_are_never_held(pool: Pool, vault: Vault) -> None:
    shop, _, _ = await make_shop(pool, vault)
    document_id = await make_document(pool, shop.id, await make_order(pool, shop.id))
    assert not await activation.hold_if_inactive(pool, document_id, now=datetime.now(UTC))
    assert await pool.fetchval("SELECT state FROM documents WHERE id = $1", document_id) == (
        "queued"
    )


async def waiting_for_lock(pool: Pool) -> None:
    """Until a session of the test's pool waits on a row lock (the step the test stages)."""
    waits = (
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database() AND pid <> pg_backend_pid())"
    )
    while not await pool.fetchval(waits):  # noqa: ASYNC110 - progress lives in Postgres
        await asyncio.sleep(0.01)


async def test_a_hold_that_meets_an_activation_waits_and_then_lets_the_document_go(
    pool: Pool, vault: Vault
) -> None:
    shop, _, _ = await make_shop(pool, vault, activated=False)
    order_id = await make_order(pool, shop.id, order_body("3001"))
    document_id = await make_document(
        pool, shop.id, order_id, next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        activating = conn.transaction()
        await activating.start()
        await conn.execute("UPDATE shops SET activated_at = $2 WHERE id = $1", shop.id, now)
        hold = asyncio.create_task(activation.hold_if_inactive(pool, document_id, now=now))
        await asyncio.wait_for(waiting_for_lock(pool), timeout=30)
        assert await activation.release(conn, shop.id, now=now) == []
        await activating.commit()
    assert not await asyncio.wait_for(hold, timeout=30)
    assert await pool.fetchval("SELECT state FROM documents WHERE id = $1", document_id) == (
        "queued"
    )


async def test_an_activation_that_meets_a_hold_waits_and_then_releases_the_document(
    pool: Pool, vault: Vault
) -> None:
    shop, _, _ = await make_shop(pool, vault, activated=False)
    order_id = await make_order(pool, shop.id, order_body("3002"))
    document_id = await make_document(
        pool, shop.id, order_id, next_attempt_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        holding = conn.transaction()  # what `hold_if_inactive` does, stopped before commit
        await holding.start()
        await conn.fetchval("SELECT 1 FROM shops WHERE id = $1 FOR SHARE", shop.id)
        await conn.execute(
            "UPDATE documents SET state = 'awaiting_activation' WHERE id = $1", document_id
        )
        activating = asyncio.create_task(activate(pool, shop.id, now=now))
        await asyncio.wait_for(waiting_for_lock(pool), timeout=30)
        await holding.commit()
    activated = await asyncio.wait_for(activating, timeout=30)
    assert activated is not None and [r.id for r in activated.released] == [document_id]
    assert await pool.fetchval("SELECT state FROM documents WHERE id = $1", document_id) == (
        "queued"
    )
