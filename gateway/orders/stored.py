"""The canonical order and refund as JSON: the form ingest stores, the preview prints and
`parsing` reads back unchanged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from gateway.orders.model import Order, Refund


def canonical(value: Order | Refund) -> dict[str, Any]:
    """The parsed order or refund as JSON (money as decimal strings, times in RFC 3339), as
    stored: `gateway.orders.parse_order`/`parse_refund` read it back unchanged."""
    stored: dict[str, Any] = _jsonable(value)
    return stored


def _jsonable(value: Any) -> Any:
    # On every event's path: walks the fields itself, because `dataclasses.asdict`
    # deep-copies every leaf and cost more than parsing the body did; and dispatches on the
    # exact type first, as nearly every value is one of a few.
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is Decimal:
        return str(value)
    names = _FIELDS.get(kind)
    if names is not None:
        return {name: _jsonable(getattr(value, name)) for name in names}
    if kind is tuple or kind is list:
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    fields = getattr(kind, "__dataclass_fields__", None)
    if fields is None:
        raise TypeError(f"{kind.__name__} has no JSON form")
    _FIELDS[kind] = tuple(fields)
    return _jsonable(value)


# Each dataclass's field names, in order, once it has been seen.
_FIELDS: dict[type, tuple[str, ...]] = {}
