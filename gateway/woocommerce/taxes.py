"""The VAT rate WooCommerce charged on a line, shipping line or fee, from its `taxes` and the
order's `tax_lines[].rate_percent`; and whether the order's tax totals agree with it.

WooCommerce stores every line net of tax (`total`) with its tax beside it (`total_tax`),
whether or not the shop's prices include tax; each line's `taxes[]` names the tax rates
(`id` = `tax_lines[].rate_id`) and what each charged.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.orders import Charge, FieldError, InconsistentOrder, Order, round_half_up
from gateway.platforms.reading import Reader, objects, text

_ZERO = Decimal("0.00")
_OERE = Decimal("0.01")
_HUNDRED = Decimal(100)


def rates_by_id(order: Mapping[str, Any], reader: Reader) -> dict[str, tuple[Decimal, str]]:
    """The order's tax rates: rate id → (rate as a fraction, pointer of its tax line)."""
    rates: dict[str, tuple[Decimal, str]] = {}
    for index, tax_line in objects(order, "tax_lines"):
        at = f"/tax_lines/{index}"
        rate_id = text(tax_line.get("rate_id"))
        if rate_id is None:
            reader.error(f"{at}/rate_id", "is missing")
            continue
        if tax_line.get("rate_percent") is None:
            rates[rate_id] = (Decimal(-1), f"{at}/rate_percent")
            continue
        percent = reader.decimal(tax_line.get("rate_percent"), f"{at}/rate_percent")
        rates[rate_id] = (percent / _HUNDRED, f"{at}/rate_percent")
    return rates


def charged_rate(
    obj: Mapping[str, Any],
    pointer: str,
    net: Decimal,
    tax: Decimal,
    rates: Mapping[str, tuple[Decimal, str]],
    reader: Reader,
) -> Decimal:
    """The VAT rate charged on `net` (whose tax is `tax`): the sum of the rates of the taxes
    that charged something, when that rate reproduces `tax` to the øre (one per tax)."""
    charged = []
    for index, entry in objects(obj, "taxes"):
        amount = reader.decimal(entry.get("total", "0"), f"{pointer}/taxes/{index}/total")
        if amount:
            charged.append((index, text(entry.get("id"))))
    if not charged:
        if tax:
            reader.error(f"{pointer}/total_tax", f"is {tax}, but no tax rate in `taxes` charged it")
        return Decimal(0)
    rate = _ZERO
    for index, rate_id in charged:
        found = rates.get(rate_id or "")
        if found is None:
            reader.error(
                f"{pointer}/taxes/{index}/id",
                f"names tax rate {rate_id}, which is not among the order's tax_lines",
            )
            return Decimal(0)
        if found[0] < 0:
            reader.error(
                found[1],
                "is missing: WooCommerce has given each tax line its rate since version 5.7; "
                "without it the gateway cannot tell which VAT rate was charged",
            )
            return Decimal(0)
        rate += found[0]
    exact = net * rate
    if abs(tax - exact) > _OERE * len(charged):
        reader.error(
            f"{pointer}/total_tax",
            f"is {tax}, but {percent(rate)} of {net} is {round_half_up(exact)}: a difference of "
            f"{tax - round_half_up(exact)} that one VAT rate cannot book",
        )
    return rate


def check_tax(stated: Decimal, order: Order) -> None:
    """WooCommerce's `total_tax` must be what the rates mapped give, within an øre per taxed
    amount: else the documents would book another VAT than the customer was charged."""
    charges: list[Charge] = [*order.lines, *order.fees]
    if order.shipping is not None:
        charges.append(order.shipping)
    taxed = [(c.amount, c.vat_rate) for c in charges if c.vat_rate and c.amount]
    exact = sum((vat_of(a, r, order.prices_include_vat) for a, r in taxed), _ZERO)
    discount_vat = _ZERO
    if order.discounts and order.lines:
        # Order-level discounts (negative fees) take their VAT off pro rata.
        weight = sum((line.amount for line in order.lines), _ZERO)
        if weight:
            share = sum((d.amount for d in order.discounts), _ZERO) / weight
            discount_vat = sum(
                (
                    vat_of(line.amount * share, line.vat_rate, order.prices_include_vat)
                    for line in order.lines
                ),
                _ZERO,
            )
    exact -= discount_vat
    allowance = _OERE * (len(taxed) + len(order.discounts))
    if abs(stated - exact) <= allowance:
        return
    expected = round_half_up(exact)
    raise InconsistentOrder(
        [
            FieldError(
                "/total_tax",
                f"the VAT rates on the lines, shipping and fees give {expected} VAT, but "
                f"WooCommerce charged {stated}: a difference of {stated - expected}",
            )
        ]
    )


def vat_of(amount: Decimal, rate: Decimal, include_vat: bool) -> Decimal:
    return amount * rate / (1 + rate) if include_vat else amount * rate


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"
