"""Public and Danish WooCommerce payloads (corpus/, origins in corpus/SOURCES.md) through the
mapping and the accounting rules: each is booked at WooCommerce's own total to the øre, or
refused with the field or the difference."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.accounting import (
    AccountPlan,
    DocumentDraft,
    Treatment,
    copenhagen_date,
    credit_note_for_refund,
    invoice_for,
    vat_errors,
    vat_treatment,
)
from gateway.orders import Event, InconsistentOrder, InvalidEvent, Order, canonical, parse_order
from gateway.woocommerce.mapping import MappingSettings, order_events, refund_event

CORPUS = Path(__file__).parent / "corpus"
PLAN = AccountPlan()


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    return document


def invoice(order: Order) -> DocumentDraft:
    return invoice_for(
        order, shop_name="Sokkeriet", text_template="{shop} {number}", plan=PLAN, language="da-DK"
    )


def credit_note(event: Event) -> DocumentDraft:
    assert event.refund is not None
    return credit_note_for_refund(
        event.order,
        event.refund,
        shop_name="Sokkeriet",
        text_template="{shop} {number}",
        plan=PLAN,
        language="da-DK",
        date=copenhagen_date(event.occurred_at),
    )


# name, event types, treatment, invoice VAT, accounts used
BOOKED = [
    ("dk_prices_incl_tax.json", ["created", "paid", "shipped"], Treatment.DOMESTIC, "55.77",
     {1000, 1350}),
    ("dk_coupon_and_fee.json", ["created", "paid"], Treatment.DOMESTIC, "80.80", {1000, 1350}),
    ("dk_prices_excl_tax_b2b.json", ["created", "paid", "shipped"], Treatment.DOMESTIC, "34.75",
     {1000, 1350}),
    ("eu_b2b_reverse_charge.json", ["created", "paid"], Treatment.EU_BUSINESS, "0.00", {1100}),
    ("export_no.json", ["created", "paid"], Treatment.EXPORT, "0.00", {1255}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "facts", "treatment", "vat", "accounts"), BOOKED, ids=[b[0] for b in BOOKED]
)
def test_an_order_is_booked_at_woocommerces_total(
    name: str, facts: list[str], treatment: Treatment, vat: str, accounts: set[int]
) -> None:
    order_json = load(name)
    events = order_events(order_json)
    assert [event.type for event in events] == [f"order.{fact}" for fact in facts]
    order = events[0].order
    assert order.total == Decimal(order_json["total"])
    assert order.currency == "DKK"
    assert not [error for event in events for error in vat_errors(event.order, event.refund)]
    draft = invoice(order)
    assert draft.treatment is treatment
    assert draft.totals.total_incl_vat == Decimal(order_json["total"])
    assert draft.totals.total_vat == Decimal(vat) == Decimal(order_json["total_tax"])
    assert draft.rounding == 0
    assert {line.account for line in draft.lines} == accounts
    assert parse_order(json.loads(json.dumps(canonical(order)))) == order


def test_prices_incl_vat_book_what_the_customer_saw() -> None:
    order = order_events(load("dk_prices_incl_tax.json"))[0].order
    assert order.prices_include_vat is True
    [line] = order.lines
    assert (line.quantity, line.unit_price, line.vat_rate) == (
        Decimal(3),
        Decimal("79.95"),
        Decimal("0.25"),
    )
    assert order.shipping is not None and order.shipping.price == Decimal("39.00")
    assert order.payment is not None
    assert (order.payment.method, order.payment.reference) == ("card", "qp_771203")
    assert (
        order.shipped_at is not None and order.shipped_at.isoformat() == "2026-11-25T08:30:00+00:00"
    )


def test_a_coupon_is_taken_off_the_lines_once_and_a_fee_is_a_fee() -> None:
    order = order_events(load("dk_coupon_and_fee.json"))[0].order
    assert [line.discount for line in order.lines] == [Decimal("29.99"), Decimal("8.90")]
    assert order.discounts == ()
    assert [(fee.name, fee.amount, fee.vat_rate) for fee in order.fees] == [
        ("Betalingsgebyr", Decimal("5.00"), Decimal("0.25"))
    ]
    assert order.payment is not None and order.payment.method == "mobilepay"


def test_coupon_lines_that_do_not_match_the_lines_are_refused_with_the_difference() -> None:
    order_json = load("dk_coupon_and_fee.json")
    order_json["coupon_lines"][0]["discount"] = "41.11"
    with pytest.raises(InvalidEvent) as refused:
        order_events(order_json)
    [error] = refused.value.errors
    assert error.pointer == "/coupon_lines"
    assert "a difference of 10.00" in error.message


def test_net_prices_round_vat_per_line_as_woocommerce_did() -> None:
    order = order_events(load("dk_prices_excl_tax_b2b.json"))[0].order
    assert order.prices_include_vat is False
    assert order.customer.vat_number == "DK13585628"
    assert order.customer.company == "Strikkecaféen ApS"
    assert order.payment is not None and order.payment.method == "invoice"


def test_the_eu_vat_number_comes_from_meta_data_with_the_billing_countrys_prefix() -> None:
    order = order_events(load("eu_b2b_reverse_charge.json"))[0].order
    assert order.customer.vat_number == "DE136695976"
    assert order.payment is not None and order.payment.method == "bank_transfer"
    draft = invoice(order)
    assert draft.comment is not None and "DE136695976" in draft.comment


def test_the_vat_number_keys_are_the_shops_to_choose() -> None:
    order_json = load("eu_b2b_reverse_charge.json")
    order_json["meta_data"][1]["key"] = "eu_vat_id"
    unknown = order_events(order_json)[0].order
    assert unknown.customer.vat_number is None
    assert vat_treatment(unknown.customer) is not Treatment.EU_BUSINESS
    settings = MappingSettings(vat_number_keys=("EU_VAT_ID",))
    assert order_events(order_json, settings)[0].order.customer.vat_number == "DE136695976"


def test_a_partial_refund_is_read_from_the_refunds_endpoint_not_the_summary() -> None:
    order_json = load("dk_partially_refunded.json")
    assert [e.type for e in order_events(order_json)][-1] == "order.shipped"
    events = order_events(order_json, refunds=[load("dk_partial_refund.refund.json")])
    refunded = events[-1]
    assert refunded.id == "woocommerce:5001:refund:701"
    assert refunded.refund is not None
    assert refunded.refund.total == Decimal("118.95")
    assert refunded.refund.shipping is not None
    assert refunded.refund.shipping.price == Decimal("39.00")
    assert refunded.refund.payment is not None and refunded.refund.payment.method == "card"
    note = credit_note(refunded)
    assert note.totals.total_incl_vat == Decimal("118.95")
    assert note.totals.total_vat == Decimal("23.79")
    alone = refund_event(events[0].order, load("dk_partial_refund.refund.json"))
    assert (alone.id, alone.refund) == (refunded.id, refunded.refund)


def test_an_order_set_to_refunded_credits_the_rest_at_its_only_rate() -> None:
    events = order_events(
        load("dk_fully_refunded.json"), refunds=[load("dk_status_refunded.refund.json")]
    )
    assert [e.type for e in events] == [
        "order.created", "order.paid", "order.shipped", "order.refunded"
    ]  # fmt: skip
    note = credit_note(events[-1])
    assert note.totals.total_incl_vat == Decimal("278.85")
    assert note.totals.total_vat == Decimal("55.77")


def test_an_amount_only_refund_on_an_order_with_several_rates_is_refused() -> None:
    order = order_events(load("dk_prices_incl_tax.json"))[0].order
    mixed = parse_order(
        {
            **canonical(order),
            "lines": [
                *canonical(order)["lines"],
                {
                    "sku": None,
                    "name": "Avis",
                    "quantity": "1",
                    "unit_price": "0.00",
                    "vat_rate": "0",
                    "discount": "0.00",
                    "kind": "goods",
                },
            ],
        }
    )
    with pytest.raises(InvalidEvent) as refused:
        refund_event(mixed, load("docs_refund_amount_only.refund.json"))
    [error] = refused.value.errors
    assert error.pointer == "/line_items"
    assert "does not say which VAT went back" in error.message


def test_the_docs_refunds_map_against_an_order_they_fit() -> None:
    order = order_events(load("export_no.json"))[0].order
    with_line = refund_event(order, load("docs_refund_with_line.refund.json"))
    assert with_line.refund is not None
    [line] = with_line.refund.lines
    assert (line.name, line.unit_price, line.vat_rate) == (
        "Woo Album #2",
        Decimal("9.00"),
        Decimal(0),
    )
    domestic = order_events(load("dk_prices_incl_tax.json"))[0].order
    amount_only = refund_event(domestic, load("docs_refund_amount_only.refund.json"))
    assert credit_note(amount_only).totals.total_vat == Decimal("2.00")


def test_the_docs_order_is_refused_for_its_missing_tax_rate() -> None:
    with pytest.raises(InvalidEvent) as refused:
        order_events(load("docs_order_create.json"))
    assert [e.pointer for e in refused.value.errors] == ["/tax_lines/0/rate_percent"]


def test_a_total_that_does_not_add_up_is_refused_with_the_difference() -> None:
    order_json = load("dk_prices_incl_tax.json")
    order_json["total"] = "278.95"
    with pytest.raises(InconsistentOrder) as refused:
        order_events(order_json)
    [error] = refused.value.errors
    assert error.pointer == "/total"
    assert "a difference of 0.10" in error.message


def test_a_line_tax_that_its_rate_does_not_give_is_refused() -> None:
    order_json = load("dk_prices_incl_tax.json")
    order_json["line_items"][0]["total_tax"] = "40.00"
    order_json["line_items"][0]["taxes"][0]["total"] = "40.00"
    with pytest.raises(InvalidEvent) as refused:
        order_events(order_json)
    assert refused.value.errors[0].pointer == "/line_items/0/total_tax"
    assert "25 % of 191.88 is 47.97" in refused.value.errors[0].message


def test_a_cancelled_unpaid_order_is_cancelled_and_never_paid() -> None:
    events = order_events(load("cancelled_unpaid.json"))
    assert [e.type for e in events] == ["order.created", "order.cancelled"]
    assert events[-1].occurred_at.isoformat() == "2026-11-25T07:00:00+00:00"


@pytest.mark.parametrize(
    ("status", "facts"),
    [
        ("pending", ["created"]),
        ("on-hold", ["created"]),
        ("failed", ["created"]),
        ("processing", ["created", "paid"]),
        ("completed", ["created", "paid", "shipped"]),
    ],
)
def test_status_maps_to_facts(status: str, facts: list[str]) -> None:
    order_json = load("dk_prices_incl_tax.json")
    order_json["status"] = status
    assert [e.type for e in order_events(order_json)] == [f"order.{f}" for f in facts]
