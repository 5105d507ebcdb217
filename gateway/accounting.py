"""Orders and refunds as Dinero documents: which account each amount goes to, how each line is
written so that Dinero's arithmetic gives back the shop's amount to the øre, and the totals
Dinero will compute.

VAT follows DINERO.md's table. The treatment comes from the customer (`vat_treatment`); each
amount's account from the treatment, what it is (goods, service, shipping, fee) and the VAT rate
the shop charged, which must fit the treatment: reverse charge or export with 25 % VAT, or
foreign VAT (OSS, which Dinero cannot book), is an error to show, never a silent guess. Shipping
and fees follow the goods abroad (the goods account of the treatment); at home they have their
own roles. Order-level discounts are split over the accounts of what they discount, pro rata
(`orders.discount_basis`), in whole øre by largest remainder.

Exactness. Each amount becomes lines whose Dinero line totals are exactly the shop's amount:
quantity × unit price as sent (Dinero rounds it half-up to the øre, as the shop did); a line
discount as a percentage only when that percentage reproduces the discounted amount without any
rounding, else as a negative line on the same account; a product whose quantity × unit price
lies exactly half-way between two øre is sent as one unit at the rounded amount, so Dinero's
rounding mode cannot matter. With prices incl. VAT the document total is then the order total by
construction. With prices excl. VAT, Dinero adds VAT per rate on the whole document, while the
shop may have rounded per line; the øre or so of difference becomes one explicit rounding line
on a VAT-free account, at most `ROUNDING_LIMIT`. Beyond that, `CannotMatchTotal`: the caller
does not book the document and shows why.
"""

from __future__ import annotations

import datetime as dt
import math
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Final, Literal
from uuid import UUID
from zoneinfo import ZoneInfo

from stdnum.eu import vat as eu_vat

from gateway.dinero.models import CreditNoteCreate, InvoiceCreate, InvoiceLine, Language
from gateway.orders import (
    EU_COUNTRIES,
    VAT_PREFIXES,
    Charge,
    Customer,
    Discount,
    Fee,
    FieldError,
    Line,
    Order,
    Refund,
    Shipping,
    discount_basis,
    round_half_up,
    vat_prefix,
)

SELLER_COUNTRY: Final = "DK"
DANISH_VAT: Final = Decimal("0.25")
# The most a rounding line may carry, in the document's currency. Per-line versus per-document
# VAT rounding differs by at most half an øre per VAT-bearing amount; a larger gap is a real
# disagreement that no one should paper over.
ROUNDING_LIMIT: Final = Decimal("1.00")
COPENHAGEN: Final = ZoneInfo("Europe/Copenhagen")
PLACEHOLDERS: Final = ("shop", "number", "order_id", "customer")

_ZERO = Decimal("0.00")
_NO_VAT = Decimal(0)
_HUNDRED = Decimal(100)

DocumentKind = Literal["invoice", "credit_note"]
_Item = Literal["goods", "service", "shipping", "fee"]


class Treatment(StrEnum):
    DOMESTIC = "domestic"
    EU_BUSINESS = "eu_business"  # a valid VAT number from another member state: reverse charge
    EU_PRIVATE = "eu_private"
    EXPORT = "export"


class AccountingError(Exception):
    """The order cannot become a document as it stands; the message says why."""


class VatMismatch(AccountingError):
    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.pointer}: {e.message}" for e in self.errors))


class CannotMatchTotal(AccountingError):
    def __init__(self, *, dinero_total: Decimal, expected: Decimal) -> None:
        self.dinero_total = dinero_total
        self.expected = expected
        self.difference = expected - dinero_total
        super().__init__(
            f"Dinero would total {dinero_total} where the shop charged {expected}; the "
            f"difference of {self.difference} is more than a rounding line may cover "
            f"({ROUNDING_LIMIT}), so the document is not booked"
        )


class InvalidAccountPlan(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class InvalidTemplate(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


# --- accounts --------------------------------------------------------------------------------

_VAT_ROLES: Final = frozenset({"goods_dk", "services_dk", "shipping", "fees"})


@dataclass(frozen=True)
class AccountPlan:
    """Account number per role; the defaults are Dinero's standard chart. The 25 % roles must
    be accounts with VAT code U25 and the rest accounts without VAT; no account may serve
    both. The rounding role defaults to 1050, sales without VAT."""

    goods_dk: int = 1000
    services_dk: int = 1000
    goods_eu_business: int = 1100
    services_eu_business: int = 1200
    goods_export: int = 1255
    services_export: int = 1260
    shipping: int = 1350
    fees: int = 1000
    no_vat: int = 1050
    rounding: int = 1050

    def __post_init__(self) -> None:
        rates: dict[int, tuple[str, Decimal]] = {}
        problems = []
        for role, account in self.roles().items():
            rate = DANISH_VAT if role in _VAT_ROLES else _NO_VAT
            seen = rates.setdefault(account, (role, rate))
            if seen[1] != rate:
                problems.append(
                    f"account {account} cannot be both {seen[0]} ({_percent(seen[1])} VAT) "
                    f"and {role} ({_percent(rate)} VAT)"
                )
        if problems:
            raise InvalidAccountPlan(problems)

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, object]) -> AccountPlan:
        """The standard plan with a shop's `account_overrides` (role → account number)."""
        known = {f.name for f in fields(cls)}
        chosen: dict[str, int] = {}
        problems = []
        for role, value in overrides.items():
            if role not in known:
                problems.append(f"unknown role {role!r}: use one of {', '.join(sorted(known))}")
            elif isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
                chosen[role] = value
            elif isinstance(value, str) and value.isdigit() and 0 < int(value) < 2**31:
                chosen[role] = int(value)
            else:
                problems.append(f"{role}: {value!r} is not an account number")
        if problems:
            raise InvalidAccountPlan(problems)
        return cls(**chosen)

    def roles(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def vat_rate_of(self, account: int) -> Decimal:
        """The VAT rate the plan expects `account` to carry (to check against Dinero's chart)."""
        for role, number in self.roles().items():
            if number == account:
                return DANISH_VAT if role in _VAT_ROLES else _NO_VAT
        raise ValueError(f"account {account} is not in the plan")


def vat_treatment(customer: Customer, seller_country: str = SELLER_COUNTRY) -> Treatment:
    country = customer.address.country
    if country == seller_country:
        return Treatment.DOMESTIC
    if country not in EU_COUNTRIES:
        return Treatment.EXPORT
    number = customer.vat_number or ""
    prefix = number[:2]
    if prefix in VAT_PREFIXES - {"XI", vat_prefix(seller_country)} and eu_vat.is_valid(number):
        return Treatment.EU_BUSINESS
    return Treatment.EU_PRIVATE


def _account(plan: AccountPlan, treatment: Treatment, item: _Item, rate: Decimal) -> int:
    """The account for one amount; `ValueError` when its rate does not fit the treatment."""
    if treatment in (Treatment.DOMESTIC, Treatment.EU_PRIVATE):
        if rate == 0:
            return plan.no_vat
        if rate == DANISH_VAT:
            return {
                "goods": plan.goods_dk,
                "service": plan.services_dk,
                "shipping": plan.shipping,
                "fee": plan.fees,
            }[item]
        if treatment is Treatment.DOMESTIC:
            raise ValueError(
                f"a Danish sale carries 25 % VAT (or 0 when exempt), not {_percent(rate)}"
            )
        raise ValueError(
            f"{_percent(rate)} is not Danish VAT: the destination country's VAT (OSS) cannot "
            "be booked in Dinero; charge 25 % or 0"
        )
    if rate != 0:
        why = (
            "the buyer has a valid EU VAT number, so the sale is reverse charge"
            if treatment is Treatment.EU_BUSINESS
            else "a sale to a customer outside the EU is zero-rated"
        )
        raise ValueError(f"{why}: its VAT rate must be 0, not {_percent(rate)}")
    if treatment is Treatment.EU_BUSINESS:
        return plan.services_eu_business if item == "service" else plan.goods_eu_business
    return plan.services_export if item == "service" else plan.goods_export


def vat_errors(order: Order, refund: Refund | None = None) -> list[FieldError]:
    """Every amount whose VAT rate does not fit the customer's treatment, with its pointer in
    the ingest body, so the API can refuse the order up front (accounts do not matter here:
    which rates fit is the same for every plan)."""
    treatment = vat_treatment(order.customer)
    errors = _vat_problems(_Charges.of_order(order), treatment, AccountPlan())
    if refund is not None:
        errors += _vat_problems(_Charges.of_refund(refund), treatment, AccountPlan())
    return errors


def _vat_problems(charges: _Charges, treatment: Treatment, plan: AccountPlan) -> list[FieldError]:
    errors = []
    for pointer, charge in charges.pointed():
        try:
            _account(plan, treatment, _item_of(charge), charge.vat_rate)
        except ValueError as exc:
            errors.append(FieldError(f"{pointer}/vat_rate", str(exc)))
    return errors


def _item_of(charge: Charge) -> _Item:
    if isinstance(charge, Line):
        return "service" if charge.kind == "service" else "goods"
    return "shipping" if isinstance(charge, Shipping) else "fee"


# --- totals ----------------------------------------------------------------------------------


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


# --- texts -----------------------------------------------------------------------------------


def check_template(template: str) -> list[str]:
    """What is wrong with an invoice text template (empty when it is fine)."""
    problems = []
    if len(template) > 1000:
        problems.append("the text is longer than 1000 characters")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return [*problems, "unbalanced { or }: write {{ or }} for a literal brace"]
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "")
            shown += (f":{spec}" if spec else "") + "}"
            problems.append(f"unknown placeholder {shown}: use {allowed}")
    return problems


def invoice_text(template: str, *, shop_name: str, order: Order) -> str:
    """The template with its placeholders filled in (values inserted as they are, never
    formatted, so a template cannot reach into them)."""
    problems = check_template(template)
    if problems:
        raise InvalidTemplate(problems)
    values = {
        "shop": shop_name,
        "number": order.number,
        "order_id": order.id,
        "customer": order.customer.display_name,
    }
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(values[name])
    return "".join(out)


@dataclass(frozen=True)
class _Words:
    discount: str
    rounding: str
    vat: str
    credit_note: str
    refund: str
    cancellation: str
    already_credited: str
    reverse_charge: str
    buyer_vat_number: str


_WORDS: Final[dict[Language, _Words]] = {
    "da-DK": _Words(
        discount="Rabat",
        rounding="Øreafrunding",
        vat="moms",
        credit_note="Kreditnota",
        refund="Refusion {refund} af ordre {number}",
        cancellation="Annullering af ordre {number}",
        already_credited="Allerede krediteret (refusion {refund})",
        reverse_charge="Omvendt betalingspligt (reverse charge): der er ikke faktureret dansk "
        "moms; køber afregner momsen.",
        buyer_vat_number="Købers momsnummer: {vat_number}",
    ),
    "en-GB": _Words(
        discount="Discount",
        rounding="Rounding",
        vat="VAT",
        credit_note="Credit note",
        refund="Refund {refund} of order {number}",
        cancellation="Cancellation of order {number}",
        already_credited="Already credited (refund {refund})",
        reverse_charge="Reverse charge: no VAT has been charged; the buyer accounts for the VAT.",
        buyer_vat_number="Buyer's VAT number: {vat_number}",
    ),
}


def copenhagen_date(instant: dt.datetime) -> dt.date:
    """The Danish calendar date of an instant: what a Danish bookkeeper calls its day."""
    return instant.astimezone(COPENHAGEN).date()


# --- documents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentDraft:
    """An invoice or credit note, ready but for what only the caller knows: its guid, the
    contact, the external reference and, for a credit note, the invoice it credits. `totals`
    are what Dinero will compute; `total_incl_vat` is the shop's total to the øre."""

    kind: DocumentKind
    treatment: Treatment
    currency: str
    language: Language
    date: dt.date
    description: str
    comment: str | None
    show_lines_incl_vat: bool
    lines: tuple[InvoiceLine, ...]
    totals: Totals
    rounding: Decimal  # the rounding line's amount, 0 when there is none

    def invoice_create(
        self, *, guid: UUID, external_reference: str, contact_guid: UUID | None
    ) -> InvoiceCreate:
        if self.kind != "invoice":
            raise ValueError("this draft is a credit note")
        return InvoiceCreate(
            product_lines=self.lines,
            guid=guid,
            contact_guid=contact_guid,
            external_reference=external_reference,
            date=self.date,
            currency=self.currency,
            language=self.language,
            description=self.description,
            comment=self.comment,
            show_lines_incl_vat=self.show_lines_incl_vat,
        )

    def credit_note_create(
        self,
        *,
        guid: UUID,
        external_reference: str,
        contact_guid: UUID | None,
        credit_note_for: UUID | None,
    ) -> CreditNoteCreate:
        if self.kind != "credit_note":
            raise ValueError("this draft is an invoice")
        return CreditNoteCreate(
            product_lines=self.lines,
            guid=guid,
            contact_guid=contact_guid,
            external_reference=external_reference,
            credit_note_for=credit_note_for,
            date=self.date,
            currency=self.currency,
            language=self.language,
            description=self.description,
            comment=self.comment,
            show_lines_incl_vat=self.show_lines_incl_vat,
        )


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
        _Charges.of_order(order),
        plan=plan,
        language=language,
        date=date or copenhagen_date(order.created_at),
        description=invoice_text(text_template, shop_name=shop_name, order=order),
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
    words = _WORDS[language]
    text = invoice_text(text_template, shop_name=shop_name, order=order)
    return _draft(
        "credit_note",
        order,
        _Charges.of_refund(refund),
        plan=plan,
        language=language,
        date=date,
        description=f"{words.credit_note}: {text}",
        note=words.refund.format(refund=refund.id, number=order.number),
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
    words = _WORDS[language]
    text = invoice_text(text_template, shop_name=shop_name, order=order)
    return _draft(
        "credit_note",
        order,
        _Charges.of_order(order),
        plan=plan,
        language=language,
        date=date,
        description=f"{words.credit_note}: {text}",
        note=words.cancellation.format(number=order.number),
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
    words = _WORDS[language]
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
                base_amount_value=-line.base_amount_value,
                description=f"{label}: {line.description}",
            )
            for line in credited.lines
        ]
    expected = order.total - sum((refund.total for refund in refunds), _ZERO)
    if expected <= 0:
        raise AccountingError("the refunds have credited the whole order: nothing remains")
    totals = dinero_totals(lines, order.prices_include_vat, plan.vat_rate_of)
    rounding = expected - totals.total_incl_vat
    if rounding:
        if abs(rounding) > ROUNDING_LIMIT:
            raise CannotMatchTotal(dinero_total=totals.total_incl_vat, expected=expected)
        lines.append(_amount_line(words.rounding, rounding, plan.rounding))
        totals = dinero_totals(lines, order.prices_include_vat, plan.vat_rate_of)
    return replace(full, lines=tuple(lines), totals=totals, rounding=rounding)


@dataclass(frozen=True)
class _Charges:
    """What one document charges for, and where in the ingest body it came from."""

    pointer: str  # "/order" or "/refund"
    lines: Sequence[Line]
    shipping: Shipping | None
    fees: Sequence[Fee]
    discounts: Sequence[Discount]
    total: Decimal

    @classmethod
    def of_order(cls, order: Order) -> _Charges:
        return cls("/order", order.lines, order.shipping, order.fees, order.discounts, order.total)

    @classmethod
    def of_refund(cls, refund: Refund) -> _Charges:
        return cls("/refund", refund.lines, refund.shipping, (), (), refund.total)

    @property
    def extras(self) -> list[Charge]:
        return [c for c in (self.shipping, *self.fees) if c is not None]

    def pointed(self) -> Iterable[tuple[str, Charge]]:
        for index, line in enumerate(self.lines):
            yield f"{self.pointer}/lines/{index}", line
        if self.shipping is not None:
            yield f"{self.pointer}/shipping", self.shipping
        for index, fee in enumerate(self.fees):
            yield f"{self.pointer}/fees/{index}", fee


def _draft(
    kind: DocumentKind,
    order: Order,
    charges: _Charges,
    *,
    plan: AccountPlan,
    language: Language,
    date: dt.date,
    description: str,
    note: str | None,
) -> DocumentDraft:
    treatment = vat_treatment(order.customer)
    problems = _vat_problems(charges, treatment, plan)
    if problems:
        raise VatMismatch(problems)
    words = _WORDS[language]
    lines = _document_lines(charges, plan, treatment, words)
    totals = dinero_totals(lines, order.prices_include_vat, plan.vat_rate_of)
    rounding = charges.total - totals.total_incl_vat
    if rounding:
        if abs(rounding) > ROUNDING_LIMIT:
            raise CannotMatchTotal(dinero_total=totals.total_incl_vat, expected=charges.total)
        lines.append(_amount_line(words.rounding, rounding, plan.rounding))
        totals = dinero_totals(lines, order.prices_include_vat, plan.vat_rate_of)
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
        description=description,
        comment="\n".join(comment) or None,
        show_lines_incl_vat=order.prices_include_vat,
        lines=tuple(lines),
        totals=totals,
        rounding=rounding,
    )


def _document_lines(
    charges: _Charges, plan: AccountPlan, treatment: Treatment, words: _Words
) -> list[InvoiceLine]:
    def account(charge: Charge) -> int:
        return _account(plan, treatment, _item_of(charge), charge.vat_rate)

    lines = []
    for line in charges.lines:
        lines += _product_lines(line, account(line), words)
    if charges.shipping is not None:
        shipping = charges.shipping
        lines.append(_amount_line(shipping.name, shipping.price, account(shipping), "shipment"))
    for fee in charges.fees:
        lines.append(_amount_line(fee.name, fee.amount, account(fee)))

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
                    rate = _percent(plan.vat_rate_of(number))
                    description = f"{described} ({rate} {words.vat})"
                else:
                    description = described
                lines.append(_amount_line(description, -part, number))
    return lines


def _product_lines(line: Line, account: int, words: _Words) -> list[InvoiceLine]:
    product = InvoiceLine(
        base_amount_value=line.unit_price,
        quantity=line.quantity,
        account_number=account,
        description=line.name,
        unit="parts",
        line_type="Product",
    )
    if _is_half_way(line.quantity * line.unit_price):
        # Half-up and half-even rounding disagree here, and Dinero's mode is not documented.
        product = replace(
            product,
            base_amount_value=line.subtotal,
            quantity=Decimal(1),
            description=f"{line.name} ({line.quantity} × {line.unit_price})",
        )
    if not line.discount:
        return [product]
    percent = _exact_percent(product, line.amount)
    if percent is not None:
        return [replace(product, discount=percent)]
    described = f"{words.discount}: {line.name}"
    return [product, _amount_line(described, -line.discount, account)]


def _exact_percent(product: InvoiceLine, amount: Decimal) -> Decimal | None:
    """A discount percentage (2 decimals) for which Dinero's line total is `amount` with no
    rounding at all, if there is one."""
    gross = product.base_amount_value * product.quantity
    if not gross:
        return None
    percent = round_half_up((gross - amount) * _HUNDRED / gross)
    if gross * (1 - percent / _HUNDRED) != amount or not 0 <= percent <= _HUNDRED:
        return None
    return percent


def _is_half_way(amount: Decimal) -> bool:
    return (amount * _HUNDRED) % 1 == Decimal("0.5")


def _amount_line(
    description: str, amount: Decimal, account: int, unit: str = "parts"
) -> InvoiceLine:
    return InvoiceLine(
        base_amount_value=amount,
        quantity=Decimal(1),
        account_number=account,
        description=description,
        unit=unit,
        line_type="Product",
    )


def _percent(rate: Decimal) -> str:
    return f"{(rate * _HUNDRED).normalize():f} %"
