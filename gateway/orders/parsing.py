"""An ingest body as the canonical order: every field read, checked and typed, then the amounts
checked against the totals (`consistency`).

Precision allowed:

- amounts (totals, line discounts, shipping, fees, discounts, payments): 2 decimals;
- unit prices: 4 decimals (shops price per gram or per metre);
- quantities: 3 decimals;
- VAT rates: fractions (`0.25`), 4 decimals.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, cast, get_args

from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

from gateway.orders.codes import COUNTRIES, CURRENCIES, EU_COUNTRIES, VAT_PREFIXES, vat_prefix
from gateway.orders.consistency import order_problems, refund_problems
from gateway.orders.fields import Fields, load_object
from gateway.orders.model import (
    MAX_MONEY,
    MAX_PDF_BYTES,
    QUANTITY_PLACES,
    UNIT_PRICE_PLACES,
    VAT_RATE_PLACES,
    Address,
    Customer,
    Discount,
    Event,
    EventType,
    Fee,
    FeeKind,
    FieldError,
    InconsistentOrder,
    InvalidEvent,
    Line,
    LineKind,
    Order,
    Payment,
    PaymentMethod,
    Refund,
    Shipping,
    ShopInvoice,
    round_half_up,
)

_MAX_QUANTITY = Decimal(10) ** 6
_MIN_QUANTITY = Decimal("0.001")
_MAX_VAT_RATE = Decimal("0.9999")
_OERE = Decimal("0.01")
_ZERO = Decimal("0.00")
# The literal types' values, read once rather than for every body.
_EVENT_TYPES: Final = get_args(EventType)
_LINE_KINDS: Final = get_args(LineKind)
_FEE_KINDS: Final = get_args(FeeKind)
_PAYMENT_METHODS: Final = get_args(PaymentMethod)


def parse_event(raw: bytes | str | Mapping[str, Any]) -> Event:
    """The event in an ingest body. Raises `InvalidEvent` listing every invalid field, or
    `InconsistentOrder` when the fields are valid but the amounts do not add up."""
    errors: list[FieldError] = []
    body = Fields(load_object(raw), "", errors)
    event_id = body.ident("id")
    event_type = body.choice("type", _EVENT_TYPES)
    occurred_at = body.time("occurred_at")
    order = _order(body.child("order"))
    refund_fields = body.child_or_none("refund")
    refund = None if refund_fields is None else _refund(refund_fields)
    if event_type == "order.refunded" and refund_fields is None:
        body.error("refund", "is required for order.refunded")
    if errors:
        raise InvalidEvent(errors)
    problems = order_problems(order, "/order")
    if refund is not None:
        problems += refund_problems(refund, order.prices_include_vat, "/refund")
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
    order = _order(Fields(load_object(raw), "", errors))
    if errors:
        raise InvalidEvent(errors)
    problems = order_problems(order, "")
    if problems:
        raise InconsistentOrder(problems)
    return order


def parse_refund(raw: bytes | str | Mapping[str, Any], *, prices_include_vat: bool) -> Refund:
    """A refund object on its own; its amounts are in the pricing basis of its order."""
    errors: list[FieldError] = []
    refund = _refund(Fields(load_object(raw), "", errors))
    if errors:
        raise InvalidEvent(errors)
    problems = refund_problems(refund, prices_include_vat, "")
    if problems:
        raise InconsistentOrder(problems)
    return refund


def _order(fields: Fields) -> Order:
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


def _refund(fields: Fields) -> Refund:
    shipping = fields.child_or_none("shipping")
    payment = fields.child_or_none("payment")
    lines = tuple(_line(line) for line in fields.children("lines"))
    fees = tuple(_fee(fee) for fee in fields.children("fees"))
    if not lines and shipping is None and not fees:
        fields.error("lines", "a refund needs at least one line, its shipping or a fee")
    return Refund(
        id=fields.ident("id"),
        lines=lines,
        shipping=None if shipping is None else _shipping(shipping),
        total=fields.money("total", minimum=_OERE),
        payment=None if payment is None else _payment(payment),
        fees=fees,
    )


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_EAN = re.compile(r"\d{13}")
_VAT_NUMBER_PUNCTUATION = re.compile(r"[\s.,/-]")
_URL = re.compile(r"^https?://[^/\s]+")


def _customer(fields: Fields) -> Customer:
    name = fields.text_or_none("name")
    company = fields.text_or_none("company")
    if name is None and company is None:
        fields.error("name", "a customer needs a name or a company")
    email = fields.text_or_none("email", max_length=254)
    if email is not None and not _EMAIL.match(email):
        fields.error("email", "is not an e-mail address")
    ean = fields.text_or_none("ean")
    if ean is not None and not _EAN.fullmatch(ean):
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


def _vat_number(fields: Fields, country: str) -> str | None:
    raw = fields.text_or_none("vat_number", max_length=40)
    if raw is None:
        return None
    number = _VAT_NUMBER_PUNCTUATION.sub("", raw).upper()
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


def _line(fields: Fields) -> Line:
    quantity = fields.decimal(
        "quantity", places=QUANTITY_PLACES, minimum=_MIN_QUANTITY, maximum=_MAX_QUANTITY
    )
    unit_price = fields.decimal(
        "unit_price", places=UNIT_PRICE_PLACES, minimum=_ZERO, maximum=MAX_MONEY
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
        kind=cast(LineKind, fields.choice("kind", _LINE_KINDS, default="goods")),
    )


def _shipping(fields: Fields) -> Shipping:
    return Shipping(
        name=fields.text("name"),
        price=fields.money("price", minimum=_ZERO),
        vat_rate=_vat_rate(fields),
    )


def _fee(fields: Fields) -> Fee:
    return Fee(
        name=fields.text("name"),
        amount=fields.money("amount", minimum=_ZERO),
        vat_rate=_vat_rate(fields),
        kind=cast(FeeKind, fields.choice("kind", _FEE_KINDS, default="fee")),
    )


def _discount(fields: Fields) -> Discount:
    return Discount(name=fields.text("name"), amount=fields.money("amount", minimum=_ZERO))


def _vat_rate(fields: Fields) -> Decimal:
    return fields.decimal("vat_rate", places=VAT_RATE_PLACES, minimum=_ZERO, maximum=_MAX_VAT_RATE)


def _payment(fields: Fields) -> Payment:
    return Payment(
        method=cast(PaymentMethod, fields.choice("method", _PAYMENT_METHODS)),
        amount=fields.money("amount", minimum=_OERE),
        paid_at=fields.time_or_none("paid_at"),
        reference=fields.text_or_none("reference", max_length=200),
    )


def _shop_invoice(fields: Fields) -> ShopInvoice:
    number = fields.ident("number")
    pdf_url = fields.text_or_none("pdf_url", max_length=2000)
    pdf_base64 = fields.text_or_none("pdf_base64", max_length=MAX_PDF_BYTES * 2)
    if (pdf_url is None) == (pdf_base64 is None):
        fields.error("pdf_url", "give exactly one of pdf_url and pdf_base64")
    # https only in production: the ingest endpoint checks that, as it knows where it runs.
    if pdf_url is not None and not _URL.match(pdf_url):
        fields.error("pdf_url", "must be an https:// (or, outside production, http://) URL")
    if pdf_base64 is not None:
        try:
            size = len(base64.b64decode(pdf_base64, validate=True))
        except ValueError:  # binascii.Error, or a character outside ASCII
            fields.error("pdf_base64", "is not valid base64")
        else:
            if size > MAX_PDF_BYTES:
                fields.error("pdf_base64", f"the file is larger than {MAX_PDF_BYTES} bytes")
    return ShopInvoice(number=number, pdf_url=pdf_url, pdf_base64=pdf_base64)
