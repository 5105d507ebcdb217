"""What a manual voucher books per sales account, and Dinero's arithmetic on a voucher line.

Dinero computes a voucher line's VAT on that line, half-up to the øre (`sandbox/vouchers.py`),
not per document as on an invoice. So the net amount of a VAT-bearing account is chosen so that
net + VAT gives back the account's gross amount; where no net amount can (at 25 %, one gross
amount in five is unreachable) or where the shop priced excl. VAT and rounded differently, the
øre left over is for the voucher's rounding line (`vouchers`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from gateway.accounting.accounts import AccountPlan
from gateway.accounting.documents import DocumentDraft
from gateway.accounting.errors import AccountingError
from gateway.accounting.model import VoucherLine
from gateway.accounting.totals import allocate, line_total
from gateway.orders import round_half_up

NO_VAT_CODE: Final = "none"

_ZERO: Final = Decimal("0.00")
_OERE: Final = Decimal("0.01")


@dataclass(frozen=True)
class SalesAmount:
    """What one sales account receives: `net` excl. VAT and `vat` as Dinero computes it on
    a voucher line (half-up on the line). Negative for an account the order takes money off."""

    account: int
    rate: Decimal
    net: Decimal

    @property
    def vat(self) -> Decimal:
        return line_vat(self.net, self.rate)

    @property
    def incl_vat(self) -> Decimal:
        return self.net + self.vat


def sales_amounts(draft: DocumentDraft, plan: AccountPlan) -> list[SalesAmount]:
    """The draft's amounts per account, without its own rounding line (the voucher has its
    own arithmetic, and its own rounding line)."""
    lines = draft.lines[:-1] if draft.rounding else draft.lines
    entered: dict[int, Decimal] = {}
    for line in lines:
        entered[line.account] = entered.get(line.account, _ZERO) + line_total(line)
    amounts = []
    for account, amount in entered.items():
        rate = plan.vat_rate_of(account)
        net = net_for_gross(amount, rate) if draft.show_lines_incl_vat else amount
        amounts.append(SalesAmount(account, rate, net))
    return amounts


def share(amounts: Sequence[SalesAmount], remaining: Decimal) -> list[SalesAmount]:
    """`remaining` split over the accounts pro rata to their amounts incl. VAT (whole øre,
    largest remainder), each account's VAT taken back out of its share."""
    weights = [max(amount.incl_vat, _ZERO) for amount in amounts]
    if not any(weights):
        raise AccountingError("The order has no positive amount to reverse a share of")
    parts = allocate(remaining, weights)
    return [
        SalesAmount(amount.account, amount.rate, net_for_gross(part, amount.rate))
        for amount, part in zip(amounts, parts, strict=True)
    ]


def line_vat(net: Decimal, rate: Decimal) -> Decimal:
    """A voucher line's VAT at a sales rate: half-up on the line, symmetric for negatives."""
    vat = round_half_up(abs(net) * rate)
    return -vat if net < 0 else vat


def net_for_gross(gross: Decimal, rate: Decimal) -> Decimal:
    """The net amount whose line VAT brings it closest to `gross` — exactly there when any
    net amount can; else the one just below, leaving one øre to a rounding line."""
    if not rate:
        return gross
    target = abs(gross)
    start = round_half_up(target / (1 + rate))
    candidates = [start + step * _OERE for step in range(-2, 3)]
    candidates = [net for net in candidates if net >= 0]

    def miss(net: Decimal) -> tuple[Decimal, bool]:
        total = net + line_vat(net, rate)
        return abs(target - total), total > target

    best = min(candidates, key=miss)
    return -best if gross < 0 else best


def line_postings(
    line: VoucherLine, rate_of_account: Callable[[int], Decimal]
) -> list[tuple[int | None, Decimal]]:
    """(account, amount) as Dinero posts a line, debit positive: a positive amount debits
    `account` and credits `balancing_account`; at a sales rate the amount is excl.
    VAT and the VAT goes to the VAT account (`None` here). Only the codes `vouchers` writes
    (`None`: the account's own rate; `"none"`: no VAT) are understood."""

    def rate(account: int, code: str | None) -> Decimal:
        if code is not None and code.lower() != NO_VAT_CODE:
            raise ValueError(f"VAT code {code!r} is not one this module writes")
        if code is not None:
            return _ZERO
        return rate_of_account(account)

    account_rate = rate(line.account, line.account_vat_code)
    balancing_rate = rate(line.balancing_account, line.balancing_account_vat_code)
    if account_rate and balancing_rate:
        raise ValueError("only one side of a voucher line may carry VAT")
    vat = line_vat(line.amount, account_rate or balancing_rate)
    incl = line.amount + vat
    if account_rate:
        return [
            (line.account, line.amount),
            (line.balancing_account, -incl),
            (None, vat),
        ]
    postings: list[tuple[int | None, Decimal]] = [
        (line.account, incl),
        (line.balancing_account, -line.amount),
    ]
    if vat:
        postings.append((None, -vat))
    return postings
