"""How and when a Shopify order was paid, in the gateway's terms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from gateway.orders import PaymentMethod
from gateway.shopify.reading import Reader, objects, text
from gateway.storable import unstorable

# Transaction statuses that moved money (webhook bodies may leave the status out).
SUCCEEDED: Final = frozenset({"success", None})
# The canonical payment's `reference` holds at most this many characters.
REFERENCE_LENGTH: Final = 200
# Where a transaction names the payment, most specific first: the provider's payment id
# (`payment_id`, e.g. "c25048437719.1"), its authorisation code, its receipt's id, and
# Shopify's own transaction id as the last resort.
_REFERENCE_FIELDS: Final = ("payment_id", "authorization", "receipt", "id")


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


def reference(doc: Mapping[str, Any], kinds: frozenset[str]) -> str | None:
    """The payment's reference from the last successful transaction of one of `kinds`
    (`sale`/`capture` for an order, `refund` for a refund): bounded to `REFERENCE_LENGTH`
    characters, control characters dropped, and None when nothing storable names it."""
    chosen = [
        t
        for _, t in objects(doc, "transactions")
        if t.get("kind") in kinds and t.get("status") in SUCCEEDED
    ]
    for transaction in reversed(chosen):
        for name in _REFERENCE_FIELDS:
            value = transaction.get(name)
            if name == "receipt" and isinstance(value, Mapping):
                value = value.get("payment_id") or value.get("id") or value.get("charge_id")
            found = _bounded(text(value))
            if found:
                return found
    return None


def _bounded(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = "".join(ch for ch in value if ch.isprintable()).strip()[:REFERENCE_LENGTH]
    if not cleaned or unstorable(cleaned) is not None:
        return None
    return cleaned


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
