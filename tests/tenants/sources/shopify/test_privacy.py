"""Shopify's mandatory privacy webhooks: each is acted on and logged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from gateway.db import Pool
from gateway.orders import parse_event
from gateway.secret import Secret
from gateway.vault import Vault
from tenants.shops.ingest_secrets import shop_for_ingest
from tenants.sources.delivery import Delivery, ingest
from tenants.sources.shopify import privacy, repository
from tests.factories import make_shop
from tests.web.test_ingest import event

STORE = "privacy-store.myshopify.com"


async def shop_with_orders(pool: Pool, vault: Vault, *order_ids: str) -> UUID:
    shop, _, _ = await make_shop(pool, vault)
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        await repository.connect(
            conn, vault, shop_id=shop.id, store=STORE, token=Secret("shpat_t"), scopes="", now=now
        )
        ingest_shop = await shop_for_ingest(conn, vault, shop.id, now)
        assert ingest_shop is not None
        for order_id in order_ids:
            body = event("order.created", **{"order/id": order_id})
            parsed = parse_event(body)
            await ingest(conn, Delivery(ingest_shop, parsed, parsed.id.encode()))
    return shop.id


async def handle(pool: Pool, topic: str, payload: dict[str, Any]) -> str:
    async with pool.acquire() as conn:
        return await privacy.handle(conn, topic=topic, store=STORE, payload=payload)


async def logged(pool: Pool) -> list[Any]:
    return await pool.fetch("SELECT topic, shop_id, action FROM privacy_requests ORDER BY id")


async def test_a_data_request_lists_the_orders_held(pool: Pool, vault: Vault) -> None:
    shop_id = await shop_with_orders(pool, vault, "501", "502")
    payload = {"shop_domain": STORE, "customer": {"id": 7}, "orders_requested": [501, 999]}
    action = await handle(pool, "customers/data_request", payload)
    assert action == "held 1 of the 2 orders named: 501"
    [row] = await logged(pool)
    assert (row["topic"], row["shop_id"]) == ("customers/data_request", shop_id)


async def test_a_redact_blanks_the_customer_in_the_orders_named_only(
    pool: Pool, vault: Vault
) -> None:
    await shop_with_orders(pool, vault, "601", "602")
    payload = {"shop_domain": STORE, "customer": {"id": 7}, "orders_to_redact": [601]}
    assert await handle(pool, "customers/redact", payload) == (
        "redacted the customer in 1 stored orders"
    )
    redacted = await pool.fetchval("SELECT payload FROM orders WHERE external_id = '601'")
    kept = await pool.fetchval("SELECT payload FROM orders WHERE external_id = '602'")
    for field in ("name", "email", "phone"):
        assert redacted["customer"][field] is None
    assert redacted["customer"]["address"]["street"] is None
    assert redacted["customer"]["address"]["country"] == kept["customer"]["address"]["country"]
    assert kept["customer"]["email"] and kept["customer"]["name"]


async def test_a_shop_redact_removes_the_source(pool: Pool, vault: Vault) -> None:
    await shop_with_orders(pool, vault)
    await handle(pool, "shop/redact", {"shop_domain": STORE, "shop_id": 1})
    assert await repository.by_store(pool, vault, STORE) is None
    assert [r["topic"] for r in await logged(pool)] == ["shop/redact"]


async def test_a_request_for_an_unknown_store_is_still_logged(pool: Pool) -> None:
    action = await handle(pool, "customers/redact", {"orders_to_redact": [1, "x"]})
    assert action == "redacted the customer in 0 stored orders"
    [row] = await logged(pool)
    assert row["shop_id"] is None
