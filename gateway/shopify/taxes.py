"""The VAT rate Shopify charged on an amount, and whether its tax totals agree with the
rates the mapping books."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.orders import Charge, FieldError, InconsistentOrder, Order, round_half_up
from gateway.shopify.events import raise_if
from gateway.shopify.reading import Reader, objects

_ZERO = Decimal("0.00")
_OERE = Decimal("0.01")
_HALF_OERE = Decimal("0.005")


def vat_rate(
    obj: Mapping[str, Any], pointer: str, amount: Decimal, include_vat: bool, reader: Reader
) -> Decimal:
    """The VAT rate actually charged on `amount`: 0 when not taxable or no tax was charged,
    else the sum of the tax lines' rates, when that reproduces their tax to the øre."""
    tax_lines = list(objects(obj, "tax_lines"))
    if obj.get("taxable") is False or not tax_lines:
        return Decimal(0)
    at = f"{pointer}/tax_lines"
    tax = sum((reader.amount(t, "price", f"{at}/{i}") for i, t in tax_lines), _ZERO)
    rate = sum((reader.decimal(t.get("rate"), f"{at}/{i}/rate") for i, t in tax_lines), _ZERO)
    if not tax or not rate:
        return Decimal(0)  # listed but not charged, e.g. a reverse-charge sale
    if len(tax_lines) > 1:
        exact = vat_of(amount, rate, include_vat)
        if abs(tax - exact) > _HALF_OERE * len(tax_lines):
            reader.error(
                at,
                f"{len(tax_lines)} taxes at {percent(rate)} in all on {amount} come to "
                f"{round_half_up(exact)}, but the tax lines charge {tax}: a difference of "
                f"{tax - round_half_up(exact)} that one VAT rate cannot book",
            )
    return rate


def check_tax(doc: Mapping[str, Any], order: Order, reader: Reader) -> None:
    """Shopify's `total_tax` must be what the rates mapped give, within an øre per taxed
    amount: else the lines would book another VAT than the customer was charged."""
    if doc.get("total_tax") is None and doc.get("total_tax_set") is None:
        return
    stated = reader.amount(doc, "total_tax", "")
    raise_if(reader.errors)
    charges: list[Charge] = [*order.lines, *order.fees]
    if order.shipping is not None:
        charges.append(order.shipping)
    taxed = [(c.amount, c.vat_rate) for c in charges if c.vat_rate and c.amount]
    exact = sum((vat_of(a, r, order.prices_include_vat) for a, r in taxed), _ZERO)
    if abs(stated - exact) <= _OERE * len(taxed):
        return
    expected = round_half_up(exact)
    raise InconsistentOrder(
        [
            FieldError(
                "/total_tax",
                f"the VAT rates on the lines and shipping give {expected} VAT, but Shopify "
                f"charged {stated}: a difference of {stated - expected}",
            )
        ]
    )


def vat_of(amount: Decimal, rate: Decimal, include_vat: bool) -> Decimal:
    return amount * rate / (1 + rate) if include_vat else amount * rate


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"
