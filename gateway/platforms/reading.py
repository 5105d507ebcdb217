"""Reading a shop platform's JSON field by field, with every problem kept under its JSON
pointer into the platform's own document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from gateway.orders import FieldError

_ZERO = Decimal("0.00")


@dataclass
class Reader:
    """Reads values out of one platform document, collecting problems in `errors`."""

    errors: list[FieldError] = field(default_factory=list)

    def error(self, pointer: str, message: str) -> None:
        problem = FieldError(pointer, message)
        if problem not in self.errors:  # one field read twice is one problem
            self.errors.append(problem)

    def decimal(self, value: Any, pointer: str) -> Decimal:
        """A decimal amount (a string or a number); 0 (with an error) when unreadable."""
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            self.error(pointer, "must be a decimal amount")
            return _ZERO
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.error(pointer, f"{value!r} is not a decimal amount")
            return _ZERO
        if not number.is_finite():
            self.error(pointer, f"{value!r} is not a decimal amount")
            return _ZERO
        return number

    def time(self, value: Any, pointer: str, *, naive_is_utc: bool = False) -> dt.datetime | None:
        """An ISO 8601 time in UTC; None (with an error) when unreadable. A time without an
        offset is refused, unless the platform documents the field as UTC (`naive_is_utc`)."""
        if not isinstance(value, str):
            self.error(pointer, "must be a time such as 2026-11-24T10:00:00+01:00")
            return None
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None and naive_is_utc:
            parsed = parsed.replace(tzinfo=dt.UTC)
        if parsed is None or parsed.tzinfo is None:
            self.error(pointer, f"{value!r} is not a time with an offset")
            return None
        return parsed.astimezone(dt.UTC)


def objects(parent: Mapping[str, Any], name: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The objects in the list `parent[name]` with their indexes (a missing list is empty)."""
    items = parent.get(name)
    if not isinstance(items, Sequence) or isinstance(items, str):
        return
    for index, item in enumerate(items):
        if isinstance(item, Mapping):
            yield index, item


def text(value: Any) -> str | None:
    """A non-blank string, stripped, or None."""
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def stamp(instant: dt.datetime) -> str:
    """RFC 3339 in UTC, as the canonical body writes times."""
    return instant.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def time_text(
    value: Any, pointer: str, reader: Reader, *, naive_is_utc: bool = False
) -> str | None:
    if value is None:
        return None
    parsed = reader.time(value, pointer, naive_is_utc=naive_is_utc)
    return None if parsed is None else stamp(parsed)


def strings(values: Any) -> list[str]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        return []
    return [value for value in values if isinstance(value, str)]
