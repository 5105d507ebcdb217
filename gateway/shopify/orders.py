"""Orders read through the GraphQL Admin API, in the REST shape Shopify's webhooks carry.

Webhook bodies are REST-shaped; the Admin API is GraphQL. Rather than map two shapes to the
canonical order, reconcile's answers are turned into the webhook shape here, field by field,
so one mapping (`gateway.shopify.mapping`) serves both and an order reads the same
whichever way it arrived. Money keeps both currencies (`price` in the shop's, `price_set`
with shop and presentment money), as REST has it.
"""

from __future__ import annotations

from typing import Any, Final

# Shopify prices a query by what it could return: a connection costs 2 plus `first` times
# its node, nested connections multiply, and one query may ask for at most 1,000 points.
# So nested lists are capped; an order with more lines than LINES_PER_ORDER has the rest
# read page by page (`AdminApi.orders`), and the caps below fit several orders in a page.
LINES_PER_ORDER: Final = 10
# Most orders have no refunds: a page lists their ids only, and an order's refunds are read
# with their own query when it has some (`AdminApi.orders`).
REFUNDS_PER_ORDER: Final = 5
# An order's payments (sale, capture, and the authorisations before them) and its
# fulfilments; more than this many of either is rare, and the last ones are what count.
TRANSACTIONS_PER_ORDER: Final = 5
FULFILLMENTS_PER_ORDER: Final = 5

_MONEY: Final = "shopMoney { amount currencyCode } presentmentMoney { amount currencyCode }"
_TAX_LINES: Final = f"taxLines {{ title rate priceSet {{ {_MONEY} }} }}"
_DISCOUNTS: Final = f"discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} }}"
_ADDRESS: Final = "firstName lastName name company address1 address2 city zip countryCodeV2 phone"
LINE_FIELDS: Final = (
    f"id name title sku quantity taxable isGiftCard requiresShipping product {{ id }} "
    f"originalUnitPriceSet {{ {_MONEY} }} {_TAX_LINES} {_DISCOUNTS} "
    f"duties {{ id harmonizedSystemCode price {{ {_MONEY} }} {_TAX_LINES} }}"
)

ORDER_FIELDS: Final = f"""
id legacyResourceId name createdAt updatedAt processedAt cancelledAt closedAt
currencyCode presentmentCurrencyCode taxesIncluded displayFinancialStatus
displayFulfillmentStatus email phone note customAttributes {{ key value }}
paymentGatewayNames
totalPriceSet {{ {_MONEY} }} totalTaxSet {{ {_MONEY} }} totalTipReceivedSet {{ {_MONEY} }}
originalTotalDutiesSet {{ {_MONEY} }} originalTotalAdditionalFeesSet {{ {_MONEY} }}
additionalFees {{ name price {{ {_MONEY} }} {_TAX_LINES} }}
customer {{ id firstName lastName email phone }}
billingAddress {{ {_ADDRESS} }} shippingAddress {{ {_ADDRESS} }}
lineItems(first: {LINES_PER_ORDER}) {{ nodes {{ {LINE_FIELDS} }}
  pageInfo {{ hasNextPage endCursor }} }}
shippingLines(first: 2) {{ nodes {{ title code originalPriceSet {{ {_MONEY} }}
  discountedPriceSet {{ {_MONEY} }} {_TAX_LINES} {_DISCOUNTS} }} }}
refunds(first: {REFUNDS_PER_ORDER}) {{ id }}
transactions(first: {TRANSACTIONS_PER_ORDER}) {{ id kind status gateway processedAt
  authorizationCode paymentId }}
fulfillments(first: {FULFILLMENTS_PER_ORDER}) {{ createdAt status }}
"""

REFUND_FIELDS: Final = f"""
id legacyResourceId createdAt note
refundLineItems(first: {LINES_PER_ORDER}) {{ nodes {{ quantity restockType lineItem {{ id }}
  subtotalSet {{ {_MONEY} }} totalTaxSet {{ {_MONEY} }} }} }}
refundShippingLines(first: 2) {{ nodes {{ subtotalAmountSet {{ {_MONEY} }}
  taxAmountSet {{ {_MONEY} }} }} }}
orderAdjustments(first: 2) {{ nodes {{ amountSet {{ {_MONEY} }} taxAmountSet {{ {_MONEY} }}
  reason }} }}
transactions(first: 5) {{ nodes {{ id kind status gateway authorizationCode paymentId
  amountSet {{ {_MONEY} }} }} }}
duties {{ amountSet {{ {_MONEY} }} }}
"""

_FULFILLMENT: Final = {
    "FULFILLED": "fulfilled",
    "PARTIALLY_FULFILLED": "partial",
    "RESTOCKED": "restocked",
}


def legacy_id(gid: str | int | None) -> int | None:
    """`gid://shopify/Order/123` → 123."""
    if gid is None:
        return None
    text = str(gid).rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else None


def rest_order(node: dict[str, Any]) -> dict[str, Any]:
    """The order as a webhook would carry it."""
    total = _money_set(node.get("totalPriceSet"))
    lines = [_line(line) for line in _nodes(node.get("lineItems"))]
    by_id = {line["id"]: line for line in lines}
    fulfillment = _FULFILLMENT.get(str(node.get("displayFulfillmentStatus") or ""))
    return {
        "id": int(node.get("legacyResourceId") or legacy_id(node.get("id")) or 0),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "order_number": _order_number(node.get("name")),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "closed_at": node.get("closedAt"),
        "currency": node.get("currencyCode"),
        "presentment_currency": node.get("presentmentCurrencyCode"),
        "taxes_included": bool(node.get("taxesIncluded")),
        "financial_status": str(node.get("displayFinancialStatus") or "").lower() or None,
        "fulfillment_status": fulfillment,
        "email": node.get("email"),
        "phone": node.get("phone"),
        "note": node.get("note"),
        "note_attributes": [
            {"name": a.get("key"), "value": a.get("value")}
            for a in node.get("customAttributes") or []
        ],
        "payment_gateway_names": list(node.get("paymentGatewayNames") or []),
        "total_price": total["shop_money"]["amount"] if total else None,
        "total_price_set": total,
        "total_tax_set": _money_set(node.get("totalTaxSet")),
        "total_tip_received": _amount(node.get("totalTipReceivedSet")),
        "total_tip_received_set": _money_set(node.get("totalTipReceivedSet")),
        "original_total_duties_set": _money_set(node.get("originalTotalDutiesSet")),
        "original_total_additional_fees_set": _money_set(
            node.get("originalTotalAdditionalFeesSet")
        ),
        "additional_fees": [
            {
                "name": fee.get("name"),
                "price": _amount(fee.get("price")),
                "price_set": _money_set(fee.get("price")),
                "tax_lines": _tax_lines(fee.get("taxLines")),
            }
            for fee in node.get("additionalFees") or []
        ],
        "customer": _customer(node.get("customer")),
        "billing_address": _address(node.get("billingAddress")),
        "shipping_address": _address(node.get("shippingAddress")),
        "line_items": lines,
        "shipping_lines": [_shipping(s) for s in _nodes(node.get("shippingLines"))],
        "refunds": [_refund(r, by_id, node.get("id")) for r in node.get("refunds") or []],
        "transactions": [_transaction(t) for t in node.get("transactions") or []],
        "fulfillments": [
            {"created_at": f.get("createdAt"), "status": _lower(f.get("status"))}
            for f in node.get("fulfillments") or []
        ],
    }


def more_lines(node: dict[str, Any]) -> str | None:
    """The cursor to read the order's remaining lines from, or None when all came."""
    info = (node.get("lineItems") or {}).get("pageInfo") or {}
    return info.get("endCursor") if info.get("hasNextPage") else None


def _lower(value: Any) -> str | None:
    return str(value).lower() if value else None


def _transaction(transaction: dict[str, Any]) -> dict[str, Any]:
    """A transaction as REST has it: `id` Shopify's, `authorization` the provider's code,
    `payment_id` the provider's payment id."""
    rest: dict[str, Any] = {
        "id": legacy_id(transaction.get("id")),
        "kind": _lower(transaction.get("kind")),
        "status": _lower(transaction.get("status")),
        "gateway": transaction.get("gateway"),
        "authorization": transaction.get("authorizationCode"),
        "payment_id": transaction.get("paymentId"),
    }
    if "processedAt" in transaction:
        rest["processed_at"] = transaction.get("processedAt")
    if "amountSet" in transaction:
        rest["amount"] = _amount(transaction.get("amountSet"))
        rest["amount_set"] = _money_set(transaction.get("amountSet"))
    return rest


def _nodes(connection: Any) -> list[dict[str, Any]]:
    if not isinstance(connection, dict):
        return []
    if "nodes" in connection:
        return list(connection.get("nodes") or [])
    return [edge["node"] for edge in connection.get("edges") or []]


def _order_number(name: Any) -> int | None:
    digits = "".join(ch for ch in str(name or "") if ch.isdigit())
    return int(digits) if digits else None


def _money_set(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    shop = value.get("shopMoney") or {}
    presentment = value.get("presentmentMoney") or shop
    return {
        "shop_money": {"amount": shop.get("amount"), "currency_code": shop.get("currencyCode")},
        "presentment_money": {
            "amount": presentment.get("amount"),
            "currency_code": presentment.get("currencyCode"),
        },
    }


def _amount(value: Any) -> Any:
    money = _money_set(value)
    return money["shop_money"]["amount"] if money else None


def _tax_lines(items: Any) -> list[dict[str, Any]]:
    return [
        {
            "title": t.get("title"),
            "rate": t.get("rate"),
            "price": _amount(t.get("priceSet")),
            "price_set": _money_set(t.get("priceSet")),
        }
        for t in items or []
    ]


def _discounts(items: Any) -> list[dict[str, Any]]:
    return [
        {
            "amount": _amount(d.get("allocatedAmountSet")),
            "amount_set": _money_set(d.get("allocatedAmountSet")),
        }
        for d in items or []
    ]


def _line(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": legacy_id(line.get("id")),
        "name": line.get("name"),
        "title": line.get("title"),
        "sku": line.get("sku"),
        "quantity": line.get("quantity"),
        "taxable": line.get("taxable"),
        "gift_card": bool(line.get("isGiftCard")),
        "requires_shipping": line.get("requiresShipping"),
        "product_id": legacy_id((line.get("product") or {}).get("id")),
        "duties": [
            {
                "id": legacy_id(duty.get("id")),
                "harmonized_system_code": duty.get("harmonizedSystemCode"),
                "price": _amount(duty.get("price")),
                "price_set": _money_set(duty.get("price")),
                "tax_lines": _tax_lines(duty.get("taxLines")),
            }
            for duty in line.get("duties") or []
        ],
        "price": _amount(line.get("originalUnitPriceSet")),
        "price_set": _money_set(line.get("originalUnitPriceSet")),
        "tax_lines": _tax_lines(line.get("taxLines")),
        "discount_allocations": _discounts(line.get("discountAllocations")),
    }


def _shipping(line: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": line.get("title"),
        "code": line.get("code"),
        "price": _amount(line.get("originalPriceSet")),
        "price_set": _money_set(line.get("originalPriceSet")),
        "discounted_price": _amount(line.get("discountedPriceSet")),
        "discounted_price_set": _money_set(line.get("discountedPriceSet")),
        "tax_lines": _tax_lines(line.get("taxLines")),
        "discount_allocations": _discounts(line.get("discountAllocations")),
    }


def _customer(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {
        "id": legacy_id(value.get("id")),
        "first_name": value.get("firstName"),
        "last_name": value.get("lastName"),
        "email": value.get("email"),
        "phone": value.get("phone"),
    }


def _address(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    return {
        "first_name": value.get("firstName"),
        "last_name": value.get("lastName"),
        "name": value.get("name"),
        "company": value.get("company"),
        "address1": value.get("address1"),
        "address2": value.get("address2"),
        "city": value.get("city"),
        "zip": value.get("zip"),
        "country_code": value.get("countryCodeV2"),
        "phone": value.get("phone"),
    }


def _refund(
    refund: dict[str, Any], lines: dict[Any, dict[str, Any]], order_gid: Any
) -> dict[str, Any]:
    items = []
    for item in _nodes(refund.get("refundLineItems")):
        line_id = legacy_id((item.get("lineItem") or {}).get("id"))
        items.append(
            {
                "line_item_id": line_id,
                "line_item": lines.get(line_id),
                "quantity": item.get("quantity"),
                "restock_type": str(item.get("restockType") or "").lower() or None,
                "subtotal": _amount(item.get("subtotalSet")),
                "subtotal_set": _money_set(item.get("subtotalSet")),
                "total_tax": _amount(item.get("totalTaxSet")),
                "total_tax_set": _money_set(item.get("totalTaxSet")),
            }
        )
    adjustments = [
        {
            "kind": _adjustment_kind(a.get("reason")),
            "amount": _amount(a.get("amountSet")),
            "amount_set": _money_set(a.get("amountSet")),
            "tax_amount": _amount(a.get("taxAmountSet")),
            "tax_amount_set": _money_set(a.get("taxAmountSet")),
        }
        for a in _nodes(refund.get("orderAdjustments"))
    ]
    shipping = [
        {
            "subtotal_amount_set": _money_set(s.get("subtotalAmountSet")),
            "tax_amount_set": _money_set(s.get("taxAmountSet")),
        }
        for s in _nodes(refund.get("refundShippingLines"))
    ]
    return {
        "id": int(refund.get("legacyResourceId") or legacy_id(refund.get("id")) or 0),
        "order_id": legacy_id(order_gid),
        "created_at": refund.get("createdAt"),
        "note": refund.get("note"),
        "refund_line_items": items,
        "refund_shipping_lines": shipping,
        "order_adjustments": adjustments,
        "transactions": [_transaction(t) for t in _nodes(refund.get("transactions"))],
        "duties": [
            {"amount": _amount(d.get("amountSet")), "amount_set": _money_set(d.get("amountSet"))}
            for d in refund.get("duties") or []
        ],
    }


def _adjustment_kind(reason: Any) -> str:
    # GraphQL's OrderAdjustmentKind/reason (SHIPPING_REFUND, REFUND_DISCREPANCY, ...) → REST kind.
    return str(reason or "").lower()
