"""The test order an owner sends from the shop page: the example order, recorded as ingest
would, its invoice left as a draft."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from gateway.db import Pool
from gateway.orders import parse_event
from tenants.dashboard.shop import TEST_ORDER_EVENT
from tenants.orders import ingest as orders
from tenants.shops.settings import shop_settings


def sample_order(*, external_id: str, number: str, now: datetime, language: str) -> dict[str, Any]:
    """A small, valid, clearly marked order in the ingest format (one 25 % item, paid)."""
    danish = language == "da-DK"
    stamp = now.isoformat().replace("+00:00", "Z")
    return {
        "id": external_id,
        "number": number,
        "created_at": stamp,
        "currency": "DKK",
        "prices_include_vat": True,
        "customer": {
            "name": "Testkunde (Dinero Gateway)" if danish else "Test customer (Dinero Gateway)",
            "email": None,
            "phone": None,
            "company": None,
            "vat_number": None,
            "ean": None,
            "address": {"street": "Testvej 1", "zip": "8000", "city": "Aarhus C", "country": "DK"},
        },
        "lines": [
            {
                "sku": "TEST",
                "name": "Testvare – kan slettes" if danish else "Test item – safe to delete",
                "quantity": "1",
                "unit_price": "100.00",
                "vat_rate": "0.25",
                "discount": "0.00",
                "kind": "goods",
            }
        ],
        "shipping": None,
        "fees": [],
        "discounts": [],
        "total": "100.00",
        "paid_at": stamp,
        "shipped_at": None,
    }


@dataclass(frozen=True)
class SentTestOrder:
    document_id: int
    order_number: str
    enqueue: tuple[int, ...]  # enqueue once this has returned (the transaction is committed)


async def send_test_order(pool: Pool, shop_id: UUID, *, now: datetime) -> SentTestOrder:
    """Records a sample order for the shop the way ingest records a real one, with an
    invoice that is left as a draft in Dinero whatever the shop's mode and trigger, so the
    owner can see the whole way through before going live. Its ids start with `test-`."""
    suffix = f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    async with pool.acquire() as conn, conn.transaction():
        settings = await shop_settings(conn, shop_id)
        if settings is None:
            raise LookupError(f"no shop {shop_id}")
        language = settings.language
        body = {
            "id": f"test-{suffix}",
            "type": "order.created",
            "occurred_at": now.isoformat().replace("+00:00", "Z"),
            "order": sample_order(
                external_id=f"test-{suffix}", number=f"TEST-{suffix}", now=now, language=language
            ),
            "refund": None,
        }
        event = parse_event(body)
        # As ingest would for this shop, but "created" and "draft": a test posts at once,
        # and never as a booked invoice.
        shop = orders.IngestShop(
            id=shop_id, trigger="created", mode="draft", document_kind="invoice", secrets=()
        )
        raw = json.dumps(body, sort_keys=True).encode()
        recorded = await orders.record_event(
            conn, shop, event, body_sha256=hashlib.sha256(raw).digest()
        )
        document_id: int = recorded.receipt["documents"][0]["id"]
        await conn.execute(
            "INSERT INTO events (shop_id, document_id, kind, message, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            shop_id,
            document_id,
            TEST_ORDER_EVENT,
            f"Test order {event.order.number} sent; its invoice will be left as a draft",
            now,
        )
    return SentTestOrder(document_id, event.order.number, recorded.enqueue)
