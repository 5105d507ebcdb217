"""Dinero's arithmetic on invoices and credit notes: line totals, document totals with VAT
per rate, and amounts split in whole øre."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from gateway.dinero.models import InvoiceLine
from gateway.orders import round_half_up

_ZERO = Decimal("0.00")
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Totals:
    total_excl_vat: Decimal
    total_vat: Decimal
    total_incl_vat: Decimal


def dinero_line_total(line: InvoiceLine) -> Decimal:
    if line.line_type == "Text":
        return _ZERO
    gross = line.base_amount_value * line.quantity * (1 - line.discount / _HUNDRED)
    return round_half_up(gross)


def dinero_totals(
    lines: Iterable[InvoiceLine],
    show_lines_incl_vat: bool,
    vat_rate_of_account: Callable[[int], Decimal],
) -> Totals:
    """The totals Dinero computes (the sandbox's rule, see `sandbox/money.py`): line
    totals rounded half-up to the øre; VAT once per document and rate, on the sum of that
    rate's line totals, which are net, or gross when `show_lines_incl_vat`."""
    entered: dict[Decimal, Decimal] = {}
    for line in lines:
        if line.line_type != "Text":
            rate = vat_rate_of_account(line.account_number)
            entered[rate] = entered.get(rate, _ZERO) + dinero_line_total(line)
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
