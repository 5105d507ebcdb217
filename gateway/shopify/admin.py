"""The GraphQL Admin API calls the gateway makes: webhook subscriptions and orders.

Shopify limits GraphQL by cost: each app and store has a bucket of points that refills at a
fixed rate, every answer says what is left (`extensions.cost.throttleStatus`), and a query
costing more than that is answered `THROTTLED`. `AdminApi` waits before a query when the
last answer says the bucket cannot pay for it, and after a `THROTTLED` waits exactly as long
as the refill takes, so reconcile keeps inside the limit instead of hammering it.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from gateway.secret import Secret
from gateway.settings import Settings
from gateway.shopify.orders import (
    LINE_FIELDS,
    ORDER_FIELDS,
    REFUND_FIELDS,
    REFUNDS_PER_ORDER,
    more_lines,
    rest_order,
)

log = logging.getLogger(__name__)

TIMEOUT: Final = httpx.Timeout(connect=5, read=30, write=30, pool=5)
THROTTLED_ATTEMPTS: Final = 8
# Orders per page: Shopify prices a page by what it could hold (an order with its ten lines
# and their duties, two shipping lines, fees, payments, fulfilments and refund ids asks for
# about 290 points), and one query may ask for 1,000 at most. What a page actually costs,
# and is charged, is far less.
PAGE_SIZE: Final = 3
# The rest of a long order's lines, this many a query (about 21 points a line).
MORE_LINES: Final = 40

WEBHOOK_TOPICS: Final = (
    "ORDERS_CREATE",
    "ORDERS_PAID",
    "ORDERS_FULFILLED",
    "ORDERS_CANCELLED",
    "ORDERS_UPDATED",
    "REFUNDS_CREATE",
    "APP_UNINSTALLED",
)

Sleep = Callable[[float], Awaitable[None]]


class AdminApiError(Exception):
    """A call failed. `retryable` says whether the same call may succeed later."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Unauthorized(AdminApiError):
    """The access token is not valid any more (the app was uninstalled or the token revoked)."""

    def __init__(self) -> None:
        super().__init__("Shopify no longer accepts the access token.", retryable=False)


@dataclass(frozen=True)
class OrdersPage:
    orders: list[dict[str, Any]]  # REST-shaped, as webhooks carry them
    end_cursor: str | None  # None on the last page


class AdminApi:
    """One store's Admin API through the process's shared client."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        store_url: str,
        version: str,
        token: Secret,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._url = f"{store_url}/admin/api/{version}/graphql.json"
        self._token = token
        self._sleep = sleep
        self._available: float | None = None
        self._restore_rate = 100.0  # the standard plan's; every answer says the real one
        self.calls = 0

    @classmethod
    def of_store(
        cls, http: httpx.AsyncClient, settings: Settings, store: str, token: Secret
    ) -> AdminApi:
        """The store's Admin API at the configured version."""
        return cls(http, settings.shopify_store_url(store), settings.shopify_api_version, token)

    def __repr__(self) -> str:
        return f"AdminApi({self._url!r})"

    async def query(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The query's `data`, waiting out throttling. Raises `AdminApiError`."""
        for _ in range(THROTTLED_ATTEMPTS):
            body = await self._post(query, variables or {})
            cost = (body.get("extensions") or {}).get("cost") or {}
            requested = float(cost.get("requestedQueryCost") or 0)
            status = cost.get("throttleStatus") or {}
            if status:
                self._available = float(status.get("currentlyAvailable", 0))
                self._restore_rate = float(status.get("restoreRate") or self._restore_rate)
            errors = body.get("errors") or []
            if any(_code(e) == "THROTTLED" for e in errors):
                wait = max(requested - (self._available or 0), 1) / self._restore_rate
                log.info("shopify throttled; waiting %.1f s", wait)
                await self._sleep(math.ceil(wait * 10) / 10)
                continue
            if errors:
                messages = "; ".join(str(e.get("message", e))[:200] for e in errors[:3])
                raise AdminApiError(f"Shopify refused the query: {messages}", retryable=False)
            if requested and self._available is not None and self._available < requested:
                # The next query likely costs as much: let the bucket refill first.
                await self._sleep((requested - self._available) / self._restore_rate)
            return body.get("data")
        raise AdminApiError("Shopify kept throttling the query.", retryable=True)

    async def _post(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        self.calls += 1
        try:
            response = await self._http.post(
                self._url,
                json={"query": query, "variables": dict(variables)},
                headers={
                    "X-Shopify-Access-Token": self._token.reveal(),
                    "Accept": "application/json",
                },
                timeout=TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise AdminApiError(
                f"Shopify could not be reached ({type(exc).__name__}).", retryable=True
            ) from None
        if response.status_code in (401, 403):
            raise Unauthorized()
        if response.status_code == 429 or response.status_code >= 500:
            raise AdminApiError(f"Shopify answered HTTP {response.status_code}.", retryable=True)
        if response.status_code != 200:
            raise AdminApiError(f"Shopify answered HTTP {response.status_code}.", retryable=False)
        try:
            body = response.json()
        except ValueError:
            raise AdminApiError("Shopify's answer could not be read.", retryable=True) from None
        if not isinstance(body, dict):
            raise AdminApiError("Shopify's answer could not be read.", retryable=True)
        return body

    async def subscribe(self, topic: str, callback_url: str) -> None:
        """Subscribes `callback_url` to `topic`; an existing identical subscription is fine."""
        data = await self.query(_SUBSCRIBE, {"topic": topic, "url": callback_url})
        result = (data or {}).get("webhookSubscriptionCreate") or {}
        problems = [
            str(e.get("message", ""))
            for e in result.get("userErrors") or []
            if "already been taken" not in str(e.get("message", ""))
        ]
        if problems:
            raise AdminApiError(
                f"Shopify refused the {topic} subscription: {'; '.join(problems)}",
                retryable=False,
            )

    async def orders(
        self, search: str, after: str | None = None, *, sort: str = "UPDATED_AT"
    ) -> OrdersPage:
        """One page of the orders matching Shopify's search syntax, oldest first by `sort`
        (`UPDATED_AT` or `CREATED_AT`)."""
        data = await self.query(
            _ORDERS, {"query": search, "after": after, "first": PAGE_SIZE, "sort": sort}
        )
        connection = (data or {}).get("orders") or {}
        nodes = [edge["node"] for edge in connection.get("edges") or []]
        for node in nodes:
            await self._read_all_lines(node)
            if node.get("refunds"):
                node["refunds"] = await self._refunds(node.get("id"))
        info = connection.get("pageInfo") or {}
        end = info.get("endCursor") if info.get("hasNextPage") else None
        return OrdersPage([rest_order(node) for node in nodes], end)

    async def count(self, search: str) -> int | None:
        """How many orders match, or None when Shopify will not say exactly."""
        data = await self.query(_COUNT, {"query": search})
        counted = (data or {}).get("ordersCount") or {}
        count = counted.get("count")
        return count if isinstance(count, int) and counted.get("precision") == "EXACT" else None

    async def _refunds(self, order_id: Any) -> list[dict[str, Any]]:
        data = await self.query(_REFUNDS, {"id": order_id})
        return list(((data or {}).get("order") or {}).get("refunds") or [])

    async def _read_all_lines(self, node: dict[str, Any]) -> None:
        cursor = more_lines(node)
        while cursor is not None:
            data = await self.query(_LINES, {"id": node.get("id"), "after": cursor})
            connection = ((data or {}).get("order") or {}).get("lineItems") or {}
            node["lineItems"]["nodes"].extend(connection.get("nodes") or [])
            node["lineItems"]["pageInfo"] = connection.get("pageInfo") or {}
            cursor = more_lines(node)


def search_time(moment: datetime) -> str:
    """A moment as Shopify's search syntax takes it (`updated_at:>='…'`), in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _code(error: Any) -> str | None:
    if not isinstance(error, dict):
        return None
    code = (error.get("extensions") or {}).get("code")
    return code if isinstance(code, str) else None


_SUBSCRIBE: Final = """
mutation subscribe($topic: WebhookSubscriptionTopic!, $url: URL!) {
  webhookSubscriptionCreate(topic: $topic,
                            webhookSubscription: {callbackUrl: $url, format: JSON}) {
    webhookSubscription { id }
    userErrors { field message }
  }
}
"""

_ORDERS: Final = f"""
query orders($query: String!, $after: String, $first: Int!, $sort: OrderSortKeys!) {{
  orders(first: $first, after: $after, query: $query, sortKey: $sort) {{
    edges {{ cursor node {{ {ORDER_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""

_COUNT: Final = """
query count($query: String!) { ordersCount(query: $query, limit: null) { count precision } }
"""

_REFUNDS: Final = f"""
query refunds($id: ID!) {{
  order(id: $id) {{ refunds(first: {REFUNDS_PER_ORDER}) {{ {REFUND_FIELDS} }} }}
}}
"""

_LINES: Final = f"""
query lines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {MORE_LINES}, after: $after) {{
      nodes {{ {LINE_FIELDS} }} pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""
