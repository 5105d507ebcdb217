"""Orders and refunds as manual voucher lines: accounts and VAT as on the invoice, the money
side balanced to the shop's total to the øre — by our own arithmetic and by the sandbox's
voucher code, which books them into postings."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.accounting import (
    NO_VAT_CODE,
    ROUNDING_LIMIT,
    AccountingError,
    AccountPlan,
    Language,
    NotDkk,
    Treatment,
    VoucherDraft,
    VoucherLine,
    cancellation_voucher,
    line_postings,
    refund_voucher,
    sale_voucher,
)
from gateway.accounting.voucher_amounts import line_vat, net_for_gross
from gateway.dinero import jsonmoney
from gateway.orders import Order, ShopInvoice, parse_refund, round_half_up
from sandbox import rules
from sandbox.chart import SALES_VAT_ACCOUNT, Chart
from sandbox.vouchers import Vouchers
from tenants.dinero import bodies
from tests.gateway.accounting.test_accounting import (
    ALLOWED,
    VALID_VAT,
    line,
    make_order,
    orders,
    shop_total,
)

Q = Decimal
PLAN = AccountPlan()
BANK = 55000
CLEARING = 55010
TEMPLATE = "{shop} — order {number}"
DAY = date(2026, 12, 1)


def common(language: Language = "da-DK", plan: AccountPlan = PLAN) -> dict[str, Any]:
    return {
        "shop_name": "Sokkeshoppen",
        "text_template": TEMPLATE,
        "plan": plan,
        "language": language,
    }


def sale(order: Order, account: int = BANK, **kwargs: Any) -> VoucherDraft:
    return sale_voucher(order, settlement_account=account, **{**common(), **kwargs})


def rate_of(settlement: int, plan: AccountPlan = PLAN) -> Callable[[int], Decimal]:
    return lambda account: Q(0) if account == settlement else plan.vat_rate_of(account)


def moved(voucher: VoucherDraft, plan: AccountPlan = PLAN) -> Decimal:
    """What our own arithmetic posts to the settlement account."""
    account = voucher.settlement_account
    total = Q("0.00")
    for li in voucher.lines:
        for number, amount in line_postings(li, rate_of(account, plan)):
            if number == account:
                total += amount
    return total


def sandbox_postings(voucher: VoucherDraft) -> dict[int | None, Decimal]:
    """The voucher as the sandbox books it: per account, debit positive."""
    store = Vouchers(
        Chart.standard(), now=lambda: datetime(2026, 12, 1, tzinfo=UTC), stamp=lambda: "01"
    )
    body = bodies.manual_voucher(voucher, file_guid=None, external_reference="dg-test").to_json()
    bound = rules.bind(rules.VOUCHER_CREATE, json.loads(jsonmoney.dumps(body), parse_float=Q))
    made = store.create(bound)
    postings: dict[int | None, Decimal] = {}
    for li in made.lines:
        for number, amount in li.postings():
            postings[number] = postings.get(number, Q("0.00")) + amount
    return postings


def check_balanced(voucher: VoucherDraft, expected: Decimal) -> dict[int | None, Decimal]:
    """Balanced, the settlement account moved by `expected` (credited for a reversal), in
    our arithmetic and the sandbox's, and every amount positive."""
    sign = -1 if voucher.reversing else 1
    assert voucher.total == expected
    assert moved(voucher) == sign * expected
    postings = sandbox_postings(voucher)
    assert sum(postings.values(), Q(0)) == 0
    assert postings.get(voucher.settlement_account, Q(0)) == sign * expected
    assert postings.get(SALES_VAT_ACCOUNT, Q(0)) == -sign * voucher.vat
    assert all(li.amount > 0 for li in voucher.lines)
    assert abs(voucher.rounding) <= ROUNDING_LIMIT
    return postings


def sales_lines(voucher: VoucherDraft) -> list[VoucherLine]:
    return [li for li in voucher.lines if not (li.description or "").startswith("Øreafrunding")]


# --- the example order ---------------------------------------------------------------------------


EXAMPLE = make_order(
    [line(quantity="3", unit_price="33.33")],
    shipping={"name": "GLS pakkeshop", "price": "39.00", "vat_rate": "0.25"},
    discounts=["10.00"],
)


def with_invoice(order: Order, number: str = "F-2026-0042") -> Order:
    return replace(order, invoice=ShopInvoice(number, "https://shop.example/f.pdf"))


def test_a_sale_debits_the_settlement_account_and_credits_each_sales_account_once() -> None:
    voucher = sale(with_invoice(EXAMPLE))

    assert voucher.kind == "sale" and not voucher.reversing
    assert [(li.account, li.balancing_account) for li in voucher.lines] == [
        (BANK, 1000),
        (BANK, 1350),
    ]
    # The order discount comes off the goods: 89.99 and 39.00 incl. VAT.
    assert [li.amount for li in voucher.lines] == [Q("71.99"), Q("31.20")]
    assert [li.balancing_account_vat_code for li in voucher.lines] == [None, None]
    assert [li.account_vat_code for li in voucher.lines] == [NO_VAT_CODE, NO_VAT_CODE]
    postings = check_balanced(voucher, Q("128.99"))
    assert postings[1000] == Q("-71.99") and postings[1350] == Q("-31.20")
    assert voucher.vat == Q("25.80") and voucher.rounding == 0
    assert voucher.date == date(2026, 11, 24)
    for li in voucher.lines:
        assert li.description == "Faktura F-2026-0042: Sokkeshoppen — order 1001"


def test_without_the_shops_invoice_the_text_names_the_order() -> None:
    voucher = sale(EXAMPLE)
    assert {li.description for li in voucher.lines} == {"Ordre 1001: Sokkeshoppen — order 1001"}
    english = sale(with_invoice(EXAMPLE, "INV-9"), language="en-GB")
    assert {li.description for li in english.lines} == {"Invoice INV-9: Sokkeshoppen — order 1001"}


def test_an_unreachable_gross_amount_gets_a_one_oere_rounding_line() -> None:
    # No net amount plus its 25 % (half-up) makes 100.02: 80.01 → 100.01, 80.02 → 100.03.
    order = make_order([line(unit_price="100.02")])
    voucher = sale(order)

    assert voucher.rounding == Q("0.01")
    product, rounding = voucher.lines
    assert (product.balancing_account, product.amount) == (1000, Q("80.01"))
    assert (rounding.account, rounding.balancing_account) == (BANK, PLAN.rounding)
    assert (rounding.amount, rounding.balancing_account_vat_code) == (Q("0.01"), NO_VAT_CODE)
    assert rounding.description == "Øreafrunding: Ordre 1001: Sokkeshoppen — order 1001"
    check_balanced(voucher, Q("100.02"))


def test_a_rounding_line_the_other_way_is_swapped_not_negative() -> None:
    # A net-priced order whose shop rounded VAT per line, higher than one line per account:
    # 3 × (0.02 + 0.005 → 0.03) = 0.09 charged, one line of 0.06 net carries 0.02 VAT.
    lines = [line(f"L{i}", unit_price="0.02") for i in range(3)]
    order = make_order(lines, gross=False, total=Q("0.09"))
    voucher = sale(order)

    assert voucher.rounding == Q("0.01")
    check_balanced(voucher, Q("0.09"))
    order = make_order(lines, gross=False, total=Q("0.07"))
    voucher = sale(order)
    assert voucher.rounding == Q("-0.01")
    *_, rounding = voucher.lines
    assert (rounding.account, rounding.balancing_account) == (PLAN.rounding, BANK)
    assert rounding.account_vat_code == NO_VAT_CODE
    check_balanced(voucher, Q("0.07"))


def test_vat_free_and_zero_rated_accounts() -> None:
    danish = sale(make_order([line("Bog", vat_rate="0"), line("Sokker")]))
    assert {li.balancing_account: li.balancing_account_vat_code for li in danish.lines} == {
        1050: NO_VAT_CODE,
        1000: None,
    }
    check_balanced(danish, Q("200.00"))

    eu = sale(make_order([line(vat_rate="0")], country="DE", vat_number=VALID_VAT["DE"]))
    assert eu.treatment is Treatment.EU_BUSINESS
    # The account's own code (UEUV) stays: it puts the sale in the right box of the VAT return.
    assert [(li.balancing_account, li.balancing_account_vat_code) for li in eu.lines] == [
        (1100, None)
    ]
    assert check_balanced(eu, Q("100.00")).get(SALES_VAT_ACCOUNT) is None

    export = sale(make_order([line(vat_rate="0", kind="service")], country="US"))
    assert [li.balancing_account for li in export.lines] == [1260]
    check_balanced(export, Q("100.00"))


def test_a_shops_own_accounts_are_used() -> None:
    plan = AccountPlan.with_overrides({"goods_dk": 1010, "shipping": 1000, "rounding": 1090})
    voucher = sale_voucher(
        make_order(
            [line(unit_price="100.02")],
            shipping={"name": "Fragt", "price": "10.00", "vat_rate": "0.25"},
        ),
        settlement_account=CLEARING,
        **common(plan=plan),
    )
    accounts = [(li.account, li.balancing_account) for li in voucher.lines]
    assert accounts == [(CLEARING, 1010), (CLEARING, 1000), (CLEARING, 1090)]
    assert moved(voucher, plan) == Q("110.02")


def test_a_gift_card_tip_and_duty_are_vat_free_lines_on_their_own_accounts() -> None:
    plan = AccountPlan.with_overrides({"gift_cards": 6800, "tips": 1070, "duties": 1080})
    order = make_order(
        [line("Gavekort", vat_rate="0", kind="gift_card"), line("Sokker")],
        fees=[
            {"name": "Tip", "amount": "20.00", "vat_rate": "0", "kind": "tip"},
            {"name": "Told", "amount": "30.00", "vat_rate": "0", "kind": "duty"},
        ],
    )
    voucher = sale_voucher(order, settlement_account=BANK, **common(plan=plan))
    codes = {li.balancing_account: li.balancing_account_vat_code for li in voucher.lines}
    assert codes == {6800: NO_VAT_CODE, 1000: None, 1070: NO_VAT_CODE, 1080: NO_VAT_CODE}
    assert moved(voucher, plan) == Q("250.00")


def test_only_dkk_orders_can_be_vouchers() -> None:
    with pytest.raises(NotDkk, match="EUR"):
        sale(make_order(currency="EUR"))


def test_a_wrong_vat_rate_is_the_invoices_error() -> None:
    with pytest.raises(AccountingError, match="reverse charge"):
        sale(make_order([line()], country="DE", vat_number=VALID_VAT["DE"]))


# --- reversals -----------------------------------------------------------------------------------


def refund_of(order: Order, raw: dict[str, Any]) -> Any:
    return parse_refund(raw, prices_include_vat=order.prices_include_vat)


def test_a_refund_swaps_the_sides_and_credits_the_settlement_account() -> None:
    order = with_invoice(EXAMPLE)
    refund = refund_of(
        order,
        {"id": "r1", "lines": [line(quantity="1", unit_price="33.33")], "total": "33.33"},
    )
    voucher = refund_voucher(order, refund, settlement_account=CLEARING, **common(), date=DAY)

    assert voucher.kind == "refund" and voucher.reversing
    [reversal] = voucher.lines
    assert (reversal.account, reversal.balancing_account) == (1000, CLEARING)
    assert (reversal.account_vat_code, reversal.balancing_account_vat_code) == (None, NO_VAT_CODE)
    assert reversal.amount == Q("26.66")  # + 6.67 VAT = 33.33
    assert reversal.description == "Refusion r1 af Faktura F-2026-0042: Sokkeshoppen — order 1001"
    postings = check_balanced(voucher, Q("33.33"))
    assert postings[1000] == Q("26.66") and postings[SALES_VAT_ACCOUNT] == Q("6.67")
    assert voucher.date == DAY


def test_a_tip_and_duties_paid_back_reverse_their_own_vat_free_accounts() -> None:
    plan = AccountPlan.with_overrides({"tips": 1070, "duties": 1080})
    tip = {"name": "Tip", "amount": "20.00", "vat_rate": "0", "kind": "tip"}
    duty = {"name": "Told", "amount": "30.00", "vat_rate": "0", "kind": "duty"}
    order = make_order([line("Sokker")], fees=[tip, duty])
    refund = refund_of(
        order, {"id": "r1", "lines": [line("Sokker")], "fees": [tip, duty], "total": "150.00"}
    )
    voucher = refund_voucher(
        order, refund, settlement_account=CLEARING, **common(plan=plan), date=DAY
    )
    codes = {li.account: li.account_vat_code for li in voucher.lines}
    assert codes == {1000: None, 1070: NO_VAT_CODE, 1080: NO_VAT_CODE}
    amounts = {li.account: li.amount for li in voucher.lines}
    assert amounts == {1000: Q("80.00"), 1070: Q("20.00"), 1080: Q("30.00")}
    assert moved(voucher, plan) == Q("-150.00")


def test_a_full_cancellation_mirrors_the_sale() -> None:
    order = with_invoice(EXAMPLE)
    sold = sale(order)
    reversed_ = cancellation_voucher(
        order, remaining=Q("128.99"), settlement_account=BANK, **common(), date=DAY
    )

    assert [(li.balancing_account, li.amount) for li in sold.lines] == [
        (li.account, li.amount) for li in reversed_.lines
    ]
    assert {li.balancing_account for li in reversed_.lines} == {BANK}
    postings = check_balanced(reversed_, Q("128.99"))
    assert postings[BANK] == Q("-128.99")
    assert reversed_.lines[0].description == (
        "Annullering af Faktura F-2026-0042: Sokkeshoppen — order 1001"
    )


def test_a_cancellation_after_refunds_reverses_what_remains_pro_rata() -> None:
    voucher = cancellation_voucher(
        EXAMPLE, remaining=Q("95.66"), settlement_account=BANK, **common(), date=DAY
    )

    postings = check_balanced(voucher, Q("95.66"))
    # 95.66 of 128.99 split as the accounts' amounts incl. VAT (89.99 and 39.00).
    socks, freight = sales_lines(voucher)
    assert socks.account == 1000 and freight.account == 1350
    rounding = postings.get(PLAN.rounding, Q(0))
    assert postings[1000] + postings[1350] + postings[SALES_VAT_ACCOUNT] + rounding == Q("95.66")
    assert postings[1000] > 2 * postings[1350]


@pytest.mark.parametrize("remaining", ["0", "-1.00", "129.00", "10.001"])
def test_a_cancellation_reverses_between_one_oere_and_the_total(remaining: str) -> None:
    with pytest.raises(AccountingError, match="cancellation"):
        cancellation_voucher(
            EXAMPLE, remaining=Q(remaining), settlement_account=BANK, **common(), date=DAY
        )


# --- the arithmetic ------------------------------------------------------------------------------


def test_line_vat_is_half_up_and_symmetric() -> None:
    assert line_vat(Q("0.02"), Q("0.25")) == Q("0.01")  # 0.005
    assert line_vat(Q("-0.02"), Q("0.25")) == Q("-0.01")
    assert line_vat(Q("80.01"), Q("0.25")) == Q("20.00")  # 20.0025
    assert line_vat(Q("5"), Q(0)) == Q("0.00")


def test_net_for_gross_is_exact_whenever_any_net_amount_is() -> None:
    rate = Q("0.25")
    reachable: dict[Decimal, Decimal] = {}
    for oere in range(0, 20_001):
        net = Q(oere).scaleb(-2)
        reachable.setdefault(net + line_vat(net, rate), net)
    for oere in range(0, 25_001):
        gross = Q(oere).scaleb(-2)
        net = net_for_gross(gross, rate)
        total = net + line_vat(net, rate)
        if gross in reachable:
            assert total == gross, gross
        else:
            assert total == gross - Q("0.01"), gross  # just below: a +1 øre rounding line
        assert net_for_gross(-gross, rate) == -net


def test_line_postings_refuse_codes_they_do_not_know() -> None:
    li = VoucherLine(amount=Q(1), account=BANK, balancing_account=1000, description="x")
    with pytest.raises(ValueError, match="I25"):
        line_postings(
            VoucherLine(
                amount=Q(1),
                account=2000,
                account_vat_code="I25",
                balancing_account=BANK,
                description="x",
            ),
            rate_of(BANK),
        )
    assert line_postings(li, rate_of(BANK)) == [
        (BANK, Q("1.25")),
        (1000, Q(-1)),
        (None, Q("-0.25")),
    ]


# --- every order -------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(orders(), st.integers(min_value=1, max_value=10_000))
def test_every_valid_order_balances_to_the_oere(case: tuple[Order, Treatment], share: int) -> None:
    order, treatment = case
    try:
        voucher = sale(order)
    except AccountingError as exc:
        assert "nothing to book" in str(exc) and order.total == 0
        return

    check_balanced(voucher, order.total)
    assert voucher.treatment is treatment
    assert {_sales_side(li)[0] for li in voucher.lines} - {PLAN.rounding} <= ALLOWED[treatment]
    # Money in: the settlement account is debited (a line may be swapped only for an amount
    # the order takes off, such as a negative rounding line).
    assert all(li.account == BANK for li in sales_lines(voucher) if li.amount > 0)
    if order.prices_include_vat:
        # Per account at most one unreachable øre.
        assert abs(voucher.rounding) <= Q("0.01") * len(voucher.amounts)
    _check_codes(voucher.lines)

    if order.total > 0:
        remaining = max(Q("0.01"), round_half_up(order.total * share / 10_000))
        reversal = cancellation_voucher(
            order, remaining=remaining, settlement_account=BANK, **common(), date=DAY
        )
        check_balanced(reversal, remaining)
        _check_codes(reversal.lines)

    first = order.lines[0]
    refund_line = line(
        first.name, str(first.quantity), str(first.unit_price), str(first.vat_rate), "0", first.kind
    )
    amount = round_half_up(first.quantity * first.unit_price)
    if amount:
        total = shop_total([refund_line], [], [], gross=order.prices_include_vat)
        refund = refund_of(order, {"id": "r", "lines": [refund_line], "total": str(total)})
        reversal = refund_voucher(order, refund, settlement_account=BANK, **common(), date=DAY)
        check_balanced(reversal, total)


def _sales_side(li: VoucherLine) -> tuple[int | None, str | None, str | None]:
    """(sales account, its VAT code, the settlement side's VAT code)."""
    if li.account == BANK:
        return li.balancing_account, li.balancing_account_vat_code, li.account_vat_code
    assert li.balancing_account == BANK
    return li.account, li.account_vat_code, li.balancing_account_vat_code


def _check_codes(lines: Sequence[VoucherLine]) -> None:
    for li in lines:
        sales, code, other = _sales_side(li)
        assert other == NO_VAT_CODE  # the money side never carries VAT
        assert code == (NO_VAT_CODE if sales in (PLAN.no_vat, PLAN.rounding) else None)
