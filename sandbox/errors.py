"""Dinero-shaped errors, raised anywhere in the sandbox and rendered by one handler."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response


class DineroApiError(Exception):
    """An error answer as Dinero gives it: `{"code", "message", "validationErrors", ...}`.

    `body=None` with `text` renders a plain-text body (Dinero's 429 and some 400s are text);
    `empty=True` renders no body at all (Dinero's 401 has none).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: int | None = None,
        validation_errors: Mapping[str, str] | None = None,
        text: bool = False,
        empty: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.validation_errors = dict(validation_errors or {})
        self.text = text
        self.empty = empty
        self.headers = dict(headers or {})

    def response(self) -> Response:
        if self.empty:
            return Response(status_code=self.status, headers=self.headers)
        if self.text:
            return PlainTextResponse(self.message, status_code=self.status, headers=self.headers)
        body = {
            "code": self.code,
            "message": self.message,
            "validationErrors": self.validation_errors or None,
            "languageSpecificMessages": [{"en-GB": self.message}],
        }
        return JSONResponse(body, status_code=self.status, headers=self.headers)


async def dinero_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DineroApiError)
    return exc.response()


def validation_error(message: str, **fields: str) -> DineroApiError:
    """400 with Dinero's generic validation code and the offending fields."""
    return DineroApiError(400, message, code=3, validation_errors=fields)
