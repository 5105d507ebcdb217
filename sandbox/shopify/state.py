"""Everything the Shopify stand-in remembers, in memory: the known app, stores with their
orders, access tokens, webhook subscriptions and cost buckets, pending install codes, and
the delivery faults. Like `sandbox.state`, no method awaits between a check and a change.

Shopify's figures, and where the sandbox chooses (each a store setting a test may change):
- Cost bucket: Shopify's Standard plan restores 100 points a second (shopify.dev, "GraphQL
  Admin API rate limits"); the bucket holds 2,000 (20 seconds of restore, as Shopify's
  older 1,000/50 figures also had it). No single query may cost over 1,000 points.
- An install code is single-use and lives 60 seconds (Shopify says only "short-lived").
- Orders created more than 60 days ago (by the sandbox's clock) are invisible to the Admin API
  (`order`, `orders`, `ordersCount`) for a token without the `read_all_orders` scope.
"""

from __future__ import annotations

import hmac
import random
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from starlette.requests import Request

SHOP_DOMAIN: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$")
APP_CLIENT_ID: Final = "sandbox-shopify-app"
APP_SECRET: Final = "sandbox-shopify-secret"
APP_SCOPES: Final = frozenset({"read_orders", "read_all_orders", "write_orders"})
TOKEN_PREFIX: Final = "shpat_"
CODE_TTL: Final = timedelta(seconds=60)
BUCKET_SIZE: Final = 2000.0
RESTORE_RATE: Final = 100.0
MAX_QUERY_COST: Final = 1000
# Without `read_all_orders` an app sees only orders created in this window (shopify.dev,
# the Order object: "Only the last 60 days' worth of orders from a store are accessible").
RECENT_ORDERS: Final = timedelta(days=60)


@dataclass(frozen=True)
class App:
    client_id: str
    secret: str = field(repr=False)
    name: str


SANDBOX_APP: Final = App(APP_CLIENT_ID, APP_SECRET, "Dinero Gateway (sandbox)")


@dataclass
class Bucket:
    """Shopify's leaky bucket of cost points, for one app on one store."""

    maximum: float
    restore_rate: float
    available: float
    at: float  # monotonic seconds when `available` was last worked out

    def level(self, now: float) -> float:
        self.available = min(self.maximum, self.available + (now - self.at) * self.restore_rate)
        self.at = now
        return self.available


@dataclass(frozen=True)
class Subscription:
    id: int
    client_id: str
    topic: str  # the REST form: "orders/create"
    callback_url: str
    format: str
    api_version: str


@dataclass
class Store:
    shop: str
    id: int
    restore_rate: float = RESTORE_RATE
    bucket_size: float = BUCKET_SIZE
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # token → (app, scope)
    subscriptions: list[Subscription] = field(default_factory=list)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    # Where each app that ever subscribed hears the privacy topics (its compliance URL).
    compliance_urls: dict[str, tuple[str, str]] = field(default_factory=dict)

    def bucket(self, client_id: str, now: float) -> Bucket:
        bucket = self.buckets.get(client_id)
        if bucket is None or (
            bucket.maximum != self.bucket_size or bucket.restore_rate != self.restore_rate
        ):
            level = bucket.level(now) if bucket else self.bucket_size
            bucket = Bucket(self.bucket_size, self.restore_rate, min(level, self.bucket_size), now)
            self.buckets[client_id] = bucket
        bucket.level(now)
        return bucket


@dataclass
class Faults:
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay_ms: float = 0.0
    reorder: bool = False
    # Not Shopify's: divides its retry schedule (1000 → hours become seconds) for tests.
    retry_scale: float = 1.0


@dataclass(frozen=True)
class _Code:
    shop: str
    client_id: str
    scope: str
    expires: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC)


def shopify_of(request: Request) -> ShopifySandbox:
    shopify: ShopifySandbox = request.app.state.shopify
    return shopify


class ShopifySandbox:
    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.now = clock or _utcnow
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self.apps = {SANDBOX_APP.client_id: SANDBOX_APP}
        self.reset()

    def reset(self) -> None:
        self.stores: dict[str, Store] = {}
        self.faults = Faults()
        self._codes: dict[str, _Code] = {}
        self._next_id = 1

    def next_id(self) -> int:
        value = self._next_id
        self._next_id += 1
        return value

    def add_store(self, shop: str) -> Store:
        shop = shop.lower()
        if shop not in self.stores:
            self.stores[shop] = Store(shop, 548380000 + len(self.stores) + 1)
        return self.stores[shop]

    def authenticate_app(self, client_id: str, secret: str) -> App | None:
        app = self.apps.get(client_id)
        if app is None or not hmac.compare_digest(app.secret.encode(), secret.encode()):
            return None
        return app

    # -- install --------------------------------------------------------------------

    def issue_code(self, store: Store, client_id: str, scope: str) -> str:
        code = secrets.token_hex(16)
        self._codes[code] = _Code(store.shop, client_id, scope, self.now() + CODE_TTL)
        return code

    def redeem_code(self, store: Store, app: App, code: str) -> tuple[str, str] | None:
        """(access token, scope) for an unused, unexpired code of this store and app."""
        issued = self._codes.pop(code, None)  # single use, even when refused below
        if (
            issued is None
            or issued.shop != store.shop
            or issued.client_id != app.client_id
            or issued.expires <= self.now()
        ):
            return None
        token = TOKEN_PREFIX + secrets.token_hex(16)
        store.tokens[token] = (app.client_id, issued.scope)
        return token, issued.scope

    def token_app(self, store: Store, token: str) -> str | None:
        entry = store.tokens.get(token)
        return entry[0] if entry else None

    def token_scopes(self, store: Store, token: str) -> frozenset[str]:
        entry = store.tokens.get(token)
        return frozenset(s.strip() for s in entry[1].split(",")) if entry else frozenset()

    def visible_since(self, scopes: frozenset[str]) -> datetime | None:
        """The oldest `created_at` an app with `scopes` may read (None: every order).
        Shopify shows apps the last 60 days of orders unless it granted `read_all_orders`."""
        return None if "read_all_orders" in scopes else self.now() - RECENT_ORDERS

    def uninstall(self, store: Store) -> list[str]:
        """Revokes every token on the store; answers the apps that were installed."""
        apps = sorted({client_id for client_id, _ in store.tokens.values()})
        store.tokens.clear()
        store.buckets.clear()
        return apps
