"""WooCommerce's order and refund JSON (REST API v3, as its webhooks and `GET /orders` carry
them) as the gateway's canonical events.

Pure functions: no database, no network. Each order is written as the canonical ingest body
and parsed by `gateway.orders.parse_event`, so a WooCommerce order meets exactly the checks a
signed API order does: every field, and the amounts against `total` to the øre. What does not
add up is refused (`InvalidEvent`, or `InconsistentOrder` with the difference), with pointers
into WooCommerce's JSON, never booked wrong. `docs/woocommerce-mapping.md` lists every field
read and what becomes of it.

Decisions:

- WooCommerce keeps each line net (`total`) with its tax (`total_tax`) whatever
  `prices_include_tax` says. The canonical order follows `prices_include_tax`: incl. VAT, a
  line's amount is `total + total_tax` (what the customer saw); excl. VAT, it is `total`.
- Coupons are already taken off the lines (`subtotal` before, `total` after), so they are
  line discounts here; `coupon_lines` is read only to check that the lines took off what the
  coupons say, once.
- A negative fee (a discount some plugins add as a fee) is an order-level discount.
- Only `*_gmt` times are read (the others are the store's local time without an offset).
- An order's `refunds` is a summary; the lines of each refund come from
  `GET /orders/{id}/refunds`, passed in as `refunds` (see `refunds`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from gateway.orders import Event, EventType
from gateway.platforms.events import Pointers, parsed, raise_if
from gateway.platforms.reading import Reader, objects, stamp, text
from gateway.woocommerce.events import event_id, gmt, unit
from gateway.woocommerce.payments import method
from gateway.woocommerce.refunds import refund_event, refund_event_at
from gateway.woocommerce.taxes import charged_rate, check_tax, rates_by_id

__all__ = [
    "DEFAULT_VAT_NUMBER_KEYS",
    "PAID_STATUSES",
    "MappingSettings",
    "event_id",
    "order_events",
    "refund_event",
]

# Where the common EU VAT plugins keep the buyer's VAT number, in this order (DESIGN.md).
DEFAULT_VAT_NUMBER_KEYS: Final = ("_billing_vat_number", "_vat_number", "vat_number", "billing_vat")
# Statuses of an order that was paid (a refunded order was paid before it was refunded).
PAID_STATUSES: Final = frozenset({"processing", "completed", "refunded"})
# Statuses of an order that was shipped: WooCommerce's "completed" is "fulfilled".
SHIPPED_STATUSES: Final = frozenset({"completed"})

_ZERO = Decimal("0.00")
_OERE = Decimal("0.01")


@dataclass(frozen=True)
class MappingSettings:
    """A shop's choices for reading its WooCommerce orders."""

    # `meta_data` keys (case-insensitive, tried in order) that carry the buyer's VAT number.
    vat_number_keys: tuple[str, ...] = DEFAULT_VAT_NUMBER_KEYS


def order_events(
    order_json: Mapping[str, Any],
    settings: MappingSettings = MappingSettings(),
    refunds: Sequence[Mapping[str, Any]] = (),
) -> list[Event]:
    """The events the order's current state implies, in order: created; paid (processing,
    completed or refunded); shipped (completed); one per refund in `refunds` (the order's
    refunds as `GET /orders/{id}/refunds` gives them); cancelled (cancelled, never paid).
    Raises `InvalidEvent` or `InconsistentOrder`."""
    reader = Reader()
    body, pointers = _order_body(order_json, settings, reader)
    created = parsed(
        {
            "id": event_id(body["id"], "created"),
            "type": "order.created",
            "occurred_at": body["created_at"],
            "order": body,
            "refund": None,
        },
        pointers,
        reader,
    )
    order = created.order
    if order_json.get("total_tax") is not None:
        check_tax(reader.decimal(order_json.get("total_tax"), "/total_tax"), order)
        raise_if(reader.errors)
    events = [created]

    def add(fact: str, type_: EventType, at: dt.datetime | None) -> None:
        events.append(Event(event_id(order.id, fact), type_, at or order.created_at, order, None))

    if order.paid_at is not None:
        add("paid", "order.paid", order.paid_at)
    if order.shipped_at is not None:
        add("shipped", "order.shipped", order.shipped_at)
    for index, refund_json in enumerate(refunds):
        events.append(refund_event_at(order, refund_json, f"/refunds/{index}"))
    if order_json.get("status") == "cancelled" and order.paid_at is None:
        at = gmt(order_json, "date_modified_gmt", reader) or order.created_at
        raise_if(reader.errors)
        add("cancelled", "order.cancelled", at)
    return events


def _order_body(
    doc: Mapping[str, Any], settings: MappingSettings, reader: Reader
) -> tuple[dict[str, Any], Pointers]:
    """The canonical order body, and which canonical pointer is which WooCommerce field."""
    include_vat = doc.get("prices_include_tax") is True
    rates = rates_by_id(doc, reader)
    pointers: Pointers = [
        ("/order/id", "/id"),
        ("/order/number", "/number"),
        ("/order/created_at", "/date_created_gmt"),
        ("/occurred_at", "/date_created_gmt"),
        ("/order/currency", "/currency"),
        ("/order/prices_include_vat", "/prices_include_tax"),
        ("/order/total", "/total"),
        ("/order/payment", "/payment_method_title"),
        ("/order/discounts", "/fee_lines"),
    ]
    lines = []
    for index, item in objects(doc, "line_items"):
        at = f"/line_items/{index}"
        lines.append(_line(item, at, include_vat, rates, reader))
        ours = f"/order/lines/{len(lines) - 1}"
        pointers += [
            (f"{ours}/vat_rate", f"{at}/taxes"),
            (f"{ours}/discount", f"{at}/total"),
            (f"{ours}/unit_price", f"{at}/subtotal"),
            (f"{ours}/quantity", f"{at}/quantity"),
            (f"{ours}/name", f"{at}/name"),
            (f"{ours}/sku", f"{at}/sku"),
            (ours, at),
        ]
    pointers.append(("/order/lines", "/line_items"))
    _check_coupons(doc, lines, include_vat, reader)
    # The first shipping line is the shipping; more shipping lines and the fees are fees.
    charges: list[tuple[str, Decimal, Decimal]] = []
    for index, shipping_line in objects(doc, "shipping_lines"):
        at = f"/shipping_lines/{index}"
        name = text(shipping_line.get("method_title")) or "Shipping"
        amount, rate = _charge(shipping_line, at, include_vat, rates, reader)
        charges.append((name, amount, rate))
        ours = "/order/shipping" if len(charges) == 1 else f"/order/fees/{len(charges) - 2}"
        pointers += [(f"{ours}/vat_rate", f"{at}/taxes"), (ours, at)]
    shipping = charges[:1]
    fees = charges[1:]
    discounts = []
    for index, fee in objects(doc, "fee_lines"):
        at = f"/fee_lines/{index}"
        name = text(fee.get("name")) or "Fee"
        amount, rate = _charge(fee, at, include_vat, rates, reader)
        if amount < 0:
            discounts.append({"name": name, "amount": str(-amount)})
            continue
        fees.append((name, amount, rate))
        pointers += [
            (f"/order/fees/{len(fees) - 1}/vat_rate", f"{at}/taxes"),
            (f"/order/fees/{len(fees) - 1}", at),
        ]
    customer, customer_pointers = _customer(doc, settings)
    pointers += customer_pointers
    status = doc.get("status")
    created = gmt(doc, "date_created_gmt", reader)
    paid_at = (gmt(doc, "date_paid_gmt", reader) or created) if status in PAID_STATUSES else None
    shipped_at = None
    if status in SHIPPED_STATUSES or (status == "refunded" and doc.get("date_completed_gmt")):
        shipped_at = gmt(doc, "date_completed_gmt", reader) or gmt(doc, "date_modified_gmt", reader)
    total = reader.decimal(doc.get("total"), "/total")
    body: dict[str, Any] = {
        "id": text(doc.get("id")),
        "number": text(doc.get("number")) or text(doc.get("id")),
        "created_at": None if created is None else stamp(created),
        "currency": text(doc.get("currency")),
        "prices_include_vat": include_vat,
        "customer": customer,
        "lines": lines,
        "shipping": (
            {"name": shipping[0][0], "price": str(shipping[0][1]), "vat_rate": str(shipping[0][2])}
            if shipping
            else None
        ),
        "fees": [{"name": n, "amount": str(a), "vat_rate": str(r)} for n, a, r in fees],
        "discounts": discounts,
        "total": str(total),
        "paid_at": None if paid_at is None else stamp(paid_at),
        "shipped_at": None if shipped_at is None else stamp(shipped_at),
    }
    if paid_at is not None and total > 0:
        body["payment"] = {
            "method": method(
                text(doc.get("payment_method")), text(doc.get("payment_method_title"))
            ),
            "amount": str(total),
            "paid_at": stamp(paid_at),
            "reference": text(doc.get("transaction_id")),
        }
    return body, pointers


def _line(
    item: Mapping[str, Any],
    at: str,
    include_vat: bool,
    rates: Mapping[str, tuple[Decimal, str]],
    reader: Reader,
) -> dict[str, Any]:
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        reader.error(f"{at}/quantity", "must be a whole number of at least 1")
        quantity = 1
    subtotal = reader.decimal(item.get("subtotal"), f"{at}/subtotal")
    total = reader.decimal(item.get("total"), f"{at}/total")
    tax = reader.decimal(item.get("total_tax", "0"), f"{at}/total_tax")
    rate = charged_rate(item, at, total, tax, rates, reader)
    if include_vat:
        subtotal += reader.decimal(item.get("subtotal_tax", "0"), f"{at}/subtotal_tax")
        total += tax
    name = text(item.get("name")) or f"Product {text(item.get('product_id')) or ''}".strip()
    unit_price, count = unit(subtotal, quantity)
    if count != quantity:
        name = f"{name} ({quantity} ×)"
    return {
        "sku": text(item.get("sku")),
        "name": name,
        "quantity": str(count),
        "unit_price": str(unit_price),
        "vat_rate": str(rate),
        "discount": str(subtotal - total),
        "kind": "goods",
    }


def _charge(
    obj: Mapping[str, Any],
    at: str,
    include_vat: bool,
    rates: Mapping[str, tuple[Decimal, str]],
    reader: Reader,
) -> tuple[Decimal, Decimal]:
    """(amount in the order's basis, VAT rate) of a shipping line or a fee."""
    net = reader.decimal(obj.get("total"), f"{at}/total")
    tax = reader.decimal(obj.get("total_tax", "0"), f"{at}/total_tax")
    if net < 0:  # a discount fee: its taxes are negative too
        rate = charged_rate(obj, at, -net, -tax, rates, reader)
    else:
        rate = charged_rate(obj, at, net, tax, rates, reader)
    return (net + tax if include_vat else net), rate


def _check_coupons(
    doc: Mapping[str, Any], lines: list[dict[str, Any]], include_vat: bool, reader: Reader
) -> None:
    """The coupons' discounts must be what the lines took off (an øre a line for rounding)."""
    coupons = list(objects(doc, "coupon_lines"))
    if not coupons:
        return
    stated = _ZERO
    for index, coupon in coupons:
        at = f"/coupon_lines/{index}"
        stated += reader.decimal(coupon.get("discount"), f"{at}/discount")
        if include_vat:
            stated += reader.decimal(coupon.get("discount_tax", "0"), f"{at}/discount_tax")
    taken = sum((Decimal(line["discount"]) for line in lines), _ZERO)
    if abs(stated - taken) > _OERE * max(len(lines), 1):
        reader.error(
            "/coupon_lines",
            f"the coupons take {stated} off, but the lines took {taken} off: a difference of "
            f"{stated - taken}",
        )


def _customer(doc: Mapping[str, Any], settings: MappingSettings) -> tuple[dict[str, Any], Pointers]:
    billing = doc.get("billing") if isinstance(doc.get("billing"), Mapping) else {}
    shipping = doc.get("shipping") if isinstance(doc.get("shipping"), Mapping) else {}
    assert isinstance(billing, Mapping) and isinstance(shipping, Mapping)
    at, address = "/billing", billing
    if not text(billing.get("country")) and text(shipping.get("country")):
        at, address = "/shipping", shipping
    street = ", ".join(
        part for part in (text(address.get("address_1")), text(address.get("address_2"))) if part
    )
    country = text(address.get("country"))
    vat_number, vat_at = _vat_number(doc, settings)
    names = (text(address.get("first_name")), text(address.get("last_name")))
    customer = {
        "name": " ".join(part for part in names if part) or None,
        "email": text(billing.get("email")),
        "phone": text(billing.get("phone")) or text(shipping.get("phone")),
        "company": text(billing.get("company")) or text(address.get("company")),
        "vat_number": vat_number,
        "ean": None,
        "address": {
            "street": street or None,
            "zip": text(address.get("postcode")),
            "city": text(address.get("city")),
            "country": None if country is None else country.upper(),
        },
    }
    pointers = [
        ("/order/customer/vat_number", vat_at),
        ("/order/customer/name", f"{at}/first_name"),
        ("/order/customer/company", "/billing/company"),
        ("/order/customer/email", "/billing/email"),
        ("/order/customer/phone", "/billing/phone"),
        ("/order/customer/address/street", f"{at}/address_1"),
        ("/order/customer/address/zip", f"{at}/postcode"),
        ("/order/customer/address/city", f"{at}/city"),
        ("/order/customer/address/country", f"{at}/country"),
        ("/order/customer/address", at),
        ("/order/customer", at),
    ]
    return customer, pointers


def _vat_number(doc: Mapping[str, Any], settings: MappingSettings) -> tuple[str | None, str]:
    """The buyer's VAT number from the first `meta_data` key the settings name (in their
    order); parsing adds the billing country's prefix when it is missing and checks it."""
    entries = [
        (index, str(meta.get("key", "")).strip().casefold(), text(meta.get("value")))
        for index, meta in objects(doc, "meta_data")
    ]
    for key in settings.vat_number_keys:
        wanted = key.strip().casefold()
        for index, name, value in entries:
            if name == wanted and value:
                return value, f"/meta_data/{index}/value"
    return None, "/meta_data"
