"""`/_woocommerce/{name}/wp-admin`: the store's own admin, as much of it as a demo needs. A
person trying the gateway places an order, completes it, refunds an item, and can make every
delivery fail until WooCommerce disables the webhooks (and watch the gateway turn them on
again), exactly as the JSON control endpoints do (`control.place_order`, `control.add_refund`,
the `fail_deliveries` fault). Forms post and redirect; no script."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.connect import templates
from sandbox.woocommerce import control
from sandbox.woocommerce.state import Store, gmt, woocommerce_of

# The demo store's goods: a Danish shop, prices including 25 % VAT.
GOODS: Final = (
    ("Strikkegarn", "YARN-1", Decimal("59.95")),
    ("Strikkepinde", "NEEDLE-1", Decimal("89.00")),
)
SHIPPING: Final = Decimal("39.00")
_CENT: Final = Decimal("0.01")


def routes() -> list[BaseRoute]:
    base = "/_woocommerce/{name}/wp-admin"
    return [
        Route(base, page, methods=["GET"]),
        Route(f"{base}/orders", place, methods=["POST"]),
        Route(f"{base}/orders/{{id:int}}/complete", complete, methods=["POST"]),
        Route(f"{base}/orders/{{id:int}}/refund", refund_one, methods=["POST"]),
        Route(f"{base}/deliveries", deliveries, methods=["POST"]),
    ]


def _taxed(gross: Decimal) -> dict[str, Any]:
    net = (gross / Decimal("1.25")).quantize(_CENT)
    tax = gross - net
    return {"total": f"{net:.2f}", "total_tax": f"{tax:.2f}",
            "taxes": [{"id": 1, "total": f"{tax:.2f}", "subtotal": f"{tax:.2f}"}]}  # fmt: skip


def sample_order(order_id: int, now: str) -> dict[str, Any]:
    """A paid Danish order (processing): one of each of the goods, shipped with PostNord."""
    lines = []
    for index, (name, sku, price) in enumerate(GOODS, start=1):
        taxed = _taxed(price)
        line = {"id": order_id * 10 + index, "name": name, "sku": sku, "quantity": 1}
        lines.append(
            {**line, "subtotal": taxed["total"], "subtotal_tax": taxed["total_tax"], **taxed}
        )
    shipping = {"id": order_id * 10 + 9, "method_title": "PostNord", "method_id": "flat_rate",
                **_taxed(SHIPPING)}  # fmt: skip
    taxes = [Decimal(line["total_tax"]) for line in lines]
    total = sum((price for _, _, price in GOODS), SHIPPING)
    return {
        "id": order_id,
        "number": str(order_id),
        "status": "processing",
        "currency": "DKK",
        "prices_include_tax": True,
        "date_created_gmt": now,
        "date_paid_gmt": now,
        "total": f"{total:.2f}",
        "total_tax": f"{sum(taxes, Decimal(shipping['total_tax'])):.2f}",
        "billing": {"first_name": "Karen", "last_name": "Jensen", "company": "",
                    "address_1": "Nørregade 7", "postcode": "1165", "city": "København K",
                    "country": "DK", "email": f"kunde{order_id}@example.dk", "phone": ""},
        "shipping": {"first_name": "Karen", "last_name": "Jensen", "country": "DK"},
        "payment_method": "quickpay",
        "payment_method_title": "Betalingskort",
        "transaction_id": f"qp-{order_id}",
        "meta_data": [],
        "line_items": lines,
        "tax_lines": [{"id": 1, "rate_id": 1, "rate_code": "DK-MOMS-1", "label": "Moms",
                       "compound": False, "rate_percent": 25,
                       "tax_total": f"{sum(taxes, Decimal(0)):.2f}",
                       "shipping_tax_total": shipping["total_tax"]}],
        "shipping_lines": [shipping],
        "fee_lines": [],
        "coupon_lines": [],
    }  # fmt: skip


def refundable_line(store: Store, order: dict[str, Any]) -> dict[str, Any] | None:
    """The first line with an item not refunded yet."""
    refunded: dict[str, int] = {}
    for refund in store.refunds.get(order["id"], []):
        for item in refund.get("line_items") or []:
            ref = next((str(m.get("value")) for m in item.get("meta_data") or []
                        if m.get("key") == "_refunded_item_id"), "")  # fmt: skip
            refunded[ref] = refunded.get(ref, 0) - int(item.get("quantity") or 0)
    lines: list[dict[str, Any]] = order.get("line_items") or []
    return next(
        (
            line
            for line in lines
            if int(line.get("quantity") or 0) > refunded.get(str(line["id"]), 0)
        ),
        None,
    )


def sample_refund(line: dict[str, Any]) -> dict[str, Any]:
    """One item of `line` back to the card."""
    net = Decimal(line["total"]) / int(line["quantity"])
    tax = Decimal(line["total_tax"]) / int(line["quantity"])
    return {
        "amount": f"{net + tax:.2f}",
        "reason": "Returneret",
        "refunded_payment": True,
        "line_items": [{"id": line["id"] * 100, "name": line["name"], "sku": line["sku"],
                        "quantity": -1, "subtotal": f"-{net:.2f}", "subtotal_tax": f"-{tax:.2f}",
                        "total": f"-{net:.2f}", "total_tax": f"-{tax:.2f}",
                        "taxes": [{"id": 1, "total": f"-{tax:.2f}", "subtotal": f"-{tax:.2f}"}],
                        "meta_data": [{"key": "_refunded_item_id", "value": str(line["id"])}]}],
    }  # fmt: skip


def _store_or_404(request: Request) -> Store:
    store = woocommerce_of(request).stores.get(str(request.path_params["name"]))
    if store is None:
        raise HTTPException(404, "no such store")
    return store


def _order_or_404(store: Store, request: Request) -> dict[str, Any]:
    order = store.orders.get(request.path_params["id"])
    if order is None:
        raise HTTPException(404, "no such order")
    return order


def _back(store: Store) -> Response:
    return RedirectResponse(f"/_woocommerce/{store.name}/wp-admin", status_code=303)


async def page(request: Request) -> Response:
    store = _store_or_404(request)
    orders = sorted(store.orders.values(), key=lambda o: int(o["id"]), reverse=True)
    return templates.TemplateResponse(
        request,
        "woocommerce_admin.html",
        {
            "store": store,
            "orders": [(o, refundable_line(store, o) is not None) for o in orders],
            "webhooks": sorted(store.webhooks.values(), key=lambda h: h.id),
            "failing": woocommerce_of(request).faults.fail_deliveries,
        },
    )


async def place(request: Request) -> Response:
    store = _store_or_404(request)
    woocommerce = woocommerce_of(request)
    order = sample_order(woocommerce.next_id() + 1000, gmt(woocommerce.now()))
    control.place_order(request, woocommerce, store, order)
    return _back(store)


async def complete(request: Request) -> Response:
    store = _store_or_404(request)
    woocommerce = woocommerce_of(request)
    order = _order_or_404(store, request)
    now = gmt(woocommerce.now())
    order.update({"status": "completed", "date_completed_gmt": now, "date_modified_gmt": now})
    control.publish(request, store, "order.updated", order)
    return _back(store)


async def refund_one(request: Request) -> Response:
    store = _store_or_404(request)
    order = _order_or_404(store, request)
    line = refundable_line(store, order)
    if line is None:
        raise HTTPException(400, "every item of this order is refunded already")
    control.add_refund(request, woocommerce_of(request), store, order, sample_refund(line))
    return _back(store)


async def deliveries(request: Request) -> Response:
    """Makes every delivery fail (as if the gateway were down), or delivers again."""
    store = _store_or_404(request)
    form = await request.form()
    woocommerce_of(request).faults.fail_deliveries = form.get("fail") == "1"
    return _back(store)
