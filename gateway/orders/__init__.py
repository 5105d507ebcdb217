"""The canonical order: an ingest event's body, parsed, checked and typed.

`model` holds the types, `codes` the country and currency codes, `fields` reads a body's JSON
field by field, `parsing` turns it into the types and `consistency` checks that the amounts add
up; `stored` is the JSON form ingest stores. The names below are the package's interface;
import them from `gateway.orders`.
"""

from gateway.orders.codes import COUNTRIES, CURRENCIES, EU_COUNTRIES, VAT_PREFIXES, vat_prefix
from gateway.orders.model import (
    MAX_PDF_BYTES,
    MONEY_PLACES,
    QUANTITY_PLACES,
    UNIT_PRICE_PLACES,
    VAT_RATE_PLACES,
    Address,
    Charge,
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
    discount_basis,
    round_half_up,
)
from gateway.orders.parsing import parse_event, parse_order, parse_refund
from gateway.orders.stored import canonical

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
    "EU_COUNTRIES",
    "MAX_PDF_BYTES",
    "MONEY_PLACES",
    "QUANTITY_PLACES",
    "UNIT_PRICE_PLACES",
    "VAT_PREFIXES",
    "VAT_RATE_PLACES",
    "Address",
    "Charge",
    "Customer",
    "Discount",
    "Event",
    "EventType",
    "Fee",
    "FeeKind",
    "FieldError",
    "InconsistentOrder",
    "InvalidEvent",
    "Line",
    "LineKind",
    "Order",
    "Payment",
    "PaymentMethod",
    "Refund",
    "Shipping",
    "ShopInvoice",
    "canonical",
    "discount_basis",
    "parse_event",
    "parse_order",
    "parse_refund",
    "round_half_up",
    "vat_prefix",
]
