"""Dinero's list query parameters: `queryFilter`, `fields`, paging, `changesSince`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.queryfilter import (
    MAX_PAGE_SIZE,
    Condition,
    Page,
    QueryError,
    boolean,
    changes_since,
    matches,
    parse,
    project,
    select_fields,
)

CONTACT_FIELDS = ("ExternalReference", "Name", "Email", "VatNumber", "EanNumber", "IsPerson")


def test_one_condition_of_each_operator() -> None:
    assert parse("VatNumber eq '12345678'", CONTACT_FIELDS) == [
        Condition("VatNumber", "eq", "12345678")
    ]
    assert parse("Name contains 'AMINO'", CONTACT_FIELDS) == [
        Condition("Name", "contains", "AMINO")
    ]


def test_conditions_joined_by_semicolons_must_all_hold() -> None:
    conditions = parse("Name contains 'Acme' ; Email contains 'dk'", CONTACT_FIELDS)
    assert conditions == [
        Condition("Name", "contains", "Acme"),
        Condition("Email", "contains", "dk"),
    ]
    record = {"Name": "Acme ApS", "Email": "info@acme.dk"}
    assert matches(conditions, record.get)
    assert not matches(conditions, {**record, "Email": "info@acme.se"}.get)


def test_a_doubled_quote_is_a_quote_and_a_semicolon_inside_a_value_is_text() -> None:
    assert parse("Name eq 'O''Brien'", CONTACT_FIELDS)[0].value == "O'Brien"
    assert parse("Name eq 'a;b'", CONTACT_FIELDS)[0].value == "a;b"
    assert parse("Name eq ''''", CONTACT_FIELDS)[0].value == "'"
    assert parse("Name eq '';Email eq 'x'", CONTACT_FIELDS)[0].value == ""


def test_field_names_and_operators_bind_in_any_case() -> None:
    assert parse("vatnumber EQ '1'", CONTACT_FIELDS) == [Condition("VatNumber", "eq", "1")]


def test_values_match_case_insensitively_and_missing_values_never_match() -> None:
    assert Condition("Email", "eq", "INFO@Acme.DK").holds("info@acme.dk")
    assert Condition("Name", "contains", "acme").holds("ACME ApS")
    assert not Condition("Name", "eq", "acme").holds("ACME ApS")
    assert not Condition("Name", "eq", "").holds(None)


def test_empty_filter_means_no_filtering() -> None:
    assert parse("", CONTACT_FIELDS) == []
    assert parse("   ", CONTACT_FIELDS) == []
    assert matches([], lambda _: None)


@pytest.mark.parametrize(
    "text",
    [
        "AMINO",  # a bare term
        "Name 'x'",
        "Name eq x",  # value not quoted
        "Name like 'x'",  # unknown operator
        "Phone eq '1'",  # not filterable here
        "Name eq 'x",  # no closing quote
        "Name eq 'x' Email eq 'y'",  # not joined by ;
        "Name eq 'x';",  # an empty condition
        "Name eq 'O'Brien'",  # an undoubled quote
    ],
)
def test_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(QueryError):
        parse(text, CONTACT_FIELDS)


def test_unknown_field_error_names_the_filterable_ones() -> None:
    with pytest.raises(QueryError, match="Email"):
        parse("Street eq 'x'", CONTACT_FIELDS)


def test_fields_come_back_spelled_as_asked() -> None:
    available = ("ContactGuid", "Name", "Email")
    fields = select_fields("name, CONTACTGUID", default="Name", available=available)
    assert fields == [("name", "Name"), ("CONTACTGUID", "ContactGuid")]
    record = {"ContactGuid": "g", "Name": "n", "Email": "e"}
    assert project(record, fields) == {"name": "n", "CONTACTGUID": "g"}
    assert select_fields(None, default="name,contactGuid", available=available) == [
        ("name", "Name"),
        ("contactGuid", "ContactGuid"),
    ]
    with pytest.raises(QueryError, match="Nope"):
        select_fields("Name,Nope", default="Name", available=available)


def test_pages_are_zero_based_and_limited_to_a_thousand() -> None:
    page = Page.parse({"page": "1", "pageSize": "2"})
    items, pagination = page.cut(list(range(5)))
    assert items == [2, 3]
    assert pagination == {
        "MaxPageSizeAllowed": MAX_PAGE_SIZE,
        "PageSize": 2,
        "Result": 2,
        "ResultWithoutFilter": 5,
        "Page": 1,
    }
    assert Page.parse({}) == Page(0, 100)
    assert Page.parse({"pageSize": "1000"}).size == 1000
    for bad in ({"pageSize": "1001"}, {"pageSize": "0"}, {"page": "-1"}, {"page": "x"}):
        with pytest.raises(QueryError):
            Page.parse(bad)


def test_changes_since_wants_utc_seconds_with_z() -> None:
    assert changes_since("2015-08-18T06:36:22Z") == datetime(2015, 8, 18, 6, 36, 22, tzinfo=UTC)
    assert changes_since(None) is None
    with pytest.raises(QueryError):
        changes_since("2015-08-18")


def test_boolean_parameters() -> None:
    assert boolean({"deletedOnly": "True"}, "deletedOnly") is True
    assert boolean({}, "deletedOnly") is False
    with pytest.raises(QueryError):
        boolean({"deletedOnly": "yes"}, "deletedOnly")
