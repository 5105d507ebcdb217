"""Shopify orders and refunds in the REST shape its webhooks carry, for tests: a Danish
store's order of mugs, 25 % VAT included, paid by card, shipped with PostNord."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

STORE = "demo-store.myshopify.com"


def money(amount: Decimal | str, currency: str = "DKK") -> dict[str, Any]:
    text = f"{Decimal(amount):.2f}"
    return {
        "shop_money": {"amount": text, "currency_code": currency},
        "presentment_money": {"amount": text, "currency_code": currency},
    }


def order(
    order_id: int,
    *,
    quantity: int = 2,
    price: str = "100.00",
    shipping: str = "50.00",
    financial_status: str = "paid",
    fulfillment_status: str | None = None,
    updated_at: str = "2026-12-01T10:00:00Z",
    created_at: str = "2026-12-01T09:00:00Z",
    email: str | None = None,
) -> dict[str, Any]:
    """A paid order: `quantity` mugs at `price` and `shipping`, VAT (25 %) included."""
    lines = Decimal(price) * quantity
    total = lines + Decimal(shipping)
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id}",
        "order_number": order_id,
        "created_at": created_at,
        "updated_at": updated_at,
        "processed_at": created_at,
        "cancelled_at": None,
        "currency": "DKK",
        "presentment_currency": "DKK",
        "taxes_included": True,
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        "email": email or f"buyer-{order_id}@example.com",
        "phone": None,
        "note_attributes": [],
        "payment_gateway_names": ["shopify_payments"],
        "total_price": f"{total:.2f}",
        "total_price_set": money(total),
        "total_tax": f"{total / 5:.2f}",
        "total_tax_set": money(total / 5),
        "customer": {"id": 7, "first_name": "Mette", "last_name": "Hansen"},
        "billing_address": {
            "first_name": "Mette",
            "last_name": "Hansen",
            "name": "Mette Hansen",
            "company": None,
            "address1": "Vestergade 1",
            "address2": None,
            "city": "Aarhus C",
            "zip": "8000",
            "country_code": "DK",
            "phone": None,
        },
        "line_items": [
            {
                "id": order_id * 10 + 1,
                "name": "Mug",
                "title": "Mug",
                "sku": "MUG-1",
                "quantity": quantity,
                "taxable": True,
                "gift_card": False,
                "price": price,
                "price_set": money(price),
                "tax_lines": [
                    {
                        "title": "Moms",
                        "rate": 0.25,
                        "price": f"{lines / 5:.2f}",
                        "price_set": money(lines / 5),
                    }
                ],
                "discount_allocations": [],
            }
        ],
        "shipping_lines": [
            {
                "title": "PostNord",
                "code": "postnord",
                "price": shipping,
                "price_set": money(shipping),
                "discounted_price": shipping,
                "discounted_price_set": money(shipping),
                "tax_lines": [
                    {
                        "title": "Moms",
                        "rate": 0.25,
                        "price": f"{Decimal(shipping) / 5:.2f}",
                        "price_set": money(Decimal(shipping) / 5),
                    }
                ],
                "discount_allocations": [],
            }
        ],
        "fulfillments": [],
        "refunds": [],
    }


def refund(order_json: dict[str, Any], refund_id: int, *, quantity: int = 1) -> dict[str, Any]:
    """`quantity` of the order's mugs back, no shipping."""
    line = order_json["line_items"][0]
    amount = Decimal(line["price"]) * quantity
    return {
        "id": refund_id,
        "order_id": order_json["id"],
        "created_at": "2026-12-02T09:00:00Z",
        "note": None,
        "refund_line_items": [
            {
                "id": refund_id * 10,
                "line_item_id": line["id"],
                "line_item": line,
                "quantity": quantity,
                "restock_type": "return",
                "subtotal": f"{amount:.2f}",
                "subtotal_set": money(amount),
                "total_tax": f"{amount / 5:.2f}",
                "total_tax_set": money(amount / 5),
            }
        ],
        "order_adjustments": [],
        "refund_shipping_lines": [],
        "transactions": [
            {
                "kind": "refund",
                "status": "success",
                "gateway": "shopify_payments",
                "amount": f"{amount:.2f}",
                "amount_set": money(amount),
            }
        ],
    }
