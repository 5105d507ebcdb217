"""JSON for Dinero with money kept exact.

Request bodies are written by a small serializer that prints a `Decimal` with its own digits
(`Decimal("33.30")` is sent as `33.30`), so no amount ever passes through a binary float on our
side. A float anywhere in a body is refused: it means some amount was computed the wrong way.
Responses are read with every non-integer number as a `Decimal`, and each object through an
`ObjectReader` that ignores key casing: Dinero answers PascalCase, but a `fields=` list comes
back in the casing it was asked in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias
from uuid import UUID

JsonValue: TypeAlias = (
    "Mapping[str, JsonValue] | Sequence[JsonValue] | str | int | bool | Decimal | None"
)


def dumps(value: JsonValue) -> bytes:
    """Compact JSON bytes; `Decimal` exactly as written, `float` refused."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode("ascii")


def _write(value: object, out: list[str]) -> None:
    if value is None or isinstance(value, bool | int | str):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        out.append(decimal_literal(value))
    elif isinstance(value, float):
        raise TypeError("floats are not sent to Dinero: use Decimal for money")
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            out.append("," if index else "")
            out.append(json.dumps(key))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for index, item in enumerate(value):
            out.append("," if index else "")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def decimal_literal(value: Decimal) -> str:
    """A JSON number with exactly the Decimal's digits: positional, never an exponent."""
    if not value.is_finite():
        raise ValueError(f"{value} is not a JSON number")
    return format(value, "f")


def loads(content: bytes | str) -> Any:
    """Parse JSON with every number that has a fraction or exponent as a `Decimal`."""
    return json.loads(content, parse_float=Decimal)


class ParseError(ValueError):
    """A 2xx answer that does not have the shape the call returns."""


class ObjectReader:
    """One JSON object, read by property name in any casing (its keys are lower-cased once).

    Typed getters fail with `ParseError` on a wrong type; the `_or_none` ones accept `null` or
    absence. Money is `Decimal` from JSON numbers (already `Decimal` through `loads`), integers
    or numeric strings, never from a bool.
    """

    __slots__ = ("_data",)

    def __init__(self, data: object) -> None:
        if not isinstance(data, dict):
            raise ParseError(f"expected an object, got {type(data).__name__}")
        self._data = {str(key).lower(): value for key, value in data.items()}

    def _get(self, name: str) -> Any:
        return self._data.get(name.lower())

    def _required(self, name: str) -> Any:
        value = self._get(name)
        if value is None:
            raise ParseError(f"{name} is missing")
        return value

    def text(self, name: str) -> str:
        value = self._required(name)
        if not isinstance(value, str):
            raise ParseError(f"{name} is not a string")
        return value

    def text_or_none(self, name: str) -> str | None:
        return None if self._get(name) is None else self.text(name)

    def uuid(self, name: str) -> UUID:
        try:
            return UUID(self.text(name))
        except ValueError as exc:
            raise ParseError(f"{name} is not a guid") from exc

    def uuid_or_none(self, name: str) -> UUID | None:
        return None if self._get(name) is None else self.uuid(name)

    def decimal(self, name: str) -> Decimal:
        value = self._required(name)
        if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
            raise ParseError(f"{name} is not a number")
        try:
            number = Decimal(value)
        except InvalidOperation as exc:
            raise ParseError(f"{name} is not a number") from exc
        if not number.is_finite():
            raise ParseError(f"{name} is not a finite number")
        return number

    def decimal_or_none(self, name: str) -> Decimal | None:
        return None if self._get(name) is None else self.decimal(name)

    def integer(self, name: str) -> int:
        number = self.decimal(name)
        if number != number.to_integral_value():
            raise ParseError(f"{name} is not a whole number")
        return int(number)

    def integer_or_none(self, name: str) -> int | None:
        return None if self._get(name) is None else self.integer(name)

    def flag_or_none(self, name: str) -> bool | None:
        value = self._get(name)
        if value is None or isinstance(value, bool):
            return value
        raise ParseError(f"{name} is not a boolean")

    def date_or_none(self, name: str) -> dt.date | None:
        value = self.text_or_none(name)
        try:
            return None if value is None else dt.date.fromisoformat(value[:10])
        except ValueError as exc:
            raise ParseError(f"{name} is not a date") from exc

    def value(self, name: str) -> Any:
        return self._required(name)

    def items(self, name: str) -> list[Any]:
        """A list property (`null` or absent reads as empty), items left to their parser."""
        value = self._get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise ParseError(f"{name} is not a list")
        return value
