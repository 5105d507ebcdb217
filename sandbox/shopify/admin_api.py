"""`POST /_shopify/{shop}/admin/api/{version}/graphql.json`: the GraphQL Admin API.

In Shopify's order: the access token (401 without a valid one), then the query parsed and
validated against `schema.SCHEMA` (errors answered 200, as GraphQL errors), then its requested
cost (`cost`) against the single-query ceiling (`MAX_COST_EXCEEDED`) and the app's bucket on
this store (`THROTTLED`, answered 200 with the bucket's state), then the query runs, and the
bucket is refunded what it did not use. Every answer carries `extensions.cost`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlsplit

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.shopify import search
from sandbox.shopify.cost import query_cost
from sandbox.shopify.nodes import gid, order_node
from sandbox.shopify.schema import SCHEMA, ArgumentError, page_size
from sandbox.shopify.state import MAX_QUERY_COST, ShopifySandbox, Store, Subscription, shopify_of

_VERSION: Final = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
_INVALID_TOKEN: Final = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"
)
_LOCAL_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1"})
_SORT_FIELDS: Final = {
    "UPDATED_AT": "updated_at",
    "CREATED_AT": "created_at",
    "PROCESSED_AT": "processed_at",
    "ID": "id",
}


def routes() -> list[BaseRoute]:
    return [
        Route(
            "/_shopify/{shop}/admin/api/{version}/graphql.json",
            graphql_endpoint,
            methods=["POST"],
        )
    ]


def _errors(*messages: str, **extra: Any) -> dict[str, Any]:
    return {"errors": [{"message": m, **extra} for m in messages]}


async def graphql_endpoint(request: Request) -> Response:
    shopify = shopify_of(request)
    store = shopify.stores.get(request.path_params["shop"].lower())
    if store is None:
        return JSONResponse({"errors": "Not Found"}, status_code=404)
    version: str = request.path_params["version"]
    if not _VERSION.match(version):
        return JSONResponse({"errors": "Not Found"}, status_code=404)
    client_id = shopify.token_app(store, request.headers.get("x-shopify-access-token", ""))
    if client_id is None:
        return JSONResponse({"errors": _INVALID_TOKEN}, status_code=401)

    try:
        query, variables, operation_name = await _request_body(request)
        document = parse(query)
    except ValueError as exc:
        return JSONResponse(_errors(str(exc)), status_code=400)
    except GraphQLError as exc:
        return JSONResponse({"errors": [exc.formatted]})
    problems = validate(SCHEMA, document)
    if problems:
        return JSONResponse({"errors": [p.formatted for p in problems]})
    operation, fragments = _operation(document, operation_name)
    if operation is None:
        return JSONResponse(_errors("An operation name is required"))
    requested = query_cost(SCHEMA, operation, fragments, variables)
    bucket = store.bucket(client_id, shopify.monotonic())

    def cost(actual: int | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": bucket.maximum,
                    "currentlyAvailable": int(bucket.available),
                    "restoreRate": bucket.restore_rate,
                },
            }
        }

    if requested > MAX_QUERY_COST:
        message = (
            f"Query cost is {requested}, which exceeds the single query max cost limit "
            f"({MAX_QUERY_COST}). See https://shopify.dev/concepts/about-apis/rate-limits for "
            "more information on how the cost of a query is calculated. To query larger "
            "amounts of data with fewer limits, bulk operations should be used instead."
        )
        extensions = {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_QUERY_COST}
        return JSONResponse({**_errors(message, extensions=extensions), "extensions": cost(None)})
    if bucket.available < requested:
        extensions = {
            "code": "THROTTLED",
            "documentation": "https://shopify.dev/api/usage/rate-limits",
        }
        return JSONResponse(
            {**_errors("Throttled", extensions=extensions), "extensions": cost(None)}
        )

    bucket.available -= requested
    scopes = shopify.token_scopes(store, request.headers.get("x-shopify-access-token", ""))
    root = _Root(shopify, store, client_id, version, str(request.base_url))
    root.visible_since = shopify.visible_since(scopes)
    result = execute_sync(
        SCHEMA,
        document,
        root_value=root.fields(),
        variable_values=variables,
        operation_name=operation_name,
    )
    actual = query_cost(SCHEMA, operation, fragments, variables, result.data)
    bucket.available = min(bucket.maximum, bucket.available + max(requested - actual, 0))
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    body["extensions"] = cost(actual)
    return JSONResponse(body)


async def _request_body(request: Request) -> tuple[str, dict[str, Any], str | None]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/graphql"):
        return raw.decode("utf-8", "replace"), {}, None
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError("Request body is not valid JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
        raise ValueError("Parameter Missing or Invalid: query")
    variables = data.get("variables") or {}
    name = data.get("operationName")
    if not isinstance(variables, dict) or not (name is None or isinstance(name, str)):
        raise ValueError("Parameter Missing or Invalid: variables")
    return data["query"], variables, name


def _operation(
    document: DocumentNode, name: str | None
) -> tuple[OperationDefinitionNode | None, dict[str, FragmentDefinitionNode]]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if name is not None:
        chosen = [op for op in operations if op.name and op.name.value == name]
        return (chosen[0] if chosen else None), fragments
    return (operations[0] if len(operations) == 1 else None), fragments


# -- resolvers --------------------------------------------------------------------------


def _order_cursor(key: tuple[Any, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps([str(key[0]), key[1]]).encode()).decode()


def _after_key(cursor: str | None) -> tuple[str, int] | None:
    if cursor is None:
        return None
    try:
        value, last_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(last_id, int) or not isinstance(value, str):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error):
        raise ArgumentError("Invalid cursor for current pagination sort.") from None
    return value, last_id


class _Root:
    def __init__(
        self, shopify: ShopifySandbox, store: Store, client_id: str, version: str, base: str
    ) -> None:
        self.shopify = shopify
        self.store = store
        self.client_id = client_id
        self.version = version
        self.base = base
        self.visible_since: datetime | None = None

    def _is_visible(self, order: dict[str, Any]) -> bool:
        """Whether this token may read the order: the 60-day rule (`state.RECENT_ORDERS`)."""
        since, created = self.visible_since, order.get("created_at")
        return since is None or created is None or search.parse_instant(str(created)) >= since

    def _visible(self) -> list[dict[str, Any]]:
        return [o for o in self.store.orders.values() if self._is_visible(o)]

    def fields(self) -> dict[str, Any]:
        return {
            "order": self.order,
            "orders": self.orders,
            "ordersCount": self.orders_count,
            "webhookSubscriptionCreate": self.subscribe,
        }

    def order(self, _info: Any, id: str) -> dict[str, Any] | None:
        kind, _, number = id.removeprefix("gid://shopify/").partition("/")
        if kind != "Order" or not number.isdigit():
            return None
        found = self.store.orders.get(int(number))
        return order_node(found) if found and self._is_visible(found) else None

    def orders(
        self,
        _info: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
        reverse: bool = False,
        sortKey: str = "ID",
        **_ignored: Any,
    ) -> dict[str, Any]:
        size = page_size(first)
        terms = search.parse(query)
        field = _SORT_FIELDS.get(sortKey, "id")

        def key(order: dict[str, Any]) -> tuple[Any, int]:
            value = order.get(field)
            if field != "id" and value is not None:
                value = search.parse_instant(str(value)).isoformat()
            return (str(value) if field != "id" else f"{int(order['id']):020d}", int(order["id"]))

        chosen = sorted(
            (o for o in self._visible() if search.matches(o, terms)),
            key=key,
            reverse=reverse,
        )
        start = _after_key(after)
        if start is not None:
            chosen = [o for o in chosen if (key(o) < start if reverse else key(o) > start)]
        page = chosen[:size]
        edges = [{"cursor": _order_cursor(key(o)), "node": order_node(o)} for o in page]
        return {
            "edges": edges,
            "nodes": [e["node"] for e in edges],
            "pageInfo": {
                "hasNextPage": len(chosen) > size,
                "hasPreviousPage": start is not None,
                "startCursor": edges[0]["cursor"] if edges else None,
                "endCursor": edges[-1]["cursor"] if edges else None,
            },
        }

    def orders_count(
        self, _info: Any, query: str | None = None, limit: int | None = 10000
    ) -> dict[str, Any]:
        """Shopify counts up to `limit` (10,000 unless `null`), and says whether it stopped."""
        terms = search.parse(query)
        count = sum(1 for o in self._visible() if search.matches(o, terms))
        if limit is not None and count > limit:
            return {"count": limit, "precision": "AT_LEAST"}
        return {"count": count, "precision": "EXACT"}

    def subscribe(
        self,
        _info: Any,
        topic: str,
        webhookSubscription: dict[str, Any],
    ) -> dict[str, Any]:
        url = webhookSubscription.get("callbackUrl")
        fmt = webhookSubscription.get("format") or "JSON"
        rest_topic = topic.lower().replace("_", "/", 1)
        errors = []
        if not isinstance(url, str) or not url:
            errors.append((["webhookSubscription", "callbackUrl"], "Address can't be blank"))
        elif not _callback_allowed(url):
            errors.append(
                (
                    ["webhookSubscription", "callbackUrl"],
                    "Address protocol http:// is not supported",
                )
            )
        elif fmt != "JSON":
            errors.append((["webhookSubscription", "format"], "Format is not supported"))
        elif any(
            s.client_id == self.client_id and s.topic == rest_topic and s.callback_url == url
            for s in self.store.subscriptions
        ):
            errors.append(
                (
                    ["webhookSubscription", "callbackUrl"],
                    "Address for this topic has already been taken",
                )
            )
        if errors:
            return {
                "webhookSubscription": None,
                "userErrors": [{"field": f, "message": m} for f, m in errors],
            }
        assert isinstance(url, str)
        subscription = Subscription(
            id=self.shopify.next_id(),
            client_id=self.client_id,
            topic=rest_topic,
            callback_url=url,
            format="JSON",
            api_version=self.version,
        )
        self.store.subscriptions.append(subscription)
        self.store.compliance_urls.setdefault(self.client_id, (url, self.version))
        return {
            "webhookSubscription": {
                "id": gid("WebhookSubscription", subscription.id),
                "topic": topic,
                "callbackUrl": url,
                "format": "JSON",
            },
            "userErrors": [],
        }


def _callback_allowed(url: str) -> bool:
    """Shopify wants https; the sandbox also takes http to a local or `.test` host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme == "https":
        return bool(host)
    return parts.scheme == "http" and (
        host in _LOCAL_HOSTS or host.endswith((".test", ".localhost"))
    )
