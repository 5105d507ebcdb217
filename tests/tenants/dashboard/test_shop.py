"""The owner pages' questions (tenants/dashboard/shop.py): right answers, only the shop's own
rows, and plans that stay on the indexes when a shop has many documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from gateway.accounting import AccountPlan, invoice_for
from gateway.db import Pool
from gateway.orders import parse_order
from gateway.vault import Vault
from tenants.dashboard import documents as shop_documents
from tenants.dashboard import sample_order as sample_orders
from tenants.dashboard import shop as dashboard
from tenants.shops import repository as shops
from tests.factories import make_shop, make_user
from tests.tenants.outbox.test_outbox import make_document, make_order
from tests.web.test_admin import add_document, make_connection


async def shop_id(pool: Pool, vault: Vault, **kwargs: Any) -> UUID:
    shop, _, _ = await make_shop(pool, vault, **kwargs)
    return shop.id


async def event(pool: Pool, shop: UUID, document_id: int | None, kind: str, at: datetime) -> None:
    await pool.execute(
        "INSERT INTO events (shop_id, document_id, kind, message, created_at) "
        "VALUES ($1, $2, $3, 'test', $4)",
        shop,
        document_id,
        kind,
        at,
    )


async def many_documents(pool: Pool, shop: UUID, count: int, *, prefix: str = "bulk") -> None:
    """`count` orders with one invoice each, one second apart, every tenth one failed."""
    await pool.execute(
        """
        WITH o AS (
            INSERT INTO orders (shop_id, external_id, number, currency, total, payload,
                                ordered_at, last_event_at)
            SELECT $1, $3 || '-' || g, (10000 + g)::text, 'DKK', 100, '{}',
                   now() - make_interval(secs => g), now()
            FROM generate_series(1, $2) AS g
            RETURNING id, shop_id, ordered_at
        )
        INSERT INTO documents (shop_id, order_id, kind, state, currency, amount, client_guid,
                               external_reference, created_at)
        SELECT shop_id, id, 'invoice', CASE WHEN id % 10 = 0 THEN 'failed' ELSE 'queued' END,
               'DKK', 100, gen_random_uuid(), 'ref-' || id, ordered_at
        FROM o
        """,
        shop,
        count,
        prefix,
    )


# --- the shop list ---------------------------------------------------------------------------


async def test_shop_list_badges_in_one_query_and_only_the_users_shops(
    pool: Pool, vault: Vault
) -> None:
    owner = await make_user(pool)
    names = ("A not connected", "B connected", "C needs reconnect", "D failing")
    ids = {name: await shop_id(pool, vault, name=name, owner=owner) for name in names}
    await make_connection(pool, organization_id=1, name="Org", shop_ids=(ids["B connected"],))
    await make_connection(
        pool,
        organization_id=2,
        name="Gone",
        status="needs_reconnect",
        shop_ids=(ids["C needs reconnect"],),
    )
    await make_connection(pool, organization_id=3, name="Busy", shop_ids=(ids["D failing"],))
    order = await make_order(pool, ids["D failing"])
    await make_document(pool, ids["D failing"], order, state="failed")
    await shop_id(pool, vault, name="Someone else's")

    listed = await dashboard.shops_for_user(pool, owner.id)

    assert [(s.name, s.badge) for s in listed] == [
        ("A not connected", "not_connected"),
        ("B connected", "connected"),
        ("C needs reconnect", "needs_reconnect"),
        ("D failing", "failing"),
    ]
    assert listed[3].failed_documents == 1 and listed[1].organization_name == "Org"


# --- the shop page ---------------------------------------------------------------------------


async def test_health_counts_and_the_last_post(pool: Pool, vault: Vault) -> None:
    shop = await shop_id(pool, vault)
    other = await shop_id(pool, vault)
    now = datetime.now(UTC)
    states = ("queued", "waiting", "failed", "failed", "needs_reconnect", "posted")
    for state in (*states, "awaiting_activation", "awaiting_activation"):
        await add_document(pool, shop, state=state)
    await add_document(pool, other, state="failed")
    await event(pool, shop, None, "document.posted", now - timedelta(hours=30))
    await event(pool, shop, None, "document.posted", now - timedelta(hours=2))
    await event(pool, shop, None, "document.posted", now - timedelta(minutes=5))
    await event(pool, other, None, "document.posted", now)

    health = await dashboard.health(pool, shop, now=now)

    assert (health.queued, health.failed, health.parked) == (2, 2, 1)
    assert health.awaiting_activation == 2
    assert health.posted_recently == 2
    assert health.last_posted_at is not None
    assert abs(health.last_posted_at - (now - timedelta(minutes=5))) < timedelta(seconds=1)
    nothing = await dashboard.health(pool, await shop_id(pool, vault), now=now)
    assert nothing == dashboard.Health(0, 0, 0, 0, 0, None)


async def test_counts_stop_at_the_cap(pool: Pool, vault: Vault) -> None:
    shop = await shop_id(pool, vault)
    await many_documents(pool, shop, dashboard.COUNT_CAP + 200)
    health = await dashboard.health(pool, shop, now=datetime.now(UTC))
    counts = await shop_documents.state_counts(pool, shop)
    assert health.queued == dashboard.COUNT_CAP and counts["queued"] == dashboard.COUNT_CAP
    assert counts["failed"] == (dashboard.COUNT_CAP + 200) // 10 and counts["posted"] == 0


# --- the test order and activation -----------------------------------------------------------


async def test_a_test_order_is_recorded_like_ingest_with_a_draft_invoice(
    pool: Pool, vault: Vault
) -> None:
    shop = await shop_id(pool, vault, activated=False)
    # Whatever the shop's own settings say, the test posts at once and as a draft.
    await pool.execute("UPDATE shops SET trigger = 'shipped', mode = 'booked' WHERE id = $1", shop)
    now = datetime.now(UTC)

    sent = await sample_orders.send_test_order(pool, shop, now=now)

    document = await pool.fetchrow(
        "SELECT d.kind, d.state, d.mode, d.amount, o.external_id, o.number, o.payload "
        "FROM documents d JOIN orders o ON o.id = d.order_id WHERE d.id = $1 AND d.shop_id = $2",
        sent.document_id,
        shop,
    )
    assert document is not None
    assert (document["kind"], document["state"], document["mode"]) == ("invoice", "queued", "draft")
    assert document["external_id"].startswith("test-") and document["number"].startswith("TEST-")
    assert document["amount"] == Decimal("100.00") and sent.enqueue == (sent.document_id,)
    # The stored order is one the accounting turns into an invoice, with the shop's text.
    order = parse_order(document["payload"])
    draft = invoice_for(
        order,
        shop_name="Sokker",
        text_template="{shop} {number}",
        plan=AccountPlan(),
        language="da-DK",
    )
    assert draft.totals.total_incl_vat == Decimal("100.00")
    assert draft.description == f"Sokker {document['number']}"
    # The guide finds it; a second one gets ids of its own.
    setup = await dashboard.setup(pool, shop)
    assert setup.test_order is not None and setup.test_order.document_id == sent.document_id
    again = await sample_orders.send_test_order(pool, shop, now=now)
    assert again.document_id != sent.document_id and again.order_number != sent.order_number
    latest = (await dashboard.setup(pool, shop)).test_order
    assert latest is not None and latest.document_id == again.document_id


async def test_a_test_order_for_a_missing_shop_is_refused(pool: Pool) -> None:
    with pytest.raises(LookupError):
        await sample_orders.send_test_order(pool, UUID(int=1), now=datetime.now(UTC))


async def test_activation_happens_once(pool: Pool, vault: Vault) -> None:
    shop = await shop_id(pool, vault, activated=False)
    now = datetime.now(UTC)
    assert (await dashboard.setup(pool, shop)).activated_at is None
    async with pool.acquire() as conn, conn.transaction():
        assert await shops.activate(conn, shop, now=now)
    async with pool.acquire() as conn, conn.transaction():
        assert not await shops.activate(conn, shop, now=now + timedelta(hours=1))
    setup = await dashboard.setup(pool, shop)
    assert setup.activated_at is not None and abs(setup.activated_at - now) < timedelta(seconds=1)
    kinds = await pool.fetch("SELECT kind FROM events WHERE shop_id = $1", shop)
    assert [r["kind"] for r in kinds] == ["shop.activated"]


# --- documents -------------------------------------------------------------------------------


async def test_pages_filters_and_search(pool: Pool, vault: Vault) -> None:
    shop = await shop_id(pool, vault)
    other = await shop_id(pool, vault)
    await many_documents(pool, shop, 25)
    await many_documents(pool, other, 5, prefix="theirs")

    first = await shop_documents.documents_page(pool, shop, size=10)
    assert len(first.items) == 10 and first.newer is None and first.older is not None
    assert [d.created_at for d in first.items] == sorted(
        (d.created_at for d in first.items), reverse=True
    )
    second = await shop_documents.documents_page(pool, shop, before=first.older, size=10)
    third = await shop_documents.documents_page(pool, shop, before=second.older, size=10)
    assert len(third.items) == 5 and third.older is None and third.newer is not None
    seen = [d.id for page in (first, second, third) for d in page.items]
    assert len(set(seen)) == 25
    back = await shop_documents.documents_page(pool, shop, after=third.newer, size=10)
    assert [d.id for d in back.items] == [d.id for d in second.items]
    assert back.newer is not None and back.older is not None
    top = await shop_documents.documents_page(pool, shop, after=second.newer, size=10)
    assert [d.id for d in top.items] == [d.id for d in first.items] and top.newer is None

    failed = await shop_documents.documents_page(pool, shop, state="failed")
    assert failed.items and all(d.state == "failed" for d in failed.items)
    assert await shop_documents.documents_page(
        pool, shop, state="posted"
    ) == shop_documents.DocumentPage([], None, None)

    by_number = await shop_documents.documents_page(pool, shop, search="10003")
    by_id = await shop_documents.documents_page(pool, shop, search="bulk-3")
    assert [d.order_number for d in by_number.items] == ["10003"]
    assert by_id.items == by_number.items
    # Another shop's order numbers and document ids find nothing here.
    assert not (await shop_documents.documents_page(pool, shop, search="theirs-1")).items
    theirs = await pool.fetchval("SELECT max(id) FROM documents WHERE shop_id = $1", other)
    assert not (await shop_documents.documents_page(pool, shop, before=theirs)).items


async def test_a_document_with_its_family_and_timeline(pool: Pool, vault: Vault) -> None:
    shop = await shop_id(pool, vault)
    order = await make_order(pool, shop)
    invoice = await make_document(pool, shop, order)
    await pool.execute(
        "UPDATE documents SET state = 'posted', posted_at = now() WHERE id = $1", invoice
    )
    note = await make_document(
        pool, shop, order, kind="credit_note", seq=1, source_ref="r1", parent_id=invoice
    )
    now = datetime.now(UTC)
    await event(pool, shop, invoice, "document.failed", now - timedelta(minutes=2))
    await event(pool, shop, invoice, "document.posted", now - timedelta(minutes=1))

    detail = await shop_documents.document_detail(pool, shop, invoice)
    assert detail is not None
    assert detail.parent is None and [c.id for c in detail.children] == [note]
    assert [e.kind for e in detail.timeline] == ["document.failed", "document.posted"]
    assert detail.order_number == "1001" and detail.settled and not detail.retryable

    credit = await shop_documents.document_detail(pool, shop, note)
    assert credit is not None and credit.parent is not None and credit.parent.id == invoice
    assert credit.children == [] and not credit.settled

    stranger = await shop_id(pool, vault)
    assert await shop_documents.document_detail(pool, stranger, invoice) is None
    assert not await shop_documents.document_exists(pool, stranger, invoice)
    assert await shop_documents.document_exists(pool, shop, invoice)


def literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def generic_plan(pool: Pool, call: Any) -> str:
    """The generic plan (the one a prepared statement settles on after a few runs, made
    without looking at the values) of the query `call(conn)` sends, as JSON text."""

    class Recorder:
        query = ""
        args: tuple[Any, ...] = ()

        async def fetch(self, query: str, *args: Any) -> list[Any]:
            Recorder.query, Recorder.args = query, args
            return []

    await call(Recorder())
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute(f"PREPARE page AS {Recorder.query}")
        values = ", ".join(literal(v) for v in Recorder.args)
        plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE page({values})")
        await conn.execute("DEALLOCATE page")
    return json.dumps(plan, default=str)


async def test_document_pages_stay_on_their_indexes(pool: Pool, vault: Vault) -> None:
    """Many small shops and one big one, as in production: a generic plan then expects a
    shop to have few documents, and must still not read all of the big shop's."""
    shop = await shop_id(pool, vault)
    await many_documents(pool, shop, 5000)
    await pool.execute(
        "INSERT INTO shops (name, slug, ingest_secret_enc) "
        "SELECT 'Small ' || g, 'small-' || g, 'unused' FROM generate_series(1, 500) AS g"
    )
    for n, small in enumerate(await pool.fetch("SELECT id FROM shops WHERE slug LIKE 'small-%'")):
        await many_documents(pool, small["id"], 10, prefix=f"s{n}")
    await pool.execute("ANALYZE orders; ANALYZE documents")
    cursor = await pool.fetchval("SELECT min(id) + 2500 FROM documents WHERE shop_id = $1", shop)

    def page(**kwargs: Any) -> Any:
        return lambda conn: shop_documents.documents_page(conn, shop, **kwargs)

    for kwargs, index in [
        ({}, "documents_shop_created_idx"),
        ({"before": cursor}, "documents_shop_created_idx"),
        ({"after": cursor}, "documents_shop_created_idx"),
        ({"state": "failed"}, "documents_shop_state_idx"),
        ({"state": "failed", "before": cursor}, "documents_shop_state_idx"),
    ]:
        plan = await generic_plan(pool, page(**kwargs))
        assert index in plan, (kwargs, plan)
        for slow in ('"Sort"', "Seq Scan", "Materialize", "Hash", "Bitmap"):
            assert slow not in plan, (kwargs, slow, plan)
    searched = await generic_plan(pool, page(search="12345"))
    # A number's beginning is a range read from the index, not a filter over every order.
    assert "orders_shop_number_prefix_idx" in searched and "~>=~" in searched, searched
    assert "Seq Scan" not in searched, searched


async def test_settlement_facts_of_a_document_and_its_payments(pool: Pool, vault: Vault) -> None:
    shop = await shop_id(pool, vault)
    order = await make_order(pool, shop)
    invoice = await make_document(pool, shop, order)
    payment = await make_document(
        pool,
        shop,
        order,
        kind="payment",
        seq=1,
        source_ref="order",
        parent_id=invoice,
        payload={"method": "mobilepay", "paid_at": None, "reference": None},
        amount=Decimal("100.00"),
    )
    await pool.execute(
        "UPDATE documents SET state = 'posted', posted_at = now(), backend_status = 'Paid', "
        "settlement_account = 55020 WHERE id = $1",
        payment,
    )

    detail = await shop_documents.document_detail(pool, shop, payment)
    assert detail is not None and detail.parent is not None and detail.parent.id == invoice
    assert (detail.settlement_account, detail.payment_method) == (55020, "mobilepay")
    assert detail.backend_status == "Paid" and detail.file_guid is None
    of_invoice = await shop_documents.document_detail(pool, shop, invoice)
    assert of_invoice is not None and of_invoice.followers == []
    [paid] = of_invoice.payments
    assert (paid.id, paid.backend_status, paid.amount, paid.currency) == (
        payment,
        "Paid",
        Decimal("100.00"),
        "DKK",
    )
    page = await shop_documents.documents_page(pool, shop)
    statuses = {row.id: row.payment_status for row in page.items}
    assert statuses == {invoice: "Paid", payment: "Paid"}
    # A cancelled payment (payments turned off before it was sent) pays nothing.
    await pool.execute(
        "UPDATE documents SET state = 'cancelled', posted_at = NULL, backend_status = NULL "
        "WHERE id = $1",
        payment,
    )
    page = await shop_documents.documents_page(pool, shop)
    assert {row.id: row.payment_status for row in page.items} == {invoice: None, payment: None}
