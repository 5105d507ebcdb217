"""Dinero's list query parameters: `queryFilter`, `fields`, `page`/`pageSize`, `changesSince`.

`queryFilter` is `Field eq 'value'` or `Field contains 'value'`; several conditions are joined
by `;` and must all hold, and a `'` inside a value is written `''`. Values match
case-insensitively; field names and operators are taken in any case too (Dinero binds input
case-insensitively). A bare term, an unknown operator or a field outside the endpoint's
filterable set is an error.

`fields` picks the properties of each listed item; each comes back spelled the way it was
asked for (Dinero: "the property name will be returned the way you request it").

Every malformed parameter raises `QueryError`, which the API answers with 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

Operator = Literal["eq", "contains"]

_FIELD_AND_OPERATOR = re.compile(r"\s*([A-Za-z]+)\s+([A-Za-z]+)\s+'")
MAX_PAGE_SIZE = 1000
T = TypeVar("T")


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: str  # canonical spelling, from the endpoint's filterable set
    operator: Operator
    value: str

    def holds(self, actual: str | None) -> bool:
        if actual is None:
            return False
        wanted, actual = self.value.casefold(), actual.casefold()
        return actual == wanted if self.operator == "eq" else wanted in actual


def parse(text: str, filterable: Collection[str]) -> list[Condition]:
    """The conditions of a `queryFilter`; empty (or only blanks) means no filtering."""
    canonical = {name.lower(): name for name in filterable}
    conditions: list[Condition] = []
    position = 0
    if not text.strip():
        return conditions
    while True:
        match = _FIELD_AND_OPERATOR.match(text, position)
        if match is None:
            expected = "expected <Field> eq|contains '<value>'"
            raise QueryError(f"Invalid queryFilter near {text[position:]!r}: {expected}")
        name, operator = match.group(1), match.group(2).lower()
        field = canonical.get(name.lower())
        if field is None:
            allowed = ", ".join(sorted(filterable))
            raise QueryError(f"Field {name!r} cannot be filtered on. Filterable: {allowed}")
        if operator not in ("eq", "contains"):
            raise QueryError(f"Unknown operator {operator!r}: use eq or contains")
        value, position = _quoted_value(text, match.end())
        conditions.append(Condition(field, "eq" if operator == "eq" else "contains", value))
        rest = text[position:].lstrip()
        if not rest:
            return conditions
        if not rest.startswith(";"):
            raise QueryError(f"Invalid queryFilter near {rest!r}: conditions are joined by ;")
        position = len(text) - len(rest) + 1


def _quoted_value(text: str, start: int) -> tuple[str, int]:
    """The value after an opening quote at `start - 1`, and the position after its closing one."""
    chars: list[str] = []
    position = start
    while position < len(text):
        char = text[position]
        if char == "'":
            if text.startswith("''", position):
                chars.append("'")
                position += 2
                continue
            return "".join(chars), position + 1
        chars.append(char)
        position += 1
    raise QueryError("Invalid queryFilter: a value is missing its closing quote")


def matches(conditions: Collection[Condition], value_of: Callable[[str], str | None]) -> bool:
    """Whether a record satisfies every condition; `value_of` gives a field's text."""
    return all(condition.holds(value_of(condition.field)) for condition in conditions)


def select_fields(
    text: str | None, *, default: str, available: Collection[str]
) -> list[tuple[str, str]]:
    """The `fields` asked for, as (spelling to answer with, canonical property) pairs."""
    canonical = {name.lower(): name for name in available}
    chosen: list[tuple[str, str]] = []
    for requested in (text if text and text.strip() else default).split(","):
        name = requested.strip()
        if not name:
            continue
        found = canonical.get(name.lower())
        if found is None:
            raise QueryError(f"Unknown field {name!r} in fields.")
        chosen.append((name, found))
    return chosen


def project(item: Mapping[str, Any], fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {spelling: item[name] for spelling, name in fields}


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @classmethod
    def parse(cls, params: Mapping[str, str], *, default_size: int = 100) -> Page:
        number = _integer(params, "page", 0)
        size = _integer(params, "pageSize", default_size)
        if number < 0:
            raise QueryError("page must be 0 or more.")
        if not 0 < size <= MAX_PAGE_SIZE:
            raise QueryError(f"pageSize must be between 1 and {MAX_PAGE_SIZE}.")
        return cls(number, size)

    def cut(self, items: Sequence[T]) -> tuple[list[T], dict[str, int]]:
        """This page of `items`, and Dinero's `Pagination` object for it."""
        start = self.number * self.size
        chosen = list(items[start : start + self.size])
        return chosen, {
            "MaxPageSizeAllowed": MAX_PAGE_SIZE,
            "PageSize": self.size,
            "Result": len(chosen),
            "ResultWithoutFilter": len(items),
            "Page": self.number,
        }


def _integer(params: Mapping[str, str], name: str, default: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise QueryError(f"{name} must be a whole number.") from None


def changes_since(text: str | None) -> datetime | None:
    """`changesSince`, which Dinero wants as UTC in the format `YYYY-MM-DDTHH:mm:ssZ`."""
    if not text:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise QueryError("changesSince must be UTC in the format YYYY-MM-DDTHH:mm:ssZ.") from None


def boolean(params: Mapping[str, str], name: str) -> bool:
    text = params.get(name, "").strip().lower()
    if text in ("", "false"):
        return False
    if text == "true":
        return True
    raise QueryError(f"{name} must be true or false.")


@dataclass(frozen=True)
class ListQuery:
    """The parameters every Dinero list endpoint shares."""

    conditions: list[Condition]
    fields: list[tuple[str, str]]
    page: Page
    changes_since: datetime | None
    deleted_only: bool

    @classmethod
    def parse(
        cls,
        params: Mapping[str, str],
        *,
        filterable: Collection[str],
        default_fields: str,
        available_fields: Collection[str],
    ) -> ListQuery:
        return cls(
            conditions=parse(params.get("queryFilter", ""), filterable),
            fields=select_fields(
                params.get("fields"), default=default_fields, available=available_fields
            ),
            page=Page.parse(params),
            changes_since=changes_since(params.get("changesSince")),
            deleted_only=boolean(params, "deletedOnly"),
        )

    def answer(self, models: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Dinero's `{"Collection", "Pagination"}` for this page of the models, which are
        already filtered."""
        collection, pagination = self.page.cut(models)
        return {
            "Collection": [project(model, self.fields) for model in collection],
            "Pagination": pagination,
        }
