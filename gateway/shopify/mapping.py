"""Shopify's order and refund JSON (as its webhooks carry them) as the gateway's canonical
events.

Pure functions: no database, no network. Each order is written as the canonical ingest body
(the README's "Sending orders: the ingest API") and parsed by `gateway.orders.parse_event`, so a
Shopify order meets exactly the checks a signed API order does: every field, and the amounts
against the total to the øre. What does not add up is refused (`InvalidEvent`, or
`InconsistentOrder` with the difference), with pointers into Shopify's JSON, never booked wrong.
`docs/shopify-mapping.md` lists every field read and what becomes of it.

Decisions:

- Amounts are the presentment currency's (what the customer paid, and what their receipt
  shows), not the shop's: an invoice states what the buyer was charged, and Dinero converts.
- Shopify allocates order-level discount codes to the lines (`discount_allocations`), so they
  are line discounts here and `discount_codes` is not read (that would count them twice).
- Several tax lines on one line (e.g. two taxes) book at the sum of their rates, only when that
  rate reproduces their tax to the øre; and Shopify's `total_tax` must be what the rates give.
- A gift card sold is a debt to the buyer, not revenue: the canonical order cannot mark a line
  for a liability account yet, so an order selling one is refused. Paying with a gift card is
  only a payment method ("other").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from gateway.orders import (
    Charge,
    Event,
    EventType,
    FieldError,
    InconsistentOrder,
    InvalidEvent,
    Order,
    PaymentMethod,
    canonical,
    parse_event,
    round_half_up,
)
from gateway.shopify.reading import Reader, objects, stamp, text

DEFAULT_VAT_NUMBER_KEYS: Final = ("vat_number", "VAT number", "vat_id", "cvr")
# Financial statuses that mean the order was paid in full (refunds come after, on their own).
PAID_STATUSES: Final = frozenset({"paid", "partially_refunded", "refunded"})
GIFT_CARD_REFUSED: Final = (
    "a gift card sold is a debt to the buyer, not revenue, and the gateway cannot yet book it "
    "on a liability account: the order is refused rather than booked as sales"
)

_ZERO = Decimal("0.00")
_OERE = Decimal("0.01")
_HALF_OERE = Decimal("0.005")
_SUCCEEDED = frozenset({"success", None})


@dataclass(frozen=True)
class MappingSettings:
    """A shop's choices for reading its Shopify orders."""

    # `note_attributes` names (case-insensitive) that carry the buyer's EU VAT number.
    vat_number_keys: tuple[str, ...] = DEFAULT_VAT_NUMBER_KEYS


def event_id(order_id: int | str, fact: str) -> str:
    """The event id of one fact about an order: `created`, `paid`, `shipped`, `cancelled` or
    `refund:<refund id>`. The same fact always gets the same id, so ingest takes it once."""
    return f"shopify:{order_id}:{fact}"


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
    reader = Reader(foreign=_is_foreign(order_json))
    body, pointers = _order_body(order_json, settings, reader)
    order_id = body["id"]
    created = _parsed(
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
    _check_tax(order_json, order, reader)
    events = [created]

    def add(fact: str, type_: EventType, at: dt.datetime | None) -> None:
        events.append(Event(event_id(order.id, fact), type_, at or order.created_at, order, None))

    if order.paid_at is not None:
        add("paid", "order.paid", order.paid_at)
    if order.shipped_at is not None:
        add("shipped", "order.shipped", order.shipped_at)
    for index, refund_json in objects(order_json, "refunds"):
        events.append(_refund_event(order, refund_json, f"/refunds/{index}"))
    cancelled_at = order_json.get("cancelled_at")
    if cancelled_at and order.paid_at is None:
        add("cancelled", "order.cancelled", reader.time(cancelled_at, "/cancelled_at"))
        _raise_if(reader.errors)
    return events


def refund_event(order: Order, refund_json: Mapping[str, Any]) -> Event:
    """The `order.refunded` event for one Shopify refund (as `refunds/create` carries it) of
    `order`, the canonical order already stored."""
    return _refund_event(order, refund_json, "")


# --- the order ------------------------------------------------------------------------------


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
    for index, item in objects(doc, "line_items"):
        lines.append(_line(item, f"/line_items/{index}", include_vat, reader))
        pointers += _line_pointers(f"/order/lines/{len(lines) - 1}", f"/line_items/{index}")
    pointers.append(("/order/lines", "/line_items"))
    charges = []
    for index, shipping_line in objects(doc, "shipping_lines"):
        charges.append(_shipping(shipping_line, f"/shipping_lines/{index}", include_vat, reader))
        at = "/order/shipping" if len(charges) == 1 else f"/order/fees/{len(charges) - 2}"
        pointers += [
            (f"{at}/vat_rate", f"/shipping_lines/{index}/tax_lines"),
            (at, f"/shipping_lines/{index}"),
        ]
    customer, customer_pointers = _customer(doc, settings)
    pointers += customer_pointers
    paid_at = _paid_at(doc, reader) if doc.get("financial_status") in PAID_STATUSES else None
    total = reader.amount(doc, "total_price", "")
    body: dict[str, Any] = {
        "id": text(doc.get("id")),
        "number": text(doc.get("name")) or text(doc.get("order_number")),
        "created_at": _time_text(doc.get("created_at"), "/created_at", reader),
        "currency": text(doc.get(currency_field)),
        "prices_include_vat": include_vat,
        "customer": customer,
        "lines": lines,
        "shipping": (
            None
            if not charges
            else {"name": charges[0][0], "price": charges[0][1], "vat_rate": charges[0][2]}
        ),
        "fees": [{"name": n, "amount": a, "vat_rate": r} for n, a, r in charges[1:]],
        "discounts": [],
        "total": str(total),
        "paid_at": None if paid_at is None else stamp(paid_at),
        "shipped_at": _shipped_at(doc, reader),
    }
    if paid_at is not None and total > 0:
        body["payment"] = {
            "method": _method(_strings(doc.get("payment_gateway_names"))),
            "amount": str(total),
            "paid_at": stamp(paid_at),
            "reference": None,
        }
    return body, pointers


def _line_pointers(canonical_at: str, shopify_at: str) -> list[tuple[str, str]]:
    return [
        (f"{canonical_at}/vat_rate", f"{shopify_at}/tax_lines"),
        (f"{canonical_at}/discount", f"{shopify_at}/discount_allocations"),
        (f"{canonical_at}/unit_price", f"{shopify_at}/price"),
        (f"{canonical_at}/quantity", f"{shopify_at}/quantity"),
        (f"{canonical_at}/name", f"{shopify_at}/name"),
        (f"{canonical_at}/sku", f"{shopify_at}/sku"),
        (canonical_at, shopify_at),
    ]


def _line(
    item: Mapping[str, Any], pointer: str, include_vat: bool, reader: Reader
) -> dict[str, Any]:
    if item.get("gift_card") is True:
        reader.error(f"{pointer}/gift_card", GIFT_CARD_REFUSED)
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
        "vat_rate": str(_vat_rate(item, pointer, amount, include_vat, reader)),
        "discount": str(discount),
        # Nothing to ship (a download, a booking) is a service for VAT.
        "kind": "service" if item.get("requires_shipping") is False else "goods",
    }


def _shipping(
    shipping_line: Mapping[str, Any], pointer: str, include_vat: bool, reader: Reader
) -> tuple[str, str, str]:
    """(name, amount after its discounts, VAT rate) of one shipping line."""
    amount = reader.amount(shipping_line, "price", pointer) - _allocated(
        shipping_line, pointer, reader
    )
    if amount < 0:
        reader.error(f"{pointer}/discount_allocations", f"take the shipping below 0 ({amount})")
    rate = _vat_rate(shipping_line, pointer, amount, include_vat, reader)
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


def _vat_rate(
    obj: Mapping[str, Any], pointer: str, amount: Decimal, include_vat: bool, reader: Reader
) -> Decimal:
    """The VAT rate actually charged on `amount`: 0 when not taxable or no tax was charged,
    else the sum of the tax lines' rates, when that reproduces their tax to the øre."""
    tax_lines = list(objects(obj, "tax_lines"))
    if obj.get("taxable") is False or not tax_lines:
        return Decimal(0)
    at = f"{pointer}/tax_lines"
    tax = sum((reader.amount(t, "price", f"{at}/{i}") for i, t in tax_lines), _ZERO)
    rate = sum((reader.decimal(t.get("rate"), f"{at}/{i}/rate") for i, t in tax_lines), _ZERO)
    if not tax or not rate:
        return Decimal(0)  # listed but not charged, e.g. a reverse-charge sale
    if len(tax_lines) > 1:
        exact = _vat_of(amount, rate, include_vat)
        if abs(tax - exact) > _HALF_OERE * len(tax_lines):
            reader.error(
                at,
                f"{len(tax_lines)} taxes at {_percent(rate)} in all on {amount} come to "
                f"{round_half_up(exact)}, but the tax lines charge {tax}: a difference of "
                f"{tax - round_half_up(exact)} that one VAT rate cannot book",
            )
    return rate


def _check_tax(doc: Mapping[str, Any], order: Order, reader: Reader) -> None:
    """Shopify's `total_tax` must be what the rates mapped give, within an øre per taxed
    amount: else the lines would book another VAT than the customer was charged."""
    if doc.get("total_tax") is None and doc.get("total_tax_set") is None:
        return
    stated = reader.amount(doc, "total_tax", "")
    _raise_if(reader.errors)
    charges: list[Charge] = [*order.lines, *order.fees]
    if order.shipping is not None:
        charges.append(order.shipping)
    taxed = [(c.amount, c.vat_rate) for c in charges if c.vat_rate and c.amount]
    exact = sum((_vat_of(a, r, order.prices_include_vat) for a, r in taxed), _ZERO)
    if abs(stated - exact) <= _OERE * len(taxed):
        return
    expected = round_half_up(exact)
    raise InconsistentOrder(
        [
            FieldError(
                "/total_tax",
                f"the VAT rates on the lines and shipping give {expected} VAT, but Shopify "
                f"charged {stated}: a difference of {stated - expected}",
            )
        ]
    )


def _vat_of(amount: Decimal, rate: Decimal, include_vat: bool) -> Decimal:
    return amount * rate / (1 + rate) if include_vat else amount * rate


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


def _paid_at(doc: Mapping[str, Any], reader: Reader) -> dt.datetime | None:
    """When the money came: the last successful sale or capture, else `processed_at`."""
    times = []
    for index, transaction in objects(doc, "transactions"):
        if transaction.get("kind") in ("sale", "capture") and transaction.get("status") in (
            _SUCCEEDED
        ):
            value = transaction.get("processed_at") or transaction.get("created_at")
            times.append(reader.time(value, f"/transactions/{index}/processed_at"))
    found = [time for time in times if time is not None]
    if found:
        return max(found)
    for name in ("processed_at", "created_at"):
        if doc.get(name):
            return reader.time(doc.get(name), f"/{name}")
    return None


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
    return _time_text(doc.get(name), f"/{name}", reader)


def _method(gateways: Sequence[str]) -> PaymentMethod:
    """Our payment method for Shopify's gateway names; several different ones are "other"."""
    methods = {_one_method(gateway) for gateway in gateways}
    return methods.pop() if len(methods) == 1 else "other"


def _one_method(gateway: str) -> PaymentMethod:
    name = gateway.strip().lower().replace(" ", "_").replace("-", "_")
    if name in ("shopify_payments", "stripe", "card", "credit_card", "debit_card"):
        return "card"
    if "mobilepay" in name:
        return "mobilepay"
    if "bank" in name or name == "manual":
        return "bank_transfer"
    return "other"  # gift_card, paypal, cash on delivery, ...


# --- a refund -------------------------------------------------------------------------------


def _refund_event(order: Order, doc: Mapping[str, Any], base: str) -> Event:
    reader = Reader(foreign=_is_foreign(doc))
    include_vat = order.prices_include_vat
    refund_id = text(doc.get("id"))
    pointers: list[tuple[str, str]] = [
        ("/refund/id", f"{base}/id"),
        ("/refund/total", f"{base}/transactions"),
        ("/refund/payment", f"{base}/transactions"),
        ("/occurred_at", f"{base}/created_at"),
        ("/order", base or "/"),
    ]
    lines, computed = [], _ZERO
    for index, refunded in objects(doc, "refund_line_items"):
        at = f"{base}/refund_line_items/{index}"
        line, subtotal, tax = _refund_line(order, refunded, at, reader)
        lines.append(line)
        computed += subtotal if include_vat else subtotal + tax
        pointers += _line_pointers(f"/refund/lines/{len(lines) - 1}", at)
    shipping, shipping_total = _refund_shipping(order, doc, base, reader, pointers)
    computed += shipping_total
    transactions = [
        (index, t)
        for index, t in objects(doc, "transactions")
        if t.get("kind") == "refund" and t.get("status") in _SUCCEEDED
    ]
    total = sum(
        (reader.amount(t, "amount", f"{base}/transactions/{i}") for i, t in transactions), _ZERO
    )
    body: dict[str, Any] = {
        "id": refund_id,
        "lines": lines,
        "shipping": shipping,
        # The money that went back is the refund; without any, what its parts add up to.
        "total": str(total if transactions else computed),
        "payment": None,
    }
    when = _time_text(
        doc.get("processed_at") or doc.get("created_at"), f"{base}/created_at", reader
    )
    if transactions and total > 0:
        gateways = _strings([t.get("gateway") for _, t in transactions])
        body["payment"] = {
            "method": _method(gateways),
            "amount": str(total),
            "paid_at": when,
            "reference": None,
        }
    event = _parsed(
        {
            "id": event_id(order.id, f"refund:{refund_id}"),
            "type": "order.refunded",
            "occurred_at": when,
            "order": canonical(order),
            "refund": body,
        },
        pointers,
        reader,
    )
    return event


def _refund_line(
    order: Order, refunded: Mapping[str, Any], at: str, reader: Reader
) -> tuple[dict[str, Any], Decimal, Decimal]:
    """The canonical refund line, its amount in the order's basis, and its tax."""
    item = refunded.get("line_item") if isinstance(refunded.get("line_item"), Mapping) else {}
    assert isinstance(item, Mapping)
    if item.get("gift_card") is True:
        reader.error(f"{at}/line_item/gift_card", GIFT_CARD_REFUSED)
    quantity = refunded.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        reader.error(f"{at}/quantity", "must be a whole number of at least 1")
        quantity = 1
    subtotal = reader.amount(refunded, "subtotal", at)
    tax = reader.optional_amount(refunded, "total_tax", at)
    name = text(item.get("name")) or text(item.get("title"))
    sku = text(item.get("sku"))
    rate = _refund_rate(order, item, name, sku, tax)
    exact = _vat_of(subtotal, rate, order.prices_include_vat)
    if abs(tax - exact) > _OERE:
        reader.error(
            f"{at}/total_tax",
            f"is {tax}, but the line's VAT rate {_percent(rate)} on {subtotal} gives "
            f"{round_half_up(exact)}: a difference of {tax - round_half_up(exact)}",
        )
    price = (
        reader.amount(item, "price", f"{at}/line_item")
        if item.get("price") is not None or item.get("price_set") is not None
        else None
    )
    if price is not None and subtotal <= round_half_up(quantity * price):
        unit_price, count, discount = price, quantity, round_half_up(quantity * price) - subtotal
    else:
        unit_price, count, discount = subtotal, 1, _ZERO
        name = f"{name} ({quantity} ×)" if name else None
    line = {
        "sku": sku,
        "name": name or f"line item {text(refunded.get('line_item_id'))}",
        "quantity": str(count),
        "unit_price": str(unit_price),
        "vat_rate": str(rate),
        "discount": str(discount),
        "kind": "service" if item.get("requires_shipping") is False else "goods",
    }
    return line, subtotal, tax


def _refund_rate(
    order: Order, item: Mapping[str, Any], name: str | None, sku: str | None, tax: Decimal
) -> Decimal:
    """The rate a refunded line was charged: 0 when no tax comes back, else its tax lines'
    rates, else the rate of the order's line with its SKU or name, else the order's only rate."""
    if not tax:
        return Decimal(0)
    rates = [Reader().decimal(t.get("rate"), "") for _, t in objects(item, "tax_lines")]
    if sum(rates, _ZERO):
        return sum(rates, _ZERO)
    same = {
        line.vat_rate
        for line in order.lines
        if (sku is not None and line.sku == sku) or (sku is None and line.name == name)
    }
    if len(same) == 1:
        return same.pop()
    charged = {line.vat_rate for line in order.lines if line.vat_rate}
    return charged.pop() if len(charged) == 1 else Decimal(0)


def _refund_shipping(
    order: Order,
    doc: Mapping[str, Any],
    base: str,
    reader: Reader,
    pointers: list[tuple[str, str]],
) -> tuple[dict[str, Any] | None, Decimal]:
    """The refunded shipping (from `refund_shipping_lines`, else the `shipping_refund` order
    adjustments) and what it adds to the refund total. Any other adjustment is money that no
    line, shipping or VAT explains: refused."""
    amount = tax = _ZERO
    shipping_lines = list(objects(doc, "refund_shipping_lines"))
    for index, shipping_line in shipping_lines:
        at = f"{base}/refund_shipping_lines/{index}"
        amount += reader.amount(shipping_line, "subtotal_amount", at)
        tax += reader.optional_amount(shipping_line, "tax_amount", at)
        pointers.append(("/refund/shipping", at))
    for index, adjustment in objects(doc, "order_adjustments"):
        at = f"{base}/order_adjustments/{index}"
        value = reader.amount(adjustment, "amount", at)
        if adjustment.get("kind") == "shipping_refund":
            if not shipping_lines:  # newer versions carry both: count it once
                amount += abs(value)
                tax += abs(reader.optional_amount(adjustment, "tax_amount", at))
                pointers.append(("/refund/shipping", at))
        elif value:
            reader.error(
                f"{at}/amount",
                f"an adjustment of {value} ({adjustment.get('kind')}) is money the gateway "
                "cannot put on a line, shipping or VAT, so the refund is not booked",
            )
    if not amount and not tax:
        return None, _ZERO
    price = amount + tax if order.prices_include_vat else amount
    rate = order.shipping.vat_rate if order.shipping is not None and tax else Decimal(0)
    exact = _vat_of(price, rate, order.prices_include_vat)
    if abs(tax - exact) > _OERE:
        reader.error(
            pointers[-1][1],
            f"refunds {tax} VAT on shipping of {amount}, but the order's shipping VAT rate "
            f"({_percent(rate)}) gives {round_half_up(exact)}",
        )
    name = order.shipping.name if order.shipping is not None else "Shipping"
    return {"name": name, "price": str(price), "vat_rate": str(rate)}, amount + tax


# --- parsing --------------------------------------------------------------------------------


def _parsed(body: dict[str, Any], pointers: list[tuple[str, str]], reader: Reader) -> Event:
    """`body` parsed as an ingest event, its problems told in Shopify's pointers. The mapping's
    own problems come first; when there are some, a total that does not add up is their
    consequence and not repeated."""
    try:
        event = parse_event(body)
    except InconsistentOrder as exc:
        _raise_if(reader.errors)
        raise InconsistentOrder(_translated(exc.errors, pointers)) from None
    except InvalidEvent as exc:
        raise InvalidEvent([*reader.errors, *_translated(exc.errors, pointers)]) from None
    _raise_if(reader.errors)
    return event


def _translated(errors: Iterable[FieldError], pointers: list[tuple[str, str]]) -> list[FieldError]:
    """Each error at the Shopify field its canonical pointer came from (longest match)."""
    ordered = sorted(pointers, key=lambda pair: len(pair[0]), reverse=True)
    translated: list[FieldError] = []
    for error in errors:
        pointer = error.pointer
        for ours, theirs in ordered:
            if pointer == ours or pointer.startswith(f"{ours}/"):
                pointer = theirs + pointer[len(ours) :] if pointer != ours else theirs
                break
        if FieldError(pointer, error.message) not in translated:
            translated.append(FieldError(pointer, error.message))
    return translated


def _raise_if(errors: list[FieldError]) -> None:
    if errors:
        raise InvalidEvent(errors)


def _is_foreign(doc: Any) -> bool:
    """Whether any money set in `doc` has another presentment currency than shop currency."""
    if isinstance(doc, Mapping):
        shop, presented = doc.get("shop_money"), doc.get("presentment_money")
        if isinstance(shop, Mapping) and isinstance(presented, Mapping):
            return shop.get("currency_code") != presented.get("currency_code")
        presentment, currency = text(doc.get("presentment_currency")), text(doc.get("currency"))
        if presentment and currency and presentment != currency:
            return True
        return any(_is_foreign(value) for value in doc.values())
    if isinstance(doc, list):
        return any(_is_foreign(value) for value in doc)
    return False


def _time_text(value: Any, pointer: str, reader: Reader) -> str | None:
    if value is None:
        return None
    parsed = reader.time(value, pointer)
    return None if parsed is None else stamp(parsed)


def _strings(values: Any) -> list[str]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        return []
    return [value for value in values if isinstance(value, str)]


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f} %"
