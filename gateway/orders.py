"""The canonical order: an ingest event's body, parsed, checked and typed.

Money stays `Decimal` from the first byte: the body is read with `parse_float=Decimal`, decimal
strings and JSON numbers are both accepted, and binary floats (from a caller's own `json.loads`)
and NaN/Infinity are refused. Precision allowed:

- amounts (totals, line discounts, shipping, fees, discounts, payments): 2 decimals;
- unit prices: 4 decimals (shops price per gram or per metre);
- quantities: 3 decimals;
- VAT rates: fractions (`0.25`), 4 decimals.

A line's amount is `round_half_up(quantity × unit_price, 2) − discount`: shops round each line to
the øre, and Dinero rounds its line totals the same way.

Order-level discounts are amounts off the whole order, in the order's pricing basis (incl. VAT
when prices include VAT). Their VAT follows the goods: each is spread over the lines pro rata to
their amounts (over shipping and fees only when the lines sum to zero), see `discount_basis`,
and together they may not exceed what they are spread over.

Consistency: with prices incl. VAT, Σ line amounts + shipping + fees − discounts must equal
`total` exactly. With prices excl. VAT those amounts are net, while `total` is still what the
customer paid, incl. VAT. Shops round VAT per line or per rate and do not say which, so the VAT a
net order's total implies must lie within one øre per VAT-bearing amount of the exact VAT.

Every problem is collected with its JSON pointer (RFC 6901), so one 422 can list them all.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal, TypeAlias, cast, get_args

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

EventType = Literal[
    "order.created", "order.paid", "order.shipped", "order.refunded", "order.cancelled"
]
LineKind = Literal["goods", "service"]
PaymentMethod = Literal["card", "mobilepay", "bank_transfer", "invoice", "other"]


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


# ISO 3166-1 alpha-2, every assigned code, plus XK (Kosovo), which shops use although ISO has
# only reserved it.
COUNTRIES: Final = _codes(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW XK"""
)
# The EU's VAT area by ISO code. Åland (AX), the Faroe Islands (FO) and Greenland (GL) have codes
# of their own and are outside it.
EU_COUNTRIES: Final = _codes(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
)
# Prefixes of EU VAT numbers: Greece uses EL, Northern Ireland's traders XI.
VAT_PREFIXES: Final = (EU_COUNTRIES - {"GR"}) | {"EL", "XI"}
# ISO 4217 currencies in circulation (fund and precious-metal codes left out).
CURRENCIES: Final = _codes(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
    GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF
    KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR
    MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG
    SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD
    UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL"""
)

MONEY_PLACES: Final = 2
UNIT_PRICE_PLACES: Final = 4
QUANTITY_PLACES: Final = 3
VAT_RATE_PLACES: Final = 4
# Dinero refuses files above 6 MB, so a bigger PDF could never be attached.
MAX_PDF_BYTES: Final = 6 * 1024 * 1024
_MAX_MONEY = Decimal(10) ** 12
_MAX_QUANTITY = Decimal(10) ** 6
_OERE = Decimal("0.01")
_ZERO = Decimal("0.00")


def round_half_up(amount: Decimal, places: int = MONEY_PLACES) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


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


# --- parsing ---------------------------------------------------------------------------------


def parse_event(raw: bytes | str | Mapping[str, Any]) -> Event:
    """The event in an ingest body. Raises `InvalidEvent` listing every invalid field, or
    `InconsistentOrder` when the fields are valid but the amounts do not add up."""
    errors: list[FieldError] = []
    body = _Fields(_load(raw), "", errors)
    event_id = body.ident("id")
    event_type = body.choice("type", get_args(EventType))
    occurred_at = body.time("occurred_at")
    order = _order(body.child("order"))
    refund_fields = body.child_or_none("refund")
    refund = None if refund_fields is None else _refund(refund_fields)
    if event_type == "order.refunded" and refund_fields is None:
        body.error("refund", "is required for order.refunded")
    if errors:
        raise InvalidEvent(errors)
    problems = _order_consistency(order, "/order")
    if refund is not None:
        problems += _refund_consistency(refund, order.prices_include_vat, "/refund")
        if refund.total > order.total:
            problems.append(
                FieldError("/refund/total", f"{refund.total} exceeds the order total {order.total}")
            )
    if problems:
        raise InconsistentOrder(problems)
    return Event(event_id, cast(EventType, event_type), occurred_at, order, refund)


def parse_order(raw: bytes | str | Mapping[str, Any]) -> Order:
    """An order object on its own (e.g. as stored), with the same checks as in an event."""
    errors: list[FieldError] = []
    order = _order(_Fields(_load(raw), "", errors))
    if errors:
        raise InvalidEvent(errors)
    problems = _order_consistency(order, "")
    if problems:
        raise InconsistentOrder(problems)
    return order


def parse_refund(raw: bytes | str | Mapping[str, Any], *, prices_include_vat: bool) -> Refund:
    """A refund object on its own; its amounts are in the pricing basis of its order."""
    errors: list[FieldError] = []
    refund = _refund(_Fields(_load(raw), "", errors))
    if errors:
        raise InvalidEvent(errors)
    problems = _refund_consistency(refund, prices_include_vat, "")
    if problems:
        raise InconsistentOrder(problems)
    return refund


class _NotANumber:
    """What NaN and Infinity parse to, so the field holding one gets the error."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _load(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The body as a JSON object; anything else is the body's only error."""
    if isinstance(raw, Mapping):
        return raw
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_NotANumber)
    except ValueError as exc:  # JSONDecodeError and bad UTF-8 are both ValueErrors
        raise InvalidEvent([FieldError("", f"the body is not valid JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise InvalidEvent([FieldError("", "the body must be a JSON object")])
    return data


def _order(fields: _Fields) -> Order:
    shipping = fields.child_or_none("shipping")
    payment = fields.child_or_none("payment")
    invoice = fields.child_or_none("invoice")
    lines = fields.children("lines", required=True)
    if fields.has("lines") and not lines:
        fields.error("lines", "must have at least one line")
    return Order(
        id=fields.ident("id"),
        number=fields.ident("number"),
        created_at=fields.time("created_at"),
        currency=fields.code("currency", CURRENCIES, "an ISO 4217 currency code such as DKK"),
        prices_include_vat=fields.flag("prices_include_vat"),
        customer=_customer(fields.child("customer")),
        lines=tuple(_line(line) for line in lines),
        shipping=None if shipping is None else _shipping(shipping),
        fees=tuple(_fee(fee) for fee in fields.children("fees")),
        discounts=tuple(_discount(discount) for discount in fields.children("discounts")),
        total=fields.money("total", minimum=_ZERO),
        paid_at=fields.time_or_none("paid_at"),
        shipped_at=fields.time_or_none("shipped_at"),
        payment=None if payment is None else _payment(payment),
        invoice=None if invoice is None else _shop_invoice(invoice),
    )


def _refund(fields: _Fields) -> Refund:
    shipping = fields.child_or_none("shipping")
    payment = fields.child_or_none("payment")
    lines = tuple(_line(line) for line in fields.children("lines"))
    if not lines and shipping is None:
        fields.error("lines", "a refund needs at least one line or its shipping")
    return Refund(
        id=fields.ident("id"),
        lines=lines,
        shipping=None if shipping is None else _shipping(shipping),
        total=fields.money("total", minimum=_OERE),
        payment=None if payment is None else _payment(payment),
    )


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _customer(fields: _Fields) -> Customer:
    name = fields.text_or_none("name")
    company = fields.text_or_none("company")
    if name is None and company is None:
        fields.error("name", "a customer needs a name or a company")
    email = fields.text_or_none("email", max_length=254)
    if email is not None and not _EMAIL.match(email):
        fields.error("email", "is not an e-mail address")
    ean = fields.text_or_none("ean")
    if ean is not None and not re.fullmatch(r"\d{13}", ean):
        fields.error("ean", "must be a 13-digit EAN (GLN) number")
    address_fields = fields.child("address")
    address = Address(
        street=address_fields.text_or_none("street"),
        zip=address_fields.text_or_none("zip", max_length=20),
        city=address_fields.text_or_none("city"),
        country=address_fields.code("country", COUNTRIES, "an ISO 3166-1 alpha-2 code such as DK"),
    )
    return Customer(
        name=name,
        email=email,
        phone=fields.text_or_none("phone", max_length=40),
        company=company,
        vat_number=_vat_number(fields, address.country),
        ean=ean,
        address=address,
    )


def _vat_number(fields: _Fields, country: str) -> str | None:
    raw = fields.text_or_none("vat_number", max_length=40)
    if raw is None:
        return None
    number = re.sub(r"[\s.,/-]", "", raw).upper()
    if number[:2] == "GR":
        number = "EL" + number[2:]
    if number[:2] not in VAT_PREFIXES and country in EU_COUNTRIES:
        number = vat_prefix(country) + number
    if number[:2] in VAT_PREFIXES:
        try:
            number = eu_vat.validate(number)
        except ValidationError as exc:
            fields.error("vat_number", f"{number} is not a valid EU VAT number: {exc}")
    return number


def vat_prefix(country: str) -> str:
    """The prefix of an EU VAT number: the ISO code, except for Greece."""
    return "EL" if country == "GR" else country


def _line(fields: _Fields) -> Line:
    quantity = fields.decimal(
        "quantity", places=QUANTITY_PLACES, minimum=Decimal("0.001"), maximum=_MAX_QUANTITY
    )
    unit_price = fields.decimal(
        "unit_price", places=UNIT_PRICE_PLACES, minimum=_ZERO, maximum=_MAX_MONEY
    )
    discount = fields.money("discount", minimum=_ZERO, default=_ZERO)
    subtotal = round_half_up(quantity * unit_price)
    if discount > subtotal:
        fields.error("discount", f"{discount} is more than the line's {subtotal}")
    return Line(
        sku=fields.text_or_none("sku", max_length=100),
        name=fields.text("name"),
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=_vat_rate(fields),
        discount=discount,
        kind=cast(LineKind, fields.choice("kind", get_args(LineKind), default="goods")),
    )


def _shipping(fields: _Fields) -> Shipping:
    return Shipping(
        name=fields.text("name"),
        price=fields.money("price", minimum=_ZERO),
        vat_rate=_vat_rate(fields),
    )


def _fee(fields: _Fields) -> Fee:
    return Fee(
        name=fields.text("name"),
        amount=fields.money("amount", minimum=_ZERO),
        vat_rate=_vat_rate(fields),
    )


def _discount(fields: _Fields) -> Discount:
    return Discount(name=fields.text("name"), amount=fields.money("amount", minimum=_ZERO))


def _vat_rate(fields: _Fields) -> Decimal:
    return fields.decimal(
        "vat_rate", places=VAT_RATE_PLACES, minimum=_ZERO, maximum=Decimal("0.9999")
    )


def _payment(fields: _Fields) -> Payment:
    return Payment(
        method=cast(PaymentMethod, fields.choice("method", get_args(PaymentMethod))),
        amount=fields.money("amount", minimum=_OERE),
        paid_at=fields.time_or_none("paid_at"),
        reference=fields.text_or_none("reference", max_length=200),
    )


def _shop_invoice(fields: _Fields) -> ShopInvoice:
    number = fields.ident("number")
    pdf_url = fields.text_or_none("pdf_url", max_length=2000)
    pdf_base64 = fields.text_or_none("pdf_base64", max_length=MAX_PDF_BYTES * 2)
    if (pdf_url is None) == (pdf_base64 is None):
        fields.error("pdf_url", "give exactly one of pdf_url and pdf_base64")
    # https only in production: the ingest endpoint checks that, as it knows where it runs.
    if pdf_url is not None and not re.match(r"^https?://[^/\s]+", pdf_url):
        fields.error("pdf_url", "must be an https:// (or, outside production, http://) URL")
    if pdf_base64 is not None:
        try:
            size = len(base64.b64decode(pdf_base64, validate=True))
        except binascii.Error:
            fields.error("pdf_base64", "is not valid base64")
        else:
            if size > MAX_PDF_BYTES:
                fields.error("pdf_base64", f"the file is larger than {MAX_PDF_BYTES} bytes")
    return ShopInvoice(number=number, pdf_url=pdf_url, pdf_base64=pdf_base64)


# --- consistency -----------------------------------------------------------------------------


def _order_consistency(order: Order, pointer: str) -> list[FieldError]:
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


def _refund_consistency(refund: Refund, prices_include_vat: bool, pointer: str) -> list[FieldError]:
    shipping = (refund.shipping,) if refund.shipping else ()
    parts = [
        ("lines", sum((line.amount for line in refund.lines), _ZERO)),
        ("shipping", refund.shipping.price if refund.shipping else _ZERO),
    ]
    return _total_problems(
        parts,
        [],
        refund.total,
        charges=(*refund.lines, *shipping),
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
    terms = " + ".join(f"{name} {amount}" for name, amount in parts)
    if discounts:
        terms += f" − discounts {discounts}"
    if prices_include_vat:
        if summed == stated:
            return []
        return [
            FieldError(
                pointer,
                f"{terms} = {summed}, but the total is {stated}: a difference of {stated - summed}",
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
    return [
        FieldError(
            pointer,
            f"{terms} = {summed} excl. VAT; with VAT {round_half_up(exact_vat)} that is "
            f"{expected}, but the total is {stated}: a difference of {stated - expected} "
            f"(VAT rounding explains at most {allowance})",
        )
    ]


def _exact_vat(charges: Iterable[Charge], basis: Sequence[Charge], discounts: Decimal) -> Decimal:
    vat = sum((charge.amount * charge.vat_rate for charge in charges), _ZERO)
    weight = sum((charge.amount for charge in basis), _ZERO)
    if discounts and weight:
        vat -= discounts * sum((c.amount * c.vat_rate for c in basis), _ZERO) / weight
    return vat


# --- reading JSON fields ---------------------------------------------------------------------

_DECIMAL_TEXT = re.compile(r"^[+-]?\d+(\.\d+)?$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_MISSING: Final = object()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _decimal_places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class _Fields:
    """One JSON object at `pointer`. Every getter records a problem in `errors` and returns a
    placeholder instead of stopping, so a single pass finds every invalid field; the caller
    throws the half-built result away when `errors` is not empty."""

    def __init__(self, data: Mapping[str, Any], pointer: str, errors: list[FieldError]) -> None:
        self._data = data
        self._pointer = pointer
        self._errors = errors

    def _at(self, name: str) -> str:
        return f"{self._pointer}/{name.replace('~', '~0').replace('/', '~1')}"

    def error(self, name: str, message: str) -> None:
        self._errors.append(FieldError(self._at(name), message))

    def has(self, name: str) -> bool:
        return self._data.get(name) is not None

    def _value(self, name: str, *, required: bool) -> Any:
        value = self._data.get(name)
        if value is None:
            if required:
                self.error(name, "is required")
            return _MISSING
        return value

    def _string(self, name: str, *, required: bool, max_length: int) -> str | None:
        value = self._value(name, required=required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.error(name, "must be a string")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.error(name, f"must be at most {max_length} characters")
        if not value and required:
            self.error(name, "must not be empty")
        return value or None

    def text(self, name: str, *, max_length: int = 500) -> str:
        return self._string(name, required=True, max_length=max_length) or ""

    def text_or_none(self, name: str, *, max_length: int = 500) -> str | None:
        return self._string(name, required=False, max_length=max_length)

    def ident(self, name: str) -> str:
        """An id or number: a string, or a JSON integer, which many shops send."""
        value = self._data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(name, max_length=100)

    def code(self, name: str, known: frozenset[str], what: str) -> str:
        value = self.text(name, max_length=10).upper()
        if value and value not in known:
            self.error(name, f"must be {what}")
        return value

    def choice(self, name: str, options: tuple[str, ...], *, default: str | None = None) -> str:
        value = self._value(name, required=default is None)
        if value is _MISSING:
            return default or options[0]
        if value not in options:
            self.error(name, f"must be one of {', '.join(options)}")
            return options[0]
        return str(value)

    def flag(self, name: str) -> bool:
        value = self._value(name, required=True)
        if value is not _MISSING and not isinstance(value, bool):
            self.error(name, "must be true or false")
        return value is True

    def decimal(
        self,
        name: str,
        *,
        places: int,
        minimum: Decimal,
        maximum: Decimal,
        default: Decimal | None = None,
    ) -> Decimal:
        value = self._value(name, required=default is None)
        if value is _MISSING:
            return default if default is not None else _ZERO
        number = self._number(name, value)
        if number is None:
            return _ZERO
        if _decimal_places(number) > places:
            self.error(name, f"must have at most {places} decimals")
        elif not minimum <= number <= maximum:
            self.error(name, f"must be between {minimum} and {maximum}")
        else:
            return number
        return _ZERO

    def money(self, name: str, *, minimum: Decimal, default: Decimal | None = None) -> Decimal:
        amount = self.decimal(
            name, places=MONEY_PLACES, minimum=minimum, maximum=_MAX_MONEY, default=default
        )
        return amount.quantize(_OERE)

    def _number(self, name: str, value: object) -> Decimal | None:
        if isinstance(value, _NotANumber):
            self.error(name, f"must be a finite number, not {value.literal}")
        elif isinstance(value, float):
            self.error(name, "binary floating point is refused: send a decimal string")
        elif isinstance(value, bool):
            self.error(name, "must be a decimal string or number")
        elif isinstance(value, int):
            return Decimal(value)
        elif isinstance(value, Decimal):
            if value.is_finite():
                return value
            self.error(name, "must be a finite number")
        elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
            return Decimal(value.strip())
        else:
            self.error(name, 'must be a decimal string or number, e.g. "12.50"')
        return None

    def time(self, name: str) -> dt.datetime:
        return self._time(name, required=True) or _EPOCH

    def time_or_none(self, name: str) -> dt.datetime | None:
        return self._time(name, required=False)

    def _time(self, name: str, *, required: bool) -> dt.datetime | None:
        value = self._value(name, required=required)
        if value is _MISSING:
            return None
        if isinstance(value, str) and _RFC3339.match(value):
            try:
                return dt.datetime.fromisoformat(value.upper()).astimezone(dt.UTC)
            except ValueError:
                pass
        self.error(name, "must be an RFC 3339 time with an offset, e.g. 2026-11-24T10:00:00Z")
        return None

    def child(self, name: str) -> _Fields:
        value = self._value(name, required=True)
        if value is not _MISSING:
            return self._object(name, value)
        # Its own fields are not reported again: "is required" says it all.
        return _Fields({}, self._at(name), [])

    def child_or_none(self, name: str) -> _Fields | None:
        value = self._value(name, required=False)
        return None if value is _MISSING else self._object(name, value)

    def _object(self, name: str, value: object) -> _Fields:
        if isinstance(value, Mapping):
            return _Fields(value, self._at(name), self._errors)
        self.error(name, "must be an object")
        return _Fields({}, self._at(name), [])

    def children(self, name: str, *, required: bool = False) -> list[_Fields]:
        value = self._value(name, required=required)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.error(name, "must be a list")
            return []
        at = self._at(name)
        items = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                items.append(_Fields(item, f"{at}/{index}", self._errors))
            else:
                self._errors.append(FieldError(f"{at}/{index}", "must be an object"))
        return items
