"""The canonical order's types, the errors an ingest body can have, and the money rules the
types carry.

A line's amount is `round_half_up(quantity × unit_price, 2) − discount`: shops round each line to
the øre, and Dinero rounds its line totals the same way.

Order-level discounts are amounts off the whole order, in the order's pricing basis (incl. VAT
when prices include VAT). Their VAT follows the goods: each is spread over the lines pro rata to
their amounts (over shipping and fees only when the lines sum to zero), see `discount_basis`,
and together they may not exceed what they are spread over.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Literal, TypeAlias

EventType = Literal[
    "order.created", "order.paid", "order.shipped", "order.refunded", "order.cancelled"
]
# A gift card sold is not a sale: the buyer paid in advance for goods or services chosen
# later (a multi-purpose voucher), so it carries no VAT and is owed to the buyer until used.
LineKind = Literal["goods", "service", "gift_card"]
# A fee the shop charged (`fee`, with its own VAT), a tip the buyer chose to give (`tip`),
# or customs duties collected for the authorities (`duty`); tips and duties carry no VAT.
FeeKind = Literal["fee", "tip", "duty"]
PaymentMethod = Literal["card", "mobilepay", "bank_transfer", "invoice", "other"]

MONEY_PLACES: Final = 2
UNIT_PRICE_PLACES: Final = 4
QUANTITY_PLACES: Final = 3
VAT_RATE_PLACES: Final = 4
MAX_MONEY: Final = Decimal(10) ** 12
# Dinero refuses files above 6 MB, so a bigger PDF could never be attached.
MAX_PDF_BYTES: Final = 6 * 1024 * 1024
_ZERO = Decimal("0.00")
_OERE = Decimal("0.01")


def round_half_up(amount: Decimal, places: int = MONEY_PLACES) -> Decimal:
    # To the øre, as nearly always, without building its exponent each time.
    quantum = _OERE if places == MONEY_PLACES else Decimal(1).scaleb(-places)
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class FieldError:
    pointer: str  # JSON pointer into the body, e.g. "/order/lines/0/quantity"
    message: str


class InvalidEvent(ValueError):
    """The body breaks the contract; `errors` lists every invalid field."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.pointer or '/'}: {e.message}" for e in self.errors))


class InconsistentOrder(InvalidEvent):
    """Every field is valid, but the amounts do not add up to the stated total."""


@dataclass(frozen=True)
class Address:
    street: str | None
    zip: str | None
    city: str | None
    country: str


@dataclass(frozen=True)
class Customer:
    name: str | None
    email: str | None
    phone: str | None
    company: str | None
    vat_number: str | None  # compact, with its country prefix; checked for EU countries
    ean: str | None
    address: Address

    @property
    def display_name(self) -> str:
        return self.company or self.name or ""


@dataclass(frozen=True)
class Line:
    sku: str | None
    name: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    discount: Decimal  # an amount off this line
    kind: LineKind

    @property
    def subtotal(self) -> Decimal:
        return round_half_up(self.quantity * self.unit_price)

    @property
    def amount(self) -> Decimal:
        return self.subtotal - self.discount


@dataclass(frozen=True)
class Shipping:
    name: str
    price: Decimal
    vat_rate: Decimal

    @property
    def amount(self) -> Decimal:
        return self.price


@dataclass(frozen=True)
class Fee:
    name: str
    amount: Decimal
    vat_rate: Decimal
    kind: FeeKind = "fee"


@dataclass(frozen=True)
class Discount:
    name: str
    amount: Decimal


Charge: TypeAlias = Line | Shipping | Fee


@dataclass(frozen=True)
class Payment:
    method: PaymentMethod
    amount: Decimal
    paid_at: dt.datetime | None
    reference: str | None


@dataclass(frozen=True)
class ShopInvoice:
    """The shop's own invoice, for shops that issue them: exactly one of the PDF fields."""

    number: str
    pdf_url: str | None
    pdf_base64: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Order:
    id: str
    number: str
    created_at: dt.datetime
    currency: str
    prices_include_vat: bool
    customer: Customer
    lines: tuple[Line, ...]
    shipping: Shipping | None
    fees: tuple[Fee, ...]
    discounts: tuple[Discount, ...]
    total: Decimal
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    payment: Payment | None
    invoice: ShopInvoice | None


@dataclass(frozen=True)
class Refund:
    id: str
    lines: tuple[Line, ...]
    shipping: Shipping | None
    total: Decimal
    payment: Payment | None
    # Fees paid back, each of its kind as on the order: a tip returned comes off the tips
    # account, duties paid back off the duties account.
    fees: tuple[Fee, ...] = ()


@dataclass(frozen=True)
class Event:
    id: str
    type: EventType
    occurred_at: dt.datetime
    order: Order
    refund: Refund | None


def discount_basis(lines: Sequence[Line], charges: Sequence[Charge]) -> tuple[Charge, ...]:
    """What order-level discounts are spread over, pro rata to `amount`: the lines, or the
    other charges (shipping, fees) when the lines add up to nothing."""
    if sum((line.amount for line in lines), _ZERO) > 0:
        return tuple(lines)
    return tuple(charges)
