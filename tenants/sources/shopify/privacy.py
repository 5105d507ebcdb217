"""Shopify's mandatory privacy webhooks, acted on and logged (`privacy_requests`).

- `customers/data_request`: the store owner asked what the gateway holds about a customer.
  It is recorded with the orders the gateway holds for that customer, for the platform
  admin to send to the store owner.
- `customers/redact`: the customer's name, e-mail, phone and street are blanked in the
  orders the gateway keeps. Invoices and credit notes already in Dinero are the shop's
  accounting records, which Danish bookkeeping law requires kept for five years; they are
  the shop owner's to handle there.
- `shop/redact` (48 hours after an uninstall): the store's source row goes, with its
  settings and problems; the token went at the uninstall.
"""

from __future__ import annotations

import logging
from typing import Any, Final
from uuid import UUID

from gateway.db import Connection

log = logging.getLogger(__name__)

TOPICS: Final = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
_REDACTED_FIELDS: Final = ("name", "email", "phone")


async def handle(conn: Connection, *, topic: str, store: str, payload: dict[str, Any]) -> str:
    shop_id: UUID | None = await conn.fetchval(
        "SELECT shop_id FROM sources WHERE platform = 'shopify' AND store = $1", store
    )
    order_ids = [
        str(i)
        for i in _ids(
            payload, "orders_requested" if topic.endswith("data_request") else "orders_to_redact"
        )
    ]
    if topic == "customers/data_request":
        held = await _held(conn, shop_id, order_ids)
        action = f"held {len(held)} of the {len(order_ids)} orders named: {', '.join(held)}"
    elif topic == "customers/redact":
        count = await _redact(conn, shop_id, order_ids)
        action = f"redacted the customer in {count} stored orders"
    else:
        deleted = await conn.execute(
            "DELETE FROM sources WHERE platform = 'shopify' AND store = $1", store
        )
        action = f"deleted the store's source ({deleted})"
    await conn.execute(
        "INSERT INTO privacy_requests (platform, store, topic, shop_id, detail, action) "
        "VALUES ('shopify', $1, $2, $3, $4, $5)",
        store,
        topic,
        shop_id,
        {"orders": order_ids, "customer_id": (payload.get("customer") or {}).get("id")},
        action,
    )
    log.info("shopify privacy %s for %s: %s", topic, store, action)
    return action


def _ids(payload: dict[str, Any], key: str) -> list[int]:
    values = payload.get(key) or []
    return [v for v in values if isinstance(v, int)] if isinstance(values, list) else []


async def _held(conn: Connection, shop_id: UUID | None, order_ids: list[str]) -> list[str]:
    if shop_id is None or not order_ids:
        return []
    rows = await conn.fetch(
        "SELECT external_id FROM orders WHERE shop_id = $1 AND external_id = ANY($2::text[]) "
        "ORDER BY external_id",
        shop_id,
        order_ids,
    )
    return [r["external_id"] for r in rows]


async def _redact(conn: Connection, shop_id: UUID | None, order_ids: list[str]) -> int:
    if shop_id is None or not order_ids:
        return 0
    result = await conn.execute(
        """
        UPDATE orders SET payload = jsonb_set(
            jsonb_set(payload, '{customer}', (payload->'customer') || $3::jsonb),
            '{customer,address,street}', 'null'::jsonb, false),
            updated_at = now()
        WHERE shop_id = $1 AND external_id = ANY($2::text[])
        """,
        shop_id,
        order_ids,
        {field: None for field in _REDACTED_FIELDS},
    )
    return int(result.rsplit(" ", 1)[-1])
