"""The store's own admin page: a person trying the gateway places an order and refunds an
item, and Shopify's webhooks follow, carrying orders the gateway books to the øre."""

from __future__ import annotations

from decimal import Decimal

import httpx

from gateway.shopify.admin import AdminApi
from gateway.shopify.mapping import order_events, refund_event
from sandbox.shopify.state import ShopifySandbox
from tests.sandbox.conftest import HtmlForm
from tests.sandbox.shopify.conftest import CALLBACK_URL, SHOP, Receiver, wait_for

ADMIN = f"/_shopify/{SHOP}/admin"


async def test_an_order_placed_and_refunded_on_the_page_reaches_the_app(
    client: httpx.AsyncClient,
    admin: AdminApi,
    receiver: Receiver,
    shopify: ShopifySandbox,
) -> None:
    for topic in ("ORDERS_CREATE", "ORDERS_PAID", "REFUNDS_CREATE"):
        await admin.subscribe(topic, CALLBACK_URL)
    empty = await client.get(ADMIN)
    assert empty.status_code == 200 and "No orders yet" in empty.text
    assert "<script" not in empty.text
    assert [label for _, _, label in HtmlForm(empty.text).buttons] == ["Place a test order"]

    placed = await client.post(f"{ADMIN}/orders")
    assert placed.status_code == 303 and placed.headers["location"] == ADMIN
    [order] = shopify.stores[SHOP].orders.values()
    await wait_for(lambda: receiver.topics() == ["orders/create", "orders/paid"])
    events = order_events(order)
    assert [e.type for e in events] == ["order.created", "order.paid"]
    assert events[0].order.total == Decimal("267.95") == Decimal(order["total_price"])

    page = await client.get(ADMIN)
    assert f'data-order="{order["id"]}"' in page.text and "Refund one item" in page.text
    for _ in range(2):  # one sock, then one hat
        refunded = await client.post(f"{ADMIN}/orders/{order['id']}/refund")
        assert refunded.status_code == 303
    await wait_for(lambda: receiver.topics().count("refunds/create") == 2)
    refunds = [refund_event(events[0].order, r).refund for r in order["refunds"]]
    assert [r.total for r in refunds if r is not None] == [Decimal("79.95"), Decimal("149.00")]
    assert order["financial_status"] == "partially_refunded"
    assert "Refund one item" not in (await client.get(ADMIN)).text  # nothing left but shipping
    again = await client.post(f"{ADMIN}/orders/{order['id']}/refund")
    assert again.status_code == 400


async def test_an_unknown_store_has_no_admin(client: httpx.AsyncClient) -> None:
    assert (await client.get("/_shopify/nowhere.myshopify.com/admin")).status_code == 404
    answer = await client.post("/_shopify/nowhere.myshopify.com/admin/orders")
    assert answer.status_code == 404


async def test_the_sandbox_reset_forgets_the_stores_too(
    client: httpx.AsyncClient, store_url: str, shopify: ShopifySandbox
) -> None:
    await client.post(f"{ADMIN}/orders")
    assert shopify.stores[SHOP].orders
    assert (await client.post("/_sandbox/reset")).status_code == 200
    assert shopify.stores == {}
    assert (await client.get(f"/_sandbox/shopify/stores/{SHOP}/deliveries")).status_code == 404
