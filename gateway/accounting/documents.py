"""Orders and refunds as invoices and credit notes, exact to the øre in Dinero's arithmetic.

With prices incl. VAT the lines (`lines`) add up to the order total by construction. With
prices excl. VAT, Dinero adds VAT per rate on the whole document, while the shop may have
rounded per line; the øre or so of difference becomes one explicit rounding line on a VAT-free
account, at most `ROUNDING_LIMIT`. Beyond that, `CannotMatchTotal`: the caller does not book the
document and shows why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final, Literal
from zoneinfo import ZoneInfo

from gateway.accounting.accounts import AccountPlan, Treatment, vat_problems, vat_treatment
from gateway.accounting.charges import Charges
from gateway.accounting.errors import (
    ROUNDING_LIMIT,
    AccountingError,
    CannotMatchTotal,
    VatMismatch,
)
from gateway.accounting.lines import amount_line, document_lines
from gateway.accounting.model import DocumentLine, Language
from gateway.accounting.texts import WORDS, Words, invoice_text
from gateway.accounting.totals import Totals, document_totals
from gateway.orders import Order, Refund

COPENHAGEN: Final = ZoneInfo("Europe/Copenhagen")

_ZERO = Decimal("0.00")

DocumentKind = Literal["invoice", "credit_note"]


def copenhagen_date(instant: dt.datetime) -> dt.date:
    """The Danish calendar date of an instant: what a Danish bookkeeper calls its day."""
    return instant.astimezone(COPENHAGEN).date()


@dataclass(frozen=True)
class DocumentDraft:
    """An invoice or credit note, ready but for what only the caller knows: its guid, the
    contact, the external reference and, for a credit note, the invoice it credits (a backend
    adds those as it turns the draft into its request body). `totals` are what Dinero will
    compute; `total_incl_vat` is the shop's total to the øre."""

    kind: DocumentKind
    treatment: Treatment
    currency: str
    language: Language
    date: dt.date
    description: str
    comment: str | None
    show_lines_incl_vat: bool
    lines: tuple[DocumentLine, ...]
    totals: Totals
    rounding: Decimal  # the rounding line's amount, 0 when there is none


def invoice_for(
    order: Order,
    *,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date | None = None,
) -> DocumentDraft:
    """The invoice for `order`, dated `date` (default: the order's Danish calendar date)."""
    return _draft(
        "invoice",
        order,
        Charges.of_order(order),
        shop_name=shop_name,
        text_template=text_template,
        plan=plan,
        language=language,
        date=date or copenhagen_date(order.created_at),
        note=None,
    )


def credit_note_for_refund(
    order: Order,
    refund: Refund,
    *,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date,
) -> DocumentDraft:
    """A credit note for one refund (each refund gets its own), amounts positive."""
    return _draft(
        "credit_note",
        order,
        Charges.of_refund(refund),
        shop_name=shop_name,
        text_template=text_template,
        plan=plan,
        language=language,
        date=date,
        note=WORDS[language].refund.format(refund=refund.id, number=order.number),
    )


def full_credit_for(
    order: Order,
    *,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date,
) -> DocumentDraft:
    """A credit note for the whole order (a cancellation after booking): the invoice's own
    lines, so it cancels the invoice exactly."""
    return _draft(
        "credit_note",
        order,
        Charges.of_order(order),
        shop_name=shop_name,
        text_template=text_template,
        plan=plan,
        language=language,
        date=date,
        note=WORDS[language].cancellation.format(number=order.number),
    )


def remaining_credit_for(
    order: Order,
    refunds: Sequence[Refund],
    *,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date,
) -> DocumentDraft:
    """A cancellation after refunds that have credit notes of their own: the order's lines,
    less each of those credit notes' lines (as negative lines saying which refund credited
    them), so the order is credited exactly once in all, account by account. The total is
    the order's less the refunds', to the øre (a rounding line where VAT rounded on the sum
    differs from VAT rounded per credit note)."""
    full = full_credit_for(
        order,
        shop_name=shop_name,
        text_template=text_template,
        plan=plan,
        language=language,
        date=date,
    )
    if not refunds:
        return full
    words = WORDS[language]
    lines = list(full.lines)
    for refund in refunds:
        credited = credit_note_for_refund(
            order,
            refund,
            shop_name=shop_name,
            text_template=text_template,
            plan=plan,
            language=language,
            date=date,
        )
        label = words.already_credited.format(refund=refund.id)
        lines += [
            replace(
                line,
                amount=-line.amount,
                description=f"{label}: {line.description}",
            )
            for line in credited.lines
        ]
    expected = order.total - sum((refund.total for refund in refunds), _ZERO)
    if expected <= 0:
        raise AccountingError("the refunds have credited the whole order: nothing remains")
    lines, totals, rounding = _rounded(lines, expected, order.prices_include_vat, plan, words)
    return replace(full, lines=tuple(lines), totals=totals, rounding=rounding)


def _draft(
    kind: DocumentKind,
    order: Order,
    charges: Charges,
    *,
    shop_name: str,
    text_template: str,
    plan: AccountPlan,
    language: Language,
    date: dt.date,
    note: str | None,
) -> DocumentDraft:
    words = WORDS[language]
    text = invoice_text(text_template, shop_name=shop_name, order=order)
    treatment = vat_treatment(order.customer)
    problems = vat_problems(charges, treatment, plan)
    if problems:
        raise VatMismatch(problems)
    lines = document_lines(charges, plan, treatment, words)
    lines, totals, rounding = _rounded(lines, charges.total, order.prices_include_vat, plan, words)
    comment = [note] if note else []
    if treatment is Treatment.EU_BUSINESS:
        comment.append(words.reverse_charge)
        comment.append(words.buyer_vat_number.format(vat_number=order.customer.vat_number))
    return DocumentDraft(
        kind=kind,
        treatment=treatment,
        currency=order.currency,
        language=language,
        date=date,
        description=text if kind == "invoice" else f"{words.credit_note}: {text}",
        comment="\n".join(comment) or None,
        show_lines_incl_vat=order.prices_include_vat,
        lines=tuple(lines),
        totals=totals,
        rounding=rounding,
    )


def _rounded(
    lines: list[DocumentLine],
    expected: Decimal,
    show_lines_incl_vat: bool,
    plan: AccountPlan,
    words: Words,
) -> tuple[list[DocumentLine], Totals, Decimal]:
    """`lines` and their totals, with a rounding line where Dinero would not total `expected`
    without one; and that line's amount (0 when there is none)."""
    totals = document_totals(lines, show_lines_incl_vat, plan.vat_rate_of)
    rounding = expected - totals.total_incl_vat
    if not rounding:
        return lines, totals, rounding
    if abs(rounding) > ROUNDING_LIMIT:
        raise CannotMatchTotal(dinero_total=totals.total_incl_vat, expected=expected)
    lines = [*lines, amount_line(words.rounding, rounding, plan.rounding)]
    return lines, document_totals(lines, show_lines_incl_vat, plan.vat_rate_of), rounding
