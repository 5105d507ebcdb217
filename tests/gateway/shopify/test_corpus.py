"""Real and realistic Shopify payloads (corpus/, origins in corpus/SOURCES.md) through the
mapping and the accounting rules: each is booked at Shopify's own total to the øre, or refused
with the difference."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.accounting import (
    AccountPlan,
    DocumentDraft,
    MissingAccount,
    Treatment,
    copenhagen_date,
    credit_note_for_refund,
    invoice_for,
    vat_errors,
)
from gateway.orders import (
    Event,
    InconsistentOrder,
    InvalidEvent,
    Order,
    canonical,
    parse_order,
    parse_refund,
)
from gateway.shopify.mapping import order_events, refund_event

CORPUS = Path(__file__).parent / "corpus"
PLAN = AccountPlan()


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    for wrapper in ("order", "refund"):
        if list(document) == [wrapper]:
            return dict(document[wrapper])
    return document


def presented_total(order_json: dict[str, Any]) -> Decimal:
    return Decimal(order_json["total_price_set"]["presentment_money"]["amount"])


def invoice(order: Order, plan: AccountPlan = PLAN) -> DocumentDraft:
    return invoice_for(
        order, shop_name="Sokkeriet", text_template="{shop} {number}", plan=plan, language="da-DK"
    )


def credit_note(event: Event, plan: AccountPlan = PLAN) -> DocumentDraft:
    assert event.refund is not None
    return credit_note_for_refund(
        event.order,
        event.refund,
        shop_name="Sokkeriet",
        text_template="{shop} {number}",
        plan=plan,
        language="da-DK",
        date=copenhagen_date(event.occurred_at),
    )


def types(events: list[Event]) -> list[str]:
    return [event.type for event in events]


# name, event types, treatment, currency, invoice VAT, accounts used
BOOKED = [
    ("dk_taxes_included.json", ["created", "paid", "shipped"], Treatment.DOMESTIC, "DKK",
     "55.77", {1000, 1350}),
    ("dk_discount_code.json", ["created", "paid"], Treatment.DOMESTIC, "DKK", "90.34",
     {1000, 1350}),
    ("eu_b2c_eur.json", ["created", "paid"], Treatment.EU_PRIVATE, "EUR", "11.97", {1000, 1350}),
    ("eu_b2b_reverse_charge.json", ["created", "paid"], Treatment.EU_BUSINESS, "DKK", "0.00",
     {1100}),
    ("export_no.json", ["created", "paid"], Treatment.EXPORT, "DKK", "0.00", {1255}),
    ("paid_with_gift_card.json", ["created", "paid"], Treatment.DOMESTIC, "DKK", "31.98", {1000}),
    ("dk_partially_refunded.json", ["created", "paid", "shipped", "refunded"],
     Treatment.DOMESTIC, "DKK", "55.77", {1000, 1350}),
    ("dk_fully_refunded.json", ["created", "paid", "refunded"], Treatment.DOMESTIC, "DKK",
     "90.34", {1000, 1350}),
    # A tip: no VAT, on the tips account (standard: 1050, sales without VAT).
    ("dk_tip.json", ["created", "paid", "shipped"], Treatment.DOMESTIC, "DKK", "55.77",
     {1000, 1350, 1050}),
    # An additional fee with its 25 % VAT, as the Admin API lists it: the fees account.
    ("dk_additional_fee.json", ["created", "paid", "shipped"], Treatment.DOMESTIC, "DKK",
     "59.77", {1000, 1350}),
    # Duties collected at checkout on a parcel to Norway: no VAT, on the duties account.
    ("export_no_duties.json", ["created", "paid"], Treatment.EXPORT, "DKK", "0.00",
     {1255, 1050}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "facts", "treatment", "currency", "vat", "accounts"),
    BOOKED,
    ids=[b[0] for b in BOOKED],
)
def test_an_order_is_booked_at_shopifys_total(
    name: str,
    facts: list[str],
    treatment: Treatment,
    currency: str,
    vat: str,
    accounts: set[int],
) -> None:
    order_json = load(name)
    events = order_events(order_json)
    assert types(events) == [f"order.{fact}" for fact in facts]
    order = events[0].order
    assert order.total == presented_total(order_json)
    assert order.currency == currency
    assert not [error for event in events for error in vat_errors(event.order, event.refund)]
    draft = invoice(order)
    assert draft.treatment is treatment
    assert draft.currency == currency
    assert draft.totals.total_incl_vat == presented_total(order_json)
    assert draft.totals.total_vat == Decimal(vat)
    assert draft.rounding == 0
    assert {line.account for line in draft.lines} == accounts
    # What ingest stores reads back the same.
    assert parse_order(json.loads(json.dumps(canonical(order)))) == order


def test_a_discount_code_is_taken_from_the_lines_allocations_once() -> None:
    order = order_events(load("dk_discount_code.json"))[0].order
    assert [line.discount for line in order.lines] == [
        Decimal("10.00"),
        Decimal("29.80"),
        Decimal("4.95"),
    ]
    assert order.discounts == ()
    assert sum((line.amount for line in order.lines), Decimal(0)) == Decimal("402.70")
    assert order.payment is not None and order.payment.method == "mobilepay"


def test_eur_is_booked_in_eur_not_in_the_shops_dkk() -> None:
    order_json = load("eu_b2c_eur.json")
    order = order_events(order_json)[0].order
    assert order.total == Decimal("59.85")
    assert order_json["total_price"] == "446.49"  # the shop's DKK, not booked
    assert [line.unit_price for line in order.lines] == [Decimal("24.95")]
    assert order.shipping is not None and order.shipping.price == Decimal("9.95")


def test_a_foreign_currency_amount_without_its_presentment_money_is_refused() -> None:
    order_json = load("eu_b2c_eur.json")
    del order_json["line_items"][0]["price_set"]
    with pytest.raises(InvalidEvent) as refused:
        order_events(order_json)
    assert refused.value.errors[0].pointer == "/line_items/0/price_set"
    assert "shop's currency" in refused.value.errors[0].message


def test_a_business_buyer_gets_the_vat_number_with_the_billing_countrys_prefix() -> None:
    order = order_events(load("eu_b2b_reverse_charge.json"))[0].order
    assert order.customer.vat_number == "DE136695976"
    assert order.customer.company == "Schmidt Wolle GmbH"
    assert order.payment is not None and order.payment.method == "bank_transfer"
    draft = invoice(order)
    assert draft.comment is not None and "DE136695976" in draft.comment


def test_a_partial_refund_with_shipping_is_a_credit_note_for_what_went_back() -> None:
    events = order_events(load("dk_partially_refunded.json"))
    refunded = events[-1]
    assert refunded.id == "shopify:5001:refund:8001"
    assert refunded.refund is not None
    assert refunded.refund.total == Decimal("118.95")
    assert refunded.refund.shipping is not None
    assert refunded.refund.shipping.price == Decimal("39.00")  # 31.20 + 7.80 VAT
    assert refunded.occurred_at == dt.datetime(2026, 11, 28, 8, 15, tzinfo=dt.UTC)
    note = credit_note(refunded)
    assert note.totals.total_incl_vat == Decimal("118.95")
    assert note.totals.total_vat == Decimal("23.79")


def test_the_refund_webhook_body_maps_like_the_orders_refunds() -> None:
    order = order_events(load("dk_taxes_included.json"))[0].order
    event = refund_event(order, load("dk_partial_refund_with_shipping.refund.json"))
    assert event.type == "order.refunded"
    assert event.refund is not None and event.refund.total == Decimal("118.95")
    from_order = order_events(load("dk_partially_refunded.json"))[-1]
    assert (event.id, event.occurred_at, event.refund) == (
        from_order.id,
        from_order.occurred_at,
        from_order.refund,
    )


def test_a_full_refund_credits_the_whole_order_once() -> None:
    events = order_events(load("dk_fully_refunded.json"))
    note = credit_note(events[-1])
    assert note.totals.total_incl_vat == Decimal("451.70")
    assert note.totals.total_vat == Decimal("90.34")
    # refund_shipping_lines and the shipping_refund adjustment say the same: counted once.
    assert events[-1].refund is not None and events[-1].refund.shipping is not None
    assert events[-1].refund.shipping.price == Decimal("49.00")


GIFT_CARDS = AccountPlan(gift_cards=6850)  # the owner's own liability account


def test_a_gift_card_sold_is_owed_to_its_holder_not_revenue() -> None:
    order_json = load("gift_card_sold.json")
    order = order_events(order_json)[0].order
    gift_card, _socks = order.lines
    assert (gift_card.kind, gift_card.vat_rate, gift_card.amount) == (
        "gift_card",
        Decimal(0),
        Decimal("500.00"),
    )
    assert not vat_errors(order)
    draft = invoice(order, GIFT_CARDS)
    assert draft.totals.total_incl_vat == presented_total(order_json) == Decimal("600.00")
    assert draft.totals.total_vat == Decimal("20.00")  # the socks' VAT only
    assert [(line.account, line.amount) for line in draft.lines] == [
        (6850, Decimal("500.00")),
        (1000, Decimal("100.00")),
    ]


def test_a_gift_card_sold_waits_for_the_owner_to_choose_its_account() -> None:
    order = order_events(load("gift_card_sold.json"))[0].order
    with pytest.raises(MissingAccount) as refused:
        invoice(order)  # the standard chart has no gift-card account
    assert "Gift cards sold (a liability, no VAT)" in str(refused.value)


def test_a_gift_card_paid_back_comes_off_the_liability_account() -> None:
    order = order_events(load("gift_card_sold.json"))[0].order
    event = refund_event(order, load("gift_card_sold.refund.json"))
    assert event.refund is not None and event.refund.total == Decimal("500.00")
    assert event.refund.payment is not None
    assert event.refund.payment.reference == "c25048437719.2"
    note = credit_note(event, GIFT_CARDS)
    assert note.totals.total_incl_vat == Decimal("500.00") and note.totals.total_vat == 0
    assert {line.account for line in note.lines} == {6850}


def test_a_tip_is_a_tip_not_goods() -> None:
    order = order_events(load("dk_tip.json"))[0].order
    assert [line.name for line in order.lines] == ["Uldsokker - Grå / 39-42"]
    [tip] = order.fees
    assert (tip.kind, tip.amount, tip.vat_rate) == ("tip", Decimal("25.00"), Decimal(0))
    # A tip the order states but lists no line for is booked from total_tip_received.
    order_json = load("dk_taxes_included.json")
    order_json["total_tip_received"] = "10.00"
    order_json["total_price_set"]["presentment_money"]["amount"] = "288.85"
    [tip] = order_events(order_json)[0].order.fees
    assert (tip.kind, tip.amount) == ("tip", Decimal("10.00"))


def refund_total(refund_json: dict[str, Any]) -> Decimal:
    """What Shopify says went back: its successful refund transactions."""
    return sum(
        (
            Decimal(t["amount_set"]["presentment_money"]["amount"])
            for t in refund_json["transactions"]
            if t["kind"] == "refund" and t["status"] == "success"
        ),
        Decimal(0),
    )


TIPS = AccountPlan(tips=6860)  # a shop that passes tips on to its staff: a liability


@pytest.mark.parametrize("plan", [PLAN, TIPS], ids=["standard", "own tips account"])
def test_a_tip_paid_back_comes_off_the_tips_account_it_went_on(plan: AccountPlan) -> None:
    order_json, refund_json = load("dk_tip.json"), load("dk_tip.refund.json")
    order = order_events(order_json)[0].order
    event = refund_event(order, refund_json)
    assert event.refund is not None
    [socks] = event.refund.lines
    [tip] = event.refund.fees
    assert socks.name == "Uldsokker - Grå / 39-42"
    assert (tip.kind, tip.name, tip.amount, tip.vat_rate) == (
        "tip",
        "Tip",
        Decimal("25.00"),
        Decimal(0),
    )
    assert not vat_errors(order, event.refund)
    assert event.refund.total == refund_total(refund_json) == Decimal("104.95")
    note = credit_note(event, plan)
    assert note.totals.total_incl_vat == refund_total(refund_json)
    assert note.totals.total_vat == Decimal("15.99")  # the socks' VAT only
    assert note.rounding == 0
    accounts = {line.description: line.account for line in note.lines}
    # The tip comes off the account the order's tip went on, whatever the owner chose.
    assert accounts == {"Uldsokker - Grå / 39-42": 1000, "Tip": plan.tips}
    [invoiced] = [line for line in invoice(order, plan).lines if line.description == "Tip"]
    assert invoiced.account == plan.tips
    # What ingest stores reads back the same.
    stored = json.loads(json.dumps(canonical(event.refund)))
    assert parse_refund(stored, prices_include_vat=order.prices_include_vat) == event.refund


def test_a_tip_paid_back_with_tax_on_it_is_refused() -> None:
    order = order_events(load("dk_tip.json"))[0].order
    refund_json = load("dk_tip.refund.json")
    refund_json["refund_line_items"][1]["total_tax_set"]["presentment_money"]["amount"] = "5.00"
    with pytest.raises(InvalidEvent) as refused:
        refund_event(order, refund_json)
    assert refused.value.errors[0].pointer == "/refund_line_items/1/total_tax"


def test_a_tip_shaped_line_of_an_order_without_a_tip_stays_a_line() -> None:
    # Without a tip on the order, a "Tip" line refunded is what the order booked it as.
    order_json = load("dk_tip.json")
    order_json["total_tip_received"] = "0.00"
    order = order_events(order_json)[0].order
    assert not [fee for fee in order.fees if fee.kind == "tip"]
    event = refund_event(order, load("dk_tip.refund.json"))
    assert event.refund is not None and event.refund.fees == ()
    assert [line.name for line in event.refund.lines] == ["Uldsokker - Grå / 39-42", "Tip"]


DUTIES = AccountPlan(duties=6870)  # a shop that pays the duties on: a clearing account


@pytest.mark.parametrize("plan", [PLAN, DUTIES], ids=["standard", "own duties account"])
def test_duties_paid_back_are_a_credit_note_line_on_the_duties_account(plan: AccountPlan) -> None:
    order_json, refund_json = load("export_no_duties.json"), load("export_no_duties.refund.json")
    order = order_events(order_json)[0].order
    event = refund_event(order, refund_json)
    assert event.refund is not None
    [duty] = event.refund.fees
    assert (duty.kind, duty.name, duty.amount, duty.vat_rate) == (
        "duty",
        "Duties: Uldsokker",
        Decimal("45.50"),
        Decimal(0),
    )
    assert event.refund.total == refund_total(refund_json) == Decimal("445.25")
    note = credit_note(event, plan)
    assert note.totals.total_incl_vat == refund_total(refund_json)
    assert note.totals.total_vat == 0 and note.rounding == 0
    assert [(line.account, line.amount) for line in note.lines] == [
        (1255, Decimal("79.95")),
        (plan.duties, Decimal("45.50")),
    ]
    # The same refund in the order's `refunds` (as orders/updated and the Admin API give it).
    order_json["refunds"] = [refund_json]
    order_json["financial_status"] = "partially_refunded"
    assert order_events(order_json)[-1].refund == event.refund


def test_duties_paid_back_that_the_money_does_not_cover_are_refused_with_the_difference() -> None:
    order = order_events(load("export_no_duties.json"))[0].order
    refund_json = load("export_no_duties.refund.json")
    refund_json["duties"][0]["amount_set"]["presentment_money"]["amount"] = "50.00"
    with pytest.raises(InconsistentOrder) as refused:
        refund_event(order, refund_json)
    [error] = refused.value.errors
    assert "fees 50.00" in error.message and "a difference of -4.50" in error.message


def test_duties_are_booked_without_vat_and_taxed_duties_are_refused() -> None:
    order = order_events(load("export_no_duties.json"))[0].order
    [duty] = order.fees
    assert (duty.kind, duty.amount, duty.vat_rate) == ("duty", Decimal("45.50"), Decimal(0))
    order_json = load("export_no_duties.json")
    order_json["line_items"][0]["duties"][0]["tax_lines"] = [
        {"title": "MVA", "rate": 0.25, "price": "11.38"}
    ]
    with pytest.raises(InvalidEvent) as refused:
        order_events(order_json)
    assert refused.value.errors[0].pointer == "/line_items/0/duties/0/tax_lines"


def test_duties_only_as_the_orders_total_are_one_duty_fee() -> None:
    order_json = load("export_no_duties.json")
    del order_json["line_items"][0]["duties"]
    [duty] = order_events(order_json)[0].order.fees
    assert (duty.kind, duty.amount) == ("duty", Decimal("45.50"))


def test_an_additional_fee_known_only_by_its_total_is_refused_with_the_vat_difference() -> None:
    # A webhook body gives only the fee's total: booked without VAT, the 4.00 of VAT Shopify
    # charged on it is missing, so the order is refused with that difference.
    with pytest.raises(InconsistentOrder) as refused:
        order_events(load("dk_additional_fee_totals_only.json"))
    [error] = refused.value.errors
    assert error.pointer == "/total_tax"
    assert "a difference of 4.00" in error.message


def test_paying_with_a_gift_card_is_payment_method_other() -> None:
    order = order_events(load("paid_with_gift_card.json"))[0].order
    assert order.payment is not None
    assert (order.payment.method, order.payment.amount) == ("other", Decimal("159.90"))


def test_the_python_librarys_order_fixture_is_refused_with_its_difference() -> None:
    # Shopify's sample order: three lines of 199.00 but a total of 409.94 (an API sample,
    # not a real order).
    with pytest.raises(InconsistentOrder) as refused:
        order_events(load("python_api_order.json"))
    [error] = refused.value.errors
    assert error.pointer == "/total_price"
    assert "597.00" in error.message
    assert "a difference of -187.06" in error.message


def test_the_python_librarys_refund_fixture_is_refused_for_its_missing_amounts() -> None:
    order = order_events(load("dk_taxes_included.json"))[0].order
    with pytest.raises(InvalidEvent) as refused:
        refund_event(order, load("python_api_refund.json"))
    pointers = {error.pointer for error in refused.value.errors}
    assert "/refund_line_items/0/subtotal" in pointers
    assert "/refund_line_items/1/subtotal" in pointers
