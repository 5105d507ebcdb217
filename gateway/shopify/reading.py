"""Reading Shopify's REST-shaped JSON (webhook bodies) field by field, with every problem kept
under its JSON pointer into Shopify's own document.

Amounts are read in the currency the customer paid in: a field's `<name>_set.presentment_money`
when the object has one, else the plain field, which is in the shop's currency. When the two
currencies differ a plain field is refused rather than booked at the wrong rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from gateway.platforms import reading
from gateway.platforms.reading import objects, stamp, strings, text, time_text

__all__ = ["Reader", "is_foreign", "objects", "stamp", "strings", "text", "time_text"]

_ZERO = Decimal("0.00")


@dataclass
class Reader(reading.Reader):
    """Reads values out of one Shopify document, collecting problems in `errors`.

    `foreign` is set when the customer paid in another currency than the shop's: then an
    amount must come from its presentment money."""

    foreign: bool = False

    def amount(self, obj: Mapping[str, Any], name: str, pointer: str) -> Decimal:
        """`obj[name]` in the presentment currency; 0 (with an error) when unreadable."""
        money_set = obj.get(f"{name}_set")
        if isinstance(money_set, Mapping) and isinstance(
            money_set.get("presentment_money"), Mapping
        ):
            return self.decimal(
                money_set["presentment_money"].get("amount"),
                f"{pointer}/{name}_set/presentment_money/amount",
            )
        if self.foreign:
            self.error(
                f"{pointer}/{name}_set",
                "is missing: the customer paid in another currency than the shop's, and "
                f"{name} is in the shop's currency",
            )
            return _ZERO
        return self.decimal(obj.get(name), f"{pointer}/{name}")

    def optional_amount(self, obj: Mapping[str, Any], name: str, pointer: str) -> Decimal:
        """Like `amount`, but 0 when neither the field nor its `_set` is there."""
        if obj.get(name) is None and obj.get(f"{name}_set") is None:
            return _ZERO
        return self.amount(obj, name, pointer)


def is_foreign(doc: Any) -> bool:
    """Whether any money set in `doc` has another presentment currency than shop currency."""
    if isinstance(doc, Mapping):
        shop, presented = doc.get("shop_money"), doc.get("presentment_money")
        if isinstance(shop, Mapping) and isinstance(presented, Mapping):
            return shop.get("currency_code") != presented.get("currency_code")
        presentment, currency = text(doc.get("presentment_currency")), text(doc.get("currency"))
        if presentment and currency and presentment != currency:
            return True
        return any(is_foreign(value) for value in doc.values())
    if isinstance(doc, list):
        return any(is_foreign(value) for value in doc)
    return False
