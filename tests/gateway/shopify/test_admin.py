"""The Admin API client against respx: throttling is waited out by the bucket's own numbers,
a dead token is `Unauthorized`, subscriptions report what Shopify refused, and orders come
page by page in the REST shape webhooks carry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx

from gateway.secret import Secret
from gateway.shopify.admin import AdminApi, AdminApiError, Unauthorized

STORE = "https://demo.myshopify.com"
PATH = "/admin/api/2025-10/graphql.json"


def cost(requested: int, available: int, rate: float = 50.0) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": requested,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": rate,
            },
        }
    }


def money(amount: str, currency: str = "DKK") -> dict[str, Any]:
    return {
        "shopMoney": {"amount": amount, "currencyCode": currency},
        "presentmentMoney": {"amount": amount, "currencyCode": currency},
    }


def node(number: int, *, more_lines: bool = False) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Order/{number}",
        "legacyResourceId": str(number),
        "name": f"#{1000 + number}",
        "updatedAt": "2026-12-01T10:00:00Z",
        "currencyCode": "DKK",
        "taxesIncluded": True,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED",
        "totalPriceSet": money("125.00"),
        "customAttributes": [{"key": "vat_number", "value": "DK12345678"}],
        "lineItems": {
            "nodes": [
                {
                    "id": f"gid://shopify/LineItem/{number}1",
                    "name": "Mug",
                    "quantity": 1,
                    "originalUnitPriceSet": money("125.00"),
                    "taxLines": [{"title": "Moms", "rate": 0.25, "priceSet": money("25.00")}],
                    "discountAllocations": [],
                }
            ],
            "pageInfo": {"hasNextPage": more_lines, "endCursor": "L1" if more_lines else None},
        },
        "refunds": [],
    }


@pytest.fixture
def shopify() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=STORE) as router:
        yield router


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
async def api(slept: list[float]) -> Any:
    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async with httpx.AsyncClient() as http:
        yield AdminApi(http, STORE, "2025-10", Secret("shpat_x"), sleep=sleep)


async def test_a_throttled_query_waits_for_the_refill_and_is_asked_again(
    shopify: respx.MockRouter, api: AdminApi, slept: list[float]
) -> None:
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    route = shopify.post(PATH).mock(
        side_effect=[
            httpx.Response(200, json=throttled | {"extensions": cost(300, 50)}),
            httpx.Response(200, json={"data": {"shop": 1}, "extensions": cost(300, 1700)}),
        ]
    )
    assert await api.query("{ shop { id } }") == {"shop": 1}
    assert route.call_count == 2 and api.calls == 2
    assert slept == [5.0]  # (300 − 50) points at 50 points a second
    sent = route.calls.last.request
    assert sent.headers["X-Shopify-Access-Token"] == "shpat_x"
    assert json.loads(sent.content)["query"] == "{ shop { id } }"


async def test_a_nearly_empty_bucket_is_let_refill_before_the_next_query(
    shopify: respx.MockRouter, api: AdminApi, slept: list[float]
) -> None:
    shopify.post(PATH).respond(json={"data": {}, "extensions": cost(400, 100, rate=100)})
    await api.query("{ a }")
    assert slept == [3.0]


async def test_endless_throttling_gives_up_as_retryable(
    shopify: respx.MockRouter, api: AdminApi
) -> None:
    throttled = {"errors": [{"extensions": {"code": "THROTTLED"}}], "extensions": cost(10, 0)}
    shopify.post(PATH).respond(json=throttled)
    with pytest.raises(AdminApiError) as failed:
        await api.query("{ a }")
    assert failed.value.retryable


@pytest.mark.parametrize(
    ("answer", "kind", "retryable"),
    [
        (httpx.Response(401), Unauthorized, False),
        (httpx.Response(403), Unauthorized, False),
        (httpx.Response(429), AdminApiError, True),
        (httpx.Response(503), AdminApiError, True),
        (httpx.Response(400), AdminApiError, False),
        (httpx.Response(200, text="<html>"), AdminApiError, True),
        (
            httpx.Response(200, json={"errors": [{"message": "Field 'x' doesn't exist"}]}),
            AdminApiError,
            False,
        ),
        (httpx.ConnectTimeout("slow"), AdminApiError, True),
    ],
)
async def test_each_failure_says_whether_to_retry(
    shopify: respx.MockRouter,
    api: AdminApi,
    answer: Any,
    kind: type[Exception],
    retryable: bool,
) -> None:
    route = shopify.post(PATH)
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    with pytest.raises(AdminApiError) as failed:
        await api.query("{ a }")
    assert type(failed.value) is kind
    assert failed.value.retryable is retryable
    assert "shpat_x" not in str(failed.value)


async def test_a_subscription_shopify_refuses_is_reported_but_a_taken_one_is_fine(
    shopify: respx.MockRouter, api: AdminApi
) -> None:
    def answer(*messages: str) -> httpx.Response:
        errors = [{"field": ["callbackUrl"], "message": m} for m in messages]
        created = {"webhookSubscription": None, "userErrors": errors}
        return httpx.Response(200, json={"data": {"webhookSubscriptionCreate": created}})

    route = shopify.post(PATH).mock(
        side_effect=[
            answer(),
            answer("Address for this topic has already been taken"),
            answer("Address is an invalid domain"),
        ]
    )
    await api.subscribe("ORDERS_PAID", "https://gw.example/webhooks/shopify")
    await api.subscribe("ORDERS_PAID", "https://gw.example/webhooks/shopify")
    with pytest.raises(AdminApiError, match="invalid domain"):
        await api.subscribe("ORDERS_PAID", "https://gw.example/webhooks/shopify")
    variables = json.loads(route.calls[0].request.content)["variables"]
    assert variables == {"topic": "ORDERS_PAID", "url": "https://gw.example/webhooks/shopify"}


async def test_orders_come_page_by_page_in_the_webhook_shape_with_every_line(
    shopify: respx.MockRouter, api: AdminApi
) -> None:
    first = {
        "orders": {
            "edges": [{"cursor": "c1", "node": node(1, more_lines=True)}],
            "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
        }
    }
    rest_of_lines = {
        "order": {
            "lineItems": {
                "nodes": [{**node(1)["lineItems"]["nodes"][0], "id": "gid://shopify/LineItem/99"}],
                "pageInfo": {"hasNextPage": False, "endCursor": None},
            }
        }
    }
    last = {
        "orders": {
            "edges": [{"cursor": "c2", "node": node(2)}],
            "pageInfo": {"hasNextPage": False, "endCursor": "c2"},
        }
    }
    route = shopify.post(PATH).mock(
        side_effect=[
            httpx.Response(200, json={"data": first, "extensions": cost(100, 1900)}),
            httpx.Response(200, json={"data": rest_of_lines, "extensions": cost(50, 1900)}),
            httpx.Response(200, json={"data": last, "extensions": cost(100, 1900)}),
        ]
    )
    page = await api.orders("updated_at:>='2026-12-01T00:00:00Z'")
    assert page.end_cursor == "c1"
    order = page.orders[0]
    assert (order["id"], order["name"], order["financial_status"]) == (1, "#1001", "paid")
    assert [line["id"] for line in order["line_items"]] == [11, 99]
    assert order["line_items"][0]["price_set"]["presentment_money"]["amount"] == "125.00"
    assert order["note_attributes"] == [{"name": "vat_number", "value": "DK12345678"}]
    assert json.loads(route.calls[1].request.content)["variables"] == {
        "id": "gid://shopify/Order/1",
        "after": "L1",
    }
    page = await api.orders("updated_at:>='2026-12-01T00:00:00Z'", after=page.end_cursor)
    assert page.end_cursor is None and [o["id"] for o in page.orders] == [2]
    assert json.loads(route.calls[2].request.content)["variables"]["after"] == "c1"
