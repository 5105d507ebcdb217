"""Webhook deliveries: which topics an order change sends, their signature and headers,
retries on Shopify's (scaled) schedule, giving up, and the delivery faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from gateway.shopify import install
from gateway.shopify.admin import WEBHOOK_TOPICS, AdminApi
from tests.sandbox.shopify.conftest import (
    API_VERSION,
    CALLBACK_URL,
    SECRET,
    SHOP,
    Receiver,
    order_json,
    wait_for,
)

BASE = f"/_sandbox/shopify/stores/{SHOP}"


@pytest.fixture
async def subscribed(admin: AdminApi) -> AdminApi:
    """The store with the gateway's subscriptions, as `gateway.shopify.admin` makes them."""
    for topic in WEBHOOK_TOPICS:
        await admin.subscribe(topic, CALLBACK_URL)
    return admin


async def _log(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get(f"{BASE}/deliveries")
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


async def _logged(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    """The delivery log once it has `count` attempts (polled: sends run in the background)."""
    log: list[dict[str, Any]] = []
    for _ in range(1000):
        log = await _log(client)
        if len(log) >= count:
            return log
        await asyncio.sleep(0.005)
    raise AssertionError(f"the log has {len(log)} attempts, not {count}")


async def _post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"{BASE}{path}", json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.usefixtures("subscribed")
async def test_a_delivery_is_signed_with_the_apps_secret(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    order = order_json(1001)
    await _post(client, "/orders", order)
    await _logged(client, 1)
    delivery = receiver.received[0]
    assert install.webhook_is_authentic(
        delivery.body, delivery.headers["x-shopify-hmac-sha256"], SECRET
    )
    headers = delivery.headers
    assert headers["x-shopify-topic"] == "orders/create"
    assert headers["x-shopify-shop-domain"] == SHOP
    assert headers["x-shopify-api-version"] == API_VERSION
    assert headers["content-type"] == "application/json"
    for name in ("x-shopify-webhook-id", "x-shopify-event-id", "x-shopify-triggered-at"):
        assert headers[name]
    body = json.loads(delivery.body)
    assert body["id"] == 1001 and body["line_items"] == order["line_items"]
    assert body["updated_at"] == "2026-11-24T10:00:00Z"  # set to now when not given
    log = await _log(client)
    assert [(d["topic"], d["attempt"], d["status_code"], d["outcome"]) for d in log] == [
        ("orders/create", 1, 200, "delivered")
    ]
    assert log[0]["event_id"] == headers["x-shopify-event-id"]


@pytest.mark.usefixtures("subscribed")
async def test_each_change_sends_the_topics_shopify_would(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    async def topics_of(path: str, body: dict[str, Any]) -> set[str]:
        before = len(receiver.received)
        sent = (await _post(client, path, body))["webhooks"]
        await wait_for(lambda: len(receiver.received) == before + len(sent))
        return {d.headers["x-shopify-topic"] for d in receiver.received[before:]}

    assert await topics_of("/orders", order_json(1001)) == {"orders/create"}
    paid = order_json(1001, financial_status="paid")
    assert await topics_of("/orders", paid) == {"orders/updated", "orders/paid"}
    assert await topics_of("/orders", paid) == {"orders/updated"}
    shipped = order_json(1001, financial_status="paid", fulfillment_status="fulfilled")
    assert await topics_of("/orders", shipped) == {"orders/updated", "orders/fulfilled"}
    cancelled = {**shipped, "cancelled_at": "2026-11-25T10:00:00Z"}
    assert await topics_of("/orders", cancelled) == {"orders/updated", "orders/cancelled"}
    new_and_paid = order_json(1002, financial_status="paid")
    assert await topics_of("/orders", new_and_paid) == {"orders/create", "orders/paid"}

    refund = {
        "id": 7001,
        "note": "Too small",
        "refund_line_items": [{"line_item_id": 10021, "quantity": 1, "subtotal": "50.00"}],
        "transactions": [{"kind": "refund", "status": "success", "amount": "50.00"}],
    }
    assert await topics_of("/orders/1002/refunds", refund) == {"refunds/create", "orders/updated"}
    bodies = {d.headers["x-shopify-topic"]: json.loads(d.body) for d in receiver.received[-2:]}
    assert bodies["refunds/create"]["order_id"] == 1002
    assert bodies["refunds/create"]["refund_line_items"] == refund["refund_line_items"]
    assert bodies["orders/updated"]["financial_status"] == "partially_refunded"
    assert [r["id"] for r in bodies["orders/updated"]["refunds"]] == [7001]


@pytest.mark.usefixtures("subscribed")
async def test_a_failing_receiver_is_retried_then_given_up(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await client.post("/_sandbox/shopify/faults", json={"retry_scale": 1_000_000})
    receiver.statuses = [500] * 20
    await _post(client, "/orders", order_json(1001))
    log = await _logged(client, 9)
    assert len(receiver.received) == 9
    assert [d["attempt"] for d in log] == list(range(1, 10))  # the first send and 8 retries
    assert [d["outcome"] for d in log] == ["failed"] * 8 + ["given_up"]
    assert {d["status_code"] for d in log} == {500}
    assert len({d["webhook_id"] for d in log}) == 1
    assert len({d["event_id"] for d in log}) == 1
    assert len({d.body for d in receiver.received}) == 1  # the original payload every time


@pytest.mark.usefixtures("subscribed")
async def test_a_receiver_that_recovers_gets_the_delivery(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await client.post("/_sandbox/shopify/faults", json={"retry_scale": 1_000_000})
    receiver.statuses = [503, 500]
    await _post(client, "/orders", order_json(1001))
    log = await _logged(client, 3)
    assert [(d["attempt"], d["outcome"]) for d in log] == [
        (1, "failed"),
        (2, "failed"),
        (3, "delivered"),
    ]


@pytest.mark.usefixtures("subscribed")
async def test_a_dropped_delivery_never_arrives(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await client.post("/_sandbox/shopify/faults", json={"drop_rate": 1})
    await _post(client, "/orders", order_json(1001))
    await client.post("/_sandbox/shopify/faults", json={})
    await _post(client, "/orders", order_json(1002))
    log = await _logged(client, 2)
    assert json.loads(receiver.received[0].body)["id"] == 1002
    assert [(d["outcome"], d["attempt"]) for d in log] == [("dropped", 0), ("delivered", 1)]


@pytest.mark.usefixtures("subscribed")
async def test_a_duplicate_keeps_its_event_id(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await client.post("/_sandbox/shopify/faults", json={"duplicate_rate": 1})
    await _post(client, "/orders", order_json(1001))
    await wait_for(lambda: len(receiver.received) == 2)
    first, second = (d.headers for d in receiver.received)
    assert first["x-shopify-event-id"] == second["x-shopify-event-id"]
    assert first["x-shopify-webhook-id"] != second["x-shopify-webhook-id"]


@pytest.mark.usefixtures("subscribed")
async def test_delayed_and_reordered_deliveries_all_arrive(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await client.post("/_sandbox/shopify/faults", json={"delay_ms": 20, "reorder": True})
    for n in range(1001, 1011):
        await _post(client, "/orders", order_json(n))
    await wait_for(lambda: len(receiver.received) == 10)
    ids = [json.loads(d.body)["id"] for d in receiver.received]
    assert sorted(ids) == list(range(1001, 1011))


@pytest.mark.usefixtures("subscribed")
async def test_uninstall_tells_the_app_then_revokes_it(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    answer = await _post(client, "/uninstall", {})
    assert answer["uninstalled"] == ["sandbox-shopify-app"]
    await wait_for(lambda: receiver.topics() == ["app/uninstalled"])
    body = json.loads(receiver.received[0].body)
    assert body["myshopify_domain"] == SHOP
    await _post(client, "/orders", order_json(1001))  # no subscriptions left: nothing sent
    assert len(await _log(client)) == 1


@pytest.mark.usefixtures("subscribed")
@pytest.mark.parametrize(
    ("topic", "keys"),
    [
        ("customers/data_request", {"shop_id", "shop_domain", "orders_requested", "customer",
                                    "data_request"}),
        ("customers/redact", {"shop_id", "shop_domain", "customer", "orders_to_redact"}),
        ("shop/redact", {"shop_id", "shop_domain"}),
    ],
)  # fmt: skip
async def test_privacy_webhooks_carry_the_documented_bodies(
    client: httpx.AsyncClient, receiver: Receiver, topic: str, keys: set[str]
) -> None:
    await _post(client, f"/privacy/{topic}", {})
    await wait_for(lambda: receiver.topics() == [topic])
    body = json.loads(receiver.received[0].body)
    assert set(body) == keys
    assert body["shop_domain"] == SHOP


async def test_faults_are_checked_and_cleared(client: httpx.AsyncClient) -> None:
    bad = await client.post("/_sandbox/shopify/faults", json={"drop_rate": 2})
    assert bad.status_code == 400
    unknown = await client.post("/_sandbox/shopify/faults", json={"error_rate": 0.5})
    assert unknown.status_code == 400
    set_ = await client.post("/_sandbox/shopify/faults", json={"reorder": True, "delay_ms": 5})
    assert set_.json()["reorder"] is True
    cleared = (await client.post("/_sandbox/shopify/faults", json={})).json()
    assert cleared == {
        "drop_rate": 0.0,
        "duplicate_rate": 0.0,
        "delay_ms": 0.0,
        "reorder": False,
        "retry_scale": 1.0,
    }


@pytest.mark.usefixtures("store_url")
async def test_control_input_is_checked(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{BASE}/orders", json={"name": "#1"})).status_code == 400
    assert (await client.post(f"{BASE}/orders", content=b"[1]")).status_code == 400
    missing = "/_sandbox/shopify/stores/nobody.myshopify.com/orders"
    assert (await client.post(missing, json=order_json(1))).status_code == 404
    assert (await client.post(f"{BASE}/orders/99/refunds", json={})).status_code == 404
    assert (await client.post(f"{BASE}/privacy/orders/create", json={})).status_code == 404
