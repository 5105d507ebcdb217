import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.dinero.query import Condition, contains, eq, query_filter

_CONDITION_HEAD = re.compile(r"([A-Za-z][A-Za-z0-9]*) (eq|contains) '")


def parse(text: str) -> list[tuple[str, str, str]]:
    """A reference reader of Dinero's syntax, written independently of the builder: quoted
    values with `''` for a quote, conditions separated by `;` outside quotes."""
    conditions = []
    position = 0
    while True:
        head = _CONDITION_HEAD.match(text, position)
        assert head is not None, f"no condition at {position} in {text!r}"
        position = head.end()
        value: list[str] = []
        while True:
            quote = text.index("'", position)
            value.append(text[position:quote])
            if text.startswith("''", quote):
                value.append("'")
                position = quote + 2
            else:
                position = quote + 1
                break
        conditions.append((head[1], head[2], "".join(value)))
        if position == len(text):
            return conditions
        assert text[position] == ";", f"junk after a condition in {text!r}"
        position += 1


def test_eq_quotes_the_value() -> None:
    assert query_filter(eq("VatNumber", "DK12345678")) == "VatNumber eq 'DK12345678'"


def test_a_quote_in_a_value_is_doubled() -> None:
    assert query_filter(eq("Email", "o'brien@example.dk")) == "Email eq 'o''brien@example.dk'"


def test_conditions_join_with_semicolons() -> None:
    text = query_filter(eq("Email", "a@b.dk"), contains("Name", "Acme"))
    assert text == "Email eq 'a@b.dk';Name contains 'Acme'"


def test_booleans_and_guids_are_written_as_dinero_reads_them() -> None:
    guid = uuid.UUID("3a315ad3-ddcc-419d-9fc5-219280ae4816")
    assert str(eq("IsPerson", True)) == "IsPerson eq 'true'"
    assert str(eq("ContactGuid", guid)) == f"ContactGuid eq '{guid}'"


@pytest.mark.parametrize(
    "field", ["", "Email eq 'x';Name", "Na me", "1Name", "Email'", "Name;", "Émail"]
)
def test_field_names_must_be_plain_identifiers(field: str) -> None:
    with pytest.raises(ValueError, match="field name"):
        eq(field, "x")


def test_unknown_operators_and_empty_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="operator"):
        Condition("Name", "like", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        query_filter()


_fields = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True)
_values = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["'", "''", "';Name eq '", "x' ", "a;b", " eq ", ""]
)


@given(st.lists(st.tuples(_fields, st.sampled_from(["eq", "contains"]), _values), min_size=1))
def test_every_value_round_trips_through_the_reference_reader(
    triples: list[tuple[str, str, str]],
) -> None:
    conditions = [eq(f, v) if op == "eq" else contains(f, v) for f, op, v in triples]
    assert parse(query_filter(*conditions)) == triples
