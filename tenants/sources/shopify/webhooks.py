"""What a verified Shopify webhook does (the web route has checked its HMAC already).

Order topics apply the order's state (`apply`); `refunds/create` applies the refund against
the stored order, or brings reconcile forward when the order has not arrived; `app/uninstalled`
marks the source and drops its dead token (nothing booked changes); the mandatory privacy
topics are acted on and logged in `privacy_requests`. Every delivery is answered 200 once
verified: an order the gateway cannot book is shown to the owner, and retrying it would not
change that.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from gateway.db import Connection
from gateway.vault import Vault
from tenants.sources.shopify import apply, privacy, repository

log = logging.getLogger(__name__)

ORDER_TOPICS: Final = frozenset(
    {"orders/create", "orders/paid", "orders/fulfilled", "orders/cancelled", "orders/updated"}
)


@dataclass(frozen=True)
class Handled:
    outcome: str  # for the log line
    enqueue: tuple[int, ...] = ()


async def handle(
    conn: Connection, vault: Vault, *, topic: str, store: str, body: bytes, now: datetime
) -> Handled:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return Handled("unreadable body")
    if not isinstance(payload, dict):
        return Handled("unreadable body")
    if topic in privacy.TOPICS:
        return Handled(await privacy.handle(conn, topic=topic, store=store, payload=payload))
    source = await repository.by_store(conn, vault, store)
    if source is None:
        return Handled("no source for this store")
    if source.status == "uninstalled":
        return Handled("source uninstalled")
    await repository.delivered(conn, source.id, now)
    if topic == "app/uninstalled":
        await repository.uninstalled(conn, source.id, now)
        log.warning("shopify app uninstalled from %s (shop %s)", store, source.shop.id)
        return Handled("uninstalled")
    if topic in ORDER_TOPICS:
        applied = await apply.apply_order(conn, source, payload)
        return Handled(f"{applied.new_facts} new facts", applied.enqueue)
    if topic == "refunds/create":
        refunded = await apply.apply_refund(conn, source, payload)
        if refunded is None:
            await repository.reconcile_soon(conn, source.id, now)
            return Handled("refund of an unknown order: reconcile brought forward")
        return Handled(f"{refunded.new_facts} new facts", refunded.enqueue)
    return Handled("topic not used")
