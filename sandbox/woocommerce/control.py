"""`/_sandbox/woocommerce/`: the JSON endpoints tests and demos steer the WooCommerce
stand-in with (names are a contract, DESIGN.md "Small contracts"). Invalid input answers 400
`{"errors": {field: message}}`; an unknown store or order 404.

- `POST /stores` `{"name"}` → `{"name", "store_url"}` (201 when new).
- `POST /stores/{name}/orders`: an order in WooCommerce's REST JSON, stored (replacing one with
  the same `id`; a missing `id` is given one) with `date_modified_gmt` now; `order.created`
  for a new order, `order.updated` for a change.
- `POST /stores/{name}/orders/{id}/status` `{"status"}`: a status change as the admin makes
  it (`date_paid_gmt` set on processing or completed, `date_completed_gmt` on completed);
  `order.updated`.
- `POST /stores/{name}/orders/{id}/refunds`: a refund in WooCommerce's JSON (`amount`, lines
  with negative amounts); stored for `GET /orders/{id}/refunds`, summarised in the order's
  `refunds`, the order set to `refunded` once refunds reach its total; `order.updated` (a
  refund has no topic of its own).
- `POST /stores/{name}/orders/{id}/delete`: moved to the bin; `order.deleted` `{"id"}`.
- `GET /stores/{name}/webhooks` (status and failure count, no secrets),
  `GET /stores/{name}/deliveries` (every attempt), `POST /stores/{name}/drain` (waits until
  every queued delivery was attempted).
- `POST /faults` `{"fail_deliveries": true}` makes every delivery fail; `{}` clears it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.json_input import Invalid, json_object
from sandbox.woocommerce.state import STORE_NAME, Store, WooCommerceSandbox, gmt, woocommerce_of
from sandbox.woocommerce.webhooks import outbox_of

STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")


def routes() -> list[BaseRoute]:
    base = "/_sandbox/woocommerce"
    return [
        Route(f"{base}/stores", stores, methods=["POST"]),
        Route(f"{base}/stores/{{name}}/orders", orders, methods=["POST"]),
        Route(f"{base}/stores/{{name}}/orders/{{id:int}}/status", status, methods=["POST"]),
        Route(f"{base}/stores/{{name}}/orders/{{id:int}}/refunds", refunds, methods=["POST"]),
        Route(f"{base}/stores/{{name}}/orders/{{id:int}}/delete", delete, methods=["POST"]),
        Route(f"{base}/stores/{{name}}/webhooks", webhooks, methods=["GET"]),
        Route(f"{base}/stores/{{name}}/deliveries", deliveries, methods=["GET"]),
        Route(f"{base}/stores/{{name}}/drain", drain, methods=["POST"]),
        Route(f"{base}/faults", faults, methods=["GET", "POST"]),
    ]


def _answer(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            result: Response = await handler(request, woocommerce_of(request))
        except Invalid as exc:
            return JSONResponse({"errors": exc.errors}, status_code=exc.status)
        return result

    endpoint.__name__ = handler.__name__
    return endpoint


def store_url(request: Request, name: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/_woocommerce/{name}"


def _store(woocommerce: WooCommerceSandbox, request: Request) -> Store:
    store = woocommerce.stores.get(str(request.path_params["name"]))
    if store is None:
        raise Invalid({"name": "no such store"}, status=404)
    return store


def _order(store: Store, request: Request) -> dict[str, Any]:
    order = store.orders.get(request.path_params["id"])
    if order is None:
        raise Invalid({"id": "no such order"}, status=404)
    return order


@_answer
async def stores(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    name = (await json_object(request)).get("name")
    if not isinstance(name, str) or not STORE_NAME.fullmatch(name):
        raise Invalid({"name": "must be lower-case letters, digits and hyphens"})
    new = name not in woocommerce.stores
    woocommerce.add_store(name)
    return JSONResponse(
        {"name": name, "store_url": store_url(request, name)}, status_code=201 if new else 200
    )


def publish(request: Request, store: Store, topic: str, payload: dict[str, Any]) -> int:
    return outbox_of(request).publish(store, store_url(request, store.name) + "/", topic, payload)


@_answer
async def orders(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    store = _store(woocommerce, request)
    order = await json_object(request)
    order_id = order.setdefault("id", woocommerce.next_id())
    if isinstance(order_id, bool) or not isinstance(order_id, int) or order_id <= 0:
        raise Invalid({"id": "must be a positive whole number"})
    for name in ("line_items", "shipping_lines", "fee_lines", "coupon_lines", "tax_lines"):
        if name in order and not isinstance(order[name], list):
            raise Invalid({name: "must be a list"})
    if "status" in order and order["status"] not in STATUSES:
        raise Invalid({"status": f"must be one of {', '.join(STATUSES)}"})
    new = order_id not in store.orders
    sent = place_order(request, woocommerce, store, order)
    return JSONResponse({"order": order, "webhooks": sent}, status_code=201 if new else 200)


def place_order(
    request: Request, woocommerce: WooCommerceSandbox, store: Store, order: dict[str, Any]
) -> dict[str, int]:
    """Stores the (checked) order and queues the webhook its change means."""
    order_id = order["id"]
    before = store.orders.get(order_id)
    now = gmt(woocommerce.now())
    order.setdefault("number", str(order_id))
    order.setdefault("status", "pending")
    order.setdefault("date_created_gmt", before["date_created_gmt"] if before else now)
    order["date_modified_gmt"] = now
    order["refunds"] = before.get("refunds", []) if before else []
    store.orders[order_id] = order
    topic = "order.created" if before is None else "order.updated"
    return {topic: publish(request, store, topic, order)}


@_answer
async def status(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    store = _store(woocommerce, request)
    order = _order(store, request)
    new = (await json_object(request)).get("status")
    if new not in STATUSES:
        raise Invalid({"status": f"must be one of {', '.join(STATUSES)}"})
    now = gmt(woocommerce.now())
    order["status"] = new
    if new in ("processing", "completed") and not order.get("date_paid_gmt"):
        order["date_paid_gmt"] = now
    if new == "completed":
        order["date_completed_gmt"] = now
    order["date_modified_gmt"] = now
    sent = publish(request, store, "order.updated", order)
    return JSONResponse({"order": order, "webhooks": {"order.updated": sent}})


def _money(value: Any, name: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise Invalid({name: "must be a decimal amount"}) from None
    if not amount.is_finite() or amount <= 0:
        raise Invalid({name: "must be above 0"})
    return amount


@_answer
async def refunds(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    store = _store(woocommerce, request)
    order = _order(store, request)
    refund = await json_object(request)
    _money(refund.get("amount"), "amount")
    for name in ("line_items", "shipping_lines", "fee_lines"):
        if not isinstance(refund.setdefault(name, []), list):
            raise Invalid({name: "must be a list"})
    sent = add_refund(request, woocommerce, store, order, refund)
    return JSONResponse({"refund": refund, "webhooks": sent}, status_code=201)


def add_refund(
    request: Request,
    woocommerce: WooCommerceSandbox,
    store: Store,
    order: dict[str, Any],
    refund: dict[str, Any],
) -> dict[str, int]:
    """Stores the (checked) refund, summarises it on the order, and queues `order.updated`."""
    refund.setdefault("id", woocommerce.next_id())
    now = gmt(woocommerce.now())
    refund.setdefault("date_created_gmt", now)
    refund.setdefault("reason", "")
    refund.setdefault("refunded_payment", False)
    store.refunds.setdefault(order["id"], []).append(refund)
    order["refunds"] = [
        {"id": r["id"], "reason": r["reason"], "total": f"-{_money(r['amount'], 'amount')}"}
        for r in reversed(store.refunds[order["id"]])
    ]
    refunded = sum((_money(r["amount"], "amount") for r in store.refunds[order["id"]]), Decimal(0))
    if refunded >= _money(order.get("total", "0.01"), "total"):
        order["status"] = "refunded"
    order["date_modified_gmt"] = now
    return {"order.updated": publish(request, store, "order.updated", order)}


@_answer
async def delete(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    store = _store(woocommerce, request)
    order = _order(store, request)
    del store.orders[order["id"]]
    sent = publish(request, store, "order.deleted", {"id": order["id"]})
    return JSONResponse({"deleted": order["id"], "webhooks": {"order.deleted": sent}})


@_answer
async def webhooks(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    store = _store(woocommerce, request)
    return JSONResponse(
        [
            {
                "id": h.id,
                "topic": h.topic,
                "status": h.status,
                "delivery_url": h.delivery_url,
                "failure_count": h.failure_count,
            }
            for h in sorted(store.webhooks.values(), key=lambda h: h.id)
        ]
    )


@_answer
async def deliveries(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    store = _store(woocommerce, request)
    return JSONResponse([d for d in outbox_of(request).log if d["store"] == store.name])


@_answer
async def drain(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    _store(woocommerce, request)
    await outbox_of(request).drain()
    return JSONResponse({"drained": True})


@_answer
async def faults(request: Request, woocommerce: WooCommerceSandbox) -> Response:
    if request.method == "POST":
        data = await json_object(request)
        unknown = {k: "unknown field" for k in data if k != "fail_deliveries"}
        if unknown:
            raise Invalid(unknown)
        value = data.get("fail_deliveries", False)
        if not isinstance(value, bool):
            raise Invalid({"fail_deliveries": "must be true or false"})
        woocommerce.faults.fail_deliveries = value
    return JSONResponse({"fail_deliveries": woocommerce.faults.fail_deliveries})
