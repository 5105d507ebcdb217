"""The part of WooCommerce's REST API v3 the gateway uses, under
`/_woocommerce/{name}/wp-json/wc/v3/`: `GET /orders` (`page`, `per_page` up to 100,
`modified_after`, `after`, `before`, `order`, `orderby` of date/modified/id; totals in
`X-WP-Total` and `X-WP-TotalPages`), `GET /orders/{id}`, `GET /orders/{id}/refunds`, and
`GET/POST /webhooks`, `GET/PUT/DELETE /webhooks/{id}`.

Authentication is HTTP Basic with the consumer key and secret (what WooCommerce takes over
https), or `consumer_key`/`consumer_secret` query parameters; a key needs `read` to read and
`write` to change webhooks. Errors are WooCommerce's `{"code", "message", "data": {"status"}}`.
A webhook created or set `active` is pinged (form body `webhook_id=N`); setting it active
again resets its failure count, as WooCommerce's admin does.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.woocommerce.state import (
    TOPICS,
    Key,
    Store,
    Webhook,
    WooCommerceSandbox,
    woocommerce_of,
)
from sandbox.woocommerce.webhooks import outbox_of

MAX_PER_PAGE: Final = 100
_BASE: Final = "/_woocommerce/{name}/wp-json/wc/v3"
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def routes() -> list[BaseRoute]:
    return [
        Route(f"{_BASE}/orders", list_orders, methods=["GET"]),
        Route(f"{_BASE}/orders/{{id:int}}", get_order, methods=["GET"]),
        Route(f"{_BASE}/orders/{{id:int}}/refunds", list_refunds, methods=["GET"]),
        Route(f"{_BASE}/webhooks", webhooks, methods=["GET", "POST"]),
        Route(f"{_BASE}/webhooks/{{id:int}}", webhook, methods=["GET", "PUT", "POST", "DELETE"]),
    ]


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _problem(error: _Error) -> Response:
    return JSONResponse(
        {"code": error.code, "message": error.message, "data": {"status": error.status}},
        status_code=error.status,
    )


def _authorized(request: Request, *, write: bool = False) -> tuple[WooCommerceSandbox, Store, Key]:
    woocommerce = woocommerce_of(request)
    store = woocommerce.stores.get(request.path_params["name"])
    if store is None:
        raise _Error(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )
    consumer_key = request.query_params.get("consumer_key", "")
    consumer_secret = request.query_params.get("consumer_secret", "")
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        consumer_key, _, consumer_secret = decoded.partition(":")
    key = woocommerce.authenticate(store, consumer_key, consumer_secret)
    if key is None:
        raise _Error(
            401,
            "woocommerce_rest_authentication_error",
            "Invalid signature - provided signature does not match.",
        )
    if write and key.permissions == "read":
        raise _Error(
            401, "woocommerce_rest_cannot_create", "Sorry, you are not allowed to do that."
        )
    return woocommerce, store, key


def _int_param(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise _Error(400, "rest_invalid_param", f"Invalid parameter(s): {name}")
    return int(raw)


def _time_param(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _Error(400, "rest_invalid_param", f"Invalid parameter(s): {name}") from None
    # WooCommerce reads a time without an offset in the site's zone; the sandbox's is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _gmt_of(order: dict[str, Any], name: str) -> datetime:
    value = order.get(name) or "1970-01-01T00:00:00"
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


async def list_orders(request: Request) -> Response:
    try:
        _, store, _ = _authorized(request)
        page = _int_param(request, "page", 1, 1_000_000)
        per_page = _int_param(request, "per_page", 10, MAX_PER_PAGE)
        modified_after = _time_param(request, "modified_after")
        after, before = _time_param(request, "after"), _time_param(request, "before")
        orderby = request.query_params.get("orderby", "date")
        if orderby not in ("date", "modified", "id"):
            raise _Error(400, "rest_invalid_param", "Invalid parameter(s): orderby")
        descending = request.query_params.get("order", "desc") != "asc"
    except _Error as exc:
        return _problem(exc)
    found = [
        order
        for order in store.orders.values()
        if (modified_after is None or _gmt_of(order, "date_modified_gmt") > modified_after)
        and (after is None or _gmt_of(order, "date_created_gmt") > after)
        and (before is None or _gmt_of(order, "date_created_gmt") < before)
    ]
    field = {"date": "date_created_gmt", "modified": "date_modified_gmt", "id": ""}[orderby]
    found.sort(key=lambda o: (_gmt_of(o, field) if field else _EPOCH, o["id"]), reverse=descending)
    total = len(found)
    pages = math.ceil(total / per_page) if total else 0
    chunk = found[(page - 1) * per_page : page * per_page]
    return JSONResponse(chunk, headers={"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})


async def get_order(request: Request) -> Response:
    try:
        _, store, _ = _authorized(request)
    except _Error as exc:
        return _problem(exc)
    order = store.orders.get(request.path_params["id"])
    if order is None:
        return _problem(_Error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID."))
    return JSONResponse(order)


async def list_refunds(request: Request) -> Response:
    try:
        _, store, _ = _authorized(request)
    except _Error as exc:
        return _problem(exc)
    order_id = request.path_params["id"]
    if order_id not in store.orders:
        return _problem(_Error(404, "woocommerce_rest_order_invalid_id", "Invalid order ID."))
    refunds = sorted(store.refunds.get(order_id, []), key=lambda r: r["id"], reverse=True)
    return JSONResponse(refunds, headers={"X-WP-Total": str(len(refunds)), "X-WP-TotalPages": "1"})


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Error(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(data, dict):
        raise _Error(400, "rest_invalid_json", "Invalid JSON body passed.")
    return data


def _apply(hook: Webhook, data: dict[str, Any]) -> None:
    if "topic" in data:
        if data["topic"] not in TOPICS:
            raise _Error(400, "rest_invalid_param", "Invalid parameter(s): topic")
        hook.topic = data["topic"]
    if "status" in data:
        if data["status"] not in ("active", "paused", "disabled"):
            raise _Error(400, "rest_invalid_param", "Invalid parameter(s): status")
        hook.status = data["status"]
    for name in ("name", "delivery_url", "secret"):
        if name in data:
            if not isinstance(data[name], str):
                raise _Error(400, "rest_invalid_param", f"Invalid parameter(s): {name}")
            setattr(hook, name, data[name])


async def webhooks(request: Request) -> Response:
    try:
        woocommerce, store, key = _authorized(request, write=request.method == "POST")
        if request.method == "GET":
            hooks = [h.as_json() for h in sorted(store.webhooks.values(), key=lambda h: h.id)]
            return JSONResponse(
                hooks, headers={"X-WP-Total": str(len(hooks)), "X-WP-TotalPages": "1"}
            )
        data = await _body(request)
        if not isinstance(data.get("delivery_url"), str) or not data.get("topic"):
            raise _Error(
                400, "rest_missing_callback_param", "Missing parameter(s): topic, delivery_url"
            )
        now = woocommerce.now()
        hook = Webhook(
            id=woocommerce.next_id(),
            name="",
            topic="order.created",
            delivery_url="",
            secret=secrets.token_urlsafe(32),
            status="active",
            user_id=int(key.user_id) if key.user_id.isdigit() else 1,
            created=now,
            modified=now,
        )
        _apply(hook, data)
        store.webhooks[hook.id] = hook
    except _Error as exc:
        return _problem(exc)
    if hook.status == "active":
        await outbox_of(request).ping(hook)
    return JSONResponse(hook.as_json(), status_code=201)


async def webhook(request: Request) -> Response:
    try:
        woocommerce, store, _ = _authorized(request, write=request.method != "GET")
        hook = store.webhooks.get(request.path_params["id"])
        if hook is None:
            raise _Error(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        if request.method == "DELETE":
            del store.webhooks[hook.id]
            return JSONResponse(hook.as_json())
        if request.method in ("PUT", "POST"):
            was = hook.status
            _apply(hook, await _body(request))
            hook.modified = woocommerce.now()
            if hook.status == "active" and was != "active":
                hook.failure_count = 0
                await outbox_of(request).ping(hook)
    except _Error as exc:
        return _problem(exc)
    return JSONResponse(hook.as_json())
