"""Reading an ingest body's JSON objects field by field.

Money stays `Decimal` from the first byte: the body is read with `parse_float=Decimal`, decimal
strings and JSON numbers are both accepted, and binary floats (from a caller's own `json.loads`)
and NaN/Infinity are refused.

Every problem is collected with its JSON pointer (RFC 6901), so one 422 can list them all.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from gateway.orders.model import MAX_MONEY, MONEY_PLACES, FieldError, InvalidEvent
from gateway.storable import unstorable

_DECIMAL_TEXT = re.compile(r"^[+-]?\d+(\.\d+)?$")
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_MISSING: Final = object()
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_OERE = Decimal("0.01")
_ZERO = Decimal("0.00")


class _NotANumber:
    """What NaN and Infinity parse to, so the field holding one gets the error."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def load_object(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The body as a JSON object; anything else is the body's only error."""
    if isinstance(raw, Mapping):
        return raw
    try:
        data = json.loads(raw, parse_float=Decimal, parse_constant=_NotANumber)
    except ValueError as exc:  # JSONDecodeError and bad UTF-8 are both ValueErrors
        raise InvalidEvent([FieldError("", f"the body is not valid JSON: {exc}")]) from None
    except RecursionError:  # arrays or objects nested deeper than the parser goes
        raise InvalidEvent([FieldError("", "the body is nested too deeply")]) from None
    if not isinstance(data, dict):
        raise InvalidEvent([FieldError("", "the body must be a JSON object")])
    return data


def _decimal_places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class Fields:
    """One JSON object at `pointer`. Every getter records a problem in `errors` and returns a
    placeholder instead of stopping, so a single pass finds every invalid field; the caller
    throws the half-built result away when `errors` is not empty."""

    def __init__(self, data: Mapping[str, Any], pointer: str, errors: list[FieldError]) -> None:
        self._data = data
        self._pointer = pointer
        self._errors = errors

    def _at(self, name: str) -> str:
        return f"{self._pointer}/{name.replace('~', '~0').replace('/', '~1')}"

    def error(self, name: str, message: str) -> None:
        self._errors.append(FieldError(self._at(name), message))

    def has(self, name: str) -> bool:
        return self._data.get(name) is not None

    def _value(self, name: str, *, required: bool) -> Any:
        value = self._data.get(name)
        if value is None:
            if required:
                self.error(name, "is required")
            return _MISSING
        return value

    def _string(self, name: str, *, required: bool, max_length: int) -> str | None:
        value = self._value(name, required=required)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.error(name, "must be a string")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.error(name, f"must be at most {max_length} characters")
        elif problem := unstorable(value):
            self.error(name, problem)
        if not value and required:
            self.error(name, "must not be empty")
        return value or None

    def text(self, name: str, *, max_length: int = 500) -> str:
        return self._string(name, required=True, max_length=max_length) or ""

    def text_or_none(self, name: str, *, max_length: int = 500) -> str | None:
        return self._string(name, required=False, max_length=max_length)

    def ident(self, name: str) -> str:
        """An id or number: a string, or a JSON integer, which many shops send."""
        value = self._data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self.text(name, max_length=100)

    def code(self, name: str, known: frozenset[str], what: str) -> str:
        value = self.text(name, max_length=10).upper()
        if value and value not in known:
            self.error(name, f"must be {what}")
        return value

    def choice(self, name: str, options: tuple[str, ...], *, default: str | None = None) -> str:
        value = self._value(name, required=default is None)
        if value is _MISSING:
            return default or options[0]
        if value not in options:
            self.error(name, f"must be one of {', '.join(options)}")
            return options[0]
        return str(value)

    def flag(self, name: str) -> bool:
        value = self._value(name, required=True)
        if value is not _MISSING and not isinstance(value, bool):
            self.error(name, "must be true or false")
        return value is True

    def decimal(
        self,
        name: str,
        *,
        places: int,
        minimum: Decimal,
        maximum: Decimal,
        default: Decimal | None = None,
    ) -> Decimal:
        value = self._value(name, required=default is None)
        if value is _MISSING:
            return default if default is not None else _ZERO
        number = self._number(name, value)
        if number is None:
            return _ZERO
        if _decimal_places(number) > places:
            self.error(name, f"must have at most {places} decimals")
        elif not minimum <= number <= maximum:
            self.error(name, f"must be between {minimum} and {maximum}")
        else:
            return number
        return _ZERO

    def money(self, name: str, *, minimum: Decimal, default: Decimal | None = None) -> Decimal:
        amount = self.decimal(
            name, places=MONEY_PLACES, minimum=minimum, maximum=MAX_MONEY, default=default
        )
        return amount.quantize(_OERE)

    def _number(self, name: str, value: object) -> Decimal | None:
        if isinstance(value, _NotANumber):
            self.error(name, f"must be a finite number, not {value.literal}")
        elif isinstance(value, float):
            self.error(name, "binary floating point is refused: send a decimal string")
        elif isinstance(value, bool):
            self.error(name, "must be a decimal string or number")
        elif isinstance(value, int):
            return Decimal(value)
        elif isinstance(value, Decimal):
            if value.is_finite():
                return value
            self.error(name, "must be a finite number")
        elif isinstance(value, str) and _DECIMAL_TEXT.match(value.strip()):
            return Decimal(value.strip())
        else:
            self.error(name, 'must be a decimal string or number, e.g. "12.50"')
        return None

    def time(self, name: str) -> dt.datetime:
        return self._time(name, required=True) or _EPOCH

    def time_or_none(self, name: str) -> dt.datetime | None:
        return self._time(name, required=False)

    def _time(self, name: str, *, required: bool) -> dt.datetime | None:
        value = self._value(name, required=required)
        if value is _MISSING:
            return None
        if isinstance(value, str) and _RFC3339.match(value):
            try:
                return dt.datetime.fromisoformat(value.upper()).astimezone(dt.UTC)
            except ValueError:
                pass
        self.error(name, "must be an RFC 3339 time with an offset, e.g. 2026-11-24T10:00:00Z")
        return None

    def child(self, name: str) -> Fields:
        value = self._value(name, required=True)
        if value is not _MISSING:
            return self._object(name, value)
        # Its own fields are not reported again: "is required" says it all.
        return Fields({}, self._at(name), [])

    def child_or_none(self, name: str) -> Fields | None:
        value = self._value(name, required=False)
        return None if value is _MISSING else self._object(name, value)

    def _object(self, name: str, value: object) -> Fields:
        if isinstance(value, Mapping):
            return Fields(value, self._at(name), self._errors)
        self.error(name, "must be an object")
        return Fields({}, self._at(name), [])

    def children(self, name: str, *, required: bool = False) -> list[Fields]:
        value = self._value(name, required=required)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            self.error(name, "must be a list")
            return []
        at = self._at(name)
        items = []
        for index, item in enumerate(value):
            if isinstance(item, Mapping):
                items.append(Fields(item, f"{at}/{index}", self._errors))
            else:
                self._errors.append(FieldError(f"{at}/{index}", "must be an object"))
        return items
