"""What every Dinero API handler shares: the sandbox's gate, the request's body and path,
query-parameter complaints as Dinero's 400, and the JSON answer.

Request bodies are parsed with `parse_float=Decimal`, and responses are written by
`encode_json`, which prints each `Decimal`'s own digits: amounts never pass through float.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from starlette.requests import Request
from starlette.responses import Response

from sandbox.errors import validation_error
from sandbox.ledger import Ledger
from sandbox.queryfilter import QueryError
from sandbox.state import sandbox_of

T = TypeVar("T")


def encode_json(value: object) -> str:
    """JSON with every `Decimal` written as its own digits (and uuids, dates as strings)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return format(value, "f")
    if isinstance(value, UUID):
        return f'"{value}"'
    if isinstance(value, datetime):
        utc = value.astimezone(UTC)
        return f'"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"'
    if isinstance(value, date):
        return f'"{value.isoformat()}"'
    if isinstance(value, Mapping):
        members = (
            f"{json.dumps(str(k), ensure_ascii=False)}:{encode_json(v)}" for k, v in value.items()
        )
        return "{" + ",".join(members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_json(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


class DineroJSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode_json(content).encode("utf-8")


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


async def json_body(request: Request, *, optional: bool = False) -> object | None:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return None
        raise validation_error("A request body is required.")
    try:
        body: object = json.loads(raw, parse_float=Decimal, parse_constant=_refuse_constant)
    except ValueError:
        raise validation_error("The request body is not valid JSON.") from None
    return body


async def enter(request: Request) -> tuple[Ledger, str]:
    """Passes the sandbox's gate for the path's organisation: its ledger, the client's id."""
    organization_id: int = request.path_params["organization_id"]
    context = await sandbox_of(request).enter_api(request, organization_id)
    return context.ledger, context.client_id


def path_guid(request: Request) -> UUID:
    guid: UUID = request.path_params["guid"]
    return guid


def parse_query(parse: Callable[[], T]) -> T:
    """Runs a query-parameter parser, turning its complaint into Dinero's 400."""
    try:
        return parse()
    except QueryError as exc:
        raise validation_error(str(exc)) from None
