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

_decimal_text: Final = re.compile(r"^[+-]?\d+(\.\d+)?$").match
_rfc3339: Final = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
).match
# What an object may be: dict, as parsed JSON holds, first, as it is cheaper to check than
# the Mapping ABC.
_OBJECT: Final = (dict, Mapping)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_OERE = Decimal("0.01")
_ZERO = Decimal("0.00")


class _NotANumber:
    """What NaN and Infinity parse to, so the field holding one gets the error."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


# One decoder for every body, as json.loads keeps for calls without options: with them it
# builds a decoder and its scanner each time, a good part of the cost of reading a body.
_DECODER: Final = json.JSONDecoder(parse_float=Decimal, parse_constant=_NotANumber)


def _decoded(raw: object) -> Any:
    """`json.loads(raw, parse_float=Decimal, parse_constant=_NotANumber)` on `_DECODER`, with
    loads' own checks and errors."""
    if isinstance(raw, str):
        if raw.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        return _DECODER.decode(raw)
    if not isinstance(raw, bytes | bytearray):
        name = raw.__class__.__name__
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {name}")
    return _DECODER.decode(raw.decode(json.detect_encoding(raw), "surrogatepass"))


def load_object(raw: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    """The body as a JSON object; anything else is the body's only error."""
    if isinstance(raw, Mapping):
        return raw
    try:
        data = _decoded(raw)
    except ValueError as exc:  # JSONDecodeError and bad UTF-8 are both ValueErrors
        raise InvalidEvent([FieldError("", f"the body is not valid JSON: {exc}")]) from None
    except RecursionError:  # arrays or objects nested deeper than the parser goes
        raise InvalidEvent([FieldError("", "the body is nested too deeply")]) from None
    if not isinstance(data, dict):
        raise InvalidEvent([FieldError("", "the body must be a JSON object")])
    return data


def _escaped(name: str) -> str:
    """`name` as a JSON pointer's reference token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def _decimal_places(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class Fields:
    """One JSON object, found at `pointer` and then `steps` (keys and list indices) in the body.
    Every getter records a problem in `errors` and returns a placeholder instead of stopping,
    so a single pass finds every invalid field; the caller throws the half-built result away
    when `errors` is not empty.

    Each getter reads its field once and checks the common types first; a pointer is only
    spelt out for an error, as most bodies have none."""

    __slots__ = ("_data", "_errors", "_pointer", "_steps")

    def __init__(
        self,
        data: Mapping[str, Any],
        pointer: str,
        errors: list[FieldError],
        steps: tuple[str | int, ...] = (),
    ) -> None:
        self._data = data
        self._pointer = pointer
        self._errors = errors
        self._steps = steps

    def _at(self, name: str) -> str:
        return self._pointer + "".join(
            f"/{step}" if isinstance(step, int) else f"/{_escaped(step)}"
            for step in (*self._steps, name)
        )

    def _nested(
        self, data: Mapping[str, Any], errors: list[FieldError], *steps: str | int
    ) -> Fields:
        return Fields(data, self._pointer, errors, (*self._steps, *steps))

    def error(self, name: str, message: str) -> None:
        self._errors.append(FieldError(self._at(name), message))

    def _absent(self, name: str, *, required: bool) -> None:
        if required:
            self.error(name, "is required")

    def has(self, name: str) -> bool:
        return self._data.get(name) is not None

    def _string(self, name: str, value: Any, *, required: bool, max_length: int) -> str | None:
        if value is None:
            self._absent(name, required=required)
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
        return self._string(name, self._data.get(name), required=True, max_length=max_length) or ""

    def text_or_none(self, name: str, *, max_length: int = 500) -> str | None:
        return self._string(name, self._data.get(name), required=False, max_length=max_length)

    def ident(self, name: str) -> str:
        """An id or number: a string, or a JSON integer, which many shops send."""
        value = self._data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return self._string(name, value, required=True, max_length=100) or ""

    def code(self, name: str, known: frozenset[str], what: str) -> str:
        value = self.text(name, max_length=10).upper()
        if value and value not in known:
            self.error(name, f"must be {what}")
        return value

    def choice(self, name: str, options: tuple[str, ...], *, default: str | None = None) -> str:
        value = self._data.get(name)
        if value is None:
            self._absent(name, required=default is None)
            return default or options[0]
        if value not in options:
            self.error(name, f"must be one of {', '.join(options)}")
            return options[0]
        return str(value)

    def flag(self, name: str) -> bool:
        value = self._data.get(name)
        if value is None:
            self.error(name, "is required")
        elif not isinstance(value, bool):
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
        value = self._data.get(name)
        if value is None:
            self._absent(name, required=default is None)
            return default if default is not None else _ZERO
        parsed = self._number(name, value)
        if parsed is None:
            return _ZERO
        number, decimals = parsed
        if decimals > places:
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

    def _number(self, name: str, value: object) -> tuple[Decimal, int] | None:
        """`value` as a number and how many decimals it is written with; None (and the error
        recorded) when it is not one. Decimal strings, the common case, are checked first."""
        if isinstance(value, str):
            text = value.strip()
            if match := _decimal_text(text):
                fraction = match.group(1)  # ".50", or None for a whole number
                return Decimal(text), len(fraction) - 1 if fraction else 0
        elif isinstance(value, Decimal):
            if value.is_finite():
                return value, _decimal_places(value)
            self.error(name, "must be a finite number")
            return None
        elif isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value), 0
        elif isinstance(value, _NotANumber):
            self.error(name, f"must be a finite number, not {value.literal}")
            return None
        elif isinstance(value, float):
            self.error(name, "binary floating point is refused: send a decimal string")
            return None
        elif isinstance(value, bool):
            self.error(name, "must be a decimal string or number")
            return None
        self.error(name, 'must be a decimal string or number, e.g. "12.50"')
        return None

    def time(self, name: str) -> dt.datetime:
        return self._time(name, required=True) or _EPOCH

    def time_or_none(self, name: str) -> dt.datetime | None:
        return self._time(name, required=False)

    def _time(self, name: str, *, required: bool) -> dt.datetime | None:
        value = self._data.get(name)
        if value is None:
            self._absent(name, required=required)
            return None
        if isinstance(value, str) and _rfc3339(value):
            try:
                return dt.datetime.fromisoformat(value.upper()).astimezone(dt.UTC)
            except ValueError:
                pass
        self.error(name, "must be an RFC 3339 time with an offset, e.g. 2026-11-24T10:00:00Z")
        return None

    def child(self, name: str) -> Fields:
        value = self._data.get(name)
        if value is not None:
            return self._object(name, value)
        self.error(name, "is required")
        # Its own fields are not reported again: "is required" says it all.
        return self._nested({}, [], name)

    def child_or_none(self, name: str) -> Fields | None:
        value = self._data.get(name)
        return None if value is None else self._object(name, value)

    def _object(self, name: str, value: object) -> Fields:
        if isinstance(value, _OBJECT):
            return self._nested(value, self._errors, name)
        self.error(name, "must be an object")
        return self._nested({}, [], name)

    def children(self, name: str, *, required: bool = False) -> list[Fields]:
        value = self._data.get(name)
        if value is None:
            self._absent(name, required=required)
            return []
        if not isinstance(value, list):
            self.error(name, "must be a list")
            return []
        items = []
        for index, item in enumerate(value):
            if isinstance(item, _OBJECT):
                items.append(self._nested(item, self._errors, name, index))
            else:
                self._errors.append(FieldError(f"{self._at(name)}/{index}", "must be an object"))
        return items
