"""The sandbox's totals rule (see `sandbox.money`'s docstring)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sandbox.money import PricedLine, document_totals, gross_of, line_total, net_of, round_half_up

D = Decimal
U25 = D("0.25")
ZERO_RATE = D("0")


def test_round_half_up_rounds_halves_away_from_zero() -> None:
    assert round_half_up(D("0.125")) == D("0.13")
    assert round_half_up(D("0.135")) == D("0.14")  # not banker's rounding
    assert round_half_up(D("-0.125")) == D("-0.13")
    assert round_half_up(D("2.675")) == D("2.68")  # a float would say 2.67


def test_line_total_applies_quantity_and_percent_discount_then_rounds() -> None:
    assert line_total(D("100"), D("1"), D("12.5")) == D("87.50")
    assert line_total(D("19.99"), D("3"), D("0")) == D("59.97")
    assert line_total(D("0.333"), D("1"), D("0")) == D("0.33")
    assert line_total(D("10.05"), D("1"), D("50")) == D("5.03")  # 5.025 rounds up


def test_net_lines_get_vat_once_per_document_and_rate() -> None:
    # Three lines of 0.10 at 25 %: per line VAT would be 3 × 0.03 = 0.09; the rule says
    # round(0.30 × 0.25) = 0.08.
    totals = document_totals([PricedLine(D("0.10"), U25)] * 3, lines_incl_vat=False)
    assert (totals.excl_vat, totals.vat, totals.incl_vat) == (D("0.30"), D("0.08"), D("0.38"))


def test_gross_lines_keep_the_gross_total_and_take_vat_out_per_rate() -> None:
    lines = [PricedLine(D("299.85"), U25), PricedLine(D("39.00"), U25)]
    totals = document_totals(lines, lines_incl_vat=True)
    assert totals.incl_vat == D("338.85")
    assert totals.vat == D("67.77")  # 338.85 × 0.25 / 1.25 = 67.77
    assert totals.excl_vat == D("271.08")
    assert totals.vatable == D("271.08")
    assert totals.non_vatable == D("0.00")


def test_zero_rate_lines_are_non_vatable() -> None:
    lines = [PricedLine(D("100.00"), U25), PricedLine(D("50.00"), ZERO_RATE)]
    totals = document_totals(lines, lines_incl_vat=False)
    assert totals.vatable == D("100.00")
    assert totals.non_vatable == D("50.00")
    assert totals.vat == D("25.00")
    assert totals.incl_vat == D("175.00")
    assert totals.vat_by_rate == {U25: D("25.00"), ZERO_RATE: D("0.00")}


def test_an_empty_document_totals_zero() -> None:
    totals = document_totals([], lines_incl_vat=False)
    assert (totals.excl_vat, totals.vat, totals.incl_vat) == (D("0.00"),) * 3


def test_display_conversions_round_to_the_ore() -> None:
    assert gross_of(D("79.96"), U25) == D("99.95")
    assert net_of(D("99.95"), U25) == D("79.96")
    assert net_of(D("39"), ZERO_RATE) == D("39.00")


_amounts = st.decimals(min_value=D("-10000"), max_value=D("10000"), places=2)
_rates = st.sampled_from([U25, ZERO_RATE, D("0.12")])
_entered_lines = st.lists(
    st.tuples(
        _amounts,
        st.decimals(min_value=D("0"), max_value=D("50"), places=3),
        st.decimals(min_value=D("0"), max_value=D("100"), places=1),
        _rates,
    ),
    max_size=12,
)


def _priced(lines: list[tuple[Decimal, Decimal, Decimal, Decimal]]) -> list[PricedLine]:
    return [PricedLine(line_total(base, qty, disc), rate) for base, qty, disc, rate in lines]


@given(_entered_lines)
def test_with_lines_incl_vat_the_total_is_the_sum_of_the_rounded_gross_lines(
    lines: list[tuple[Decimal, Decimal, Decimal, Decimal]],
) -> None:
    priced = _priced(lines)
    totals = document_totals(priced, lines_incl_vat=True)
    assert totals.incl_vat == sum((line.total for line in priced), D("0.00"))
    assert totals.excl_vat + totals.vat == totals.incl_vat
    assert totals.vatable + totals.non_vatable == totals.excl_vat


@given(_entered_lines, st.booleans())
def test_totals_are_whole_ore_and_add_up(
    lines: list[tuple[Decimal, Decimal, Decimal, Decimal]], lines_incl_vat: bool
) -> None:
    totals = document_totals(_priced(lines), lines_incl_vat=lines_incl_vat)
    for amount in (totals.excl_vat, totals.vat, totals.incl_vat):
        assert amount == amount.quantize(D("0.01"))
    assert totals.excl_vat + totals.vat == totals.incl_vat
    assert totals.vat == sum(totals.vat_by_rate.values(), D("0.00"))
    for rate, vat in totals.vat_by_rate.items():
        assert rate > 0 or vat == 0
