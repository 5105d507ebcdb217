"""Shopify's order and refund JSON (as its webhooks carry them) as the gateway's canonical
events.

Pure functions: no database, no network. Each order is written as the canonical ingest body
(the README's "Sending orders: the ingest API") and parsed by `gateway.orders.parse_event`, so a
Shopify order meets exactly the checks a signed API order does: every field, and the amounts
against the total to the øre. What does not add up is refused (`InvalidEvent`, or
`InconsistentOrder` with the difference), with pointers into Shopify's JSON, never booked wrong.
`docs/shopify-mapping.md` lists every field read and what becomes of it.

This module maps the order and is the interface; `refunds` maps a refund, `taxes` reads VAT
rates and checks tax totals, `payments` says how and when an order was paid, `events` names
and parses the canonical events, `reading` reads Shopify's fields.

Decisions:

- Amounts are the presentment currency's (what the customer paid, and what their receipt
  shows), not the shop's: an invoice states what the buyer was charged, and Dinero converts.
- Shopify allocates order-level discount codes to the lines (`discount_allocations`), so they
  are line discounts here and `discount_codes` is not read (that would count them twice).
- Several tax lines on one line (e.g. two taxes) book at the sum of their rates, only when that
  rate reproduces their tax to the øre; and Shopify's `total_tax` must be what the rates give.
- A gift card sold is a debt to its holder, not revenue: its line is a `gift_card` line, booked
  without VAT on the shop's gift-card liability account (`gateway.accounting`). Paying with a
  gift card is only a payment method ("other").
- Tips, duties and additional fees are fees (`extras`): a tip (`kind` tip) and duties (`kind`
  duty) without VAT, an additional fee with the VAT its tax lines charged. A tip refunded and
  duties paid back are the refund's fees of the same kinds (`refunds`), so they come off the
  accounts they went on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from gateway.orders import Event, EventType, Order, round_half_up
from gateway.shopify.events import event_id, line_pointers, parsed, raise_if
from gateway.shopify.extras import extra_fees, is_tip
from gateway.shopify.payments import method, paid_time, reference
from gateway.shopify.reading import Reader, is_foreign, objects, stamp, strings, text, time_text
from gateway.shopify.refunds import refund_event_at
from gateway.shopify.taxes import check_tax, vat_rate

__all__ = [
    "DEFAULT_VAT_NUMBER_KEYS",
    "PAID_STATUSES",
    "MappingSettings",
    "event_id",
    "order_events",
    "order_url",
    "refund_event",
]

DEFAULT_VAT_NUMBER_KEYS: Final = ("vat_number", "VAT number", "vat_id", "cvr")
# Financial statuses that mean the order was paid in full (refunds come after, on their own).
PAID_STATUSES: Final = frozenset({"paid", "partially_refunded", "refunded"})

_ZERO = Decimal("0.00")
_PAYMENT_KINDS: Final = frozenset({"sale", "capture"})


@dataclass(frozen=True)
class MappingSettings:
    """A shop's choices for reading its Shopify orders."""

    # `note_attributes` names (case-insensitive) that carry the buyer's EU VAT number.
    vat_number_keys: tuple[str, ...] = DEFAULT_VAT_NUMBER_KEYS


def order_url(shop: str, order_id: int | str) -> str:
    """The order in the store's Shopify admin."""
    host = shop.strip().lower().removeprefix("https://").removeprefix("http://")
    handle = host.split("/")[0].removesuffix(".myshopify.com")
    return f"https://admin.shopify.com/store/{handle}/orders/{order_id}"


def order_events(
    order_json: Mapping[str, Any], settings: MappingSettings = MappingSettings()
) -> list[Event]:
    """The events the order's current state implies, in order: created; paid (financial status
    paid, partially refunded or refunded); shipped (fulfilled); one per refund; cancelled
    (cancelled and nothing paid). Raises `InvalidEvent` or `InconsistentOrder`."""
    reader = Reader(foreign=is_foreign(order_json))
    body, pointers = _order_body(order_json, settings, reader)
    order_id = body["id"]
    created = parsed(
        {
            "id": event_id(order_id, "created"),
            "type": "order.created",
            "occurred_at": body["created_at"],
            "order": body,
            "refund": None,
        },
        pointers,
        reader,
    )
    order = created.order
    check_tax(order_json, order, reader)
    events = [created]

    def add(fact: str, type_: EventType, at: dt.datetime | None) -> None:
        events.append(Event(event_id(order.id, fact), type_, at or order.created_at, order, None))

    if order.paid_at is not None:
        add("paid", "order.paid", order.paid_at)
    if order.shipped_at is not None:
        add("shipped", "order.shipped", order.shipped_at)
    for index, refund_json in objects(order_json, "refunds"):
        events.append(refund_event_at(order, refund_json, f"/refunds/{index}"))
    cancelled_at = order_json.get("cancelled_at")
    if cancelled_at and order.paid_at is None:
        add("cancelled", "order.cancelled", reader.time(cancelled_at, "/cancelled_at"))
        raise_if(reader.errors)
    return events


def refund_event(order: Order, refund_json: Mapping[str, Any]) -> Event:
    """The `order.refunded` event for one Shopify refund (as `refunds/create` carries it) of
    `order`, the canonical order already stored."""
    return refund_event_at(order, refund_json, "")


def _order_body(
    doc: Mapping[str, Any], settings: MappingSettings, reader: Reader
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The canonical order body, and which canonical pointer is which Shopify field."""
    include_vat = doc.get("taxes_included") is True
    currency_field = "presentment_currency" if text(doc.get("presentment_currency")) else "currency"
    pointers: list[tuple[str, str]] = [
        ("/order/id", "/id"),
        ("/order/number", "/name"),
        ("/order/created_at", "/created_at"),
        ("/occurred_at", "/created_at"),
        ("/order/currency", f"/{currency_field}"),
        ("/order/prices_include_vat", "/taxes_included"),
        ("/order/total", "/total_price"),
        ("/order/payment", "/payment_gateway_names"),
    ]
    lines = []
    tips = []
    for index, item in objects(doc, "line_items"):
        if is_tip(doc, item):
            tips.append((index, item))
            continue
        lines.append(_line(item, f"/line_items/{index}", include_vat, reader))
        pointers += line_pointers(f"/order/lines/{len(lines) - 1}", f"/line_items/{index}")
    pointers.append(("/order/lines", "/line_items"))
    charges = []
    for index, shipping_line in objects(doc, "shipping_lines"):
        charges.append(_shipping(shipping_line, f"/shipping_lines/{index}", include_vat, reader))
        at = "/order/shipping" if len(charges) == 1 else f"/order/fees/{len(charges) - 2}"
        pointers += [
            (f"{at}/vat_rate", f"/shipping_lines/{index}/tax_lines"),
            (at, f"/shipping_lines/{index}"),
        ]
    fees = [{"name": n, "amount": a, "vat_rate": r, "kind": "fee"} for n, a, r in charges[1:]]
    for fee, at in extra_fees(doc, tips, include_vat, reader):
        pointers.append((f"/order/fees/{len(fees)}", at))
        fees.append(fee)
    customer, customer_pointers = _customer(doc, settings)
    pointers += customer_pointers
    paid_at = paid_time(doc, reader) if doc.get("financial_status") in PAID_STATUSES else None
    total = reader.amount(doc, "total_price", "")
    body: dict[str, Any] = {
        "id": text(doc.get("id")),
        "number": text(doc.get("name")) or text(doc.get("order_number")),
        "created_at": time_text(doc.get("created_at"), "/created_at", reader),
        "currency": text(doc.get(currency_field)),
        "prices_include_vat": include_vat,
        "customer": customer,
        "lines": lines,
        "shipping": (
            None
            if not charges
            else {"name": charges[0][0], "price": charges[0][1], "vat_rate": charges[0][2]}
        ),
        "fees": fees,
        "discounts": [],
        "total": str(total),
        "paid_at": None if paid_at is None else stamp(paid_at),
        "shipped_at": _shipped_at(doc, reader),
    }
    if paid_at is not None and total > 0:
        body["payment"] = {
            "method": method(strings(doc.get("payment_gateway_names"))),
            "amount": str(total),
            "paid_at": stamp(paid_at),
            "reference": reference(doc, _PAYMENT_KINDS),
        }
    return body, pointers


def _line(
    item: Mapping[str, Any], pointer: str, include_vat: bool, reader: Reader
) -> dict[str, Any]:
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        reader.error(f"{pointer}/quantity", "must be a whole number of at least 1")
        quantity = 1
    price = reader.amount(item, "price", pointer)
    discount = _allocated(item, pointer, reader)
    amount = round_half_up(quantity * price) - discount
    return {
        "sku": text(item.get("sku")),
        "name": text(item.get("name")) or text(item.get("title")),
        "quantity": str(quantity),
        "unit_price": str(price),
        "vat_rate": str(vat_rate(item, pointer, amount, include_vat, reader)),
        "discount": str(discount),
        "kind": line_kind(item),
    }


def line_kind(item: Mapping[str, Any]) -> str:
    """A gift card sold; else goods, or a service when there is nothing to ship (a download,
    a booking)."""
    if item.get("gift_card") is True:
        return "gift_card"
    return "service" if item.get("requires_shipping") is False else "goods"


def _shipping(
    shipping_line: Mapping[str, Any], pointer: str, include_vat: bool, reader: Reader
) -> tuple[str, str, str]:
    """(name, amount after its discounts, VAT rate) of one shipping line."""
    amount = reader.amount(shipping_line, "price", pointer) - _allocated(
        shipping_line, pointer, reader
    )
    if amount < 0:
        reader.error(f"{pointer}/discount_allocations", f"take the shipping below 0 ({amount})")
    rate = vat_rate(shipping_line, pointer, amount, include_vat, reader)
    name = text(shipping_line.get("title")) or text(shipping_line.get("code")) or "Shipping"
    return name, str(amount), str(rate)


def _allocated(obj: Mapping[str, Any], pointer: str, reader: Reader) -> Decimal:
    """What discount allocations take off a line or a shipping line."""
    return sum(
        (
            reader.amount(allocation, "amount", f"{pointer}/discount_allocations/{index}")
            for index, allocation in objects(obj, "discount_allocations")
        ),
        _ZERO,
    )


def _customer(
    doc: Mapping[str, Any], settings: MappingSettings
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    at, address = "/billing_address", doc.get("billing_address")
    if not isinstance(address, Mapping):
        at, address = "/shipping_address", doc.get("shipping_address")
    if not isinstance(address, Mapping):
        at, address = "/billing_address", {}
    buyer = doc.get("customer") if isinstance(doc.get("customer"), Mapping) else {}
    assert isinstance(buyer, Mapping)
    name = text(address.get("name")) or _joined(address) or _joined(buyer)
    street = ", ".join(
        part for part in (text(address.get("address1")), text(address.get("address2"))) if part
    )
    country = text(address.get("country_code"))
    vat_number, vat_at = _vat_number(doc, settings)
    customer = {
        "name": name,
        "email": text(doc.get("email"))
        or text(doc.get("contact_email"))
        or text(buyer.get("email")),
        "phone": text(doc.get("phone")) or text(address.get("phone")) or text(buyer.get("phone")),
        "company": text(address.get("company")),
        "vat_number": vat_number,
        "ean": None,
        "address": {
            "street": street or None,
            "zip": text(address.get("zip")),
            "city": text(address.get("city")),
            "country": None if country is None else country.upper(),
        },
    }
    pointers = [
        ("/order/customer/vat_number", vat_at),
        ("/order/customer/name", f"{at}/name"),
        ("/order/customer/company", f"{at}/company"),
        ("/order/customer/email", "/email"),
        ("/order/customer/phone", "/phone"),
        ("/order/customer/address/street", f"{at}/address1"),
        ("/order/customer/address/zip", f"{at}/zip"),
        ("/order/customer/address/city", f"{at}/city"),
        ("/order/customer/address/country", f"{at}/country_code"),
        ("/order/customer/address", at),
        ("/order/customer", at),
    ]
    return customer, pointers


def _joined(person: Mapping[str, Any]) -> str | None:
    parts = (text(person.get("first_name")), text(person.get("last_name")))
    return " ".join(part for part in parts if part) or None


def _vat_number(doc: Mapping[str, Any], settings: MappingSettings) -> tuple[str | None, str]:
    """The buyer's VAT number from the first note attribute named by the settings; parsing
    adds the billing country's prefix when it is missing and checks the number."""
    keys = {key.strip().casefold() for key in settings.vat_number_keys}
    for index, attribute in objects(doc, "note_attributes"):
        name = attribute.get("name")
        value = text(attribute.get("value"))
        if isinstance(name, str) and name.strip().casefold() in keys and value:
            return value, f"/note_attributes/{index}/value"
    return None, "/note_attributes"


def _shipped_at(doc: Mapping[str, Any], reader: Reader) -> str | None:
    if doc.get("fulfillment_status") != "fulfilled":
        return None
    times = [
        reader.time(fulfillment.get("created_at"), f"/fulfillments/{index}/created_at")
        for index, fulfillment in objects(doc, "fulfillments")
        if fulfillment.get("status") not in ("cancelled", "error", "failure")
    ]
    found = [time for time in times if time is not None]
    if found:
        return stamp(max(found))
    name = "updated_at" if doc.get("updated_at") else "created_at"
    return time_text(doc.get(name), f"/{name}", reader)
