"""The ids of the canonical events a WooCommerce order's facts become, and its times."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from gateway.orders import round_half_up
from gateway.platforms.reading import Reader

_UNIT_PRICE_PLACES: Final = Decimal("0.0001")
_CENTS: Final = Decimal("0.01")


def event_id(order_id: int | str, fact: str) -> str:
    """The event id of one fact about an order: `created`, `paid`, `shipped`, `cancelled` or
    `refund:<refund id>`. WooCommerce's delivery ids are fresh on every send, so they cannot
    be idempotency keys; a fact is stated once, so the same fact always gets the same id."""
    return f"woocommerce:{order_id}:{fact}"


def order_url(store_url: str, order_id: int | str) -> str:
    """The order in the store's WordPress admin (WooCommerce sends the classic edit link on to
    its order screen when the store keeps orders in its own tables)."""
    return f"{store_url.rstrip('/')}/wp-admin/post.php?post={order_id}&action=edit"


def gmt(doc: Mapping[str, Any], name: str, reader: Reader, base: str = "") -> dt.datetime | None:
    """A `*_gmt` time (UTC, written without an offset), or None when it is not set."""
    value = doc.get(name)
    if value in (None, ""):
        return None
    return reader.time(value, f"{base}/{name}", naive_is_utc=True)


def unit(amount: Decimal, quantity: int) -> tuple[Decimal, int]:
    """(unit price, quantity) that give back `amount` to the øre: the amount divided by the
    quantity when that price (to 1/100 øre) does, else the amount once."""
    price = (amount / quantity).quantize(_UNIT_PRICE_PLACES)
    if round_half_up(price * quantity) != amount:
        return amount, 1
    if price == price.quantize(_CENTS):
        price = price.quantize(_CENTS)
    return price, quantity
