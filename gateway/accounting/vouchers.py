"""Orders and refunds as manual vouchers (finansbilag), in Dinero's arithmetic, for shops that
issue their own invoices and must not get a second invoice number from Dinero.

The accounts and VAT are the invoice's: the voucher is built from the very draft
`gateway.accounting` would send as an invoice (or credit note), so every rule there — the
treatment (Danish, EU reverse charge, EU private, export), the account per amount, order
discounts split pro rata — holds here too. Its lines are aggregated per sales account: one
voucher line per account, whose `account` is the settlement account (the money: the
payment method's deposit account, or a receivable) and whose `balancing_account` is the
sales account, `amount` excl. VAT. `balancing_account_vat_code` is left `None` (the account's
own code: U25 adds VAT, UEUV/UVV mark reverse charge and export for the VAT return, as on an
invoice); the VAT-free accounts of the plan (`no_vat`, `rounding`) say `"none"`, so a
default code an organisation put on them cannot add VAT we did not charge.

Exactness. Dinero computes a voucher line's VAT on that line, so each account's net amount is
chosen to give back its gross amount (`voucher_amounts`); the øre left over becomes one
explicit rounding line on the plan's VAT-free rounding account, at most `ROUNDING_LIMIT`.
Beyond that, `CannotMatchVoucher`. The settlement account then receives exactly the shop's
total.

A reversing voucher (a refund, a cancellation) swaps the sides — `account` is the
sales account with its VAT code, `balancing_account` the settlement account — so every
amount stays positive. A refund reverses the credit note's lines. A cancellation reverses
what is not refunded yet (`remaining`): all of the order's lines when nothing was refunded,
else `remaining` split over the order's sales accounts pro rata to their amounts incl. VAT
(largest remainder, whole øre), each account's VAT taken back out of its share. That keeps
the reversal exact to the øre and its VAT in proportion to what was sold; a refund that took
back one account's goods only is then not mirrored line by line, which the owner can see on
the voucher and correct by hand, and which no total depends on.

Manual vouchers carry no currency: voucher mode books DKK orders only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from gateway.accounting.accounts import UNSET, AccountPlan, Treatment, vat_treatment
from gateway.accounting.documents import (
    DocumentDraft,
    copenhagen_date,
    credit_note_for_refund,
    full_credit_for,
    invoice_for,
)
from gateway.accounting.errors import ROUNDING_LIMIT, AccountingError
from gateway.accounting.model import Language, VoucherLine
from gateway.accounting.texts import WORDS, Words, invoice_text
from gateway.accounting.voucher_amounts import (
    NO_VAT_CODE,
    SalesAmount,
    line_postings,
    sales_amounts,
    share,
)
from gateway.orders import Order, Refund, round_half_up

VOUCHER_CURRENCY: Final = "DKK"
MAX_DESCRIPTION: Final = 250

_ZERO: Final = Decimal("0.00")

VoucherKind = Literal["sale", "refund", "cancellation", "payment"]


class CannotMatchVoucher(AccountingError):
    def __init__(self, *, voucher_total: Decimal, expected: Decimal) -> None:
        self.difference = expected - voucher_total
        super().__init__(
            f"The voucher would total {voucher_total} where the shop charged {expected}; the "
            f"difference of {self.difference} is more than a rounding line may cover "
            f"({ROUNDING_LIMIT}), so it is not booked"
        )


class NotDkk(AccountingError):
    def __init__(self, currency: str) -> None:
        super().__init__(
            f"The order is in {currency}, but Dinero's manual vouchers carry no currency: "
            f"voucher mode can book {VOUCHER_CURRENCY} orders only. Use invoice mode for it."
        )


@dataclass(frozen=True)
class VoucherDraft:
    """A manual voucher, ready but for its file and external reference (a backend adds those
    as it turns the draft into its request body). `total` is what the
    settlement account is debited (a sale) or credited (a reversal), incl. VAT: the shop's
    amount to the øre."""

    kind: VoucherKind
    treatment: Treatment
    date: dt.date
    settlement_account: int
    amounts: tuple[SalesAmount, ...]
    lines: tuple[VoucherLine, ...]
    total: Decimal
    vat: Decimal
    rounding: Decimal  # the rounding line's amount in the sale's direction, 0 when none
    description: str

    @property
    def reversing(self) -> bool:
        return self.kind in ("refund", "cancellation")


def sale_voucher(
    order: Order,
    *,
    settlement_account: int,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date | None = None,
) -> VoucherDraft:
    """The order as a sale: the settlement account debited the order total."""
    _check_currency(order)
    draft = invoice_for(
        order, shop_name=shop_name, text_template=text_template, plan=plan, language=language
    )
    words = WORDS[language]
    return _voucher(
        "sale",
        draft,
        settlement_account=settlement_account,
        plan=plan,
        date=date or copenhagen_date(order.created_at),
        description=_describe(_document_words(words, order), order, shop_name, text_template),
    )


def refund_voucher(
    order: Order,
    refund: Refund,
    *,
    settlement_account: int,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date,
) -> VoucherDraft:
    """A refund reversed: the credit note's accounts and VAT, sides swapped."""
    _check_currency(order)
    draft = credit_note_for_refund(
        order,
        refund,
        shop_name=shop_name,
        text_template=text_template,
        plan=plan,
        language=language,
        date=date,
    )
    words = WORDS[language]
    head = words.refund_of.format(refund=refund.id, document=_document_words(words, order))
    return _voucher(
        "refund",
        draft,
        settlement_account=settlement_account,
        plan=plan,
        date=date,
        description=_describe(head, order, shop_name, text_template),
    )


def cancellation_voucher(
    order: Order,
    *,
    remaining: Decimal,
    settlement_account: int,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date,
) -> VoucherDraft:
    """A cancelled order reversed for what is not refunded yet (see the module's docstring)."""
    _check_currency(order)
    draft = full_credit_for(
        order,
        shop_name=shop_name,
        text_template=text_template,
        plan=plan,
        language=language,
        date=date,
    )
    whole = draft.totals.total_incl_vat
    if not _ZERO < remaining <= whole or remaining != round_half_up(remaining):
        raise AccountingError(
            f"A cancellation can reverse between 0.01 and the order total {whole}, not {remaining}"
        )
    words = WORDS[language]
    head = words.cancellation_of.format(document=_document_words(words, order))
    return _voucher(
        "cancellation",
        draft,
        target=remaining,
        settlement_account=settlement_account,
        plan=plan,
        date=date,
        description=_describe(head, order, shop_name, text_template),
    )


def payment_voucher(
    order: Order,
    *,
    amount: Decimal,
    deposit_account: int,
    receivable_account: int,
    shop_name: str,
    text_template: str,
    language: Language,
    date: dt.date,
) -> VoucherDraft:
    """The customer's payment of an order whose voucher was booked against the receivable
    account while it was unpaid: the deposit account debited, the receivable credited, no
    VAT on either side (the sale's VAT was booked with the sale)."""
    _check_currency(order)
    if amount <= 0:
        raise AccountingError("a payment of nothing has nothing to book")
    words = WORDS[language]
    head = words.payment_of.format(document=_document_words(words, order))
    description = _describe(head, order, shop_name, text_template)
    line = VoucherLine(
        amount=amount,
        account=deposit_account,
        balancing_account=receivable_account,
        description=description,
        account_vat_code=NO_VAT_CODE,
        balancing_account_vat_code=NO_VAT_CODE,
    )
    return VoucherDraft(
        kind="payment",
        treatment=vat_treatment(order.customer),
        date=date,
        settlement_account=deposit_account,
        amounts=(),
        lines=(line,),
        total=amount,
        vat=_ZERO,
        rounding=_ZERO,
        description=description,
    )


def _check_currency(order: Order) -> None:
    if order.currency != VOUCHER_CURRENCY:
        raise NotDkk(order.currency)


def _document_words(words: Words, order: Order) -> str:
    """The shop's own invoice number, or the order number when the shop sent none."""
    if order.invoice is not None:
        return words.shop_invoice.format(number=order.invoice.number)
    return words.order.format(number=order.number)


def _describe(head: str, order: Order, shop_name: str, template: str) -> str:
    text = invoice_text(template, shop_name=shop_name, order=order)
    described = f"{head}: {text}" if text else head
    return described[:MAX_DESCRIPTION]


def _voucher(
    kind: VoucherKind,
    draft: DocumentDraft,
    *,
    settlement_account: int,
    plan: AccountPlan,
    date: dt.date,
    description: str,
    target: Decimal | None = None,
) -> VoucherDraft:
    """The voucher for `draft`'s accounts: for its whole total, or for `target` of it, shared
    over the accounts."""
    amounts = sales_amounts(draft, plan)
    if target is None:
        target = draft.totals.total_incl_vat
    elif target != draft.totals.total_incl_vat:
        amounts = share(amounts, target)
    amounts = [amount for amount in amounts if amount.net]
    if not amounts and not target:
        raise AccountingError("The order charges nothing, so there is nothing to book as a voucher")
    total = sum((amount.incl_vat for amount in amounts), _ZERO)
    rounding = target - total
    if abs(rounding) > ROUNDING_LIMIT:
        raise CannotMatchVoucher(voucher_total=total, expected=target)
    reverse = kind != "sale"
    lines = [
        _line(amount, settlement_account, plan, description, reverse=reverse) for amount in amounts
    ]
    if rounding:
        rounding_amount = SalesAmount(plan.rounding, Decimal(0), rounding)
        text = f"{WORDS[draft.language].rounding}: {description}"[:MAX_DESCRIPTION]
        lines.append(_line(rounding_amount, settlement_account, plan, text, reverse=reverse))
    voucher = VoucherDraft(
        kind=kind,
        treatment=draft.treatment,
        date=date,
        settlement_account=settlement_account,
        amounts=tuple(amounts),
        lines=tuple(lines),
        total=target,
        vat=sum((amount.vat for amount in amounts), _ZERO),
        rounding=rounding,
        description=description,
    )
    _check_balance(voucher, plan)
    return voucher


def _line(
    amount: SalesAmount, settlement: int, plan: AccountPlan, description: str, *, reverse: bool
) -> VoucherLine:
    code = vat_code(amount.account, plan)
    # The money side never carries VAT, whatever code the owner's chosen deposit or
    # receivable account has in the chart: `"none"` says so rather than leaving it to it.
    if reverse == (amount.net < 0):  # money in: the settlement account is debited
        return VoucherLine(
            amount=abs(amount.net),
            account=settlement,
            account_vat_code=NO_VAT_CODE,
            balancing_account=amount.account,
            balancing_account_vat_code=code,
            description=description,
        )
    return VoucherLine(
        amount=abs(amount.net),
        account=amount.account,
        account_vat_code=code,
        balancing_account=settlement,
        balancing_account_vat_code=NO_VAT_CODE,
        description=description,
    )


def vat_code(account: int, plan: AccountPlan) -> str | None:
    """`"none"` for the plan's VAT-free accounts, else the account's own code (`None`)."""
    zero_rated = {
        plan.goods_eu_business,
        plan.services_eu_business,
        plan.goods_export,
        plan.services_export,
    }
    no_vat = {plan.no_vat, plan.rounding, plan.tips, plan.duties, plan.gift_cards}
    if account in no_vat - zero_rated - {UNSET}:
        return NO_VAT_CODE
    return None


def _check_balance(voucher: VoucherDraft, plan: AccountPlan) -> None:
    """A guard on this module's own arithmetic: the settlement account moves by exactly the
    total, as Dinero will post the lines."""

    def rate_of(account: int) -> Decimal:
        return _ZERO if account == voucher.settlement_account else plan.vat_rate_of(account)

    moved = _ZERO
    for line in voucher.lines:
        for account, amount in line_postings(line, rate_of):
            if account == voucher.settlement_account:
                moved += amount
    expected = -voucher.total if voucher.reversing else voucher.total
    if moved != expected:  # pragma: no cover - would be a bug here, not bad input
        raise AccountingError(f"voucher lines move {moved} where {expected} was meant")
