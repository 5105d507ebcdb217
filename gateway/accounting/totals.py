"""The arithmetic on invoices and credit notes — Dinero's, which the lines are written for:
line totals, document totals with VAT per rate, and amounts split in whole øre."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from gateway.accounting.model import DocumentLine
from gateway.orders import round_half_up

_ZERO = Decimal("0.00")
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Totals:
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal


def line_total(line: DocumentLine) -> Decimal:
    """A line's total as Dinero computes it: quantity × unit amount less the discount
    percent, rounded half-up to the øre; nothing for a text line."""
    if line.kind == "text":
        return _ZERO
    gross = line.amount * line.quantity * (1 - line.discount / _HUNDRED)
    return round_half_up(gross)


def document_totals(
    lines: Iterable[DocumentLine],
    show_lines_incl_vat: bool,
    vat_rate_of_account: Callable[[int], Decimal],
) -> Totals:
    """The totals Dinero computes (the sandbox's rule, see `sandbox/money.py`): line
    totals rounded half-up to the øre; VAT once per document and rate, on the sum of that
    rate's line totals, which are net, or gross when `show_lines_incl_vat`."""
    entered: dict[Decimal, Decimal] = {}
    for line in lines:
        if line.kind != "text":
            rate = vat_rate_of_account(line.account)
            entered[rate] = entered.get(rate, _ZERO) + line_total(line)
    if show_lines_incl_vat:
        vat = sum((round_half_up(t * r / (1 + r)) for r, t in entered.items()), _ZERO)
        incl_vat = sum(entered.values(), _ZERO)
        return Totals(incl_vat - vat, vat, incl_vat)
    vat = sum((round_half_up(t * r) for r, t in entered.items()), _ZERO)
    excl_vat = sum(entered.values(), _ZERO)
    return Totals(excl_vat, vat, excl_vat + vat)


def allocate(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """`amount` split pro rata to `weights` in whole øre that add up to it exactly (largest
    remainder; ties go to the earlier weight)."""
    total_weight = sum(weights, _ZERO)
    if total_weight <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative and not all zero")
    oere = int(amount * 100)
    if oere != amount * 100:
        raise ValueError(f"{amount} is not a whole number of øre")
    shares = [Fraction(oere) * Fraction(w) / Fraction(total_weight) for w in weights]
    parts = [math.floor(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (parts[i] - shares[i], i))
    for index in by_remainder[: oere - sum(parts)]:
        parts[index] += 1
    return [Decimal(part).scaleb(-2) for part in parts]
