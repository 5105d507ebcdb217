from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.orders import (
    MAX_PDF_BYTES,
    Discount,
    Event,
    FieldError,
    InconsistentOrder,
    InvalidEvent,
    Line,
    Shipping,
    discount_basis,
    parse_event,
    parse_order,
    parse_refund,
)
from gateway.orders.fields import load_object
from web.openapi import EXAMPLE_EVENT


def body(**changes: Any) -> dict[str, Any]:
    """DESIGN.md's example event; `changes` maps a slash path to a new value (None deletes)."""
    event: dict[str, Any] = copy.deepcopy(EXAMPLE_EVENT)
    for path, value in changes.items():
        *parents, last = path.split("/")
        target: Any = event
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is None:
            target.pop(last, None)
        else:
            target[last] = value
    return event


def raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def errors_of(data: bytes | str | dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as caught:
        parse_event(data)
    return {error.pointer: error.message for error in caught.value.errors}


REFUND = {
    "id": "r1",
    "lines": [
        {"name": "Sokker", "quantity": "1", "unit_price": "33.33", "vat_rate": "0.25"},
    ],
    "shipping": None,
    "total": "33.33",
}


def test_the_design_example_parses_into_typed_values() -> None:
    event = parse_event(raw(body()))

    assert isinstance(event, Event)
    assert event.type == "order.paid"
    assert event.occurred_at == dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
    order = event.order
    assert order.total == Decimal("128.99")
    assert order.customer.address.country == "DK"
    assert order.customer.display_name == "Karen Kunde"
    line = order.lines[0]
    assert (line.quantity, line.unit_price, line.vat_rate) == (
        Decimal(3),
        Decimal("33.33"),
        Decimal("0.25"),
    )
    assert line.amount == Decimal("99.99")
    assert order.shipping == Shipping("GLS pakkeshop", Decimal("39.00"), Decimal("0.25"))
    assert order.discounts == (Discount("JUL10", Decimal("10.00")),)
    assert order.payment is None and order.invoice is None and event.refund is None


def test_json_numbers_parse_exactly_as_decimals() -> None:
    text = raw(body()).decode()
    text = text.replace('"unit_price": "33.33"', '"unit_price": 0.1')
    text = text.replace('"quantity": "3"', '"quantity": 3')
    text = text.replace('"amount": "10.00"', '"amount": 0.30')
    text = text.replace('"total": "128.99"', '"total": 39.00')
    event = parse_event(text.encode())

    assert event.order.lines[0].unit_price == Decimal("0.1")
    assert str(event.order.lines[0].unit_price) == "0.1"
    assert event.order.lines[0].quantity == Decimal(3)
    assert str(event.order.total) == "39.00"
    assert str(event.order.discounts[0].amount) == "0.30"


def test_binary_floats_from_an_already_parsed_body_are_refused() -> None:
    event = body()
    event["order"]["lines"][0]["unit_price"] = 33.33
    errors = errors_of(event)
    assert list(errors) == ["/order/lines/0/unit_price"]
    assert "binary floating point" in errors["/order/lines/0/unit_price"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_field_errors(literal: str) -> None:
    text = raw(body()).decode().replace('"total": "128.99"', f'"total": {literal}')
    errors = errors_of(text.encode())
    assert list(errors) == ["/order/total"]
    assert literal in errors["/order/total"]


def test_every_invalid_field_is_listed_at_once_with_json_pointers() -> None:
    event = body(
        **{
            "type": "order.lost",
            "occurred_at": "2026-11-24T10:00:00",
            "order/currency": "KRONER",
            "order/customer/email": "karen-at-example",
            "order/customer/vat_number": "DE123456789",
            "order/customer/address/country": "XX",
            "order/lines/0/quantity": "abc",
            "order/lines/0/unit_price": "1.00001",
            "order/shipping/vat_rate": "1.5",
            "order/discounts/0/amount": "-1",
            "order/total": "128.999",
        }
    )
    event["order"]["fees"] = [{"name": "Gebyr", "amount": True, "vat_rate": "0.25"}, "junk"]
    del event["order"]["prices_include_vat"]

    errors = errors_of(raw(event))

    assert set(errors) == {
        "/type",
        "/occurred_at",
        "/order/currency",
        "/order/prices_include_vat",
        "/order/customer/email",
        "/order/customer/vat_number",
        "/order/customer/address/country",
        "/order/lines/0/quantity",
        "/order/lines/0/unit_price",
        "/order/shipping/vat_rate",
        "/order/fees/0/amount",
        "/order/fees/1",
        "/order/discounts/0/amount",
        "/order/total",
    }
    assert errors["/order/prices_include_vat"] == "is required"
    assert "at most 4 decimals" in errors["/order/lines/0/unit_price"]
    assert "at most 2 decimals" in errors["/order/total"]
    assert "ISO 4217" in errors["/order/currency"]
    assert "order.created" in errors["/type"]


def test_an_invalid_vat_number_is_reported_once_the_country_is_known() -> None:
    errors = errors_of(raw(body(**{"order/customer/vat_number": "DE123456789"})))
    assert list(errors) == ["/order/customer/vat_number"]
    assert "DE123456789" in errors["/order/customer/vat_number"]


def test_a_missing_object_is_one_error_not_one_per_field() -> None:
    event = body()
    del event["order"]["customer"]
    assert errors_of(raw(event)) == {"/order/customer": "is required"}
    assert errors_of(raw({"id": "e", "type": "order.paid", "occurred_at": "x"})) == {
        "/occurred_at": errors_of(raw(body(occurred_at="x")))["/occurred_at"],
        "/order": "is required",
    }


def test_unknown_fields_are_ignored() -> None:
    event = body(**{"order/channel": "pos", "order/lines/0/colour": "red", "extra": {"a": 1}})
    assert parse_event(raw(event)).order.lines[0].name == "Sokker"


@pytest.mark.parametrize("content", [b"", b"{", b"[]", b'"order"', b"\xff\xfe\x00"])
def test_a_body_that_is_not_a_json_object_is_one_error(content: bytes) -> None:
    assert list(errors_of(content)) == [""]


_TEXT = json.dumps(EXAMPLE_EVENT)


@pytest.mark.parametrize(
    "content",
    [
        _TEXT,
        "\ufeff" + _TEXT,
        _TEXT.encode(),
        _TEXT.encode("utf-8-sig"),
        _TEXT.encode("utf-16"),
        _TEXT.encode("utf-32-le"),
        b'{"id": "\\ud800", "total": 1.50}',
        b"\xff\xfe\x00",
        b"{\xe6}",
    ],
)
def test_a_body_is_read_as_json_loads_reads_it(content: str | bytes) -> None:
    try:
        expected = json.loads(content, parse_float=Decimal)
    except ValueError as exc:
        assert errors_of(content) == {"": f"the body is not valid JSON: {exc}"}
    else:
        assert load_object(content) == expected


@pytest.mark.parametrize(
    ("field", "value", "ok"),
    [
        ("quantity", "0.125", True),
        ("quantity", "0.1255", False),
        ("quantity", "0", False),
        ("quantity", "-1", False),
        ("unit_price", "0.1996", True),
        ("unit_price", "0.19961", False),
        ("unit_price", "-1.00", False),
        ("unit_price", "1e2", False),
        ("unit_price", " 12.50 ", True),
        ("vat_rate", "0.255", True),
        ("vat_rate", "25", False),
        ("discount", "0.001", False),
    ],
)
def test_decimal_places_and_ranges(field: str, value: str, ok: bool) -> None:
    event = body(**{f"order/lines/0/{field}": value})
    try:
        parse_event(raw(event))
        errors = []
    except InconsistentOrder as exc:  # a valid field, but the amounts no longer add up
        errors = [error.pointer for error in exc.errors]
        assert errors in (["/order/total"], ["/order/discounts"])
    except InvalidEvent as exc:
        errors = [error.pointer for error in exc.errors]
    assert (f"/order/lines/0/{field}" not in errors) is ok
    assert len(errors) <= 1


@pytest.mark.parametrize("literal", ["1e999999999", "-1e999999999", "1e-999999999"])
def test_extreme_exponents_are_refused_cleanly(literal: str) -> None:
    text = raw(body()).decode().replace('"total": "128.99"', f'"total": {literal}')
    assert list(errors_of(text.encode())) == ["/order/total"]


def test_money_is_kept_to_the_oere() -> None:
    event = body(**{"order/shipping/price": 39, "order/total": "128.99"})
    assert str(parse_event(raw(event)).order.shipping.price) == "39.00"  # type: ignore[union-attr]


def test_a_line_amount_is_rounded_half_up_to_the_oere() -> None:
    line = Line(
        None, "Garn", Decimal("1.5"), Decimal("0.0333"), Decimal("0.25"), Decimal(0), "goods"
    )
    assert line.subtotal == Decimal("0.05")  # 0.04995
    line = Line(
        None, "Garn", Decimal(3), Decimal("0.335"), Decimal("0.25"), Decimal("0.01"), "goods"
    )
    assert line.amount == Decimal("1.00")  # 1.005 → 1.01, less the discount


def test_a_line_discount_cannot_exceed_the_line() -> None:
    errors = errors_of(raw(body(**{"order/lines/0/discount": "100.00"})))
    assert errors == {"/order/lines/0/discount": "100.00 is more than the line's 99.99"}


def test_times_need_an_offset_and_become_utc() -> None:
    event = parse_event(raw(body(occurred_at="2026-11-24T11:00:00.5+01:00")))
    assert event.occurred_at == dt.datetime(2026, 11, 24, 10, 0, 0, 500000, tzinfo=dt.UTC)
    assert event.occurred_at.utcoffset() == dt.timedelta(0)
    for bad in ["2026-11-24", "2026-11-24T10:00:00", "2026-13-24T10:00:00Z", 1764000000]:
        assert list(errors_of(raw(body(occurred_at=bad)))) == ["/occurred_at"]


def test_codes_are_normalised_to_upper_case_and_checked() -> None:
    event = body(**{"order/currency": "dkk", "order/customer/address/country": "dk"})
    order = parse_event(raw(event)).order
    assert (order.currency, order.customer.address.country) == ("DKK", "DK")
    assert list(errors_of(raw(body(**{"order/currency": "XYZ"})))) == ["/order/currency"]


@pytest.mark.parametrize(
    ("country", "given", "normalised"),
    [
        ("DK", "25 31 37 63", "DK25313763"),
        ("DK", "dk25313763", "DK25313763"),
        ("DE", "DE 136.695.976", "DE136695976"),
        ("DE", "136695976", "DE136695976"),
        ("GR", "094259216", "EL094259216"),
        ("GR", "GR094259216", "EL094259216"),
        ("AT", "U13585627", "ATU13585627"),
        ("NO", "NO 123 456 789 MVA", "NO123456789MVA"),  # outside the EU: not checkable
        ("US", "DE136695976", "DE136695976"),  # an EU number is checked wherever the address
    ],
)
def test_vat_numbers_are_normalised(country: str, given: str, normalised: str) -> None:
    event = body(**{"order/customer/address/country": country, "order/customer/vat_number": given})
    assert parse_event(raw(event)).order.customer.vat_number == normalised


@pytest.mark.parametrize(
    ("country", "given"), [("DK", "12345678"), ("DE", "DE12345678"), ("US", "FR123")]
)
def test_invalid_eu_vat_numbers_are_field_errors(country: str, given: str) -> None:
    event = body(**{"order/customer/address/country": country, "order/customer/vat_number": given})
    assert list(errors_of(raw(event))) == ["/order/customer/vat_number"]


def test_customer_fields() -> None:
    event = body(**{"order/customer/name": None, "order/customer/company": "Firma ApS"})
    assert parse_event(raw(event)).order.customer.display_name == "Firma ApS"

    event = body(**{"order/customer/name": ""})
    assert errors_of(raw(event)) == {"/order/customer/name": "a customer needs a name or a company"}
    assert list(errors_of(raw(body(**{"order/customer/ean": "12345"})))) == ["/order/customer/ean"]
    event = body(**{"order/customer/ean": "5790000123457", "order/customer/email": None})
    customer = parse_event(raw(event)).order.customer
    assert (customer.ean, customer.email) == ("5790000123457", None)


def test_ids_may_be_json_integers() -> None:
    event = parse_event(raw(body(**{"order/id": 1001, "order/number": 7})))
    assert (event.order.id, event.order.number) == ("1001", "7")
    assert list(errors_of(raw(body(**{"order/id": True})))) == ["/order/id"]


def test_an_order_needs_lines() -> None:
    assert errors_of(raw(body(**{"order/lines": []}))) == {
        "/order/lines": "must have at least one line"
    }


def test_kind_defaults_to_goods_and_must_be_known() -> None:
    event = body()
    del event["order"]["lines"][0]["kind"]
    assert parse_event(raw(event)).order.lines[0].kind == "goods"
    assert list(errors_of(raw(body(**{"order/lines/0/kind": "gift"})))) == ["/order/lines/0/kind"]


def test_the_total_must_add_up_and_the_error_shows_the_difference() -> None:
    with pytest.raises(InconsistentOrder) as caught:
        parse_event(raw(body(**{"order/total": "129.00"})))
    assert caught.value.errors == [
        FieldError(
            "/order/total",
            "lines 99.99 + shipping 39.00 + fees 0.00 − discounts 10.00 = 128.99, "
            "but the total is 129.00: a difference of 0.01",
        )
    ]
    assert isinstance(caught.value, InvalidEvent)  # one 422 path for the caller


def net_body(total: str, **changes: Any) -> dict[str, Any]:
    event = body(
        **{
            "order/prices_include_vat": False,
            "order/lines/0/unit_price": "10.01",  # 3 × 10.01 = 30.03, VAT 7.5075
            "order/shipping/price": "10.01",  # VAT 2.5025
            "order/discounts": [],
            "order/total": total,
            **changes,
        }
    )
    return event


def test_discounts_may_not_exceed_what_they_apply_to() -> None:
    with pytest.raises(InconsistentOrder) as caught:
        parse_event(raw(body(**{"order/discounts/0/amount": "100.00", "order/total": "38.99"})))
    assert caught.value.errors == [
        FieldError(
            "/order/discounts",
            "the discounts (100.00) exceed what they apply to, the lines (99.99)",
        )
    ]
    free = {"order/lines/0/unit_price": "0", "order/discounts/0/amount": "39.01"}
    with pytest.raises(InconsistentOrder) as caught:
        parse_event(raw(body(**free, **{"order/total": "0.00"})))
    assert "shipping and fees (39.00)" in caught.value.errors[0].message


@pytest.mark.parametrize("total", ["50.05", "50.06", "50.07"])
def test_net_pricing_accepts_either_way_of_rounding_vat(total: str) -> None:
    # 40.04 net; exact VAT 10.01, per line 7.51 + 2.50 = 10.01, per rate 10.01; the allowance
    # is an øre per VAT-bearing amount either side.
    assert parse_event(raw(net_body(total))).order.total == Decimal(total)


def test_net_pricing_refuses_a_total_beyond_vat_rounding() -> None:
    with pytest.raises(InconsistentOrder) as caught:
        parse_event(raw(net_body("50.10")))
    (error,) = caught.value.errors
    assert error.pointer == "/order/total"
    assert error.message == (
        "lines 30.03 + shipping 10.01 + fees 0.00 = 40.04 excl. VAT; with VAT 10.01 that is "
        "50.05, but the total is 50.10: a difference of 0.05 (VAT rounding explains at most 0.02)"
    )


def test_net_pricing_spreads_order_discounts_over_the_rates() -> None:
    event = net_body(
        "40.00",
        **{
            "order/lines/0/unit_price": "10.00",  # 30.00 at 25 %
            "order/lines": [
                {"name": "A", "quantity": "3", "unit_price": "10.00", "vat_rate": "0.25"},
                {"name": "Bog", "quantity": "1", "unit_price": "10.00", "vat_rate": "0"},
            ],
            "order/shipping": None,
            "order/discounts": [{"name": "R", "amount": "8.00"}],  # 6.00 at 25 %, 2.00 at 0
        },
    )
    # net 32.00, VAT (30 − 6) × 0.25 = 6.00 → 38.00; 40.00 is two øre-allowances off by far
    with pytest.raises(InconsistentOrder):
        parse_event(raw(event))
    event["order"]["total"] = "38.00"
    assert parse_event(raw(event)).order.total == Decimal("38.00")


def test_refunds() -> None:
    event = parse_event(raw(body(type="order.refunded", refund=REFUND)))
    assert event.refund is not None
    assert event.refund.total == Decimal("33.33")
    assert event.refund.lines[0].amount == Decimal("33.33")
    assert event.refund.shipping is None

    assert errors_of(raw(body(type="order.refunded"))) == {
        "/refund": "is required for order.refunded"
    }
    empty: dict[str, Any] = {"id": "r2", "lines": [], "shipping": None, "total": "1.00"}
    assert list(errors_of(raw(body(type="order.refunded", refund=empty)))) == ["/refund/lines"]
    zero = {**REFUND, "total": "0.00"}
    assert list(errors_of(raw(body(type="order.refunded", refund=zero)))) == ["/refund/total"]


def test_a_refund_may_pay_back_fees_of_their_kind() -> None:
    # Optional: a refund without `fees` is read as it always was (no fees).
    tip = {"name": "Tip", "amount": "10.00", "vat_rate": "0", "kind": "tip"}
    refund = {**REFUND, "fees": [tip], "total": "43.33"}
    event = parse_event(raw(body(type="order.refunded", refund=refund)))
    assert event.refund is not None
    [fee] = event.refund.fees
    assert (fee.kind, fee.amount, fee.vat_rate) == ("tip", Decimal("10.00"), Decimal(0))
    duties_only = {"id": "r2", "fees": [{**tip, "name": "Told", "kind": "duty"}], "total": "10.00"}
    assert parse_event(raw(body(type="order.refunded", refund=duties_only))).refund is not None
    odd = {**refund, "fees": [{**tip, "kind": "gift"}]}
    assert list(errors_of(raw(body(type="order.refunded", refund=odd)))) == ["/refund/fees/0/kind"]
    with pytest.raises(InconsistentOrder) as caught:
        parse_event(raw(body(type="order.refunded", refund={**refund, "total": "33.33"})))
    assert caught.value.errors[0].message.startswith("lines 33.33 + shipping 0.00 + fees 10.00")


def test_a_refund_must_add_up_and_stay_within_the_order() -> None:
    wrong = {**REFUND, "total": "33.00"}
    with pytest.raises(InconsistentOrder) as caught:
        parse_event(raw(body(type="order.refunded", refund=wrong)))
    assert [e.pointer for e in caught.value.errors] == ["/refund/total"]
    assert "difference of -0.33" in caught.value.errors[0].message

    big = {
        "id": "r3",
        "lines": [{"name": "X", "quantity": "10", "unit_price": "33.33", "vat_rate": "0.25"}],
        "shipping": {"name": "Fragt", "price": "39.00", "vat_rate": "0.25"},
        "total": "372.30",
    }
    with pytest.raises(InconsistentOrder) as caught:
        parse_event(raw(body(type="order.refunded", refund=big)))
    assert caught.value.errors == [
        FieldError("/refund/total", "372.30 exceeds the order total 128.99")
    ]


def test_settlement_objects_are_optional_and_typed() -> None:
    pdf = base64.b64encode(b"%PDF-1.7 ...").decode()
    event = body(
        **{
            "order/payment": {
                "method": "mobilepay",
                "amount": "128.99",
                "paid_at": "2026-11-24T09:59:00+00:00",
                "reference": "mp_123",
            },
            "order/invoice": {"number": "F-77", "pdf_base64": pdf},
        }
    )
    refund = {**REFUND, "payment": {"method": "card", "amount": "33.33"}}
    parsed = parse_event(raw({**event, "type": "order.refunded", "refund": refund}))
    order = parsed.order
    assert order.payment is not None and order.payment.method == "mobilepay"
    assert order.payment.amount == Decimal("128.99")
    assert order.invoice is not None and order.invoice.pdf_base64 == pdf
    assert "pdf_base64" not in repr(order.invoice)
    assert parsed.refund is not None and parsed.refund.payment is not None
    assert parsed.refund.payment.paid_at is None


@pytest.mark.parametrize(
    ("invoice", "pointer"),
    [
        ({"number": "F-1"}, "/order/invoice/pdf_url"),
        (
            {"number": "F-1", "pdf_url": "https://x/a.pdf", "pdf_base64": "QQ=="},
            "/order/invoice/pdf_url",
        ),
        ({"number": "F-1", "pdf_url": "ftp://shop.example/a.pdf"}, "/order/invoice/pdf_url"),
        ({"number": "F-1", "pdf_base64": "not base64!"}, "/order/invoice/pdf_base64"),
        ({"number": "F-1", "pdf_base64": "QUJD\u00e6"}, "/order/invoice/pdf_base64"),
        ({"pdf_url": "https://shop.example/a.pdf"}, "/order/invoice/number"),
    ],
)
def test_a_shop_invoice_needs_a_number_and_exactly_one_pdf(
    invoice: dict[str, str], pointer: str
) -> None:
    assert list(errors_of(raw(body(**{"order/invoice": invoice})))) == [pointer]


def test_a_shop_invoice_pdf_must_fit_dinero() -> None:
    big = base64.b64encode(bytes(MAX_PDF_BYTES + 1)).decode()
    errors = errors_of(raw(body(**{"order/invoice": {"number": "F-1", "pdf_base64": big}})))
    assert list(errors) == ["/order/invoice/pdf_base64"]


def test_a_payment_needs_a_known_method_and_an_amount() -> None:
    errors = errors_of(raw(body(**{"order/payment": {"method": "cash"}})))
    assert set(errors) == {"/order/payment/method", "/order/payment/amount"}


def test_parse_order_and_parse_refund_read_stored_objects() -> None:
    stored = json.dumps(body()["order"])
    assert parse_order(stored) == parse_event(raw(body())).order
    with pytest.raises(InvalidEvent) as caught:
        parse_order(json.dumps({**body()["order"], "total": "x"}))
    assert [e.pointer for e in caught.value.errors] == ["/total"]

    refund = parse_refund(json.dumps(REFUND), prices_include_vat=True)
    assert refund.total == Decimal("33.33")
    with pytest.raises(InconsistentOrder):
        # excl. VAT, 33.33 would need about 8.33 of VAT on top
        parse_refund(json.dumps(REFUND), prices_include_vat=False)


def test_discount_basis_falls_back_to_shipping_and_fees() -> None:
    free = Line(None, "Gave", Decimal(1), Decimal(0), Decimal("0.25"), Decimal(0), "goods")
    paid = Line(None, "Bog", Decimal(1), Decimal(10), Decimal(0), Decimal(0), "goods")
    shipping = Shipping("Fragt", Decimal(39), Decimal("0.25"))
    assert discount_basis([free, paid], [shipping]) == (free, paid)
    assert discount_basis([free], [shipping]) == (shipping,)


@given(
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    st.booleans(),
)
def test_money_parses_the_same_from_a_string_or_a_json_number(
    amount: Decimal, as_number: bool
) -> None:
    event = copy.deepcopy(body(**{"order/lines/0/unit_price": "0", "order/discounts": []}))
    event["order"]["shipping"]["price"] = "0.00"
    event["order"]["fees"] = [{"name": "Gebyr", "amount": "AMOUNT", "vat_rate": "0.25"}]
    event["order"]["total"] = "AMOUNT"
    literal = format(amount, "f") if as_number else f'"{amount:f}"'
    text = raw(event).decode().replace('"AMOUNT"', literal)
    order = parse_event(text.encode()).order
    assert order.fees[0].amount == amount == order.total
