"""`/_sandbox/shopify/`: the JSON endpoints tests and demos steer the Shopify stand-in with
(names are a contract, DESIGN.md "Small contracts"). Invalid input answers 400
`{"errors": {field: message}}`; an unknown store 404.

Orders and refunds arrive in Shopify's REST JSON (what webhooks carry) and are stored as sent,
with `updated_at` set to now unless given. The webhooks follow what changed: `orders/create`
for a new order, `orders/updated` for every change to a known one, and `orders/paid`,
`orders/fulfilled`, `orders/cancelled` when `financial_status` becomes `paid`,
`fulfillment_status` becomes `fulfilled`, `cancelled_at` becomes set (a new order already in
that state gets them too, as Shopify sends `orders/paid` for an order paid at checkout). A
refund is appended to the order's `refunds`, moves `financial_status` to `refunded` or
`partially_refunded`, and sends `refunds/create` and `orders/updated`.
"""

from __future__ import annotations

import dataclasses
import math
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.json_input import Invalid, json_object
from sandbox.shopify.state import (
    SHOP_DOMAIN,
    Faults,
    ShopifySandbox,
    Store,
    Subscription,
    shopify_of,
)
from sandbox.shopify.webhooks import Outbox, outbox_of

PRIVACY_TOPICS: Final = ("customers/data_request", "customers/redact", "shop/redact")


def routes() -> list[BaseRoute]:
    base = "/_sandbox/shopify"
    return [
        Route(f"{base}/stores", stores, methods=["POST"]),
        Route(f"{base}/stores/{{shop}}", store_settings, methods=["GET", "POST"]),
        Route(f"{base}/stores/{{shop}}/orders", orders, methods=["POST"]),
        Route(f"{base}/stores/{{shop}}/orders/{{id:int}}/refunds", refunds, methods=["POST"]),
        Route(f"{base}/stores/{{shop}}/uninstall", uninstall, methods=["POST"]),
        Route(f"{base}/stores/{{shop}}/privacy/{{topic:path}}", privacy, methods=["POST"]),
        Route(f"{base}/stores/{{shop}}/deliveries", deliveries, methods=["GET"]),
        Route(f"{base}/faults", faults, methods=["GET", "POST"]),
    ]


def _store(shopify: ShopifySandbox, request: Request) -> Store:
    store = shopify.stores.get(str(request.path_params["shop"]).lower())
    if store is None:
        raise Invalid({"shop": "no such store"}, status=404)
    return store


def _answer(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            result: Response = await handler(request, shopify_of(request))
        except Invalid as exc:
            return JSONResponse({"errors": exc.errors}, status_code=exc.status)
        return result

    endpoint.__name__ = handler.__name__
    return endpoint


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _store_json(request: Request, store: Store) -> dict[str, Any]:
    return {
        "shop": store.shop,
        "shop_url": f"{_base(request)}/_shopify/{store.shop}",
        "shop_url_template": f"{_base(request)}/_shopify/{{shop}}",
        "restore_rate": store.restore_rate,
        "bucket_size": store.bucket_size,
    }


@_answer
async def stores(request: Request, shopify: ShopifySandbox) -> Response:
    data = await json_object(request)
    shop = data.get("shop")
    if not isinstance(shop, str) or not SHOP_DOMAIN.fullmatch(shop):
        raise Invalid({"shop": "must be a <name>.myshopify.com domain"})
    new = shop.lower() not in shopify.stores
    store = shopify.add_store(shop)
    return JSONResponse(_store_json(request, store), status_code=201 if new else 200)


def _positive(data: dict[str, Any], name: str, high: float) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid({name: "must be a number"})
    if not 0 < value <= high:
        raise Invalid({name: f"must be above 0 and at most {high:g}"})
    return float(value)


@_answer
async def store_settings(request: Request, shopify: ShopifySandbox) -> Response:
    """The store's cost bucket: `restore_rate` (points a second) and `bucket_size`."""
    store = _store(shopify, request)
    if request.method == "POST":
        data = await json_object(request)
        unknown = {k: "unknown field" for k in data if k not in ("restore_rate", "bucket_size")}
        if unknown:
            raise Invalid(unknown)
        rate = _positive(data, "restore_rate", 1_000_000)
        size = _positive(data, "bucket_size", 1_000_000)
        store.restore_rate = rate if rate is not None else store.restore_rate
        store.bucket_size = size if size is not None else store.bucket_size
    return JSONResponse(_store_json(request, store))


def _now(shopify: ShopifySandbox) -> str:
    return shopify.now().isoformat(timespec="seconds").replace("+00:00", "Z")


def _order_id(value: Any, name: str = "id") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise Invalid({name: "must be a positive whole number"})
    return value


@_answer
async def orders(request: Request, shopify: ShopifySandbox) -> Response:
    store = _store(shopify, request)
    order = await json_object(request)
    order_id = _order_id(order.get("id"))
    for name in ("line_items", "refunds", "shipping_lines", "note_attributes"):
        if name in order and not isinstance(order[name], list):
            raise Invalid({name: "must be a list"})
    new = order_id not in store.orders
    events = place_order(shopify, outbox_of(request), store, order)
    return JSONResponse({"order": order, "webhooks": events}, status_code=201 if new else 200)


def place_order(
    shopify: ShopifySandbox, outbox: Outbox, store: Store, order: dict[str, Any]
) -> dict[str, Any]:
    """Stores the (checked) order and publishes the webhooks its change means."""
    order_id = order["id"]
    before = store.orders.get(order_id)
    now = _now(shopify)
    order.setdefault("created_at", before.get("created_at") if before else now)
    order.setdefault("updated_at", now)
    order.setdefault("admin_graphql_api_id", f"gid://shopify/Order/{order_id}")
    if before is not None and "refunds" not in order:
        order["refunds"] = before.get("refunds", [])
    order.setdefault("refunds", [])
    if before is not None and "fulfillments" not in order:
        order["fulfillments"] = before.get("fulfillments", [])
    if order.get("fulfillment_status") == "fulfilled" and not order.get("fulfillments"):
        # Fulfilling an order in Shopify makes a fulfillment; its time is when it shipped.
        order["fulfillments"] = [
            {"id": shopify.next_id() + 800000000, "status": "success", "created_at": now}
        ]
    store.orders[order_id] = order

    topics = ["orders/create"] if before is None else ["orders/updated"]
    old = before or {}
    if order.get("financial_status") == "paid" and old.get("financial_status") != "paid":
        topics.append("orders/paid")
    if (
        order.get("fulfillment_status") == "fulfilled"
        and old.get("fulfillment_status") != "fulfilled"
    ):
        topics.append("orders/fulfilled")
    if order.get("cancelled_at") and not old.get("cancelled_at"):
        topics.append("orders/cancelled")
    return {topic: outbox.publish(store, topic, order) for topic in topics}


def _amount(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


@_answer
async def refunds(request: Request, shopify: ShopifySandbox) -> Response:
    store = _store(shopify, request)
    order = store.orders.get(request.path_params["id"])
    if order is None:
        raise Invalid({"id": "no such order"}, status=404)
    refund = await json_object(request)
    refund.setdefault("id", shopify.next_id() + 900000000)
    _order_id(refund["id"])
    if any(r.get("id") == refund["id"] for r in order.get("refunds") or []):
        raise Invalid({"id": "this order already has a refund with that id"})
    for name in ("refund_line_items", "transactions", "order_adjustments"):
        if name in refund and not isinstance(refund[name], list):
            raise Invalid({name: "must be a list"})
    events = add_refund(shopify, outbox_of(request), store, order, refund)
    return JSONResponse({"refund": refund, "webhooks": events}, status_code=201)


def add_refund(
    shopify: ShopifySandbox,
    outbox: Outbox,
    store: Store,
    order: dict[str, Any],
    refund: dict[str, Any],
) -> dict[str, Any]:
    """Appends the (checked) refund to the order, moves its financial status, and publishes
    `refunds/create` and `orders/updated`."""
    refund.setdefault("id", shopify.next_id() + 900000000)
    now = _now(shopify)
    refund["order_id"] = order["id"]
    refund.setdefault("created_at", now)
    refund.setdefault("processed_at", refund["created_at"])
    refund.setdefault("admin_graphql_api_id", f"gid://shopify/Refund/{refund['id']}")
    order["refunds"] = [*(order.get("refunds") or []), refund]
    refunded = sum(
        (
            _amount(t.get("amount"))
            for r in order["refunds"]
            for t in r.get("transactions") or []
            if t.get("kind") == "refund" and t.get("status", "success") == "success"
        ),
        Decimal(0),
    )
    if refunded > 0:
        total = _amount(order.get("total_price"))
        order["financial_status"] = "refunded" if refunded >= total else "partially_refunded"
    order["updated_at"] = now
    return {
        "refunds/create": outbox.publish(store, "refunds/create", refund),
        "orders/updated": outbox.publish(store, "orders/updated", order),
    }


def _shop_json(store: Store) -> dict[str, Any]:
    name = store.shop.removesuffix(".myshopify.com")
    return {
        "id": store.id,
        "name": name,
        "email": f"owner@{name}.test",
        "domain": store.shop,
        "myshopify_domain": store.shop,
        "country_code": "DK",
        "currency": "DKK",
        "plan_name": "basic",
    }


@_answer
async def uninstall(request: Request, shopify: ShopifySandbox) -> Response:
    """Every app on the store is uninstalled: `app/uninstalled` goes to each app's
    subscription, then its tokens stop working and its subscriptions are deleted."""
    store = _store(shopify, request)
    outbox = outbox_of(request)
    event = outbox.publish(store, "app/uninstalled", _shop_json(store))
    apps = shopify.uninstall(store)
    store.subscriptions.clear()
    return JSONResponse({"uninstalled": apps, "webhooks": {"app/uninstalled": event}})


@_answer
async def privacy(request: Request, shopify: ShopifySandbox) -> Response:
    """The mandatory privacy webhooks with the bodies Shopify documents; the body may set
    `customer` and `orders` (ids). They go to each app's compliance URL: here, the first
    callback URL the app subscribed with on this store."""
    store = _store(shopify, request)
    topic = str(request.path_params["topic"])
    if topic not in PRIVACY_TOPICS:
        raise Invalid({"topic": f"must be one of {', '.join(PRIVACY_TOPICS)}"}, status=404)
    data = await json_object(request)
    customer = data.get("customer") or {
        "id": 191167,
        "email": "john@example.com",
        "phone": "555-625-1199",
    }
    order_ids = data.get("orders") or sorted(store.orders)
    if not isinstance(customer, dict) or not isinstance(order_ids, list):
        raise Invalid({"body": "customer must be an object and orders a list"})
    body: dict[str, Any] = {"shop_id": store.id, "shop_domain": store.shop}
    if topic == "customers/data_request":
        body |= {
            "orders_requested": order_ids,
            "customer": customer,
            "data_request": {"id": shopify.next_id()},
        }
    elif topic == "customers/redact":
        body |= {"customer": customer, "orders_to_redact": order_ids}
    targets = [
        Subscription(0, client_id, topic, url, "JSON", version)
        for client_id, (url, version) in sorted(store.compliance_urls.items())
    ]
    event = outbox_of(request).publish(store, topic, body, subscriptions=targets)
    return JSONResponse({"body": body, "webhooks": {topic: event}})


@_answer
async def deliveries(request: Request, shopify: ShopifySandbox) -> Response:
    store = _store(shopify, request)
    return JSONResponse([d for d in outbox_of(request).log if d["shop"] == store.shop])


@_answer
async def faults(request: Request, shopify: ShopifySandbox) -> Response:
    """POST replaces every fault with what the body names; `{}` clears them all."""
    if request.method == "POST":
        data = await json_object(request)
        names = {f.name for f in dataclasses.fields(Faults)}
        unknown = {k: "unknown field" for k in data if k not in names}
        if unknown:
            raise Invalid(unknown)
        values: dict[str, Any] = {}
        for name in ("drop_rate", "duplicate_rate"):
            value = data.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise Invalid({name: "must be a number from 0 to 1"})
            values[name] = float(value)
        delay = data.get("delay_ms", 0.0)
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not 0 <= delay <= 600_000
        ):
            raise Invalid({"delay_ms": "must be from 0 to 600000"})
        reorder = data.get("reorder", False)
        if not isinstance(reorder, bool):
            raise Invalid({"reorder": "must be true or false"})
        scale = data.get("retry_scale", 1.0)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 1 <= scale <= 1e6:
            raise Invalid({"retry_scale": "must be from 1 to 1000000"})
        shopify.faults = Faults(
            delay_ms=float(delay), reorder=reorder, retry_scale=float(scale), **values
        )
    return JSONResponse(dataclasses.asdict(shopify.faults))
