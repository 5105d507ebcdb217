"""The WooCommerce sandbox: the key flow, the REST API with its pagination headers, and
deliveries that behave like WooCommerce's (signed, one try, disabled after more than five
failures in a row)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest

from gateway.secret import Secret
from gateway.woocommerce import signature
from gateway.woocommerce.mapping import order_events
from gateway.woocommerce.rest import RestApi, Unauthorized
from tests.sandbox.woocommerce.conftest import (
    HOOK_URL,
    RETURN_URL,
    Receiver,
    approve,
    drain,
    order_json,
    query,
)


async def test_approving_posts_the_keys_to_the_callback_then_returns_the_browser(
    client: httpx.AsyncClient, store_url: str, receiver: Receiver
) -> None:
    location = await approve(client, store_url, state="single-use-state")
    assert location.startswith(RETURN_URL + "?")
    assert query(location) == {"success": "1", "user_id": "single-use-state"}
    [granted] = receiver.keys
    assert set(granted) == {"key_id", "user_id", "consumer_key", "consumer_secret",
                            "key_permissions"}  # fmt: skip
    assert granted["user_id"] == "single-use-state"
    assert granted["key_permissions"] == "read_write"
    assert granted["consumer_key"].startswith("ck_")
    assert granted["consumer_secret"].startswith("cs_")


async def test_a_callback_that_fails_revokes_the_keys(
    client: httpx.AsyncClient, store_url: str, receiver: Receiver
) -> None:
    receiver.callback_status = 500
    page = await client.get(
        f"{store_url}/wc-auth/v1/authorize",
        params={"app_name": "X", "scope": "read_write", "user_id": "s",
                "return_url": RETURN_URL, "callback_url": "http://127.0.0.1:8000/cb"},
    )  # fmt: skip
    assert page.status_code == 200
    answer = await client.post(
        f"{store_url}/wc-auth/v1/authorize",
        data={"app_name": "X", "scope": "read_write", "user_id": "s", "return_url": RETURN_URL,
              "callback_url": "http://127.0.0.1:8000/oauth/woocommerce/callback",
              "decision": "approve"},
    )  # fmt: skip
    assert answer.status_code == 400
    granted = receiver.keys[-1]
    rest = RestApi(
        client, store_url, Secret(granted["consumer_key"]), Secret(granted["consumer_secret"])
    )
    with pytest.raises(Unauthorized):
        await rest.webhooks()


async def test_a_callback_url_that_is_not_https_nor_local_is_refused(
    client: httpx.AsyncClient, store_url: str
) -> None:
    page = await client.get(
        f"{store_url}/wc-auth/v1/authorize",
        params={"app_name": "X", "scope": "read_write", "user_id": "s",
                "return_url": RETURN_URL, "callback_url": "http://gateway.example/cb"},
    )  # fmt: skip
    assert page.status_code == 400
    assert "SSL" in page.text


async def test_orders_are_paged_with_woocommerces_headers_and_filtered_by_modification(
    client: httpx.AsyncClient, rest: RestApi
) -> None:
    for order_id in range(1, 206):
        response = await client.post(
            "/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(order_id)
        )
        assert response.status_code == 201
    first = await rest.orders()
    assert (first.total, first.total_pages, len(first.orders), first.last) == (205, 3, 100, False)
    third = await rest.orders(page=3)
    assert (len(third.orders), third.last) == (5, True)
    ids = [o["id"] for page in (1, 2, 3) for o in (await rest.orders(page=page)).orders]
    assert sorted(ids) == list(range(1, 206))
    # Every order above was modified "now" (the sandbox clock); nothing after that.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3650)
    assert (await rest.orders(modified_after=later)).total == 0


async def test_deliveries_are_signed_with_the_webhooks_secret_and_the_ping_is_a_form(
    client: httpx.AsyncClient, rest: RestApi, receiver: Receiver
) -> None:
    secret = Secret("the-webhooks-own-secret")
    hook = await rest.create_webhook(
        topic="order.created", delivery_url=HOOK_URL, secret=secret, name="Dinero Gateway"
    )
    [ping] = receiver.received
    assert ping.body == f"webhook_id={hook['id']}".encode()
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    await client.post("/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(7))
    await drain(client)
    delivery = receiver.received[-1]
    assert delivery.headers["x-wc-webhook-topic"] == "order.created"
    assert delivery.headers["x-wc-webhook-resource"] == "order"
    assert delivery.headers["x-wc-webhook-event"] == "created"
    assert delivery.headers["x-wc-webhook-id"] == str(hook["id"])
    assert delivery.headers["x-wc-webhook-source"].endswith("/_woocommerce/sokkeriet/")
    assert signature.is_authentic(
        delivery.body, delivery.headers["x-wc-webhook-signature"], [secret]
    )
    assert not signature.is_authentic(
        delivery.body, delivery.headers["x-wc-webhook-signature"], [Secret("other")]
    )
    # What the store sends is what the mapping reads.
    assert [e.type for e in order_events(json.loads(delivery.body))] == [
        "order.created", "order.paid"
    ]  # fmt: skip


async def test_more_than_five_failures_in_a_row_disable_the_webhook_and_nothing_is_retried(
    client: httpx.AsyncClient, rest: RestApi, receiver: Receiver
) -> None:
    hook = await rest.create_webhook(
        topic="order.created", delivery_url=HOOK_URL, secret=Secret("s"), name="G"
    )
    receiver.received.clear()
    receiver.statuses = [500, 500, 200]  # a success resets the count
    for order_id in range(1, 4):
        await client.post(
            "/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(order_id)
        )
    await drain(client)
    assert len(receiver.received) == 3  # one try each
    await client.post("/_sandbox/woocommerce/faults", json={"fail_deliveries": True})
    for order_id in range(10, 17):  # the 6th failure in a row disables it; the 7th is not sent
        await client.post(
            "/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(order_id)
        )
    await drain(client)
    log = (await client.get("/_sandbox/woocommerce/stores/sokkeriet/deliveries")).json()
    failed = [d for d in log if d["outcome"] == "failed"]
    assert [d["failure_count"] for d in failed] == [1, 2, 1, 2, 3, 4, 5, 6]
    assert failed[-1]["webhook_status"] == "disabled"
    assert len(log) == 9
    [seen] = [h for h in await rest.webhooks() if h["id"] == hook["id"]]
    assert seen["status"] == "disabled"
    await client.post("/_sandbox/woocommerce/faults", json={})
    await client.post("/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(20))
    await drain(client)
    assert len(receiver.received) == 3  # nothing reaches a disabled webhook
    reactivated = await rest.activate_webhook(hook["id"])
    assert reactivated["status"] == "active"
    await client.post("/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(21))
    await drain(client)
    assert receiver.topics()[-1] == "order.created"


async def test_a_refund_updates_the_order_and_is_read_with_its_lines(
    client: httpx.AsyncClient, rest: RestApi, receiver: Receiver
) -> None:
    await rest.create_webhook(
        topic="order.updated", delivery_url=HOOK_URL, secret=Secret("s"), name="G"
    )
    await client.post("/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(7))
    refund = {"amount": "100.00", "reason": "", "line_items": [
        {"id": 1, "name": "Sokker", "quantity": -1, "total": "-80.00", "total_tax": "-20.00",
         "subtotal": "-80.00", "subtotal_tax": "-20.00", "sku": "SOCK-1",
         "taxes": [{"id": 1, "total": "-20.00", "subtotal": "-20.00"}]}]}  # fmt: skip
    answer = await client.post(
        "/_sandbox/woocommerce/stores/sokkeriet/orders/7/refunds", json=refund
    )
    assert answer.status_code == 201, answer.text
    await drain(client)
    updated = json.loads(receiver.received[-1].body)
    assert updated["status"] == "refunded"
    assert updated["refunds"] == [{"id": answer.json()["refund"]["id"], "reason": "",
                                   "total": "-100.00"}]  # fmt: skip
    [read] = await rest.refunds(7)
    assert read["line_items"][0]["total"] == "-80.00"


async def test_status_changes_set_the_dates_woocommerce_sets(
    client: httpx.AsyncClient, rest: RestApi
) -> None:
    await client.post(
        "/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(7, status="pending")
    )
    answer = await client.post(
        "/_sandbox/woocommerce/stores/sokkeriet/orders/7/status", json={"status": "completed"}
    )
    order = answer.json()["order"]
    assert order["date_paid_gmt"] and order["date_completed_gmt"]
    types = [e.type for e in order_events(order)]
    assert types == ["order.created", "order.paid", "order.shipped"]


async def test_wrong_keys_are_refused_as_woocommerce_does(
    client: httpx.AsyncClient, store_url: str
) -> None:
    rest = RestApi(client, store_url, Secret("ck_x"), Secret("cs_y"))
    with pytest.raises(Unauthorized):
        await rest.orders()
    answer = await client.get(f"{store_url}/wp-json/wc/v3/orders")
    assert answer.status_code == 401
    assert answer.json()["code"] == "woocommerce_rest_authentication_error"


async def test_reset_forgets_the_stores(client: httpx.AsyncClient, store_url: str) -> None:
    assert (await client.post("/_sandbox/reset")).status_code == 200
    answer = await client.post("/_sandbox/woocommerce/stores/sokkeriet/orders", json=order_json(1))
    assert answer.status_code == 404


async def test_the_stores_admin_places_completes_and_refunds_orders_the_gateway_can_book(
    client: httpx.AsyncClient, store_url: str, rest: RestApi
) -> None:
    admin = f"{store_url}/wp-admin"
    assert (await client.post(f"{admin}/orders")).status_code == 303
    [placed] = (await rest.orders()).orders
    events = order_events(placed)
    assert [e.type for e in events] == ["order.created", "order.paid"]
    assert events[0].order.total == Decimal("187.95")
    assert (await client.post(f"{admin}/orders/{placed['id']}/complete")).status_code == 303
    for _ in range(2):
        assert (await client.post(f"{admin}/orders/{placed['id']}/refund")).status_code == 303
    assert (await client.post(f"{admin}/orders/{placed['id']}/refund")).status_code == 400
    order = (await rest.orders()).orders[0]
    refunds = await rest.refunds(placed["id"])
    events = order_events(order, refunds=refunds)
    assert [e.type for e in events] == [
        "order.created", "order.paid", "order.shipped", "order.refunded", "order.refunded"
    ]  # fmt: skip
    assert sum((e.refund.total for e in events if e.refund), Decimal(0)) == Decimal("148.95")
    page = await client.get(admin)
    assert page.status_code == 200 and f'data-order="{placed["id"]}"' in page.text
    assert (await client.post(f"{admin}/deliveries", data={"fail": "1"})).status_code == 303
    assert (await client.get("/_sandbox/woocommerce/faults")).json() == {"fail_deliveries": True}
