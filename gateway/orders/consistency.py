"""Whether an order's (or a refund's) amounts add up to its stated total.

With prices incl. VAT, Σ line amounts + shipping + fees − discounts must equal `total` exactly.
With prices excl. VAT those amounts are net, while `total` is still what the customer paid,
incl. VAT. Shops round VAT per line or per rate and do not say which, so the VAT a net order's
total implies must lie within one øre per VAT-bearing amount of the exact VAT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from gateway.orders.model import (
    Charge,
    FieldError,
    Order,
    Refund,
    discount_basis,
    round_half_up,
)

_OERE = Decimal("0.01")
_ZERO = Decimal("0.00")


def order_problems(order: Order, pointer: str) -> list[FieldError]:
    """What is wrong with the order's amounts, the order being at `pointer` in the body."""
    shipping = (order.shipping,) if order.shipping else ()
    extras = (*shipping, *order.fees)
    parts = [
        ("lines", sum((line.amount for line in order.lines), _ZERO)),
        ("shipping", order.shipping.price if order.shipping else _ZERO),
        ("fees", sum((fee.amount for fee in order.fees), _ZERO)),
    ]
    discounts = sum((discount.amount for discount in order.discounts), _ZERO)
    basis = discount_basis(order.lines, extras)
    room = sum((charge.amount for charge in basis), _ZERO)
    if discounts > room:
        # Their VAT comes off what they discount; more than that would be negative sales.
        what = "the lines" if basis == tuple(order.lines) else "shipping and fees"
        return [
            FieldError(
                f"{pointer}/discounts",
                f"the discounts ({discounts}) exceed what they apply to, {what} ({room})",
            )
        ]
    return _total_problems(
        parts,
        [discount.amount for discount in order.discounts],
        order.total,
        charges=(*order.lines, *extras),
        basis=basis,
        prices_include_vat=order.prices_include_vat,
        pointer=f"{pointer}/total",
    )


def refund_problems(refund: Refund, prices_include_vat: bool, pointer: str) -> list[FieldError]:
    """What is wrong with the refund's amounts, in the pricing basis of its order."""
    shipping = (refund.shipping,) if refund.shipping else ()
    parts = [
        ("lines", sum((line.amount for line in refund.lines), _ZERO)),
        ("shipping", refund.shipping.price if refund.shipping else _ZERO),
    ]
    if refund.fees:  # named only when there are some, as refunds without fees always were
        parts.append(("fees", sum((fee.amount for fee in refund.fees), _ZERO)))
    return _total_problems(
        parts,
        [],
        refund.total,
        charges=(*refund.lines, *shipping, *refund.fees),
        basis=(),
        prices_include_vat=prices_include_vat,
        pointer=f"{pointer}/total",
    )


def _total_problems(
    parts: list[tuple[str, Decimal]],
    discount_amounts: Sequence[Decimal],
    stated: Decimal,
    *,
    charges: Sequence[Charge],
    basis: Sequence[Charge],
    prices_include_vat: bool,
    pointer: str,
) -> list[FieldError]:
    """Problems with `stated` as the sum of `parts` less the discounts; for net prices, VAT
    on `charges` (with the discounts spread over `basis`) comes on top."""
    discounts = sum(discount_amounts, _ZERO)
    summed = sum((amount for _, amount in parts), _ZERO) - discounts
    if prices_include_vat:
        if summed == stated:
            return []
        return [
            FieldError(
                pointer,
                f"{_terms(parts, discounts)} = {summed}, but the total is {stated}: "
                f"a difference of {stated - summed}",
            )
        ]
    exact_vat = _exact_vat(charges, basis, discounts)
    vat_bearing = [charge for charge in charges if charge.vat_rate and charge.amount]
    vat_rates = {charge.vat_rate for charge in basis if charge.vat_rate and charge.amount}
    discount_parts = len([amount for amount in discount_amounts if amount]) * len(vat_rates)
    allowance = _OERE * (len(vat_bearing) + discount_parts)
    difference = stated - summed - exact_vat
    if abs(difference) <= allowance:
        return []
    expected = summed + round_half_up(exact_vat)
    terms = _terms(parts, discounts)
    return [
        FieldError(
            pointer,
            f"{terms} = {summed} excl. VAT; with VAT {round_half_up(exact_vat)} that is "
            f"{expected}, but the total is {stated}: a difference of {stated - expected} "
            f"(VAT rounding explains at most {allowance})",
        )
    ]


def _terms(parts: list[tuple[str, Decimal]], discounts: Decimal) -> str:
    """The sum as the error spells it out (only written for an error: most orders add up)."""
    terms = " + ".join(f"{name} {amount}" for name, amount in parts)
    if discounts:
        terms += f" − discounts {discounts}"
    return terms


def _exact_vat(charges: Iterable[Charge], basis: Sequence[Charge], discounts: Decimal) -> Decimal:
    vat = sum((charge.amount * charge.vat_rate for charge in charges), _ZERO)
    weight = sum((charge.amount for charge in basis), _ZERO)
    if discounts and weight:
        vat -= discounts * sum((c.amount * c.vat_rate for c in basis), _ZERO) / weight
    return vat
