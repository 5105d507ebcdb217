"""A document's charges as invoice lines, each on its account, written for Dinero's arithmetic.

Each amount becomes lines whose Dinero line totals are exactly the shop's amount: quantity ×
unit price as sent (Dinero rounds it half-up to the øre, as the shop did); a line discount as a
percentage only when that percentage reproduces the discounted amount without any rounding,
else as a negative line on the same account; a product whose quantity × unit price lies exactly
half-way between two øre is sent as one unit at the rounded amount, so Dinero's rounding mode
cannot matter. Order-level discounts are split over the accounts of what they discount, pro
rata (`orders.discount_basis`), in whole øre by largest remainder.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from gateway.accounting.accounts import AccountPlan, Treatment, account_of, rate_text
from gateway.accounting.charges import Charges
from gateway.accounting.errors import AccountingError
from gateway.accounting.model import DocumentLine, Unit
from gateway.accounting.texts import Words
from gateway.accounting.totals import allocate
from gateway.orders import Charge, Line, discount_basis, round_half_up

_ZERO = Decimal("0.00")
_HUNDRED = Decimal(100)


def document_lines(
    charges: Charges, plan: AccountPlan, treatment: Treatment, words: Words
) -> list[DocumentLine]:
    """The lines for `charges`, whose Dinero line totals add up to the charges' amounts."""

    def account(charge: Charge) -> int:
        return account_of(charge, plan, treatment)

    lines = []
    for line in charges.lines:
        lines += _product_lines(line, account(line), words)
    if charges.shipping is not None:
        shipping = charges.shipping
        lines.append(amount_line(shipping.name, shipping.price, account(shipping), "shipment"))
    for fee in charges.fees:
        lines.append(amount_line(fee.name, fee.amount, account(fee)))

    weights: dict[int, Decimal] = {}
    for charge in discount_basis(charges.lines, charges.extras):
        weights[account(charge)] = weights.get(account(charge), _ZERO) + charge.amount
    for discount in charges.discounts:
        if not discount.amount:
            continue
        if not sum(weights.values(), _ZERO) > 0:
            raise AccountingError(f"the discount {discount.name!r} has nothing to discount")
        parts = allocate(discount.amount, list(weights.values()))
        described = f"{words.discount}: {discount.name}"
        for number, part in zip(weights, parts, strict=True):
            if part:
                if len(weights) > 1:
                    rate = rate_text(plan.vat_rate_of(number))
                    description = f"{described} ({rate} {words.vat})"
                else:
                    description = described
                lines.append(amount_line(description, -part, number))
    return lines


def _product_lines(line: Line, account: int, words: Words) -> list[DocumentLine]:
    product = DocumentLine(
        amount=line.unit_price,
        quantity=line.quantity,
        account=account,
        description=line.name,
        unit="parts",
        kind="product",
    )
    if _is_half_way(line.quantity * line.unit_price):
        # Half-up and half-even rounding disagree here, and Dinero's mode is not documented.
        product = replace(
            product,
            amount=line.subtotal,
            quantity=Decimal(1),
            description=f"{line.name} ({line.quantity} × {line.unit_price})",
        )
    if not line.discount:
        return [product]
    percent = _exact_percent(product, line.amount)
    if percent is not None:
        return [replace(product, discount=percent)]
    described = f"{words.discount}: {line.name}"
    return [product, amount_line(described, -line.discount, account)]


def _exact_percent(product: DocumentLine, amount: Decimal) -> Decimal | None:
    """A discount percentage (2 decimals) for which Dinero's line total is `amount` with no
    rounding at all, if there is one."""
    gross = product.amount * product.quantity
    if not gross:
        return None
    percent = round_half_up((gross - amount) * _HUNDRED / gross)
    if gross * (1 - percent / _HUNDRED) != amount or not 0 <= percent <= _HUNDRED:
        return None
    return percent


def _is_half_way(amount: Decimal) -> bool:
    return (amount * _HUNDRED) % 1 == Decimal("0.5")


def amount_line(
    description: str, amount: Decimal, account: int, unit: Unit = "parts"
) -> DocumentLine:
    """One unit of `amount`: Dinero's line total is the amount itself."""
    return DocumentLine(
        amount=amount,
        quantity=Decimal(1),
        account=account,
        description=description,
        unit=unit,
        kind="product",
    )
