"""The part of Shopify's GraphQL Admin API the gateway uses, with Shopify's own type, field,
argument and enum names, so a query Shopify would refuse is refused here too (graphql-core
parses and validates it against this schema).

Orders are kept as the REST JSON the control endpoint received (what webhooks carry);
`nodes` turns one into the GraphQL shape on demand. Here: the schema, and paging through a
connection with Shopify's cursors and limits.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
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
