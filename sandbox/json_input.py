"""What the platform sandboxes' control endpoints share: reading the JSON object a request
sends, and the refusal that answers `{"errors": {field: message}}` with its status."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


class Invalid(Exception):
    def __init__(self, errors: dict[str, str], status: int = 400) -> None:
        super().__init__("invalid input")
        self.errors = errors
        self.status = status


async def json_object(request: Request) -> dict[str, Any]:
    """The JSON object sent; an empty body counts as `{}`."""
    raw = await request.body()
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise Invalid({"body": "must be a JSON object"}) from None
    if not isinstance(data, dict):
        raise Invalid({"body": "must be a JSON object"})
    return data
