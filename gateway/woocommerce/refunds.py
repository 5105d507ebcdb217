"""A WooCommerce refund (`GET /orders/{id}/refunds`) as the canonical `order.refunded` event
of an order already mapped.

A refund's `amount` is the money that went back (positive); its `line_items`, `shipping_lines`
and `fee_lines` carry negative net amounts and taxes. Each refunded amount books at the VAT
rate of the order that reproduces its tax to the øre. A refund of an amount alone, with no
lines (what WooCommerce makes when an order is set to "Refunded"), books as one line at the
order's VAT rate when the order has only one; with several rates the gateway cannot tell which
VAT went back, and refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from gateway.orders import Charge, Event, Order, canonical, round_half_up
from gateway.platforms.events import Pointers, parsed
from gateway.platforms.reading import Reader, objects, stamp, text
from gateway.woocommerce.events import event_id, gmt, unit
from gateway.woocommerce.taxes import percent

_ZERO = Decimal("0.00")
_OERE = Decimal("0.01")


def refund_event(order: Order, refund_json: Mapping[str, Any]) -> Event:
    """The `order.refunded` event for one WooCommerce refund of `order`, the canonical order
    already stored."""
    return refund_event_at(order, refund_json, "")


def refund_event_at(order: Order, doc: Mapping[str, Any], base: str) -> Event:
    """The refund `doc` of `order` as its event; `base` is where `doc` sits in the JSON the
    caller was given ("" for one refund, "/refunds/N" among several)."""
    reader = Reader()
    refund_id = text(doc.get("id"))
    pointers: Pointers = [
        ("/refund/id", f"{base}/id"),
        ("/refund/total", f"{base}/amount"),
        ("/refund/payment", f"{base}/amount"),
        ("/occurred_at", f"{base}/date_created_gmt"),
        ("/order", base or "/"),
    ]
    amount = reader.decimal(doc.get("amount"), f"{base}/amount")
    charges: list[Charge] = [*order.lines, *order.fees]
    if order.shipping is not None:
        charges.append(order.shipping)
    order_rates = {charge.vat_rate for charge in charges}
    lines: list[dict[str, Any]] = []
    for name in ("line_items", "fee_lines"):
        for index, item in objects(doc, name):
            at = f"{base}/{name}/{index}"
            lines.append(_refund_line(order, item, at, order_rates, reader))
            ours = f"/refund/lines/{len(lines) - 1}"
            pointers += [(f"{ours}/vat_rate", f"{at}/total_tax"), (ours, at)]
    shipping = _refund_shipping(order, doc, base, reader, pointers)
    if not lines and shipping is None and amount > 0:
        lines.append(_amount_only(order, doc, base, amount, order_rates, reader))
        pointers += [("/refund/lines/0", f"{base}/amount")]
    when = gmt(doc, "date_created_gmt", reader, base)
    body: dict[str, Any] = {
        "id": refund_id,
        "lines": lines,
        "shipping": shipping,
        "total": str(amount),
        "payment": None,
    }
    if amount > 0 and doc.get("refunded_payment") is True and when is not None:
        body["payment"] = {
            "method": order.payment.method if order.payment is not None else "other",
            "amount": str(amount),
            "paid_at": stamp(when),
            "reference": None,
        }
    return parsed(
        {
            "id": event_id(order.id, f"refund:{refund_id}"),
            "type": "order.refunded",
            "occurred_at": None if when is None else stamp(when),
            "order": canonical(order),
            "refund": body,
        },
        pointers,
        reader,
    )


def _refund_line(
    order: Order, item: Mapping[str, Any], at: str, order_rates: set[Decimal], reader: Reader
) -> dict[str, Any]:
    net = -reader.decimal(item.get("total"), f"{at}/total")
    tax = -reader.decimal(item.get("total_tax", "0"), f"{at}/total_tax")
    name = text(item.get("name")) or "Refund"
    sku = text(item.get("sku"))
    rate = _rate(order, net, tax, name, sku, order_rates, f"{at}/total_tax", reader)
    amount = net + tax if order.prices_include_vat else net
    raw = item.get("quantity", -1)
    quantity = abs(raw) if isinstance(raw, int) and not isinstance(raw, bool) and raw else 1
    price, count = unit(amount, quantity)
    if count != quantity:
        name = f"{name} ({quantity} ×)"
    return {
        "sku": sku,
        "name": name,
        "quantity": str(count),
        "unit_price": str(price),
        "vat_rate": str(rate),
        "discount": "0.00",
        "kind": "goods",
    }


def _rate(
    order: Order,
    net: Decimal,
    tax: Decimal,
    name: str | None,
    sku: str | None,
    order_rates: set[Decimal],
    pointer: str,
    reader: Reader,
) -> Decimal:
    """The order's rate that reproduces `tax` on `net` to the øre; when several do (small
    amounts), the rate of the order's line with this SKU or name."""
    if not tax:
        return Decimal(0)
    fitting = {r for r in order_rates if r and abs(net * r - tax) <= _OERE}
    if len(fitting) > 1:
        same = {
            line.vat_rate
            for line in order.lines
            if (sku is not None and line.sku == sku) or (sku is None and line.name == name)
        }
        fitting &= same or fitting
    if len(fitting) == 1:
        return fitting.pop()
    rates = ", ".join(sorted(percent(r) for r in order_rates if r)) or "none"
    reader.error(
        pointer,
        f"refunds {tax} VAT on {net}, which none of the order's VAT rates ({rates}) gives",
    )
    return Decimal(0)


def _refund_shipping(
    order: Order, doc: Mapping[str, Any], base: str, reader: Reader, pointers: Pointers
) -> dict[str, Any] | None:
    net = tax = _ZERO
    for index, shipping_line in objects(doc, "shipping_lines"):
        at = f"{base}/shipping_lines/{index}"
        net -= reader.decimal(shipping_line.get("total"), f"{at}/total")
        tax -= reader.decimal(shipping_line.get("total_tax", "0"), f"{at}/total_tax")
        pointers.append(("/refund/shipping", at))
    if not net and not tax:
        return None
    rates = {order.shipping.vat_rate} if order.shipping is not None else set()
    rate = _rate(order, net, tax, None, None, rates, pointers[-1][1], reader)
    name = order.shipping.name if order.shipping is not None else "Shipping"
    price = net + tax if order.prices_include_vat else net
    return {"name": name, "price": str(price), "vat_rate": str(rate)}


def _amount_only(
    order: Order,
    doc: Mapping[str, Any],
    base: str,
    amount: Decimal,
    order_rates: set[Decimal],
    reader: Reader,
) -> dict[str, Any]:
    """One line for a refund of an amount without lines, at the order's only VAT rate."""
    rates = set(order_rates)
    reason = text(doc.get("reason"))
    name = reason or "Refusion"
    if len(rates) != 1:
        reader.error(
            f"{base}/line_items",
            f"is empty: a refund of {amount} without its items, on an order charged at "
            f"{len(rates)} VAT rates ({', '.join(sorted(percent(r) for r in rates))}), does "
            "not say which VAT went back; refund the items in WooCommerce instead",
        )
        rate = Decimal(0)
    else:
        rate = rates.pop()
    price = amount if order.prices_include_vat else round_half_up(amount / (1 + rate))

    return {
        "sku": None,
        "name": name,
        "quantity": "1",
        "unit_price": str(price),
        "vat_rate": str(rate),
        "discount": "0.00",
        "kind": "goods",
    }
