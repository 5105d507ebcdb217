"""Reading Shopify's REST-shaped JSON (webhook bodies) field by field, with every problem kept
under its JSON pointer into Shopify's own document.

Amounts are read in the currency the customer paid in: a field's `<name>_set.presentment_money`
when the object has one, else the plain field, which is in the shop's currency. When the two
currencies differ a plain field is refused rather than booked at the wrong rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.orders import FieldError

_ZERO = Decimal("0.00")


@dataclass
class Reader:
    """Reads values out of one Shopify document, collecting problems in `errors`.

    `foreign` is set when the customer paid in another currency than the shop's: then an
    amount must come from its presentment money."""

    foreign: bool = False
    errors: list[FieldError] = field(default_factory=list)

    def error(self, pointer: str, message: str) -> None:
        self.errors.append(FieldError(pointer, message))

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

    def decimal(self, value: Any, pointer: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            self.error(pointer, "must be a decimal amount")
            return _ZERO
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.error(pointer, f"{value!r} is not a decimal amount")
            return _ZERO
        if not number.is_finite():
            self.error(pointer, f"{value!r} is not a decimal amount")
            return _ZERO
        return number

    def time(self, value: Any, pointer: str) -> dt.datetime | None:
        """An ISO 8601 time with an offset, in UTC; None (with an error) when unreadable."""
        if not isinstance(value, str):
            self.error(pointer, "must be a time such as 2026-11-24T10:00:00+01:00")
            return None
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.error(pointer, f"{value!r} is not a time with an offset")
            return None
        return parsed.astimezone(dt.UTC)


def objects(parent: Mapping[str, Any], name: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The objects in the list `parent[name]` with their indexes (a missing list is empty)."""
    items = parent.get(name)
    if not isinstance(items, Sequence) or isinstance(items, str):
        return
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            yield index, item


def text(value: Any) -> str | None:
    """A non-blank string, stripped, or None."""
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def stamp(instant: dt.datetime) -> str:
    """RFC 3339 in UTC, as the canonical body writes times."""
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


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


def time_text(value: Any, pointer: str, reader: Reader) -> str | None:
    if value is None:
        return None
    parsed = reader.time(value, pointer)
    return None if parsed is None else stamp(parsed)


def strings(values: Any) -> list[str]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        return []
    return [value for value in values if isinstance(value, str)]
