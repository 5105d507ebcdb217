"""How the sandbox computes a sales document's totals. The rule, exactly:

1. Each Product line's total is
   `line_total = round_half_up(BaseAmountValue × Quantity × (1 − Discount/100), 2)`.
   Text lines carry no amount (their total is 0 whatever they say).
2. A line's VAT rate is the rate of its account's VAT code in the chart (no code: 0).
3. With `ShowLinesInclVat` false the line totals are net. VAT is computed once per document
   and rate, on the sum of that rate's net line totals:
   `vat_r = round_half_up(Σ net_r × rate_r, 2)`; `TotalExclVat = Σ net`,
   `TotalVat = Σ vat_r`, `TotalInclVat = TotalExclVat + TotalVat`.
4. With `ShowLinesInclVat` true the line totals are gross: `TotalInclVat = Σ gross`,
   `vat_r = round_half_up(Σ gross_r × rate_r / (1 + rate_r), 2)`, `TotalVat = Σ vat_r` and
   `TotalExclVat = TotalInclVat − TotalVat`. So the document total always equals the sum of
   the rounded gross lines, to the øre.
5. `TotalVatableAmount` is the net amount of lines with a rate above 0, `TotalNonVatableAmount`
   that of the others (at rate 0, net equals gross).

DINERO.md marks per-line versus per-document VAT rounding as Unsure: the sandbox rounds per
document and rate, as above. The per-line figures a read model also shows (a line's amount
incl. VAT when entered net, or excl. VAT when entered gross, and the unit price converted
likewise) are for display only, each rounded half-up to two decimals; they never feed a total.

All amounts are `Decimal`; nothing here goes through float.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal("0.00")
_HUNDRED = Decimal(100)


def round_half_up(amount: Decimal, places: int = 2) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def line_total(base_amount: Decimal, quantity: Decimal, discount_percent: Decimal) -> Decimal:
    return round_half_up(base_amount * quantity * (1 - discount_percent / _HUNDRED))


def gross_of(net: Decimal, rate: Decimal) -> Decimal:
    """Display only: a net amount with VAT added, rounded to the øre."""
    return round_half_up(net * (1 + rate))


def net_of(gross: Decimal, rate: Decimal) -> Decimal:
    """Display only: a gross amount with VAT taken out, rounded to the øre."""
    return round_half_up(gross / (1 + rate))


@dataclass(frozen=True)
class PricedLine:
    """A Product line's rounded total (net or gross, as entered) and its VAT rate."""

    total: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Totals:
    excl_vat: Decimal
    vat: Decimal
    incl_vat: Decimal
    vatable: Decimal
    non_vatable: Decimal
    vat_by_rate: dict[Decimal, Decimal]


def document_totals(lines: Iterable[PricedLine], *, lines_incl_vat: bool) -> Totals:
    entered_by_rate: dict[Decimal, Decimal] = {}
    for line in lines:
        entered_by_rate[line.rate] = entered_by_rate.get(line.rate, ZERO) + line.total

    vat_by_rate: dict[Decimal, Decimal] = {}
    net_by_rate: dict[Decimal, Decimal] = {}
    for rate, entered in entered_by_rate.items():
        if lines_incl_vat:
            vat = round_half_up(entered * rate / (1 + rate))
            net_by_rate[rate] = entered - vat
        else:
            vat = round_half_up(entered * rate)
            net_by_rate[rate] = entered
        vat_by_rate[rate] = vat

    total_vat = sum(vat_by_rate.values(), ZERO)
    entered_total = sum(entered_by_rate.values(), ZERO)
    if lines_incl_vat:
        incl_vat = entered_total
        excl_vat = incl_vat - total_vat
    else:
        excl_vat = entered_total
        incl_vat = excl_vat + total_vat
    return Totals(
        excl_vat=excl_vat,
        vat=total_vat,
        incl_vat=incl_vat,
        vatable=sum((net for rate, net in net_by_rate.items() if rate > 0), ZERO),
        non_vatable=sum((net for rate, net in net_by_rate.items() if rate == 0), ZERO),
        vat_by_rate=vat_by_rate,
    )
