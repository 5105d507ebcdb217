"""The part of Shopify's GraphQL Admin API the gateway uses, with Shopify's own type, field,
argument and enum names, so a query Shopify would refuse is refused here too (graphql-core
parses and validates it against this schema).

Orders are kept as the REST JSON the control endpoint received (what webhooks carry); the
`order_node` family turns one into the GraphQL shape on demand. Connection fields are
callables, which graphql-core's default resolver calls with the field's arguments.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from graphql import GraphQLSchema, build_schema

SDL: Final = """
scalar DateTime
scalar Decimal
scalar URL
scalar UnsignedInt64

enum CurrencyCode { DKK EUR SEK NOK USD GBP CHF PLN }
enum CountryCode { DK DE SE NO FI NL BE FR GB IE AT PL ES IT US CH }
enum OrderSortKeys { CREATED_AT CUSTOMER_NAME FINANCIAL_STATUS FULFILLMENT_STATUS ID NUMBER
  ORDER_NUMBER PROCESSED_AT RELEVANCE TOTAL_PRICE UPDATED_AT }
enum OrderDisplayFinancialStatus { AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED
  PENDING REFUNDED VOIDED }
enum OrderDisplayFulfillmentStatus { FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED
  PENDING_FULFILLMENT REQUEST_DECLINED RESTOCKED SCHEDULED UNFULFILLED }
enum RefundLineItemRestockType { CANCEL LEGACY_RESTOCK NO_RESTOCK RETURN }
enum OrderAdjustmentDiscrepancyReason { CUSTOMER DAMAGE FULL_RETURN_BALANCING
  PENDING_REFUND_DISCREPANCY REFUND_DISCREPANCY RESTOCK SHIPPING_REFUND }
enum OrderTransactionKind { AUTHORIZATION CAPTURE CHANGE EMV_AUTHORIZATION REFUND SALE
  SUGGESTED_REFUND VOID }
enum OrderTransactionStatus { AWAITING_RESPONSE ERROR FAILURE PENDING SUCCESS UNKNOWN }
enum FulfillmentStatus { CANCELLED ERROR FAILURE OPEN PENDING SUCCESS }
enum WebhookSubscriptionFormat { JSON XML }
enum WebhookSubscriptionTopic { APP_UNINSTALLED ORDERS_CANCELLED ORDERS_CREATE ORDERS_FULFILLED
  ORDERS_PAID ORDERS_UPDATED REFUNDS_CREATE }

type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean!
  startCursor: String endCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }
type Attribute { key: String! value: String }
type TaxLine { title: String! rate: Float priceSet: MoneyBag! }
type DiscountAllocation { allocatedAmountSet: MoneyBag! }
type MailingAddress { firstName: String lastName: String name: String company: String
  address1: String address2: String city: String zip: String countryCodeV2: CountryCode
  phone: String }
type Customer { id: ID! firstName: String lastName: String email: String phone: String }

type Product { id: ID! }
type Duty { id: ID! harmonizedSystemCode: String countryCodeOfOrigin: CountryCode
  price: MoneyBag! taxLines: [TaxLine!]! }
type AdditionalFee { id: ID! name: String! price: MoneyBag! taxLines: [TaxLine!]! }
type LineItem { id: ID! name: String! title: String! sku: String quantity: Int!
  taxable: Boolean! isGiftCard: Boolean! requiresShipping: Boolean! product: Product
  originalUnitPriceSet: MoneyBag!
  taxLines(first: Int): [TaxLine!]! discountAllocations: [DiscountAllocation!]!
  duties: [Duty!]! }
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection { edges: [LineItemEdge!]! nodes: [LineItem!]! pageInfo: PageInfo! }

type ShippingLine { title: String! code: String originalPriceSet: MoneyBag!
  discountedPriceSet: MoneyBag! taxLines: [TaxLine!]!
  discountAllocations: [DiscountAllocation!]! }
type ShippingLineEdge { cursor: String! node: ShippingLine! }
type ShippingLineConnection { edges: [ShippingLineEdge!]! nodes: [ShippingLine!]!
  pageInfo: PageInfo! }

type RefundLineItem { quantity: Int! restockType: RefundLineItemRestockType!
  lineItem: LineItem! subtotalSet: MoneyBag! totalTaxSet: MoneyBag! }
type RefundLineItemEdge { cursor: String! node: RefundLineItem! }
type RefundLineItemConnection { edges: [RefundLineItemEdge!]! nodes: [RefundLineItem!]!
  pageInfo: PageInfo! }
type RefundShippingLine { subtotalAmountSet: MoneyBag! taxAmountSet: MoneyBag! }
type RefundShippingLineEdge { cursor: String! node: RefundShippingLine! }
type RefundShippingLineConnection { edges: [RefundShippingLineEdge!]!
  nodes: [RefundShippingLine!]! pageInfo: PageInfo! }
type OrderAdjustment { amountSet: MoneyBag! taxAmountSet: MoneyBag!
  reason: OrderAdjustmentDiscrepancyReason }
type OrderAdjustmentEdge { cursor: String! node: OrderAdjustment! }
type OrderAdjustmentConnection { edges: [OrderAdjustmentEdge!]! nodes: [OrderAdjustment!]!
  pageInfo: PageInfo! }
type OrderTransaction { id: ID! kind: OrderTransactionKind! status: OrderTransactionStatus!
  gateway: String amountSet: MoneyBag! authorizationCode: String paymentId: String
  createdAt: DateTime! processedAt: DateTime }
type Fulfillment { id: ID! createdAt: DateTime! updatedAt: DateTime! status: FulfillmentStatus! }
type OrderTransactionEdge { cursor: String! node: OrderTransaction! }
type OrderTransactionConnection { edges: [OrderTransactionEdge!]! nodes: [OrderTransaction!]!
  pageInfo: PageInfo! }

type Refund { id: ID! legacyResourceId: UnsignedInt64! createdAt: DateTime note: String
  refundLineItems(first: Int, after: String): RefundLineItemConnection!
  refundShippingLines(first: Int, after: String): RefundShippingLineConnection!
  orderAdjustments(first: Int, after: String): OrderAdjustmentConnection!
  transactions(first: Int, after: String): OrderTransactionConnection!
  duties: [RefundDuty!] }
type RefundDuty { amountSet: MoneyBag! originalDuty: Duty }

type Order { id: ID! legacyResourceId: UnsignedInt64! name: String! createdAt: DateTime!
  updatedAt: DateTime! processedAt: DateTime! cancelledAt: DateTime closedAt: DateTime
  currencyCode: CurrencyCode! presentmentCurrencyCode: CurrencyCode! taxesIncluded: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  email: String phone: String note: String customAttributes: [Attribute!]!
  paymentGatewayNames: [String!]! totalPriceSet: MoneyBag! totalTaxSet: MoneyBag
  totalTipReceivedSet: MoneyBag! originalTotalDutiesSet: MoneyBag
  currentTotalDutiesSet: MoneyBag originalTotalAdditionalFeesSet: MoneyBag
  currentTotalAdditionalFeesSet: MoneyBag additionalFees: [AdditionalFee!]!
  customer: Customer billingAddress: MailingAddress shippingAddress: MailingAddress
  lineItems(first: Int, after: String): LineItemConnection!
  shippingLines(first: Int, after: String): ShippingLineConnection!
  refunds(first: Int): [Refund!]!
  transactions(first: Int): [OrderTransaction!]!
  fulfillments(first: Int): [Fulfillment!]! }
type OrderEdge { cursor: String! node: Order! }
type OrderConnection { edges: [OrderEdge!]! nodes: [Order!]! pageInfo: PageInfo! }

enum CountPrecision { AT_LEAST EXACT }
type Count { count: Int! precision: CountPrecision! }

type QueryRoot {
  order(id: ID!): Order
  ordersCount(query: String, limit: Int = 10000): Count
  orders(first: Int, after: String, last: Int, before: String, query: String,
         reverse: Boolean = false, sortKey: OrderSortKeys = ID): OrderConnection!
}

input WebhookSubscriptionInput { callbackUrl: URL format: WebhookSubscriptionFormat
  includeFields: [String!] metafieldNamespaces: [String!] }
type WebhookSubscription { id: ID! topic: WebhookSubscriptionTopic! callbackUrl: URL!
  format: WebhookSubscriptionFormat! }
type UserError { field: [String!] message: String! }
type WebhookSubscriptionCreatePayload { webhookSubscription: WebhookSubscription
  userErrors: [UserError!]! }

type Mutation {
  webhookSubscriptionCreate(topic: WebhookSubscriptionTopic!,
    webhookSubscription: WebhookSubscriptionInput!): WebhookSubscriptionCreatePayload
}

schema { query: QueryRoot mutation: Mutation }
"""

SCHEMA: Final[GraphQLSchema] = build_schema(SDL)
# Shopify's ceiling for `first`/`last` on any connection.
MAX_PAGE: Final = 250

Resolver = Callable[..., Any]


class ArgumentError(Exception):
    """An argument Shopify refuses at run time (shown as a GraphQL error)."""


def cursor_of(position: int) -> str:
    return base64.urlsafe_b64encode(f"sandbox:{position}".encode()).decode()


def position_of(cursor: str | None) -> int:
    """The index just after `cursor` (0 for none). Raises `ArgumentError` for a bad one."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        prefix, _, number = text.partition(":")
        if prefix != "sandbox" or not number.isdigit():
            raise ValueError(cursor)
    except (ValueError, UnicodeDecodeError):
        raise ArgumentError("Invalid cursor for current pagination sort.") from None
    return int(number) + 1


def page_size(first: int | None) -> int:
    if first is None:
        raise ArgumentError("you must provide one of first or last")
    if not 0 <= first <= MAX_PAGE:
        raise ArgumentError(f"first must be between 0 and {MAX_PAGE}")
    return first


def connection(items: Sequence[Any], first: int | None, after: str | None) -> dict[str, Any]:
    start = position_of(after)
    size = page_size(first)
    chosen = list(items[start : start + size])
    edges = [{"cursor": cursor_of(start + i), "node": n} for i, n in enumerate(chosen)]
    return {
        "edges": edges,
        "nodes": chosen,
        "pageInfo": {
            "hasNextPage": start + size < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


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
