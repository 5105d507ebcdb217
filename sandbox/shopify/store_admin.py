"""`/_shopify/{shop}/admin`: the store's own admin, as much of it as a demo needs. A person
trying the gateway places an order in the store and refunds one, and Shopify sends the
webhooks, exactly as the JSON control endpoints do (`control.place_order`,
`control.add_refund`). Forms post and redirect; no script."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.connect import templates
from sandbox.shopify import control
from sandbox.shopify.state import shopify_of
from sandbox.shopify.webhooks import outbox_of

# The demo store's goods: a Danish shop, prices including 25 % VAT.
GOODS: Final = (("Uldsokker", "SOCK-1", Decimal("79.95")), ("Hue", "HAT-1", Decimal("149.00")))
SHIPPING: Final = Decimal("39.00")


def routes() -> list[BaseRoute]:
    return [
        Route("/_shopify/{shop}/admin", page, methods=["GET"]),
        Route("/_shopify/{shop}/admin/orders", place, methods=["POST"]),
        Route("/_shopify/{shop}/admin/orders/{id:int}/refund", refund_one, methods=["POST"]),
    ]


def _money(amount: Decimal, currency: str = "DKK") -> dict[str, Any]:
    text = f"{amount:.2f}"
    return {
        "shop_money": {"amount": text, "currency_code": currency},
        "presentment_money": {"amount": text, "currency_code": currency},
    }


def _vat(amount: Decimal) -> Decimal:
    return (amount / 5).quantize(Decimal("0.01"))


def sample_order(order_id: int, number: int) -> dict[str, Any]:
    """A paid Danish order: one of each of the goods, shipped with PostNord."""
    lines = []
    for index, (title, sku, price) in enumerate(GOODS, start=1):
        lines.append(
            {
                "id": order_id * 10 + index,
                "title": title,
                "name": title,
                "sku": sku,
                "quantity": 1,
                "price": f"{price:.2f}",
                "price_set": _money(price),
                "taxable": True,
                "gift_card": False,
                "requires_shipping": True,
                "tax_lines": [
                    {
                        "title": "Moms",
                        "rate": 0.25,
                        "price": f"{_vat(price):.2f}",
                        "price_set": _money(_vat(price)),
                    }
                ],
                "discount_allocations": [],
            }
        )
    total = sum((price for _, _, price in GOODS), SHIPPING)
    return {
        "id": order_id,
        "name": f"#{number}",
        "order_number": number,
        "email": f"kunde{number}@example.dk",
        "currency": "DKK",
        "presentment_currency": "DKK",
        "taxes_included": True,
        "financial_status": "paid",
        "fulfillment_status": None,
        "cancelled_at": None,
        "payment_gateway_names": ["shopify_payments"],
        "total_price": f"{total:.2f}",
        "total_price_set": _money(total),
        "total_tax": f"{sum((_vat(p) for _, _, p in GOODS), _vat(SHIPPING)):.2f}",
        "note_attributes": [],
        "billing_address": {
            "name": "Karen Jensen",
            "first_name": "Karen",
            "last_name": "Jensen",
            "address1": "Nørregade 7",
            "zip": "1165",
            "city": "København K",
            "country_code": "DK",
        },
        "line_items": lines,
        "shipping_lines": [
            {
                "title": "PostNord",
                "code": "postnord",
                "price": f"{SHIPPING:.2f}",
                "price_set": _money(SHIPPING),
                "discounted_price": f"{SHIPPING:.2f}",
                "discounted_price_set": _money(SHIPPING),
                "tax_lines": [
                    {
                        "title": "Moms",
                        "rate": 0.25,
                        "price": f"{_vat(SHIPPING):.2f}",
                        "price_set": _money(_vat(SHIPPING)),
                    }
                ],
                "discount_allocations": [],
            }
        ],
    }


def refundable_line(order: dict[str, Any]) -> dict[str, Any] | None:
    """The first line with an item not refunded yet."""
    refunded: dict[Any, int] = {}
    for refund in order.get("refunds") or []:
        for item in refund.get("refund_line_items") or []:
            refunded[item.get("line_item_id")] = refunded.get(item.get("line_item_id"), 0) + int(
                item.get("quantity") or 0
            )
    lines: list[dict[str, Any]] = order.get("line_items") or []
    return next(
        (
            line
            for line in lines
            if int(line.get("quantity") or 0) > refunded.get(line.get("id"), 0)
        ),
        None,
    )


def sample_refund(line: dict[str, Any]) -> dict[str, Any]:
    """One item of `line` back to the card."""
    price = Decimal(line["price"])
    return {
        "refund_line_items": [
            {
                "line_item_id": line["id"],
                "line_item": line,
                "quantity": 1,
                "restock_type": "return",
                "subtotal": f"{price:.2f}",
                "subtotal_set": _money(price),
                "total_tax": f"{_vat(price):.2f}",
                "total_tax_set": _money(_vat(price)),
            }
        ],
        "order_adjustments": [],
        "transactions": [
            {
                "kind": "refund",
                "status": "success",
                "gateway": "shopify_payments",
                "amount": f"{price:.2f}",
                "amount_set": _money(price),
            }
        ],
    }


def _store_or_404(request: Request) -> Any:
    store = shopify_of(request).stores.get(str(request.path_params["shop"]).lower())
    if store is None:
        raise HTTPException(404, "no such store")
    return store


async def page(request: Request) -> Response:
    store = _store_or_404(request)
    orders = sorted(store.orders.values(), key=lambda o: int(o["id"]), reverse=True)
    return templates.TemplateResponse(
        request,
        "shopify_admin.html",
        {
            "store": store,
            "orders": [(o, refundable_line(o) is not None) for o in orders],
            "apps": len(store.subscriptions),
        },
    )


async def place(request: Request) -> Response:
    store = _store_or_404(request)
    shopify = shopify_of(request)
    number = 1001 + len(store.orders)
    control.place_order(
        shopify, outbox_of(request), store, sample_order(shopify.next_id() + 450000000, number)
    )
    return RedirectResponse(f"/_shopify/{store.shop}/admin", status_code=303)


async def refund_one(request: Request) -> Response:
    store = _store_or_404(request)
    order = store.orders.get(request.path_params["id"])
    if order is None:
        raise HTTPException(404, "no such order")
    line = refundable_line(order)
    if line is None:
        raise HTTPException(400, "every item of this order is refunded already")
    control.add_refund(shopify_of(request), outbox_of(request), store, order, sample_refund(line))
    return RedirectResponse(f"/_shopify/{store.shop}/admin", status_code=303)
