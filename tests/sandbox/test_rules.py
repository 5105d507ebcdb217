"""Request-body rules (`rules.py`, bound by `binding.py`): binding, every violation at once,
strict JSON types."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from sandbox import rules
from sandbox.binding import Model
from sandbox.errors import DineroApiError
from tests.sandbox.books import line

D = Decimal


def bind_errors(model: Model, body: object) -> dict[str, str]:
    with pytest.raises(DineroApiError) as caught:
        rules.bind(model, body)
    assert caught.value.status == 400
    assert caught.value.code == 3
    return caught.value.validation_errors


def test_binding_is_case_insensitive_and_answers_canonical_names() -> None:
    data = rules.bind(
        rules.CONTACT_CREATE,
        {"name": "Acme", "COUNTRYKEY": "DK", "isperson": False, "IsMember": False, "useCvr": True},
    )
    assert data["Name"] == "Acme"
    assert data["CountryKey"] == "DK"
    assert data["UseCvr"] is True
    assert data["Email"] is None  # every property is present, absent ones as None


def test_every_violation_is_listed_in_one_error() -> None:
    errors = bind_errors(
        rules.INVOICE_CREATE,
        {
            "ExternalReference": "x" * 129,
            "Language": "de-DE",
            "Currency": "kroner",
            "Date": "24-11-2026",
            "Colour": "red",
            "ProductLines": [line(Quantity="2", Discount=D("101")), line(Unit=None), "text"],
        },
    )
    assert set(errors) == {
        "ExternalReference",
        "Language",
        "Currency",
        "Date",
        "Colour",
        "ProductLines[0].Quantity",
        "ProductLines[0].Discount",
        "ProductLines[1].Unit",
        "ProductLines[2]",
    }
    assert "128" in errors["ExternalReference"]
    assert "Unknown property" in errors["Colour"]


def test_required_and_non_nullable_properties() -> None:
    errors = bind_errors(rules.CONTACT_CREATE, {"Name": None, "CountryKey": "DK"})
    assert set(errors) == {"Name", "IsPerson", "IsMember", "UseCvr"}
    assert bind_errors(rules.INVOICE_CREATE, {}) == {"ProductLines": "ProductLines is required."}
    assert "ProductLines" in bind_errors(rules.INVOICE_CREATE, {"ProductLines": []})
    assert set(bind_errors(rules.BOOK, {"Timestamp": ""})) == {"Timestamp"}


def test_json_types_are_strict() -> None:
    errors = bind_errors(
        rules.PAYMENT_CREATE,
        {
            "Timestamp": "00000000020A5E01",
            "DepositAccountNumber": D("55000.5"),
            "RemainderIsFee": "false",
            "Description": "Betaling",
            "Amount": True,  # a bool is not a number, whatever Python thinks
        },
    )
    assert set(errors) == {"DepositAccountNumber", "RemainderIsFee", "Amount"}


def test_numbers_out_of_any_real_range_are_refused() -> None:
    errors = bind_errors(
        rules.INVOICE_CREATE, {"ProductLines": [line(BaseAmountValue=D("1E+400"))]}
    )
    assert set(errors) == {"ProductLines[0].BaseAmountValue"}


def test_payment_amounts_are_nonzero_whole_ore() -> None:
    base = {"Timestamp": "T", "DepositAccountNumber": 55000, "RemainderIsFee": False}
    base["Description"] = "Betaling"
    assert "Amount" in bind_errors(rules.PAYMENT_CREATE, {**base, "Amount": 0})
    assert "Amount" in bind_errors(rules.PAYMENT_CREATE, {**base, "Amount": D("1.005")})
    assert "Description" in bind_errors(
        rules.PAYMENT_CREATE, {**base, "Amount": 1, "Description": ""}
    )
    assert rules.bind(rules.PAYMENT_CREATE, {**base, "Amount": D("10.50")})["Amount"] == D("10.50")


def test_line_rules_normalise_unit_and_line_type() -> None:
    data = rules.bind(
        rules.INVOICE_CREATE,
        {
            "ProductLines": [
                line(Unit="PARTS", LineType="product"),
                line(LineType="Text", Unit=None),
            ]
        },
    )
    first, text = data["ProductLines"]
    assert (first["Unit"], first["LineType"]) == ("parts", "Product")
    assert text["LineType"] == "Text"
    assert data["ProductLines"][0]["AccountNumber"] == 1000
    assert "ProductLines[0].Description" in bind_errors(
        rules.INVOICE_CREATE, {"ProductLines": [line(Description=None)]}
    )


def test_credit_notes_have_no_payment_terms() -> None:
    errors = bind_errors(
        rules.CREDIT_NOTE_CREATE, {"ProductLines": [line()], "PaymentConditionType": "Netto"}
    )
    assert "PaymentConditionType" in errors
    assert "CreditNoteFor" in rules.CREDIT_NOTE_CREATE.props


def test_guids_are_parsed() -> None:
    guid = uuid4()
    data = rules.bind(rules.INVOICE_CREATE, {"Guid": str(guid).upper(), "ProductLines": [line()]})
    assert data["Guid"] == guid
    assert "Guid" in bind_errors(rules.INVOICE_CREATE, {"Guid": "42", "ProductLines": [line()]})
