"""A shop's Shopify source against real Postgres: webhooks applied by the order's state,
reconcile finding what the webhooks missed, backfill paced by the posting backlog. Shopify's
Admin API is a fake here that serves pages of REST-shaped orders (the client itself is
tests/gateway/shopify/test_admin.py's; the sandbox plays Shopify end to end elsewhere)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from uuid import UUID

import httpx
import pytest

from gateway.db import Pool
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.shopify.admin import AdminApi, OrdersPage, Unauthorized
from gateway.vault import Vault
from tenants.dashboard.sources import sources_of
from tenants.sources.shopify import backfill, reconcile, repository, webhooks
from tests.factories import make_shop
from tests.shopify_orders import STORE, order, refund

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@dataclass
class FakeAdmin:
    """Serves `orders` in pages of `page_size`, recording each search."""

    orders: list[dict[str, Any]]
    page_size: int = 2
    unauthorized: bool = False
    searches: list[tuple[str, str | None, str]] = field(default_factory=list)
    calls: int = 0

    async def orders_page(self, search: str, after: str | None, sort: str) -> OrdersPage:
        self.calls += 1
        self.searches.append((search, after, sort))
        if self.unauthorized:
            raise Unauthorized()
        start = int(after or 0)
        end = start + self.page_size
        return OrdersPage(self.orders[start:end], str(end) if end < len(self.orders) else None)

    async def count(self, search: str) -> int:
        self.calls += 1
        return len(self.orders)

    def api(self) -> AdminApi:
        fake = self

        class Api:
            calls = 0

            async def orders(
                self, search: str, after: str | None = None, *, sort: str = "UPDATED_AT"
            ) -> OrdersPage:
                return await fake.orders_page(search, after, sort)

            async def count(self, search: str) -> int:
                return await fake.count(search)

        return cast(AdminApi, Api())


async def connected(pool: Pool, vault: Vault, *, at: datetime = NOW) -> repository.Source:
    shop, _, _ = await make_shop(pool, vault)
    async with pool.acquire() as conn:
        source_id = await repository.connect(
            conn, vault, shop_id=shop.id, store=STORE, token=Secret("shpat_t"), scopes="", now=at
        )
    source = await repository.by_id(pool, vault, source_id)
    assert source is not None
    return source


async def deliver(pool: Pool, vault: Vault, topic: str, body: dict[str, Any]) -> webhooks.Handled:
    async with pool.acquire() as conn:
        return await webhooks.handle(
            conn, vault, topic=topic, store=STORE, body=json.dumps(body).encode(), now=NOW
        )


async def documents(pool: Pool, shop_id: UUID) -> list[tuple[str, str]]:
    rows = await pool.fetch(
        "SELECT d.kind, d.amount::text AS amount FROM documents d WHERE d.shop_id = $1 "
        "ORDER BY d.id",
        shop_id,
    )
    return [(r["kind"], r["amount"]) for r in rows]


async def test_an_order_is_applied_by_its_state_whatever_the_order_of_its_webhooks(
    pool: Pool, vault: Vault
) -> None:
    source = await connected(pool, vault)
    paid = order(1001)
    refunded = refund(paid, 55)
    later = dict(paid, financial_status="partially_refunded", refunds=[refunded])

    first = await deliver(pool, vault, "orders/create", paid)
    assert first.outcome == "2 new facts" and len(first.enqueue) == 1
    assert (await deliver(pool, vault, "orders/paid", paid)).outcome == "0 new facts"
    assert (await deliver(pool, vault, "refunds/create", refunded)).outcome == "1 new facts"
    # orders/updated after the refund, and a late orders/paid: nothing new.
    assert (await deliver(pool, vault, "orders/updated", later)).outcome == "0 new facts"
    assert (await deliver(pool, vault, "orders/paid", paid)).outcome == "0 new facts"
    assert await documents(pool, source.shop.id) == [
        ("invoice", "250.00"),
        ("credit_note", "100.00"),
    ]
    card = (await sources_of(pool, source.shop.id))[0]
    assert card.last_delivery_at == NOW and card.problem_count == 0


async def test_a_refund_of_an_order_not_yet_known_brings_reconcile_forward(
    pool: Pool, vault: Vault
) -> None:
    source = await connected(pool, vault, at=NOW - timedelta(hours=1))
    await pool.execute(
        "UPDATE sources SET reconcile_due_at = $2 WHERE id = $1",
        source.id,
        NOW + timedelta(hours=1),
    )
    handled = await deliver(pool, vault, "refunds/create", refund(order(1002), 56))
    assert "reconcile brought forward" in handled.outcome
    due = await pool.fetchval("SELECT reconcile_due_at FROM sources WHERE id = $1", source.id)
    assert due == NOW
    assert await documents(pool, source.shop.id) == []


async def test_an_order_that_cannot_be_booked_is_shown_and_cleared_once_it_can(
    pool: Pool, vault: Vault
) -> None:
    source = await connected(pool, vault)
    broken = order(1003)
    broken["total_price_set"]["presentment_money"]["amount"] = "250.01"
    handled = await deliver(pool, vault, "orders/create", broken)
    assert handled.enqueue == ()
    [card] = await sources_of(pool, source.shop.id)
    assert card.problem_count == 1
    assert card.problems[0].order_name == "#1003"
    assert "0.01" in card.problems[0].detail
    assert await documents(pool, source.shop.id) == []
    # The shop fixes the order in Shopify: orders/updated carries the fixed state.
    await deliver(pool, vault, "orders/updated", order(1003))
    [card] = await sources_of(pool, source.shop.id)
    assert card.problem_count == 0
    assert await documents(pool, source.shop.id) == [("invoice", "250.00")]


async def test_reconcile_books_what_the_webhooks_missed_once_and_counts_it(
    pool: Pool, vault: Vault, settings: Settings
) -> None:
    source = await connected(pool, vault, at=NOW - timedelta(hours=2))
    delivered = order(2001, updated_at="2026-12-07T10:30:00Z")
    missed = [order(2002 + i, updated_at=f"2026-12-07T11:0{i}:00Z") for i in range(3)]
    await deliver(pool, vault, "orders/create", delivered)
    fake = FakeAdmin([delivered, *missed])
    async with httpx.AsyncClient() as http:
        assert await reconcile.claim_due(pool, NOW) == [source.id]
        assert await reconcile.claim_due(pool, NOW) == []  # claimed: not twice at once
        done = await reconcile.reconcile(
            pool, vault, http, settings, source.id, NOW, api=fake.api()
        )
        assert (done.read, done.found, done.error) == (4, 3, None)
        assert len(done.enqueue) == 3
        search, after, sort = fake.searches[0]
        assert search == (
            "updated_at:>='2026-12-07T09:55:00Z' AND updated_at:<'2026-12-07T11:59:00Z'"
        )
        assert (after, sort) == (None, "UPDATED_AT")
        assert [s[1] for s in fake.searches] == [None, "2"]
        row = await pool.fetchrow("SELECT * FROM sources WHERE id = $1", source.id)
        assert row is not None
        assert row["reconcile_watermark"] == datetime(2026, 12, 7, 11, 2, tzinfo=UTC)
        assert row["found_by_reconcile"] == 3
        assert row["reconcile_due_at"] == NOW + reconcile.EVERY
        # The same orders again: nothing new, nothing counted twice.
        again = await reconcile.reconcile(
            pool, vault, http, settings, source.id, NOW + reconcile.EVERY, api=fake.api()
        )
    assert (again.read, again.found) == (4, 0)
    assert len(await documents(pool, source.shop.id)) == 4
    [card] = await sources_of(pool, source.shop.id)
    assert card.found_by_reconcile == 3


async def test_reconcile_with_a_dead_token_asks_the_owner_to_reconnect(
    pool: Pool, vault: Vault, settings: Settings
) -> None:
    source = await connected(pool, vault)
    fake = FakeAdmin([], unauthorized=True)
    async with httpx.AsyncClient() as http:
        done = await reconcile.reconcile(
            pool, vault, http, settings, source.id, NOW, api=fake.api()
        )
    assert done.error == "unauthorized"
    [card] = await sources_of(pool, source.shop.id)
    assert card.status == "needs_reconnect"
    assert await reconcile.claim_due(pool, NOW + timedelta(days=1)) == []


async def test_backfill_reads_old_orders_paced_by_the_backlog_and_resumes(
    pool: Pool, vault: Vault, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = await connected(pool, vault)
    old = [
        order(3000 + i, created_at=f"2026-11-0{1 + i}T10:00:00Z", updated_at="2026-11-10T00:00:00Z")
        for i in range(5)
    ]
    fake = FakeAdmin(old, page_size=2)
    monkeypatch.setattr(backfill, "PAGES_PER_SLICE", 1)
    monkeypatch.setattr(backfill, "BACKLOG", 3)
    since = datetime(2026, 11, 1, tzinfo=UTC)
    async with pool.acquire() as conn:
        await backfill.start(conn, source.id, since=since, now=NOW)
    async with httpx.AsyncClient() as http:

        async def one_slice(at: datetime = NOW) -> backfill.Slice:
            assert await backfill.claim_due(pool, at) == [source.id]
            return await backfill.run(pool, vault, http, settings, source.id, at, api=fake.api())

        first = await one_slice()
        assert (first.read, first.done) == (2, False)
        assert fake.searches[0] == (
            "created_at:>='2026-11-01T00:00:00Z' AND created_at:<'2026-12-07T12:00:00Z'",
            None,
            "CREATED_AT",
        )
        progress = await backfill.progress(pool, source.id, source.shop.id, "")
        assert progress is not None
        assert (progress.total, progress.read, progress.booked, progress.queued) == (5, 2, 0, 2)
        assert progress.seconds_left is not None and progress.seconds_left > 0
        second = await one_slice()  # resumes from the stored cursor
        assert second.read == 2 and fake.searches[-1][1] == "2"
        # Four documents queued, more than the backlog allows: backfill waits for posting.
        paused = await one_slice()
        assert paused.waiting_for_backlog and paused.read == 0
        await pool.execute(
            "UPDATE documents SET state = 'posted', posted_at = now() WHERE shop_id = $1",
            source.shop.id,
        )
        assert await backfill.claim_due(pool, NOW) == []  # it waits a while
        last = await one_slice(NOW + backfill.PAUSE)
    assert (last.read, last.done) == (1, True)
    progress = await backfill.progress(pool, source.id, source.shop.id, "")
    assert progress is not None
    assert (progress.status, progress.read, progress.booked, progress.percent) == (
        "done",
        5,
        4,
        100,
    )
    assert len(await documents(pool, source.shop.id)) == 5
    assert await backfill.claim_due(pool, NOW + timedelta(hours=1)) == []


async def test_backfill_says_when_shopify_hides_orders_older_than_60_days(
    pool: Pool, vault: Vault
) -> None:
    source = await connected(pool, vault)
    async with pool.acquire() as conn:
        with pytest.raises(backfill.CannotBackfill):
            await backfill.start(conn, source.id, since=NOW + timedelta(days=1), now=NOW)
        await backfill.start(conn, source.id, since=NOW - timedelta(days=90), now=NOW)
    hidden = await backfill.progress(pool, source.id, source.shop.id, "read_orders")
    shown = await backfill.progress(pool, source.id, source.shop.id, "read_orders,read_all_orders")
    assert hidden is not None and hidden.older_than_shopify_shows
    assert hidden.readable_since == NOW - timedelta(days=60)  # what the page names
    assert shown is not None and not shown.older_than_shopify_shows
