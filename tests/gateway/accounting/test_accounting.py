from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.accounting import (
    ROUNDING_LIMIT,
    AccountingError,
    AccountPlan,
    CannotMatchTotal,
    DocumentDraft,
    DocumentLine,
    InvalidAccountPlan,
    InvalidTemplate,
    Language,
    Treatment,
    Unit,
    VatMismatch,
    allocate,
    check_template,
    copenhagen_date,
    credit_note_for_refund,
    document_totals,
    full_credit_for,
    invoice_for,
    invoice_text,
    remaining_credit_for,
    vat_errors,
    vat_treatment,
)
from gateway.orders import (
    Address,
    Customer,
    InconsistentOrder,
    Order,
    Refund,
    parse_order,
    parse_refund,
    round_half_up,
)
from sandbox.chart import Chart
from sandbox.money import PricedLine
from sandbox.money import document_totals as sandbox_document_totals
from sandbox.money import line_total as sandbox_line_total

PLAN = AccountPlan()
TEMPLATE = "{shop} — order {number}"
VALID_VAT = {"DK": "DK25313763", "DE": "DE136695976", "AT": "ATU13585627", "GR": "EL094259216"}
Q = Decimal


def line(
    name: str = "Sokker",
    quantity: str = "1",
    unit_price: str = "100.00",
    vat_rate: str = "0.25",
    discount: str = "0",
    kind: str = "goods",
) -> dict[str, str]:
    return {
        "name": name,
        "quantity": quantity,
        "unit_price": unit_price,
        "vat_rate": vat_rate,
        "discount": discount,
        "kind": kind,
    }


def _amount(item: dict[str, Any]) -> Decimal:
    if "unit_price" in item:
        subtotal = round_half_up(Q(item["quantity"]) * Q(item["unit_price"]))
        return subtotal - Q(item.get("discount", "0"))
    return Q(item["price"] if "price" in item else item["amount"])


def shop_total(
    lines: Sequence[dict[str, Any]],
    charges: Sequence[dict[str, Any]],
    discounts: Sequence[Decimal],
    *,
    gross: bool,
    per_line_vat: bool = True,
) -> Decimal:
    """What a webshop would charge: net orders get VAT rounded per amount, or per rate."""
    net = sum((_amount(i) for i in [*lines, *charges]), Q(0)) - sum(discounts, Q(0))
    if gross:
        return net
    basis = lines if sum((_amount(i) for i in lines), Q(0)) > 0 else charges
    by_rate: dict[Decimal, Decimal] = {}
    for item in basis:
        by_rate[Q(item["vat_rate"])] = by_rate.get(Q(item["vat_rate"]), Q(0)) + _amount(item)
    if per_line_vat:
        vat = sum((round_half_up(_amount(i) * Q(i["vat_rate"])) for i in [*lines, *charges]), Q(0))
        for discount in discounts:
            if discount:
                parts = allocate(discount, list(by_rate.values()))
                vat -= sum(
                    (round_half_up(p * r) for p, r in zip(parts, by_rate, strict=True)), Q(0)
                )
        return net + vat
    exact: dict[Decimal, Decimal] = {}
    for item in [*lines, *charges]:
        exact[Q(item["vat_rate"])] = exact.get(Q(item["vat_rate"]), Q(0)) + _amount(item)
    weight = sum(by_rate.values(), Q(0))
    for rate, amount in by_rate.items():
        exact[rate] -= sum(discounts, Q(0)) * amount / weight if weight else Q(0)
    return net + sum((round_half_up(amount * rate) for rate, amount in exact.items()), Q(0))


def make_order(
    lines: Sequence[dict[str, Any]] = (),
    *,
    shipping: dict[str, str] | None = None,
    fees: Sequence[dict[str, str]] = (),
    discounts: Sequence[str] = (),
    country: str = "DK",
    vat_number: str | None = None,
    gross: bool = True,
    total: Decimal | None = None,
    created_at: str = "2026-11-24T09:58:00Z",
    currency: str = "DKK",
) -> Order:
    lines = list(lines) or [line()]
    charges = [*([shipping] if shipping else []), *fees]
    amounts = [Q(d) for d in discounts]
    if total is None:
        total = shop_total(lines, charges, amounts, gross=gross)
    return parse_order(
        {
            "id": "o-1001",
            "number": "1001",
            "created_at": created_at,
            "currency": currency,
            "prices_include_vat": gross,
            "customer": {
                "name": "Karen Kunde",
                "company": "Firma ApS" if vat_number else None,
                "vat_number": vat_number,
                "address": {"country": country},
            },
            "lines": lines,
            "shipping": shipping,
            "fees": list(fees),
            "discounts": [{"name": f"R{i}", "amount": d} for i, d in enumerate(discounts)],
            "total": str(total),
        }
    )


def invoice(
    order: Order, *, plan: AccountPlan = PLAN, language: Language = "da-DK"
) -> DocumentDraft:
    return invoice_for(
        order, shop_name="Sokkeshoppen", text_template=TEMPLATE, plan=plan, language=language
    )


def check_totals(draft: DocumentDraft, expected: Decimal) -> None:
    """The draft's totals are Dinero's, by our rule and by the sandbox's, and match `expected`."""
    assert draft.totals.total_incl_vat == expected
    assert document_totals(draft.lines, draft.show_lines_incl_vat, PLAN.vat_rate_of) == draft.totals
    chart = Chart.standard()
    sandbox = sandbox_document_totals(
        [
            PricedLine(
                sandbox_line_total(li.amount, li.quantity, li.discount),
                chart.account_rate(li.account),
            )
            for li in draft.lines
        ],
        lines_incl_vat=draft.show_lines_incl_vat,
    )
    assert (sandbox.excl_vat, sandbox.vat, sandbox.incl_vat) == (
        draft.totals.total_excl_vat,
        draft.totals.total_vat,
        draft.totals.total_incl_vat,
    )


def accounts(draft: DocumentDraft) -> list[int]:
    return [li.account for li in draft.lines]


def product(amount: str, account: int, description: str, unit: Unit = "parts") -> DocumentLine:
    return DocumentLine(
        amount=Q(amount),
        quantity=Q(1),
        account=account,
        description=description,
        unit=unit,
        kind="product",
    )


# --- the totals rule ---------------------------------------------------------------------------


def test_document_totals_net_rounds_vat_once_per_rate() -> None:
    lines = [product("0.02", 1000, "a"), product("0.02", 1000, "b"), product("5.00", 1050, "c")]
    # per line 0.005 + 0.005 would round to 0.02; per document 0.04 × 0.25 = 0.01
    assert document_totals(lines, False, PLAN.vat_rate_of).total_vat == Q("0.01")
    assert document_totals(lines, False, PLAN.vat_rate_of).total_incl_vat == Q("5.05")


def test_document_totals_gross_sums_the_lines() -> None:
    lines = [product("99.99", 1000, "a"), product("39.00", 1350, "b"), product("10", 1050, "c")]
    totals = document_totals(lines, True, PLAN.vat_rate_of)
    assert totals.total_incl_vat == Q("148.99")
    assert totals.total_vat == Q("27.80")  # 138.99 × 0.2 = 27.798
    assert totals.total_excl_vat == Q("121.19")


def test_document_totals_ignores_text_lines_and_applies_the_discount_percent() -> None:
    text = DocumentLine(
        amount=Q(1000), quantity=Q(1), account=1000, description="A note", kind="text"
    )
    discounted = DocumentLine(
        amount=Q("33.33"), quantity=Q(3), account=1050, description="x", discount=Q("12.5")
    )
    totals = document_totals([text, discounted], False, PLAN.vat_rate_of)
    assert totals.total_incl_vat == Q("87.49")  # 99.99 × 0.875 = 87.49125


# --- treatments and accounts -------------------------------------------------------------------


def customer(country: str, vat_number: str | None = None) -> Customer:
    return Customer("K", None, None, None, vat_number, None, Address(None, None, None, country))


@pytest.mark.parametrize(
    ("country", "vat_number", "treatment"),
    [
        ("DK", None, Treatment.DOMESTIC),
        ("DK", VALID_VAT["DK"], Treatment.DOMESTIC),
        ("DK", VALID_VAT["DE"], Treatment.DOMESTIC),
        ("DE", VALID_VAT["DE"], Treatment.EU_BUSINESS),
        ("AT", VALID_VAT["AT"], Treatment.EU_BUSINESS),
        ("GR", VALID_VAT["GR"], Treatment.EU_BUSINESS),
        ("DE", None, Treatment.EU_PRIVATE),
        ("DE", "DE123456789", Treatment.EU_PRIVATE),  # invalid: never reverse charge
        ("DE", VALID_VAT["DK"], Treatment.EU_PRIVATE),  # a Danish number is no reverse charge
        ("SE", "XI123456782", Treatment.EU_PRIVATE),
        ("NO", None, Treatment.EXPORT),
        ("US", VALID_VAT["DE"], Treatment.EXPORT),
        ("GB", None, Treatment.EXPORT),
        ("FO", None, Treatment.EXPORT),  # the Faroes and Greenland are outside the EU
        ("GL", None, Treatment.EXPORT),
    ],
)
def test_vat_treatment(country: str, vat_number: str | None, treatment: Treatment) -> None:
    assert vat_treatment(customer(country, vat_number)) is treatment


SERVICE = line("Rådgivning", kind="service")
SHIPPING = {"name": "GLS", "price": "39.00", "vat_rate": "0.25"}
FEE = {"name": "Gebyr", "amount": "5.00", "vat_rate": "0.25"}


@pytest.mark.parametrize(
    ("country", "vat_number", "rate", "expected"),
    [
        ("DK", None, "0.25", [1000, 1000, 1350, 1000]),
        ("DK", None, "0", [1050, 1050, 1050, 1050]),
        ("DE", None, "0.25", [1000, 1000, 1350, 1000]),
        ("DE", VALID_VAT["DE"], "0", [1100, 1200, 1100, 1100]),
        ("US", None, "0", [1255, 1260, 1255, 1255]),
    ],
)
def test_each_treatment_picks_its_accounts(
    country: str, vat_number: str | None, rate: str, expected: list[int]
) -> None:
    order = make_order(
        [line(vat_rate=rate), {**SERVICE, "vat_rate": rate}],
        shipping={**SHIPPING, "vat_rate": rate},
        fees=[{**FEE, "vat_rate": rate}],
        country=country,
        vat_number=vat_number,
    )
    draft = invoice(order)
    assert accounts(draft) == expected
    check_totals(draft, order.total)


def test_per_shop_overrides_apply() -> None:
    plan = AccountPlan.with_overrides(
        {"goods_dk": 1010, "services_dk": "1020", "shipping": 1360, "fees": 1030, "no_vat": 1060}
    )
    order = make_order([line(), SERVICE, line("Bog", vat_rate="0")], shipping=SHIPPING, fees=[FEE])
    assert accounts(invoice(order, plan=plan)) == [1010, 1020, 1060, 1360, 1030]

    plan = AccountPlan.with_overrides({"goods_eu_business": 1110, "services_eu_business": 1210})
    order = make_order(
        [line(vat_rate="0"), {**SERVICE, "vat_rate": "0"}],
        country="DE",
        vat_number=VALID_VAT["DE"],
    )
    assert accounts(invoice(order, plan=plan)) == [1110, 1210]

    plan = AccountPlan.with_overrides({"goods_export": 1256, "services_export": 1261})
    order = make_order([line(vat_rate="0"), {**SERVICE, "vat_rate": "0"}], country="CH")
    assert accounts(invoice(order, plan=plan)) == [1256, 1261]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"goods": 1000}, "unknown role 'goods'"),
        ({"shipping": "fragt"}, "shipping: 'fragt' is not an account number"),
        ({"shipping": 0}, "shipping: 0 is not an account number"),
        ({"shipping": True}, "shipping: True is not an account number"),
        ({"rounding": 1000}, "account 1000 cannot be both goods_dk (25 % VAT) and rounding (0 %"),
        ({"no_vat": 1350}, "account 1350 cannot be both shipping (25 % VAT) and no_vat (0 %"),
    ],
)
def test_bad_overrides_are_refused_with_reasons(overrides: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidAccountPlan) as caught:
        AccountPlan.with_overrides(overrides)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_the_plan_knows_the_rate_each_account_must_carry() -> None:
    assert PLAN.vat_rate_of(1000) == Q("0.25") and PLAN.vat_rate_of(1350) == Q("0.25")
    assert {PLAN.vat_rate_of(n) for n in (1050, 1100, 1200, 1255, 1260)} == {Q(0)}
    chart = Chart.standard()  # the plan agrees with Dinero's standard chart
    assert all(PLAN.vat_rate_of(n) == chart.account_rate(n) for n in PLAN.roles().values())
    with pytest.raises(ValueError, match="not in the plan"):
        PLAN.vat_rate_of(55000)


@pytest.mark.parametrize(
    ("country", "vat_number", "rate", "message"),
    [
        ("DE", VALID_VAT["DE"], "0.25", "reverse charge: its VAT rate must be 0, not 25 %"),
        ("US", None, "0.25", "zero-rated: its VAT rate must be 0, not 25 %"),
        ("DE", None, "0.19", "19 % is not Danish VAT: the destination country's VAT (OSS)"),
        ("DK", None, "0.12", "a Danish sale carries 25 % VAT (or 0 when exempt), not 12 %"),
    ],
)
def test_rates_that_do_not_fit_the_treatment_are_errors_not_guesses(
    country: str, vat_number: str | None, rate: str, message: str
) -> None:
    order = make_order([line(), line("B", vat_rate=rate)], country=country, vat_number=vat_number)
    errors = vat_errors(order)
    assert "/order/lines/1/vat_rate" in [e.pointer for e in errors]
    assert any(message in e.message for e in errors), errors
    with pytest.raises(VatMismatch) as caught:
        invoice(order)
    assert caught.value.errors == errors
    assert isinstance(caught.value, AccountingError)


def test_vat_errors_point_into_shipping_fees_and_refunds() -> None:
    order = make_order(
        [line(vat_rate="0")],
        shipping=SHIPPING,
        fees=[FEE],
        country="US",
    )
    refund = Refund("r1", (), order.shipping, Q("39.00"), None)
    assert [e.pointer for e in vat_errors(order, refund)] == [
        "/order/shipping/vat_rate",
        "/order/fees/0/vat_rate",
        "/refund/shipping/vat_rate",
    ]


# --- texts -------------------------------------------------------------------------------------


def test_reverse_charge_statement_and_vat_number_in_the_comment() -> None:
    order = make_order([line(vat_rate="0")], country="DE", vat_number=VALID_VAT["DE"])
    danish = invoice(order)
    assert danish.treatment is Treatment.EU_BUSINESS
    assert danish.comment is not None
    assert "Omvendt betalingspligt" in danish.comment
    assert "Købers momsnummer: DE136695976" in danish.comment
    english = invoice(order, language="en-GB")
    assert english.comment == (
        "Reverse charge: no VAT has been charged; the buyer accounts for the VAT.\n"
        "Buyer's VAT number: DE136695976"
    )
    assert invoice(make_order()).comment is None
    assert invoice(make_order([line(vat_rate="0")], country="US")).comment is None


def test_the_template_fills_the_description() -> None:
    order = make_order()
    assert invoice(order).description == "Sokkeshoppen — order 1001"
    text = invoice_text(
        "{{{shop}}} #{number} ({order_id}) til {customer}", shop_name="S", order=order
    )
    assert text == "{S} #1001 (o-1001) til Karen Kunde"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{shop} {nummer}", "unknown placeholder {nummer}"),
        ("{shop.__class__}", "unknown placeholder {shop.__class__}"),
        ("{number[0]}", "unknown placeholder {number[0]}"),
        ("{number:>10}", "unknown placeholder {number:>10}"),
        ("{number!r}", "unknown placeholder {number!r}"),
        ("{}", "unknown placeholder {}"),
        ("order {number", "unbalanced { or }"),
        ("order }", "unbalanced { or }"),
        ("x" * 1001, "the text is longer than 1000 characters"),
    ],
)
def test_check_template_names_each_problem(template: str, problem: str) -> None:
    problems = check_template(template)
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(InvalidTemplate):
        invoice_for(
            make_order(), shop_name="S", text_template=template, plan=PLAN, language="da-DK"
        )


def test_a_good_template_has_no_problems() -> None:
    assert check_template("{shop} — ordre {number} ({order_id}), {customer} {{fast}}") == []
    assert "{shop}, {number}, {order_id}, {customer}" in check_template("{x}")[0]


# --- exact line encodings ----------------------------------------------------------------------


def test_a_line_discount_is_a_percent_when_exact() -> None:
    draft = invoice(make_order([line(quantity="2", unit_price="50.00", discount="10.00")]))
    (only,) = draft.lines
    assert (only.amount, only.quantity, only.discount) == (Q("50.00"), Q(2), Q(10))
    check_totals(draft, Q("90.00"))


def test_a_line_discount_is_its_own_line_when_no_percent_is_exact() -> None:
    order = make_order([line(quantity="3", unit_price="33.33", discount="10.00")])
    draft = invoice(order)
    assert [(li.amount, li.discount, li.description) for li in draft.lines] == [
        (Q("33.33"), Q(0), "Sokker"),
        (Q("-10.00"), Q(0), "Rabat: Sokker"),
    ]
    assert accounts(draft) == [1000, 1000]
    check_totals(draft, Q("89.99"))


def test_a_half_way_product_is_sent_as_one_unit() -> None:
    # 3 × 0.335 = 1.005: half-up gives 1.01, half-even 1.00; Dinero's mode is not documented.
    draft = invoice(make_order([line(quantity="3", unit_price="0.335")]))
    (only,) = draft.lines
    assert (only.amount, only.quantity) == (Q("1.01"), Q(1))
    assert only.description == "Sokker (3 × 0.335)"
    check_totals(draft, Q("1.01"))


def test_sub_oere_unit_prices_keep_their_quantity() -> None:
    draft = invoice(make_order([line(quantity="2.5", unit_price="0.1996")]))  # 0.499 → 0.50
    (only,) = draft.lines
    assert (only.amount, only.quantity) == (Q("0.1996"), Q("2.5"))
    check_totals(draft, Q("0.50"))


def test_order_discounts_are_split_pro_rata_over_the_accounts() -> None:
    order = make_order(
        [line(unit_price="300.00"), line("Bog", unit_price="100.00", vat_rate="0")],
        shipping=SHIPPING,
        discounts=["10.00", "0.01"],
    )
    draft = invoice(order)
    discount_lines = [(li.amount, li.account, li.description) for li in draft.lines[3:]]
    assert discount_lines == [
        (Q("-7.50"), 1000, "Rabat: R0 (25 % moms)"),
        (Q("-2.50"), 1050, "Rabat: R0 (0 % moms)"),
        (Q("-0.01"), 1000, "Rabat: R1 (25 % moms)"),
    ]
    check_totals(draft, Q("428.99"))


def test_a_discount_on_free_goods_falls_on_shipping() -> None:
    order = make_order([line(unit_price="0.00")], shipping=SHIPPING, discounts=["39.00"])
    draft = invoice(order)
    assert [(li.amount, li.account) for li in draft.lines] == [
        (Q("0.00"), 1000),
        (Q("39.00"), 1350),
        (Q("-39.00"), 1350),
    ]
    check_totals(draft, Q("0.00"))


# --- totals and rounding -----------------------------------------------------------------------


def test_gross_orders_never_need_a_rounding_line() -> None:
    order = make_order(
        [line(quantity="3", unit_price="33.33"), line("B", quantity="7", unit_price="0.07")],
        shipping=SHIPPING,
        discounts=["10.00"],
    )
    draft = invoice(order)
    assert draft.show_lines_incl_vat is True
    assert draft.rounding == 0
    check_totals(draft, order.total)


def test_net_orders_get_one_rounding_line_for_per_line_vat() -> None:
    # Each line's VAT is 0.005, rounded up per line to 0.01: the shop charges 0.06 of VAT
    # on 0.20; Dinero computes 0.05 on the whole.
    lines = [line(str(i), unit_price="0.02") for i in range(10)]
    order = make_order(lines, gross=False)
    assert order.total == Q("0.30")
    draft = invoice(order)
    assert draft.show_lines_incl_vat is False
    assert draft.rounding == Q("0.05")
    assert draft.lines[-1] == product("0.05", 1050, "Øreafrunding")
    check_totals(draft, Q("0.30"))
    assert invoice(order, language="en-GB").lines[-1].description == "Rounding"


def test_a_rounding_line_can_be_negative_and_uses_the_rounding_account() -> None:
    plan = AccountPlan.with_overrides({"rounding": 3990})
    lines = [line(str(i), unit_price="0.02") for i in range(4)]  # exact VAT 0.02
    order = make_order(lines, gross=False, total=Q("0.09"))  # shop says 0.01, within 0.04
    draft = invoice(order, plan=plan)
    assert draft.rounding == Q("-0.01")
    assert draft.lines[-1].account == 3990
    assert document_totals(draft.lines, False, plan.vat_rate_of).total_incl_vat == Q("0.09")


def test_beyond_the_rounding_limit_nothing_is_booked() -> None:
    good = make_order()
    order = Order(**{**good.__dict__, "total": good.total + ROUNDING_LIMIT + Q("0.01")})
    with pytest.raises(CannotMatchTotal) as caught:
        invoice(order)
    assert caught.value.difference == Q("1.01")
    assert "Dinero would total 100.00 where the shop charged 101.01" in str(caught.value)
    assert "not booked" in str(caught.value)

    within = Order(**{**good.__dict__, "total": good.total + ROUNDING_LIMIT})
    assert invoice(within).rounding == ROUNDING_LIMIT


# --- dates and documents -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("created_at", "date"),
    [
        ("2026-11-24T22:59:59Z", dt.date(2026, 11, 24)),
        ("2026-11-24T23:00:00Z", dt.date(2026, 11, 25)),  # CET, +01:00
        ("2026-06-30T22:00:00Z", dt.date(2026, 7, 1)),  # CEST, +02:00
    ],
)
def test_the_invoice_date_is_the_danish_calendar_date(created_at: str, date: dt.date) -> None:
    order = make_order(created_at=created_at)
    assert invoice(order).date == date
    assert copenhagen_date(order.created_at) == date
    chosen = invoice_for(
        order,
        shop_name="S",
        text_template=TEMPLATE,
        plan=PLAN,
        language="da-DK",
        date=dt.date(2027, 1, 1),
    )
    assert chosen.date == dt.date(2027, 1, 1)


def refund_of(order: Order, refund: dict[str, Any]) -> Refund:
    return parse_refund(refund, prices_include_vat=order.prices_include_vat)


def credit(order: Order, refund: Refund, language: Language = "da-DK") -> DocumentDraft:
    return credit_note_for_refund(
        order,
        refund,
        shop_name="Sokkeshoppen",
        text_template=TEMPLATE,
        plan=PLAN,
        language=language,
        date=dt.date(2026, 12, 1),
    )


def test_a_refund_becomes_a_credit_note_with_positive_amounts() -> None:
    order = make_order(
        [line(quantity="3", unit_price="33.33"), SERVICE], shipping=SHIPPING, discounts=["5.00"]
    )
    first = credit(
        order,
        refund_of(
            order,
            {"id": "r1", "lines": [line(quantity="1", unit_price="33.33")], "total": "33.33"},
        ),
    )
    second = credit(
        order,
        refund_of(
            order,
            {"id": "r2", "lines": [], "shipping": SHIPPING, "total": "39.00"},
        ),
        language="en-GB",
    )
    assert first.kind == second.kind == "credit_note"
    assert [(li.amount, li.quantity, li.account) for li in first.lines] == [
        (Q("33.33"), Q(1), 1000)
    ]
    assert [(li.amount, li.account) for li in second.lines] == [(Q("39.00"), 1350)]
    check_totals(first, Q("33.33"))
    check_totals(second, Q("39.00"))
    assert first.description == "Kreditnota: Sokkeshoppen — order 1001"
    assert first.comment == "Refusion r1 af ordre 1001"
    assert second.comment == "Refund r2 of order 1001"
    assert first.date == dt.date(2026, 12, 1)


def test_a_refund_to_an_eu_business_repeats_the_reverse_charge_statement() -> None:
    order = make_order([line(vat_rate="0")], country="DE", vat_number=VALID_VAT["DE"])
    refund = refund_of(
        order, {"id": "r1", "lines": [line(unit_price="40.00", vat_rate="0")], "total": "40.00"}
    )
    draft = credit(order, refund)
    assert accounts(draft) == [1100]
    assert draft.comment is not None and "DE136695976" in draft.comment
    with pytest.raises(VatMismatch) as caught:
        credit(order, refund_of(order, {"id": "r2", "lines": [line()], "total": "100.00"}))
    assert [e.pointer for e in caught.value.errors] == ["/refund/lines/0/vat_rate"]


TIP = {"name": "Tip", "amount": "20.00", "vat_rate": "0", "kind": "tip"}
DUTY = {"name": "Told", "amount": "30.00", "vat_rate": "0", "kind": "duty"}


@pytest.mark.parametrize(
    ("overrides", "tips", "duties"),
    [({}, 1050, 1050), ({"tips": 6860, "duties": 6870}, 6860, 6870)],
    ids=["standard", "the shop's own"],
)
def test_a_tip_and_duties_paid_back_come_off_the_accounts_they_went_on(
    overrides: dict[str, object], tips: int, duties: int
) -> None:
    plan = AccountPlan.with_overrides(overrides)
    order = make_order([line()], fees=[TIP, DUTY])
    refund = refund_of(
        order,
        {"id": "r1", "lines": [line(unit_price="40.00")], "fees": [TIP, DUTY], "total": "90.00"},
    )
    assert [fee.kind for fee in refund.fees] == ["tip", "duty"]
    note = credit_note_for_refund(
        order,
        refund,
        shop_name="Sokkeshoppen",
        text_template=TEMPLATE,
        plan=plan,
        language="da-DK",
        date=dt.date(2026, 12, 1),
    )
    assert [(li.description, li.account) for li in note.lines] == [
        ("Sokker", 1000),
        ("Tip", tips),
        ("Told", duties),
    ]
    assert note.totals == document_totals(note.lines, True, plan.vat_rate_of)
    assert (note.totals.total_incl_vat, note.rounding) == (Q("90.00"), Q(0))
    assert note.totals.total_vat == Q("8.00")  # the goods' VAT only
    invoiced = invoice_for(
        order, shop_name="Sokkeshoppen", text_template=TEMPLATE, plan=plan, language="da-DK"
    )
    assert {li.description: li.account for li in invoiced.lines if li.description != "Sokker"} == {
        "Tip": tips,
        "Told": duties,
    }


def test_vat_on_a_tip_or_duties_paid_back_is_an_error_at_the_refunds_fee() -> None:
    order = make_order([line()], fees=[TIP])
    refund = refund_of(order, {"id": "r1", "fees": [{**TIP, "vat_rate": "0.25"}], "total": "20.00"})
    assert [e.pointer for e in vat_errors(order, refund)] == ["/refund/fees/0/vat_rate"]


def test_a_refund_without_fees_reads_as_before_and_fees_count_in_its_total() -> None:
    order = make_order([line()])
    refund = refund_of(order, {"id": "r1", "lines": [line()], "total": "100.00"})
    assert refund.fees == ()
    with pytest.raises(InconsistentOrder) as caught:
        refund_of(order, {"id": "r2", "fees": [TIP], "total": "25.00"})
    [error] = caught.value.errors
    assert error.message.startswith("lines 0.00 + shipping 0.00 + fees 20.00 = 20.00")


def test_a_full_credit_mirrors_the_invoice() -> None:
    order = make_order(
        [line(quantity="3", unit_price="0.02"), line("B", unit_price="0.02")],
        shipping={"name": "Brev", "price": "0.02", "vat_rate": "0.25"},
        discounts=["0.01"],
        gross=False,
    )
    booked = invoice(order)
    assert booked.rounding != 0  # the rounding line is credited too
    cancelled = full_credit_for(
        order,
        shop_name="Sokkeshoppen",
        text_template=TEMPLATE,
        plan=PLAN,
        language="da-DK",
        date=dt.date(2026, 12, 24),
    )
    assert cancelled.kind == "credit_note"
    assert cancelled.lines == booked.lines
    assert cancelled.totals == booked.totals
    assert cancelled.comment == "Annullering af ordre 1001"
    check_totals(cancelled, order.total)


def remaining(order: Order, refunds: Sequence[Refund]) -> DocumentDraft:
    return remaining_credit_for(
        order,
        refunds,
        shop_name="Sokkeshoppen",
        text_template=TEMPLATE,
        plan=PLAN,
        language="da-DK",
        date=dt.date(2026, 12, 24),
    )


def net_by_account(*drafts: DocumentDraft) -> dict[int, Decimal]:
    sums: dict[int, Decimal] = {}
    for draft in drafts:
        for li in draft.lines:
            amount = sandbox_line_total(li.amount, li.quantity, li.discount)
            sums[li.account] = sums.get(li.account, Q(0)) + amount
    return sums


def test_a_cancellation_after_refunds_credits_only_what_remains() -> None:
    order = make_order(
        [line(quantity="3", unit_price="33.33"), SERVICE], shipping=SHIPPING, discounts=["5.00"]
    )
    refunds = [
        refund_of(
            order,
            {"id": "r1", "lines": [line(quantity="1", unit_price="33.33")], "total": "33.33"},
        ),
        refund_of(order, {"id": "r2", "lines": [], "shipping": SHIPPING, "total": "39.00"}),
    ]
    rest = remaining(order, refunds)
    check_totals(rest, order.total - Q("72.33"))
    assert rest.comment == "Annullering af ordre 1001"
    assert any("Allerede krediteret (refusion r1)" in (li.description or "") for li in rest.lines)
    # Account by account, the refunds' credit notes and this one credit the order once.
    notes = [credit(order, refund) for refund in refunds]
    credited = net_by_account(rest, *notes)
    assert {a: v for a, v in credited.items() if v} == {
        a: v for a, v in net_by_account(invoice(order)).items() if v
    }
    # No refunds: the full credit, line for line.
    assert remaining(order, []).lines == invoice(order).lines
    with pytest.raises(AccountingError):
        remaining(order, [replace(refunds[0], total=order.total)])


@settings(max_examples=150, deadline=None)
@given(
    quantity=st.integers(min_value=2, max_value=9),
    price=st.decimals(min_value=Q("0.01"), max_value=Q("999.99"), places=2),
    refunded=st.integers(min_value=1, max_value=8),
    gross=st.booleans(),
)
def test_a_remainder_credit_always_totals_the_order_less_its_refunds(
    quantity: int, price: Decimal, refunded: int, gross: bool
) -> None:
    assume(refunded < quantity)
    order = make_order(
        [line(quantity=str(quantity), unit_price=str(price))], shipping=SHIPPING, gross=gross
    )
    refund_total = shop_total(
        [line(quantity=str(refunded), unit_price=str(price))], [], [], gross=gross
    )
    refund = refund_of(
        order,
        {
            "id": "r1",
            "lines": [line(quantity=str(refunded), unit_price=str(price))],
            "total": str(refund_total),
        },
    )
    rest = remaining(order, [refund])
    check_totals(rest, order.total - refund.total)
    assert abs(rest.rounding) <= ROUNDING_LIMIT


# --- allocation and the property that matters --------------------------------------------------


@given(
    st.integers(min_value=0, max_value=10**8),
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=6).filter(any),
)
def test_allocate_is_exact_and_fair(oere: int, weights: list[int]) -> None:
    amount = Q(oere).scaleb(-2)
    parts = allocate(amount, [Q(w) for w in weights])
    assert sum(parts, Q(0)) == amount
    for part, weight in zip(parts, weights, strict=True):
        share = Fraction(oere, 100) * weight / sum(weights)
        assert abs(Fraction(part) - share) < Fraction(1, 100)


def test_allocate_refuses_what_it_cannot_split() -> None:
    with pytest.raises(ValueError):
        allocate(Q("1.00"), [Q(0), Q(0)])
    with pytest.raises(ValueError):
        allocate(Q("1.005"), [Q(1)])


TREATMENTS = {
    Treatment.DOMESTIC: ("DK", None, ["0.25", "0"]),
    Treatment.EU_BUSINESS: ("DE", VALID_VAT["DE"], ["0"]),
    Treatment.EU_PRIVATE: ("SE", None, ["0.25", "0"]),
    Treatment.EXPORT: ("US", None, ["0"]),
}
ALLOWED = {
    Treatment.DOMESTIC: {1000, 1050, 1350},
    Treatment.EU_BUSINESS: {1100, 1200},
    Treatment.EU_PRIVATE: {1000, 1050, 1350},
    Treatment.EXPORT: {1255, 1260},
}


@st.composite
def orders(draw: st.DrawFn) -> tuple[Order, Treatment]:
    treatment = draw(st.sampled_from(list(TREATMENTS)))
    country, vat_number, rates = TREATMENTS[treatment]
    gross = draw(st.booleans())
    money = st.integers(min_value=0, max_value=200_000).map(lambda c: Q(c).scaleb(-2))
    lines = []
    for index in range(draw(st.integers(min_value=1, max_value=6))):
        quantity = Q(draw(st.integers(min_value=1, max_value=20_000))).scaleb(
            -draw(st.integers(min_value=0, max_value=3))
        )
        unit_price = Q(draw(st.integers(min_value=0, max_value=2_000_000))).scaleb(
            -draw(st.sampled_from([2, 2, 3, 4]))
        )
        subtotal = round_half_up(quantity * unit_price)
        discount = draw(st.sampled_from([Q(0), subtotal, draw(money).min(subtotal)]))
        lines.append(
            line(
                f"L{index}",
                str(quantity),
                str(unit_price),
                draw(st.sampled_from(rates)),
                str(discount),
                draw(st.sampled_from(["goods", "service"])),
            )
        )
    charges = []
    if draw(st.booleans()):
        charges.append({"name": "Fragt", "price": str(draw(money)), "vat_rate": rates[0]})
    for index in range(draw(st.integers(min_value=0, max_value=2))):
        rate = draw(st.sampled_from(rates))
        charges.append({"name": f"F{index}", "amount": str(draw(money)), "vat_rate": rate})
    room = sum((_amount(i) for i in lines), Q(0)) or sum((_amount(i) for i in charges), Q(0))
    discounts = []
    for _ in range(draw(st.integers(min_value=0, max_value=2))):
        amount = min(draw(money), room)
        discounts.append(amount)
        room -= amount
    shipping = next((c for c in charges if "price" in c), None)
    total = shop_total(lines, charges, discounts, gross=gross, per_line_vat=draw(st.booleans()))
    # Rounding VAT per line, a shop can land an øre below zero on a fully discounted order.
    assume(total >= 0)
    order = make_order(
        lines,
        shipping=shipping,
        fees=[c for c in charges if "amount" in c],
        discounts=[str(d) for d in discounts],
        country=country,
        vat_number=vat_number,
        gross=gross,
        total=total,
    )
    return order, treatment


@settings(max_examples=300, deadline=None)
@given(orders())
def test_every_valid_order_matches_its_total_to_the_oere(case: tuple[Order, Treatment]) -> None:
    order, treatment = case
    draft = invoice(order)

    check_totals(draft, order.total)
    assert draft.treatment is treatment
    assert set(accounts(draft)) - {PLAN.rounding} <= ALLOWED[treatment]
    assert abs(draft.rounding) <= ROUNDING_LIMIT
    rounding_lines = [li for li in draft.lines if li.description == "Øreafrunding"]
    assert len(rounding_lines) == (1 if draft.rounding else 0)
    if order.prices_include_vat:
        assert draft.rounding == 0
    for li in draft.lines:
        assert li.kind == "product" and li.unit and li.description
        assert 0 <= li.discount <= 100

    refund_lines = [
        line(li.name, str(li.quantity), str(li.unit_price), str(li.vat_rate), "0", li.kind)
        for li in order.lines[:1]
    ]
    amount = _amount(refund_lines[0])
    if amount:
        total = shop_total(refund_lines, [], [], gross=order.prices_include_vat)
        refund = refund_of(order, {"id": "r", "lines": refund_lines, "total": str(total)})
        check_totals(credit(order, refund), total)
