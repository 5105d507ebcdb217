"""A stored order (the REST JSON webhooks carry) in the GraphQL Admin API's shape
(`schema`): `order_node` and the objects it is made of. Connection fields are callables,
which graphql-core's default resolver calls with the field's arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sandbox.shopify.schema import connection, page_size

Resolver = Callable[..., Any]


def _paged(items: Sequence[Any]) -> Resolver:
    def resolve(_info: Any, first: int | None = None, after: str | None = None) -> Any:
        return connection(items, first, after)

    return resolve


def _capped(items: Sequence[Any]) -> Resolver:
    def resolve(_info: Any, first: int | None = None) -> Any:
        return list(items) if first is None else list(items)[: page_size(first)]

    return resolve


def gid(kind: str, value: Any) -> str:
    return f"gid://shopify/{kind}/{value}"


def _money(amount: Any, currency: str) -> dict[str, Any]:
    try:
        text = str(Decimal(str(amount if amount is not None else "0")))
    except InvalidOperation:
        text = "0.0"
    return {"amount": text, "currencyCode": currency}


def money_bag(value: Any, fallback: Any, currency: str) -> dict[str, Any]:
    """REST's `*_set` (shop and presentment money) if given, else the plain amount twice."""
    if isinstance(value, dict) and isinstance(value.get("shop_money"), dict):
        shop = value["shop_money"]
        presentment = value.get("presentment_money") or shop
        return {
            "shopMoney": _money(shop.get("amount"), str(shop.get("currency_code") or currency)),
            "presentmentMoney": _money(
                presentment.get("amount"), str(presentment.get("currency_code") or currency)
            ),
        }
    return {"shopMoney": _money(fallback, currency), "presentmentMoney": _money(fallback, currency)}


def _upper(value: Any) -> str | None:
    return str(value).upper() if value not in (None, "") else None


def _tax_lines(items: Any, currency: str) -> list[dict[str, Any]]:
    return [
        {
            "title": t.get("title") or "",
            "rate": t.get("rate"),
            "priceSet": money_bag(t.get("price_set"), t.get("price"), currency),
        }
        for t in items or []
    ]


def _discounts(items: Any, currency: str) -> list[dict[str, Any]]:
    return [
        {"allocatedAmountSet": money_bag(d.get("amount_set"), d.get("amount"), currency)}
        for d in items or []
    ]


def _line_node(line: dict[str, Any], currency: str) -> dict[str, Any]:
    taxes = _tax_lines(line.get("tax_lines"), currency)
    return {
        "id": gid("LineItem", line.get("id")),
        "name": line.get("name") or line.get("title") or "",
        "title": line.get("title") or line.get("name") or "",
        "sku": line.get("sku"),
        "quantity": int(line.get("quantity") or 0),
        "taxable": bool(line.get("taxable", True)),
        "isGiftCard": bool(line.get("gift_card")),
        "requiresShipping": line.get("requires_shipping") is not False,
        "product": None
        if line.get("product_id") is None
        else {"id": gid("Product", line.get("product_id"))},
        "duties": [
            {
                "id": gid("Duty", duty.get("id")),
                "harmonizedSystemCode": duty.get("harmonized_system_code"),
                "countryCodeOfOrigin": duty.get("country_code_of_origin"),
                "price": _duty_price(duty, currency),
                "taxLines": _tax_lines(duty.get("tax_lines"), currency),
            }
            for duty in line.get("duties") or []
        ],
        "originalUnitPriceSet": money_bag(line.get("price_set"), line.get("price"), currency),
        "taxLines": _capped(taxes),
        "discountAllocations": _discounts(line.get("discount_allocations"), currency),
    }


def _duty_price(duty: dict[str, Any], currency: str) -> dict[str, Any]:
    """REST shows a duty's money as `shop_money`/`presentment_money` on the duty itself."""
    if isinstance(duty.get("price_set"), dict):
        return money_bag(duty["price_set"], None, currency)
    return money_bag(duty, None, currency)


def _optional_bag(value: Any, currency: str) -> dict[str, Any] | None:
    return money_bag(value, None, currency) if isinstance(value, dict) else None


def _shipping_node(line: dict[str, Any], currency: str) -> dict[str, Any]:
    price = line.get("price")
    return {
        "title": line.get("title") or "",
        "code": line.get("code"),
        "originalPriceSet": money_bag(line.get("price_set"), price, currency),
        "discountedPriceSet": money_bag(
            line.get("discounted_price_set"), line.get("discounted_price", price), currency
        ),
        "taxLines": _tax_lines(line.get("tax_lines"), currency),
        "discountAllocations": _discounts(line.get("discount_allocations"), currency),
    }


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {
        "firstName": value.get("first_name"),
        "lastName": value.get("last_name"),
        "name": value.get("name"),
        "company": value.get("company"),
        "address1": value.get("address1"),
        "address2": value.get("address2"),
        "city": value.get("city"),
        "zip": value.get("zip"),
        "countryCodeV2": value.get("country_code"),
        "phone": value.get("phone"),
    }


def _refund_node(
    refund: dict[str, Any], lines: dict[Any, dict[str, Any]], currency: str
) -> dict[str, Any]:
    items = [
        {
            "quantity": int(item.get("quantity") or 0),
            "restockType": _upper(item.get("restock_type")) or "NO_RESTOCK",
            "lineItem": lines.get(item.get("line_item_id"))
            or _line_node({"id": item.get("line_item_id")}, currency),
            "subtotalSet": money_bag(item.get("subtotal_set"), item.get("subtotal"), currency),
            "totalTaxSet": money_bag(item.get("total_tax_set"), item.get("total_tax"), currency),
        }
        for item in refund.get("refund_line_items") or []
    ]
    shipping = [
        {
            "subtotalAmountSet": money_bag(
                s.get("subtotal_amount_set"), s.get("subtotal_amount"), currency
            ),
            "taxAmountSet": money_bag(s.get("tax_amount_set"), s.get("tax_amount"), currency),
        }
        for s in refund.get("refund_shipping_lines") or []
    ]
    adjustments = [
        {
            "amountSet": money_bag(a.get("amount_set"), a.get("amount"), currency),
            "taxAmountSet": money_bag(a.get("tax_amount_set"), a.get("tax_amount"), currency),
            "reason": _upper(a.get("kind")),
        }
        for a in refund.get("order_adjustments") or []
    ]
    transactions = [
        _transaction_node(t, "REFUND", refund.get("created_at"), currency)
        for t in refund.get("transactions") or []
    ]
    return {
        "id": gid("Refund", refund.get("id")),
        "legacyResourceId": str(refund.get("id")),
        "createdAt": refund.get("created_at"),
        "note": refund.get("note"),
        "refundLineItems": _paged(items),
        "refundShippingLines": _paged(shipping),
        "orderAdjustments": _paged(adjustments),
        "transactions": _paged(transactions),
        "duties": [
            {"amountSet": money_bag(d.get("amount_set"), d.get("amount"), currency)}
            for d in refund.get("duties") or []
        ],
    }


def _transaction_node(
    transaction: dict[str, Any], kind: str, at: Any, currency: str
) -> dict[str, Any]:
    created = transaction.get("created_at") or at
    return {
        "id": gid("OrderTransaction", transaction.get("id") or 0),
        "kind": _upper(transaction.get("kind")) or kind,
        "status": _upper(transaction.get("status")) or "SUCCESS",
        "gateway": transaction.get("gateway"),
        "amountSet": money_bag(transaction.get("amount_set"), transaction.get("amount"), currency),
        "authorizationCode": transaction.get("authorization"),
        "paymentId": transaction.get("payment_id"),
        "createdAt": created,
        "processedAt": transaction.get("processed_at") or created,
    }


def _fulfillment_node(fulfillment: dict[str, Any], at: Any) -> dict[str, Any]:
    created = fulfillment.get("created_at") or at
    return {
        "id": gid("Fulfillment", fulfillment.get("id") or 0),
        "createdAt": created,
        "updatedAt": fulfillment.get("updated_at") or created,
        "status": _upper(fulfillment.get("status")) or "SUCCESS",
    }


_FULFILLMENT: Final = {"fulfilled": "FULFILLED", "partial": "PARTIALLY_FULFILLED"}


def order_node(order: dict[str, Any]) -> dict[str, Any]:
    """The stored REST order in the Admin API's GraphQL shape."""
    currency = str(order.get("currency") or "DKK")
    lines = [_line_node(line, currency) for line in order.get("line_items") or []]
    by_id = {
        line.get("id"): node
        for line, node in zip(order.get("line_items") or [], lines, strict=True)
    }
    customer = order.get("customer")
    created = order.get("created_at")
    return {
        "id": gid("Order", order["id"]),
        "legacyResourceId": str(order["id"]),
        "name": order.get("name") or f"#{order.get('order_number') or order['id']}",
        "createdAt": created,
        "updatedAt": order.get("updated_at"),
        "processedAt": order.get("processed_at") or created,
        "cancelledAt": order.get("cancelled_at"),
        "closedAt": order.get("closed_at"),
        "currencyCode": currency,
        "presentmentCurrencyCode": order.get("presentment_currency") or currency,
        "taxesIncluded": bool(order.get("taxes_included")),
        "displayFinancialStatus": _upper(order.get("financial_status")),
        "displayFulfillmentStatus": _FULFILLMENT.get(
            str(order.get("fulfillment_status")), "UNFULFILLED"
        ),
        "email": order.get("email"),
        "phone": order.get("phone"),
        "note": order.get("note"),
        "customAttributes": [
            {"key": a.get("name"), "value": a.get("value")}
            for a in order.get("note_attributes") or []
        ],
        "paymentGatewayNames": list(order.get("payment_gateway_names") or []),
        "totalPriceSet": money_bag(
            order.get("total_price_set"), order.get("total_price"), currency
        ),
        "totalTaxSet": money_bag(order.get("total_tax_set"), order.get("total_tax"), currency),
        "totalTipReceivedSet": money_bag(
            order.get("total_tip_received_set"), order.get("total_tip_received"), currency
        ),
        "originalTotalDutiesSet": _optional_bag(order.get("original_total_duties_set"), currency),
        "currentTotalDutiesSet": _optional_bag(order.get("current_total_duties_set"), currency),
        "originalTotalAdditionalFeesSet": _optional_bag(
            order.get("original_total_additional_fees_set"), currency
        ),
        "currentTotalAdditionalFeesSet": _optional_bag(
            order.get("current_total_additional_fees_set"), currency
        ),
        "additionalFees": [
            {
                "id": gid("AdditionalFee", n),
                "name": fee.get("name") or "",
                "price": money_bag(fee.get("price_set"), fee.get("price"), currency),
                "taxLines": _tax_lines(fee.get("tax_lines"), currency),
            }
            for n, fee in enumerate(order.get("additional_fees") or [], start=1)
        ],
        "customer": {
            "id": gid("Customer", customer.get("id")),
            "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"),
            "email": customer.get("email"),
            "phone": customer.get("phone"),
        }
        if isinstance(customer, dict)
        else None,
        "billingAddress": _address(order.get("billing_address")),
        "shippingAddress": _address(order.get("shipping_address")),
        "lineItems": _paged(lines),
        "shippingLines": _paged(
            [_shipping_node(s, currency) for s in order.get("shipping_lines") or []]
        ),
        "refunds": _capped([_refund_node(r, by_id, currency) for r in order.get("refunds") or []]),
        "transactions": _capped(
            [
                _transaction_node(t, "SALE", created, currency)
                for t in order.get("transactions") or []
            ]
        ),
        "fulfillments": _capped(
            [_fulfillment_node(f, order.get("updated_at")) for f in order.get("fulfillments") or []]
        ),
    }
