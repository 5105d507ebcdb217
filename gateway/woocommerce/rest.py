"""The WooCommerce REST API v3 calls the gateway makes: orders (by `modified_after` or creation
date, page by page, as `X-WP-Total`/`X-WP-TotalPages` tell), an order's refunds, and the
webhooks it keeps alive. Authenticated with the consumer key and secret over HTTP Basic, as
WooCommerce takes them over https.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from gateway.secret import Secret

log = logging.getLogger(__name__)

TIMEOUT: Final = httpx.Timeout(connect=5, read=30, write=30, pool=5)
PER_PAGE: Final = 100
WEBHOOK_TOPICS: Final = ("order.created", "order.updated", "order.deleted")


class RestApiError(Exception):
    """A call failed. `retryable` says whether the same call may succeed later."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Unauthorized(RestApiError):
    """The store no longer accepts the keys (revoked, or the user lost the right)."""

    def __init__(self) -> None:
        super().__init__("WooCommerce refused the gateway's keys", retryable=False)


@dataclass(frozen=True)
class OrdersPage:
    orders: list[dict[str, Any]]
    page: int
    total: int
    total_pages: int

    @property
    def last(self) -> bool:
        return self.page >= self.total_pages


def wc_time(moment: datetime) -> str:
    """An ISO 8601 time WooCommerce reads as UTC."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class RestApi:
    def __init__(
        self,
        http: httpx.AsyncClient,
        store_url: str,
        consumer_key: Secret,
        consumer_secret: Secret,
    ) -> None:
        self._http = http
        self._base = store_url.rstrip("/") + "/wp-json/wc/v3"
        self._auth = httpx.BasicAuth(consumer_key.reveal(), consumer_secret.reveal())
        self.calls = 0

    def __repr__(self) -> str:
        return f"RestApi({self._base!r})"

    async def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> httpx.Response:
        self.calls += 1
        try:
            response = await self._http.request(
                method,
                self._base + path,
                params=params,
                json=json,
                auth=self._auth,
                timeout=TIMEOUT,
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            raise RestApiError(f"{method} {path}: {type(exc).__name__}", retryable=True) from None
        if response.status_code in (401, 403):
            raise Unauthorized()
        if response.status_code >= 500 or response.status_code == 429:
            raise RestApiError(f"{method} {path}: HTTP {response.status_code}", retryable=True)
        if response.status_code >= 400:
            raise RestApiError(
                f"{method} {path}: HTTP {response.status_code} {_code(response)}", retryable=False
            )
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise RestApiError(f"{method} {path}: not JSON", retryable=True) from None

    async def orders(
        self,
        *,
        page: int = 1,
        modified_after: datetime | None = None,
        after: datetime | None = None,
        before: datetime | None = None,
        orderby: str = "modified",
    ) -> OrdersPage:
        """One page of orders, ascending by `orderby` (`id`, `date` or `modified`)."""
        params = {
            "page": str(page),
            "per_page": str(PER_PAGE),
            "orderby": orderby,
            "order": "asc",
        }
        if modified_after is not None:
            params["modified_after"] = wc_time(modified_after)
        if after is not None:
            params["after"] = wc_time(after)
        if before is not None:
            params["before"] = wc_time(before)
        response = await self._call("GET", "/orders", params=params)
        try:
            orders = response.json()
            total = int(response.headers.get("x-wp-total", "0"))
            pages = int(response.headers.get("x-wp-totalpages", "0"))
        except ValueError:
            raise RestApiError("GET /orders: unreadable answer", retryable=True) from None
        if not isinstance(orders, list):
            raise RestApiError("GET /orders: not a list", retryable=True)
        return OrdersPage([o for o in orders if isinstance(o, dict)], page, total, pages)

    async def order(self, order_id: int | str) -> dict[str, Any] | None:
        try:
            found = await self._json("GET", f"/orders/{int(order_id)}")
        except RestApiError as exc:
            if "HTTP 404" in str(exc):
                return None
            raise
        return found if isinstance(found, dict) else None

    async def refunds(self, order_id: int | str) -> list[dict[str, Any]]:
        """Every refund of the order, with its lines, oldest first."""
        found = await self._json(
            "GET", f"/orders/{int(order_id)}/refunds", params={"per_page": str(PER_PAGE)}
        )
        refunds = [r for r in found if isinstance(r, dict)] if isinstance(found, list) else []
        return sorted(refunds, key=lambda r: (str(r.get("date_created_gmt")), str(r.get("id"))))

    async def webhooks(self) -> list[dict[str, Any]]:
        found = await self._json("GET", "/webhooks", params={"per_page": str(PER_PAGE)})
        return [w for w in found if isinstance(w, dict)] if isinstance(found, list) else []

    async def create_webhook(
        self, *, topic: str, delivery_url: str, secret: Secret, name: str
    ) -> dict[str, Any]:
        created = await self._json(
            "POST",
            "/webhooks",
            json={
                "name": name,
                "topic": topic,
                "delivery_url": delivery_url,
                "secret": secret.reveal(),
                "status": "active",
            },
        )
        if not isinstance(created, dict) or not created.get("id"):
            raise RestApiError("POST /webhooks: no webhook in the answer", retryable=True)
        return created

    async def activate_webhook(self, webhook_id: int | str) -> dict[str, Any]:
        updated = await self._json("PUT", f"/webhooks/{int(webhook_id)}", json={"status": "active"})
        return updated if isinstance(updated, dict) else {}


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("code", ""))[:100] if isinstance(body, dict) else ""
