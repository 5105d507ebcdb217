"""WooCommerce orders and refunds in its REST v3 shape, for tests: a Danish store's order of
mugs, prices incl. 25 % VAT (kept net with the tax beside, as WooCommerce does), shipped with
PostNord, paid by card."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

RATE_ID = 1
_CENT = Decimal("0.01")


def _split(gross: Decimal) -> tuple[str, str]:
    """(net, tax) of an amount incl. 25 % VAT, as WooCommerce rounds them."""
    net = (gross / Decimal("1.25")).quantize(_CENT, rounding=ROUND_HALF_UP)
    return f"{net:.2f}", f"{gross - net:.2f}"


def _taxed(gross: Decimal) -> dict[str, Any]:
    net, tax = _split(gross)
    return {"total": net, "total_tax": tax, "taxes": [{"id": RATE_ID, "total": tax}]}


def order(
    order_id: int,
    *,
    quantity: int = 2,
    price: str = "100.00",
    shipping: str = "49.00",
    status: str = "processing",
) -> dict[str, Any]:
    """A paid order: `quantity` mugs at `price` each and `shipping`, all incl. 25 % VAT."""
    lines = Decimal(price) * quantity
    line = _taxed(lines)
    ship = _taxed(Decimal(shipping))
    total = lines + Decimal(shipping)
    total_tax = Decimal(line["total_tax"]) + Decimal(ship["total_tax"])
    return {
        "id": order_id,
        "number": str(order_id),
        "status": status,
        "currency": "DKK",
        "prices_include_tax": True,
        "date_created_gmt": "2026-12-01T09:00:00",
        "date_paid_gmt": None if status in ("pending", "on-hold") else "2026-12-01T09:01:00",
        "date_completed_gmt": "2026-12-02T08:00:00" if status == "completed" else None,
        "total": f"{total:.2f}",
        "total_tax": f"{total_tax:.2f}",
        "billing": {"first_name": "Karen", "last_name": "Kunde", "company": "",
                    "address_1": "Vestergade 1", "address_2": "", "city": "Aarhus C",
                    "postcode": "8000", "country": "DK", "email": f"kunde{order_id}@example.dk",
                    "phone": ""},
        "shipping": {"first_name": "Karen", "last_name": "Kunde", "country": "DK"},
        "payment_method": "stripe",
        "payment_method_title": "Kort",
        "transaction_id": f"ch_{order_id}",
        "meta_data": [],
        "line_items": [{"id": order_id * 10 + 1, "name": "Krus", "sku": "MUG-1",
                        "quantity": quantity, "subtotal": line["total"],
                        "subtotal_tax": line["total_tax"], **line}],
        "tax_lines": [{"id": 1, "rate_id": RATE_ID, "rate_code": "DK-MOMS-1", "label": "Moms",
                       "compound": False, "rate_percent": 25,
                       "tax_total": line["total_tax"], "shipping_tax_total": ship["total_tax"]}],
        "shipping_lines": [{"id": order_id * 10 + 2, "method_title": "PostNord",
                            "method_id": "flat_rate", **ship}],
        "fee_lines": [],
        "coupon_lines": [],
    }  # fmt: skip


def refund(order_json: dict[str, Any], quantity: int = 1) -> dict[str, Any]:
    """A refund of `quantity` mugs of `order_json`, back to the card."""
    item = order_json["line_items"][0]
    gross = (Decimal(item["total"]) + Decimal(item["total_tax"])) / item["quantity"] * quantity
    net, tax = _split(gross)
    return {
        "amount": f"{gross:.2f}",
        "reason": "Skår i koppen",
        "refunded_payment": True,
        "line_items": [{"id": 1, "name": item["name"], "sku": item["sku"], "quantity": -quantity,
                        "subtotal": f"-{net}", "subtotal_tax": f"-{tax}", "total": f"-{net}",
                        "total_tax": f"-{tax}", "taxes": [{"id": RATE_ID, "total": f"-{tax}"}],
                        "meta_data": [{"key": "_refunded_item_id", "value": str(item["id"])}]}],
    }  # fmt: skip
