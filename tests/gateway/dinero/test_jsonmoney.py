import json
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dinero.jsonmoney import ObjectReader, ParseError, decimal_literal, dumps, loads

_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")

_decimals = st.decimals(
    allow_nan=False, allow_infinity=False, min_value=-(10**15), max_value=10**15
)
_money = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-(10**9), max_value=10**9
)
_scaled = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(-(10**20), 10**20),
    st.integers(-30, 30),
)


@given(_decimals | _money | _scaled)
def test_a_decimal_is_written_with_its_own_digits(value: Decimal) -> None:
    text = dumps([value]).decode()[1:-1]
    assert _JSON_NUMBER.fullmatch(text), text
    parsed = loads(text)
    assert parsed == value  # the same number, whatever Python type the reader picks
    if isinstance(parsed, Decimal):
        assert parsed.as_tuple() == Decimal(text).as_tuple()
        assert str(parsed) == str(Decimal(text))
    # Nothing is lost or rounded: the digits are the Decimal's own, in positional form.
    assert Decimal(text) == value
    assert text == format(value, "f")


def test_trailing_zeros_and_exponents_are_kept_exact() -> None:
    assert dumps({"A": Decimal("33.30")}) == b'{"A":33.30}'
    assert dumps([Decimal("1E+3"), Decimal("-0.00"), Decimal("1E-7")]) == b"[1000,-0.00,0.0000001]"
    # A value no binary float holds exactly still goes out as written.
    assert dumps([Decimal("0.1") + Decimal("0.2")]) == b"[0.3]"
    assert dumps([Decimal("12345678901234567890.123456789")]) == b"[12345678901234567890.123456789]"


def test_floats_and_non_numbers_are_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        dumps({"Amount": 0.1})  # type: ignore[dict-item]
    for value in (Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")):
        with pytest.raises(ValueError, match="not a JSON number"):
            decimal_literal(value)
    with pytest.raises(TypeError):
        dumps({1: "x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        dumps([b"bytes"])  # bytes pass as a Sequence[int] for the type checker
    with pytest.raises(TypeError):
        dumps([uuid.uuid4()])  # type: ignore[list-item]


_leaves = st.none() | st.booleans() | st.integers() | st.text()
_documents = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_documents)
def test_other_values_are_plain_json(document: Any) -> None:
    assert json.loads(dumps(document)) == document


def test_loads_reads_fractions_as_decimal() -> None:
    assert loads(b'{"A": 0.1, "B": 2, "C": 1e2}') == {
        "A": Decimal("0.1"),
        "B": 2,
        "C": Decimal("1E+2"),
    }


def test_reader_ignores_key_casing() -> None:
    for key in ("TotalInclVat", "totalInclVat", "totalinclvat", "TOTALINCLVAT"):
        assert ObjectReader({key: Decimal("1.25")}).decimal("TotalInclVat") == Decimal("1.25")


def test_reader_takes_money_as_number_integer_or_numeric_string() -> None:
    reader = ObjectReader(
        {"A": Decimal("1.10"), "B": 3, "C": "4.20", "D": True, "E": 1.5, "F": "x"}
    )
    assert reader.decimal("A") == Decimal("1.10")
    assert reader.decimal("B") == Decimal(3)
    assert reader.decimal("C") == Decimal("4.20")
    for name in ("D", "E", "F", "Missing"):
        with pytest.raises(ParseError, match=name):
            reader.decimal(name)


def test_reader_types_are_checked() -> None:
    reader = ObjectReader(
        {"Guid": "not-a-guid", "Number": "12.5", "Flag": "yes", "Date": "2026-13-01", "L": {}}
    )
    with pytest.raises(ParseError, match="Guid"):
        reader.uuid("Guid")
    with pytest.raises(ParseError, match="whole"):
        reader.integer("Number")
    with pytest.raises(ParseError, match="Flag"):
        reader.flag_or_none("Flag")
    with pytest.raises(ParseError, match="Date"):
        reader.date_or_none("Date")
    with pytest.raises(ParseError, match="not a list"):
        reader.items("L")
    assert reader.items("Absent") == []
    with pytest.raises(ParseError, match="object"):
        ObjectReader(["not", "an", "object"])
