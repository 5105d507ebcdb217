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
    # deep-copies every leaf and cost more than parsing the body did.
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is None:
        raise TypeError(f"{type(value).__name__} has no JSON form")
    return {name: _jsonable(getattr(value, name)) for name in names}
