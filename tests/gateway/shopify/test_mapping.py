"""Shopify JSON → canonical events: the rules one at a time, on small changes to one order."""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.orders import InconsistentOrder, InvalidEvent
from gateway.shopify.mapping import (
    MappingSettings,
    event_id,
    order_events,
    order_url,
    refund_event,
)
from gateway.shopify.payments import method

CORPUS = Path(__file__).parent / "corpus"


def danish_order() -> dict[str, Any]:
    """Paid and fulfilled: 3 × 79.95 incl. 25 % VAT, shipping 39.00, total 278.85."""
    return copy.deepcopy(_DANISH)


_DANISH: dict[str, Any] = json.loads((CORPUS / "dk_taxes_included.json").read_text("utf-8"))
_REFUND: dict[str, Any] = json.loads(
    (CORPUS / "dk_partial_refund_with_shipping.refund.json").read_text("utf-8")
)


def test_event_ids_name_the_order_and_the_fact() -> None:
    assert event_id(5001, "paid") == "shopify:5001:paid"
    assert event_id("5001", "refund:8001") == "shopify:5001:refund:8001"


def test_order_url_is_the_stores_admin_page() -> None:
    assert (
        order_url("sokkeriet.myshopify.com", 5001)
        == "https://admin.shopify.com/store/sokkeriet/orders/5001"
    )
    assert order_url("https://Sokkeriet.myshopify.com/", "7") == (
        "https://admin.shopify.com/store/sokkeriet/orders/7"
    )


def test_each_fact_is_an_event_at_its_own_time_in_utc() -> None:
    events = order_events(danish_order())
    assert [(e.id, e.type, e.occurred_at) for e in events] == [
        ("shopify:5001:created", "order.created", dt.datetime(2026, 11, 24, 9, 58, tzinfo=dt.UTC)),
        ("shopify:5001:paid", "order.paid", dt.datetime(2026, 11, 24, 9, 59, 3, tzinfo=dt.UTC)),
        (
            "shopify:5001:shipped",
            "order.shipped",
            dt.datetime(2026, 11, 25, 13, 2, 11, tzinfo=dt.UTC),
        ),
    ]
    order = events[0].order
    assert (order.id, order.number) == ("5001", "#1001")
    assert order.paid_at == events[1].occurred_at
    assert order.shipped_at == events[2].occurred_at
    assert order.payment is not None
    assert (order.payment.method, order.payment.amount) == ("card", Decimal("278.85"))


def test_the_same_state_gives_the_same_events() -> None:
    assert order_events(danish_order()) == order_events(danish_order())


def test_a_paid_event_arriving_after_the_refund_repeats_ids_already_seen() -> None:
    refunded = danish_order()
    refunded["financial_status"] = "partially_refunded"
    refunded["refunds"] = [copy.deepcopy(_REFUND)]
    after_refund = {e.id: e for e in order_events(refunded)}
    late_paid = order_events(danish_order())  # the orders/paid delivery, late
    assert {e.id for e in late_paid} <= set(after_refund)
    for event in late_paid:
        assert event.occurred_at == after_refund[event.id].occurred_at
    assert "shopify:5001:refund:8001" in after_refund


def test_an_unpaid_order_is_only_created_and_a_cancelled_one_is_cancelled() -> None:
    pending = danish_order()
    pending.update(financial_status="pending", fulfillment_status=None)
    assert [e.type for e in order_events(pending)] == ["order.created"]
    assert order_events(pending)[0].order.payment is None
    pending.update(cancelled_at="2026-11-26T08:00:00+01:00", financial_status="voided")
    events = order_events(pending)
    assert [e.type for e in events] == ["order.created", "order.cancelled"]
    assert events[1].id == "shopify:5001:cancelled"
    assert events[1].occurred_at == dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)


def test_a_cancelled_order_that_was_paid_is_refunded_not_cancelled() -> None:
    order = danish_order()
    order.update(cancelled_at="2026-11-26T08:00:00+01:00", financial_status="refunded")
    assert "order.cancelled" not in [e.type for e in order_events(order)]


def test_shipped_without_fulfillments_is_dated_by_updated_at() -> None:
    order = danish_order()
    order.update(fulfillments=[], updated_at="2026-11-27T12:00:00Z")
    assert order_events(order)[-1].occurred_at == dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


def test_two_tax_lines_book_at_their_summed_rate_when_it_gives_their_tax() -> None:
    order = danish_order()
    order["line_items"][0]["tax_lines"] = [
        {"price": "38.37", "rate": 0.2, "title": "A"},
        {"price": "9.59", "rate": 0.05, "title": "B"},
    ]
    order["total_tax"] = "55.76"
    order["total_tax_set"]["presentment_money"]["amount"] = "55.76"
    assert order_events(order)[0].order.lines[0].vat_rate == Decimal("0.25")


def test_two_tax_lines_that_one_rate_cannot_give_are_refused() -> None:
    order = danish_order()
    order["line_items"][0]["tax_lines"] = [
        {"price": "40.00", "rate": 0.2, "title": "A"},
        {"price": "9.59", "rate": 0.05, "title": "B"},
    ]
    with pytest.raises(InvalidEvent) as refused:
        order_events(order)
    [error] = refused.value.errors
    assert error.pointer == "/line_items/0/tax_lines"
    assert "come to 47.97, but the tax lines charge 49.59: a difference of 1.62" in error.message


def test_a_line_not_taxable_is_at_0_and_then_the_tax_total_must_say_so() -> None:
    order = danish_order()
    order["line_items"][0]["taxable"] = False
    with pytest.raises(InconsistentOrder) as refused:
        order_events(order)
    [error] = refused.value.errors
    assert error.pointer == "/total_tax"
    assert "give 7.80 VAT, but Shopify charged 55.77: a difference of 47.97" in error.message
    order["total_tax_set"]["presentment_money"]["amount"] = "7.80"
    assert order_events(order)[0].order.lines[0].vat_rate == 0


def test_a_total_that_does_not_add_up_is_refused_with_the_difference() -> None:
    order = danish_order()
    order["total_price_set"]["presentment_money"]["amount"] = "278.84"
    with pytest.raises(InconsistentOrder) as refused:
        order_events(order)
    [error] = refused.value.errors
    assert error.pointer == "/total_price"
    assert error.message.endswith("a difference of -0.01")


def test_further_shipping_lines_are_fees() -> None:
    order = danish_order()
    extra = copy.deepcopy(order["shipping_lines"][0])
    extra["title"] = "Gaveindpakning"
    order["shipping_lines"].append(extra)
    for name in ("total_price", "total_tax"):
        money = order[f"{name}_set"]["presentment_money"]
        money["amount"] = str(
            Decimal(money["amount"]) + Decimal("39.00" if "price" in name else "7.80")
        )
    mapped = order_events(order)[0].order
    assert mapped.shipping is not None and mapped.shipping.name == "GLS Pakkeshop"
    assert [(f.name, f.amount, f.vat_rate) for f in mapped.fees] == [
        ("Gaveindpakning", Decimal("39.00"), Decimal("0.25"))
    ]


def test_a_discount_on_shipping_comes_off_the_shipping() -> None:
    order = danish_order()
    order["shipping_lines"][0]["discount_allocations"] = [{"amount": "39.00"}]
    order["shipping_lines"][0]["tax_lines"][0]["price"] = "0.00"
    order["shipping_lines"][0]["tax_lines"][0]["price_set"]["presentment_money"]["amount"] = "0"
    order["total_price_set"]["presentment_money"]["amount"] = "239.85"
    order["total_tax_set"]["presentment_money"]["amount"] = "47.97"
    shipping = order_events(order)[0].order.shipping
    assert shipping is not None and (shipping.price, shipping.vat_rate) == (
        Decimal("0.00"),
        Decimal(0),
    )


def test_the_vat_number_key_is_matched_case_insensitively_and_is_configurable() -> None:
    order = danish_order()
    order["note_attributes"] = [{"name": "CVR", "value": "13585628"}]
    assert order_events(order)[0].order.customer.vat_number == "DK13585628"
    custom = MappingSettings(vat_number_keys=("Momsnummer",))
    assert order_events(order, custom)[0].order.customer.vat_number is None
    order["note_attributes"] = [{"name": "momsnummer", "value": "DK 13 58 56 28"}]
    assert order_events(order, custom)[0].order.customer.vat_number == "DK13585628"


def test_an_invalid_vat_number_points_at_its_note_attribute() -> None:
    order = danish_order()
    order["note_attributes"] = [
        {"name": "colour", "value": "grey"},
        {"name": "vat_number", "value": "12345678"},
    ]
    with pytest.raises(InvalidEvent) as refused:
        order_events(order)
    assert [e.pointer for e in refused.value.errors] == ["/note_attributes/1/value"]


def test_a_missing_billing_country_points_at_shopifys_field() -> None:
    order = danish_order()
    del order["billing_address"]["country_code"]
    with pytest.raises(InvalidEvent) as refused:
        order_events(order)
    assert [e.pointer for e in refused.value.errors] == ["/billing_address/country_code"]


@pytest.mark.parametrize(
    ("gateways", "expected"),
    [
        (["shopify_payments"], "card"),
        (["stripe"], "card"),
        (["MobilePay"], "mobilepay"),
        (["mobilepay_online"], "mobilepay"),
        (["Bank Deposit"], "bank_transfer"),
        (["manual"], "bank_transfer"),
        (["gift_card"], "other"),
        (["paypal"], "other"),
        (["gift_card", "shopify_payments"], "other"),
        ([], "other"),
    ],
)
def test_payment_gateways_become_our_methods(gateways: list[str], expected: str) -> None:
    assert method(gateways) == expected


def test_a_refund_discrepancy_is_refused() -> None:
    order = order_events(danish_order())[0].order
    refund = copy.deepcopy(_REFUND)
    refund["order_adjustments"].append(
        {"id": 1, "kind": "refund_discrepancy", "amount": "-5.00", "tax_amount": "0.00"}
    )
    with pytest.raises(InvalidEvent) as refused:
        refund_event(order, refund)
    [error] = refused.value.errors
    assert error.pointer == "/order_adjustments/1/amount"
    assert "-5.00 (refund_discrepancy)" in error.message


def test_a_refund_whose_money_differs_from_its_parts_is_refused_with_the_difference() -> None:
    order = order_events(danish_order())[0].order
    refund = copy.deepcopy(_REFUND)
    refund["transactions"][0]["amount_set"]["presentment_money"]["amount"] = "100.00"
    with pytest.raises(InconsistentOrder) as refused:
        refund_event(order, refund)
    [error] = refused.value.errors
    assert error.pointer == "/transactions"
    assert error.message.endswith("a difference of -18.95")


def test_a_refund_within_an_order_points_into_the_orders_refunds() -> None:
    order = danish_order()
    order["financial_status"] = "partially_refunded"
    order["refunds"] = [copy.deepcopy(_REFUND)]
    order["refunds"][0]["refund_line_items"][0]["total_tax_set"]["presentment_money"]["amount"] = (
        "9.99"
    )
    with pytest.raises(InvalidEvent) as refused:
        order_events(order)
    assert [e.pointer for e in refused.value.errors] == ["/refunds/0/refund_line_items/0/total_tax"]


def _sale(**fields: Any) -> dict[str, Any]:
    sale = {"kind": "sale", "status": "success", "gateway": "shopify_payments"}
    return sale | {"processed_at": "2026-11-24T10:59:03+01:00"} | fields


def test_the_payment_reference_is_the_providers_payment_id_then_authorization_then_id() -> None:
    order = danish_order()
    order["transactions"] = [
        _sale(id=7000, status="failure", payment_id="declined.1"),
        _sale(id=7001, authorization="53433", payment_id="c25048437719.1"),
    ]
    payment = order_events(order)[0].order.payment
    assert payment is not None and payment.reference == "c25048437719.1"
    order["transactions"] = [_sale(id=7001, authorization="53433")]
    payment = order_events(order)[0].order.payment
    assert payment is not None and payment.reference == "53433"
    order["transactions"] = [_sale(id=7001, receipt={"payment_id": "pi_3Mx"})]
    payment = order_events(order)[0].order.payment
    assert payment is not None and payment.reference == "pi_3Mx"
    order["transactions"] = [_sale(id=7001)]
    payment = order_events(order)[0].order.payment
    assert payment is not None and payment.reference == "7001"


def test_a_payment_reference_is_bounded_and_storable_or_left_out() -> None:
    order = danish_order()
    order["transactions"] = [_sale(payment_id="x" * 500 + "\x00")]
    payment = order_events(order)[0].order.payment
    assert payment is not None and payment.reference == "x" * 200
    order["transactions"] = [_sale(payment_id="\x00\x01", authorization="\ud800")]
    payment = order_events(order)[0].order.payment
    assert payment is not None and payment.reference is None
    del order["transactions"]  # a webhook's order body lists no transactions
    payment = order_events(order)[0].order.payment
    assert payment is not None and payment.reference is None


def test_a_refunds_payment_reference_is_its_refund_transactions() -> None:
    refund = copy.deepcopy(_REFUND)
    refund["transactions"][0]["payment_id"] = "re_3Mx.2"
    order = order_events(danish_order())[0].order
    event = refund_event(order, refund)
    assert event.refund is not None and event.refund.payment is not None
    assert event.refund.payment.reference == "re_3Mx.2"


def test_shipped_from_an_admin_api_order_is_dated_by_its_fulfillment() -> None:
    from gateway.shopify.orders import rest_order

    node: dict[str, Any] = {
        "id": "gid://shopify/Order/5001",
        "legacyResourceId": "5001",
        "name": "#1001",
        "createdAt": "2026-11-24T09:58:00Z",
        "updatedAt": "2026-11-29T10:00:00Z",
        "processedAt": "2026-11-24T09:58:00Z",
        "currencyCode": "DKK",
        "presentmentCurrencyCode": "DKK",
        "taxesIncluded": True,
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "FULFILLED",
        "totalPriceSet": {
            "shopMoney": {"amount": "100.00", "currencyCode": "DKK"},
            "presentmentMoney": {"amount": "100.00", "currencyCode": "DKK"},
        },
        "billingAddress": {"name": "Karen", "countryCodeV2": "DK"},
        "lineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/LineItem/1",
                    "name": "Mug",
                    "quantity": 1,
                    "originalUnitPriceSet": {
                        "shopMoney": {"amount": "100.00", "currencyCode": "DKK"},
                        "presentmentMoney": {"amount": "100.00", "currencyCode": "DKK"},
                    },
                    "taxLines": [],
                    "discountAllocations": [],
                }
            ]
        },
        "transactions": [
            {
                "id": "gid://shopify/OrderTransaction/7001",
                "kind": "SALE",
                "status": "SUCCESS",
                "gateway": "shopify_payments",
                "processedAt": "2026-11-24T09:59:00Z",
                "authorizationCode": "53433",
                "paymentId": None,
            }
        ],
        "fulfillments": [
            {"createdAt": "2026-11-25T13:02:11Z", "status": "SUCCESS"},
            {"createdAt": "2026-11-26T08:00:00Z", "status": "CANCELLED"},
        ],
    }
    events = {e.type: e for e in order_events(rest_order(node))}
    order = events["order.shipped"].order
    assert order.shipped_at == dt.datetime(2026, 11, 25, 13, 2, 11, tzinfo=dt.UTC)
    assert order.paid_at == dt.datetime(2026, 11, 24, 9, 59, tzinfo=dt.UTC)
    assert order.payment is not None and order.payment.reference == "53433"
