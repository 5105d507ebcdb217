"""How and when a Shopify order was paid, in the gateway's terms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from gateway.orders import PaymentMethod
from gateway.shopify.reading import Reader, objects

# Transaction statuses that moved money (webhook bodies may leave the status out).
SUCCEEDED: Final = frozenset({"success", None})


def paid_time(doc: Mapping[str, Any], reader: Reader) -> dt.datetime | None:
    """When the money came: the last successful sale or capture, else `processed_at`."""
    times = []
    for index, transaction in objects(doc, "transactions"):
        if transaction.get("kind") in ("sale", "capture") and transaction.get("status") in (
            SUCCEEDED
        ):
            value = transaction.get("processed_at") or transaction.get("created_at")
            times.append(reader.time(value, f"/transactions/{index}/processed_at"))
    found = [time for time in times if time is not None]
    if found:
        return max(found)
    for name in ("processed_at", "created_at"):
        if doc.get(name):
            return reader.time(doc.get(name), f"/{name}")
    return None


def method(gateways: Sequence[str]) -> PaymentMethod:
    """Our payment method for Shopify's gateway names; several different ones are "other"."""
    methods = {_one_method(gateway) for gateway in gateways}
    return methods.pop() if len(methods) == 1 else "other"


def _one_method(gateway: str) -> PaymentMethod:
    name = gateway.strip().lower().replace(" ", "_").replace("-", "_")
    if name in ("shopify_payments", "stripe", "card", "credit_card", "debit_card"):
        return "card"
    if "mobilepay" in name:
        return "mobilepay"
    if "bank" in name or name == "manual":
        return "bank_transfer"
    return "other"  # gift_card, paypal, cash on delivery, ...
