"""The GraphQL Admin API: tokens, the schema, search and paging, cost and throttling, driven
with the gateway's own `AdminApi` where it can be."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.secret import Secret
from gateway.shopify import admin as admin_module
from gateway.shopify.admin import PAGE_SIZE, AdminApi, AdminApiError, Unauthorized
from gateway.shopify.mapping import order_events, refund_event
from sandbox.shopify.state import ShopifySandbox
from tests.sandbox.shopify.conftest import (
    API_VERSION,
    CALLBACK_URL,
    SHOP,
    FakeMonotonic,
    order_json,
)

ORDERS_PATH = f"/_sandbox/shopify/stores/{SHOP}/orders"
CORPUS = Path(__file__).parents[2] / "gateway" / "shopify" / "corpus"

PAGE = """
query page($q: String, $after: String) {
  orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
    edges { cursor node { legacyResourceId updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _graphql(
    client: httpx.AsyncClient, store_url: str, token: Secret | None, document: str, **variables: Any
) -> httpx.Response:
    headers = {"X-Shopify-Access-Token": token.reveal()} if token else {}
    return await client.post(
        f"{store_url}/admin/api/{API_VERSION}/graphql.json",
        json={"query": document, "variables": variables},
        headers=headers,
    )


async def _orders(client: httpx.AsyncClient, *updated: str) -> None:
    for n, moment in enumerate(updated, start=1001):
        response = await client.post(ORDERS_PATH, json=order_json(n, updated_at=moment))
        assert response.status_code == 201, response.text


async def test_no_valid_token_is_401(
    client: httpx.AsyncClient, store_url: str, token: Secret
) -> None:
    for wrong in (None, Secret("shpat_nope")):
        response = await _graphql(client, store_url, wrong, "{ orders(first: 1) { nodes { id } } }")
        assert response.status_code == 401
        assert "Invalid API key or access token" in response.json()["errors"]


async def test_after_uninstall_the_token_is_refused(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    await admin.query("{ orders(first: 1) { nodes { id } } }")
    response = await client.post(f"/_sandbox/shopify/stores/{SHOP}/uninstall")
    assert response.status_code == 200
    with pytest.raises(Unauthorized):
        await admin.query("{ orders(first: 1) { nodes { id } } }")


async def test_a_query_outside_the_schema_is_refused_like_shopify(
    client: httpx.AsyncClient, store_url: str, token: Secret
) -> None:
    response = await _graphql(client, store_url, token, "{ orders(first: 1) { nodes { nope } } }")
    assert response.status_code == 200
    assert "nope" in response.json()["errors"][0]["message"]
    response = await _graphql(client, store_url, token, "{ orders(first: 1) {")
    assert "Syntax Error" in response.json()["errors"][0]["message"]


async def test_orders_page_through_a_search_oldest_update_first(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    await _orders(
        client,
        "2026-11-20T10:00:00Z",  # 1001: before the window
        "2026-11-21T09:00:00Z",  # 1002
        "2026-11-23T10:00:00Z",  # 1003
        "2026-11-21T12:00:00+01:00",  # 1004: 11:00 UTC
        "2026-11-22T10:00:00Z",  # 1005
        "2026-11-24T00:00:00Z",  # 1006: at the end, excluded by <
    )
    search = "updated_at:>='2026-11-21T00:00:00Z' updated_at:<'2026-11-24T00:00:00Z'"
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        data = await admin.query(PAGE, {"q": search, "after": after})
        connection = data["orders"]
        seen += [edge["node"]["legacyResourceId"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == ["1002", "1004", "1005", "1003"]
    assert pages == 2


async def test_an_order_reads_back_in_the_graphql_shape(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    lines = [
        {"id": 500 + n, "title": f"Line {n}", "quantity": 1, "price": "10.00", "sku": f"S{n}"}
        for n in range(25)
    ]
    await client.post(ORDERS_PATH, json=order_json(1001, line_items=lines, financial_status="paid"))
    query = """
    query lines($id: ID!, $after: String) {
      order(id: $id) {
        name displayFinancialStatus totalPriceSet { shopMoney { amount currencyCode } }
        customAttributes { key value }
        lineItems(first: 10, after: $after) { nodes { sku } pageInfo { hasNextPage endCursor } }
      }
    }"""
    skus: list[str] = []
    after = None
    while True:
        order = (await admin.query(query, {"id": "gid://shopify/Order/1001", "after": after}))[
            "order"
        ]
        skus += [line["sku"] for line in order["lineItems"]["nodes"]]
        info = order["lineItems"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert skus == [f"S{n}" for n in range(25)]
    assert order["name"] == "#1001"
    assert order["displayFinancialStatus"] == "PAID"
    assert order["totalPriceSet"]["shopMoney"] == {"amount": "125.00", "currencyCode": "DKK"}
    assert order["customAttributes"] == [{"key": "vat_number", "value": "DK12345678"}]


async def test_cost_is_calculated_and_reported_as_shopify_documents(
    client: httpx.AsyncClient, store_url: str, token: Secret
) -> None:
    await _orders(client, "2026-11-21T10:00:00Z")
    query = "{ orders(first: 10) { edges { node { id lineItems(first: 5) { nodes { id } } } } } }"
    body = (await _graphql(client, store_url, token, query)).json()
    cost = body["extensions"]["cost"]
    # 2 + 10 × (order 1 + lineItems (2 + 5 × 1)) = 82 asked for; one order with one line came.
    assert cost["requestedQueryCost"] == 82
    assert cost["actualQueryCost"] == 2 + 1 * (1 + 2 + 1)
    assert cost["throttleStatus"] == {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 2000 - 6,  # the unused 76 points were refunded
        "restoreRate": 100.0,
    }


async def test_a_query_over_1000_points_is_refused_before_it_runs(
    client: httpx.AsyncClient, store_url: str, token: Secret
) -> None:
    query = "{ orders(first: 250) { nodes { lineItems(first: 10) { nodes { id } } } } }"
    body = (await _graphql(client, store_url, token, query)).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "data" not in body


async def test_the_gateways_queries_fit_shopifys_single_query_ceiling(
    client: httpx.AsyncClient, store_url: str, token: Secret, admin: AdminApi
) -> None:
    """Priced by `first`, as Shopify prices them: a page of orders, an order's refunds and
    the rest of its lines each ask for less than the 1,000 points one query may."""
    await _orders(client, "2026-11-21T10:00:00Z")
    variables: dict[str, dict[str, Any]] = {
        "_ORDERS": {"query": "updated_at:>'2026-11-01'", "first": PAGE_SIZE, "sort": "UPDATED_AT"},
        "_REFUNDS": {"id": "gid://shopify/Order/1001"},
        "_LINES": {"id": "gid://shopify/Order/1001", "after": None},
        "_COUNT": {"query": "updated_at:>'2026-11-01'"},
    }
    for name, given in variables.items():
        body = (
            await _graphql(client, store_url, token, getattr(admin_module, name), **given)
        ).json()
        assert "errors" not in body, (name, body)
        assert body["extensions"]["cost"]["requestedQueryCost"] <= 1000, name


async def test_an_orders_refunds_come_with_it(client: httpx.AsyncClient, admin: AdminApi) -> None:
    await _orders(client, "2026-11-21T10:00:00Z", "2026-11-22T10:00:00Z")
    refund = {
        "id": 501,
        "order_id": 1002,
        "created_at": "2026-11-23T10:00:00Z",
        "refund_line_items": [],
        "transactions": [{"kind": "refund", "status": "success", "amount": "10.00"}],
    }
    answer = await client.post(f"{ORDERS_PATH}/1002/refunds", json=refund)
    assert answer.status_code in (200, 201), answer.text
    page = await admin.orders("updated_at:>'2026-11-01'")
    by_id = {order["id"]: order for order in page.orders}
    assert by_id[1001]["refunds"] == []
    [got] = by_id[1002]["refunds"]
    assert got["id"] == 501
    assert got["transactions"][0]["amount_set"]["presentment_money"]["amount"] == "10.00"
    assert await admin.count("updated_at:>'2026-11-01'") == 2


async def test_a_throttled_client_waits_for_the_bucket_and_succeeds(
    client: httpx.AsyncClient,
    store_url: str,
    token: Secret,
    admin: AdminApi,
    monotonic: FakeMonotonic,
) -> None:
    await _orders(client, *[f"2026-11-2{n}T10:00:00Z" for n in range(1, 7)])
    settings = await client.post(
        f"/_sandbox/shopify/stores/{SHOP}", json={"restore_rate": 5, "bucket_size": 10}
    )
    assert settings.json()["restore_rate"] == 5
    query = "{ orders(first: 6) { nodes { id } } }"  # 2 + 6 × 1 = 8 points, all used
    await admin.query(query)
    # The answer said 2 points are left: the client lets the bucket refill before the next.
    assert monotonic.slept == [pytest.approx((8 - 2) / 5)]
    assert len((await admin.query(query))["orders"]["nodes"]) == 6

    # A client that does not know the bucket's state is answered THROTTLED, waits, retries.
    fresh = AdminApi(client, store_url, API_VERSION, token, sleep=monotonic.sleep)
    assert "data" in (await _graphql(client, store_url, token, query)).json()  # empties it
    throttled = (await _graphql(client, store_url, token, query)).json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["throttleStatus"]["restoreRate"] == 5
    data = await fresh.query(query)
    assert len(data["orders"]["nodes"]) == 6
    assert fresh.calls == 2
    assert monotonic.slept[-1] == pytest.approx(8 / 5)


async def test_webhook_subscriptions_and_their_user_errors(
    client: httpx.AsyncClient, store_url: str, token: Secret, admin: AdminApi
) -> None:
    await admin.subscribe("ORDERS_PAID", CALLBACK_URL)
    await admin.subscribe("ORDERS_PAID", CALLBACK_URL)  # "already been taken" is fine
    with pytest.raises(AdminApiError, match="not supported"):
        await admin.subscribe("ORDERS_PAID", "http://shop.example.com/hooks")
    mutation = """mutation { webhookSubscriptionCreate(topic: ORDERS_PAID,
      webhookSubscription: {callbackUrl: "%s", format: JSON}) {
        webhookSubscription { id } userErrors { field message } } }"""
    body = (await _graphql(client, store_url, token, mutation % CALLBACK_URL)).json()
    result = body["data"]["webhookSubscriptionCreate"]
    assert result["webhookSubscription"] is None
    assert result["userErrors"][0]["message"] == "Address for this topic has already been taken"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    with pytest.raises(AdminApiError):
        await admin.subscribe("ORDERS_NOT_A_TOPIC", CALLBACK_URL)


async def test_an_order_brings_its_fulfillments_and_payments_in_the_webhook_shape(
    client: httpx.AsyncClient, admin: AdminApi
) -> None:
    paid = order_json(
        1001,
        financial_status="paid",
        transactions=[
            {
                "id": 7001,
                "kind": "sale",
                "status": "success",
                "gateway": "shopify_payments",
                "authorization": "53433",
                "payment_id": "c25048437719.1",
                "processed_at": "2026-11-21T10:01:00Z",
                "amount": "125.00",
            }
        ],
    )
    await client.post(ORDERS_PATH, json=paid)
    shipped = await client.post(ORDERS_PATH, json=paid | {"fulfillment_status": "fulfilled"})
    assert shipped.status_code == 200, shipped.text
    [fulfillment] = shipped.json()["order"]["fulfillments"]  # fulfilling made one
    [order] = (await admin.orders("updated_at:>'2000-01-01'")).orders
    assert order["fulfillments"] == [{"created_at": fulfillment["created_at"], "status": "success"}]
    [sale] = order["transactions"]
    assert sale["id"] == 7001
    assert (sale["kind"], sale["status"], sale["processed_at"]) == (
        "sale",
        "success",
        "2026-11-21T10:01:00Z",
    )
    assert (sale["authorization"], sale["payment_id"]) == ("53433", "c25048437719.1")


async def test_orders_older_than_60_days_need_read_all_orders(
    client: httpx.AsyncClient, shopify: ShopifySandbox, admin: AdminApi, token: Secret
) -> None:
    now = shopify.now()
    for order_id, age in ((1001, 59), (1002, 61)):
        created = (now - timedelta(days=age)).isoformat().replace("+00:00", "Z")
        await client.post(ORDERS_PATH, json=order_json(order_id, created_at=created))
    search = "created_at:>='2000-01-01T00:00:00Z'"
    page = await admin.orders(search)
    assert [order["id"] for order in page.orders] == [1001]
    assert await admin.count(search) == 1
    old = await admin.query(
        "query o($id: ID!) { order(id: $id) { id } }", {"id": "gid://shopify/Order/1002"}
    )
    assert old["order"] is None

    store = shopify.stores[SHOP]
    app, _ = store.tokens[token.reveal()]
    store.tokens[token.reveal()] = (app, "read_orders,read_all_orders")
    assert [o["id"] for o in (await admin.orders(search)).orders] == [1001, 1002]
    assert await admin.count(search) == 2


async def test_reset_forgets_the_stores_their_orders_and_tokens(
    client: httpx.AsyncClient, shopify: ShopifySandbox, admin: AdminApi
) -> None:
    await _orders(client, "2026-11-21T10:00:00Z")
    await client.post("/_sandbox/shopify/faults", json={"drop_rate": 0.5})
    assert (await client.post("/_sandbox/reset")).status_code == 200
    assert shopify.stores == {}
    assert shopify.faults.drop_rate == 0
    with pytest.raises(AdminApiError):  # the store is gone, and its token with it
        await admin.orders("updated_at:>'2000-01-01'")


@pytest.mark.parametrize(
    "name",
    ["dk_tip.json", "dk_additional_fee.json", "export_no_duties.json", "gift_card_sold.json"],
)
async def test_tips_duties_fees_and_gift_cards_read_through_graphql_map_as_their_webhook(
    client: httpx.AsyncClient, admin: AdminApi, shopify: ShopifySandbox, name: str
) -> None:
    webhook = json.loads((CORPUS / name).read_text("utf-8"))
    # Inside the 60 days the app may read.
    webhook["created_at"] = shopify.now().isoformat().replace("+00:00", "Z")
    webhook.pop("fulfillments", None)
    webhook["fulfillment_status"] = None
    assert (await client.post(ORDERS_PATH, json=webhook)).status_code == 201
    [read] = (await admin.orders("updated_at:>'2000-01-01'")).orders
    expected = order_events(webhook)[0].order
    got = order_events(read)[0].order
    assert (got.total, got.lines, got.fees) == (expected.total, expected.lines, expected.fees)


@pytest.mark.parametrize(
    ("order_name", "refund_name"),
    [
        ("export_no_duties.json", "export_no_duties.refund.json"),
        ("dk_tip.json", "dk_tip.refund.json"),
    ],
)
async def test_duties_and_tips_paid_back_read_through_graphql_map_as_their_webhook(
    client: httpx.AsyncClient,
    admin: AdminApi,
    shopify: ShopifySandbox,
    order_name: str,
    refund_name: str,
) -> None:
    webhook = json.loads((CORPUS / order_name).read_text("utf-8"))
    webhook["created_at"] = shopify.now().isoformat().replace("+00:00", "Z")
    webhook.pop("fulfillments", None)
    webhook["fulfillment_status"] = None
    await client.post(ORDERS_PATH, json=webhook)
    refund = json.loads((CORPUS / refund_name).read_text("utf-8"))
    answer = await client.post(f"{ORDERS_PATH}/{webhook['id']}/refunds", json=refund)
    assert answer.status_code == 201, answer.text
    [read] = (await admin.orders("updated_at:>'2000-01-01'")).orders
    expected = refund_event(order_events(webhook)[0].order, refund).refund
    got = order_events(read)[-1].refund
    assert expected is not None and got is not None
    assert (got.total, got.lines, got.fees) == (expected.total, expected.lines, expected.fees)
    assert {fee.kind for fee in got.fees} <= {"tip", "duty"} and got.fees
