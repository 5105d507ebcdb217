"""A Shopify refund (as `refunds/create` carries it, or in an order's `refunds`) as the
canonical `order.refunded` event of an order already mapped.

The refund's amounts are in its order's pricing basis. Its total is the money that went back
(successful `refund` transactions); the lines, shipping and fees must add up to it, and an
order adjustment that is not a shipping refund is money nothing explains: both are refused.

A tip paid back (a refunded line item shaped as the order's tip, `extras.looks_like_tip`, of
an order that booked one) and duties paid back (`duties[]`) are refund fees of kind `tip` and
`duty`, without VAT, so they come off the accounts the order's tip and duties went on.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.orders import Event, Order, canonical, round_half_up
from gateway.shopify.events import event_id, line_pointers, parsed
from gateway.shopify.extras import looks_like_tip
from gateway.shopify.payments import SUCCEEDED, method, reference
from gateway.shopify.reading import Reader, is_foreign, objects, strings, text, time_text
from gateway.shopify.taxes import percent, vat_of

_ZERO = Decimal("0.00")
_OERE = Decimal("0.01")


def refund_event_at(order: Order, doc: Mapping[str, Any], base: str) -> Event:
    """The refund `doc` of `order` as its event; `base` is where `doc` sits in the JSON the
    caller was given ("" for a webhook's refund, "/refunds/N" inside an order)."""
    reader = Reader(foreign=is_foreign(doc))
    include_vat = order.prices_include_vat
    refund_id = text(doc.get("id"))
    pointers: list[tuple[str, str]] = [
        ("/refund/id", f"{base}/id"),
        ("/refund/total", f"{base}/transactions"),
        ("/refund/payment", f"{base}/transactions"),
        ("/occurred_at", f"{base}/created_at"),
        ("/order", base or "/"),
    ]
    lines: list[dict[str, Any]] = []
    fees: list[dict[str, Any]] = []
    computed = _ZERO
    tipped = any(fee.kind == "tip" for fee in order.fees)
    for index, refunded in objects(doc, "refund_line_items"):
        at = f"{base}/refund_line_items/{index}"
        if tipped and looks_like_tip(_line_item(refunded)):
            fee = _refunded_tip(refunded, at, reader)
            pointers.append((f"/refund/fees/{len(fees)}", at))
            fees.append(fee)
            computed += Decimal(fee["amount"])
            continue
        line, subtotal, tax = _refund_line(order, refunded, at, reader)
        lines.append(line)
        computed += subtotal if include_vat else subtotal + tax
        pointers += line_pointers(f"/refund/lines/{len(lines) - 1}", at)
    for index, duty in objects(doc, "duties"):
        at = f"{base}/duties/{index}"
        amount = reader.amount(duty, "amount", at)
        if amount:
            pointers.append((f"/refund/fees/{len(fees)}", at))
            fees.append(_fee(_duty_name(order), amount, "duty"))
            computed += amount
    shipping, shipping_total = _refund_shipping(order, doc, base, reader, pointers)
    computed += shipping_total
    transactions = [
        (index, t)
        for index, t in objects(doc, "transactions")
        if t.get("kind") == "refund" and t.get("status") in SUCCEEDED
    ]
    total = sum(
        (reader.amount(t, "amount", f"{base}/transactions/{i}") for i, t in transactions), _ZERO
    )
    body: dict[str, Any] = {
        "id": refund_id,
        "lines": lines,
        "shipping": shipping,
        "fees": fees,
        # The money that went back is the refund; without any, what its parts add up to.
        "total": str(total if transactions else computed),
        "payment": None,
    }
    when = time_text(doc.get("processed_at") or doc.get("created_at"), f"{base}/created_at", reader)
    if transactions and total > 0:
        gateways = strings([t.get("gateway") for _, t in transactions])
        body["payment"] = {
            "method": method(gateways),
            "amount": str(total),
            "paid_at": when,
            "reference": reference(doc, frozenset({"refund"})),
        }
    event = parsed(
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


def _line_item(refunded: Mapping[str, Any]) -> Mapping[str, Any]:
    item = refunded.get("line_item")
    return item if isinstance(item, Mapping) else {}


def _fee(name: str, amount: Decimal, kind: str) -> dict[str, Any]:
    return {"name": name, "amount": str(amount), "vat_rate": "0", "kind": kind}


def _refunded_tip(refunded: Mapping[str, Any], at: str, reader: Reader) -> dict[str, Any]:
    """The tip paid back, as a `tip` fee of its refunded subtotal; tax on it is refused, as
    on the order."""
    item = _line_item(refunded)
    if reader.optional_amount(refunded, "total_tax", at):
        reader.error(
            f"{at}/total_tax",
            "tax on a tip is not Danish VAT, and the gateway books tips without VAT: the "
            "refund is not booked",
        )
    amount = reader.amount(refunded, "subtotal", at)
    return _fee(text(item.get("title")) or text(item.get("name")) or "Tip", amount, "tip")


def _duty_name(order: Order) -> str:
    """The order's duty fee's name when it has one (`Duties: <line>`), else "Duties": a
    refund's duties do not say which line's duties they were in a form the order keeps."""
    names = {fee.name for fee in order.fees if fee.kind == "duty"}
    return names.pop() if len(names) == 1 else "Duties"


def _refund_line(
    order: Order, refunded: Mapping[str, Any], at: str, reader: Reader
) -> tuple[dict[str, Any], Decimal, Decimal]:
    """The canonical refund line, its amount in the order's basis, and its tax."""
    item = _line_item(refunded)
    quantity = refunded.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        reader.error(f"{at}/quantity", "must be a whole number of at least 1")
        quantity = 1
    subtotal = reader.amount(refunded, "subtotal", at)
    tax = reader.optional_amount(refunded, "total_tax", at)
    name = text(item.get("name")) or text(item.get("title"))
    sku = text(item.get("sku"))
    rate = _refund_rate(order, item, name, sku, tax)
    exact = vat_of(subtotal, rate, order.prices_include_vat)
    if abs(tax - exact) > _OERE:
        reader.error(
            f"{at}/total_tax",
            f"is {tax}, but the line's VAT rate {percent(rate)} on {subtotal} gives "
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
        # A gift card refunded is no longer owed: it comes off the liability account.
        "kind": "gift_card"
        if item.get("gift_card") is True
        else "service"
        if item.get("requires_shipping") is False
        else "goods",
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
    exact = vat_of(price, rate, order.prices_include_vat)
    if abs(tax - exact) > _OERE:
        reader.error(
            pointers[-1][1],
            f"refunds {tax} VAT on shipping of {amount}, but the order's shipping VAT rate "
            f"({percent(rate)}) gives {round_half_up(exact)}",
        )
    name = order.shipping.name if order.shipping is not None else "Shipping"
    return {"name": name, "price": str(price), "vat_rate": str(rate)}, amount + tax
