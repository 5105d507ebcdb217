"""Everything the WooCommerce stand-in remembers, in memory: stores with their orders,
refunds, REST API keys and webhooks, and the delivery fault. Like `sandbox.state`, no method
awaits between a check and a change.

WooCommerce's figures (`class-wc-webhook.php`): a webhook is disabled once its
`failure_count` exceeds 5 (`woocommerce_max_webhook_delivery_failures`), a success resets the
count; a delivery is one POST with a 60 s timeout and is never retried.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from starlette.requests import Request

STORE_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9\-]{0,62}$")
MAX_FAILURES: Final = 5
TOPICS: Final = frozenset({"order.created", "order.updated", "order.deleted", "order.restored"})


@dataclass
class Key:
    key_id: int
    user_id: str
    consumer_key: str
    consumer_secret: str = field(repr=False)
    permissions: str  # read, write or read_write
    app_name: str


@dataclass
class Webhook:
    id: int
    name: str
    topic: str
    delivery_url: str
    secret: str = field(repr=False)
    status: str  # active, paused or disabled
    user_id: int
    created: datetime
    modified: datetime
    failure_count: int = 0

    def as_json(self) -> dict[str, Any]:
        """As `GET /webhooks/{id}` shows it (WooCommerce shows the secret to its owner)."""
        resource, event = self.topic.split(".", 1)
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "topic": self.topic,
            "resource": resource,
            "event": event,
            "hooks": [f"woocommerce_{event}_{resource}"],
            "delivery_url": self.delivery_url,
            "secret": self.secret,
            "date_created": gmt(self.created),
            "date_created_gmt": gmt(self.created),
            "date_modified": gmt(self.modified),
            "date_modified_gmt": gmt(self.modified),
        }


@dataclass
class Store:
    name: str
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)  # consumer key → key
    webhooks: dict[int, Webhook] = field(default_factory=dict)


@dataclass
class Faults:
    fail_deliveries: bool = False


def gmt(moment: datetime) -> str:
    """WooCommerce's `*_gmt` form: UTC, to the second, without an offset."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def woocommerce_of(request: Request) -> WooCommerceSandbox:
    woocommerce: WooCommerceSandbox = request.app.state.woocommerce
    return woocommerce


class WooCommerceSandbox:
    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self.now = clock or _utcnow
        self.reset()

    def reset(self) -> None:
        self.stores: dict[str, Store] = {}
        self.faults = Faults()
        self._next_id = 100

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def add_store(self, name: str) -> Store:
        if name not in self.stores:
            self.stores[name] = Store(name)
        return self.stores[name]

    def issue_key(self, store: Store, *, user_id: str, scope: str, app_name: str) -> Key:
        key = Key(
            key_id=self.next_id(),
            user_id=user_id,
            consumer_key="ck_" + secrets.token_hex(20),
            consumer_secret="cs_" + secrets.token_hex(20),
            permissions=scope,
            app_name=app_name,
        )
        store.keys[key.consumer_key] = key
        return key

    def authenticate(self, store: Store, consumer_key: str, consumer_secret: str) -> Key | None:
        key = store.keys.get(consumer_key)
        if key is None or not hmac.compare_digest(
            key.consumer_secret.encode(), consumer_secret.encode()
        ):
            return None
        return key
