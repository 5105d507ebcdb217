"""Error pages that say nothing about internals, for humans and for the API."""

from __future__ import annotations

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import request_id

log = logging.getLogger(__name__)

_TEXT = {
    400: (
        "Not accepted",
        "Something you typed holds a character that cannot be stored (a NUL character). "
        "Go back, remove it and try again.",
    ),
    403: ("Form out of date", "The form was out of date. Go back, reload and try again."),
    404: ("Not found", "There is nothing at this address, or it is not yours to see."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    429: ("Too many attempts", "Please wait a little and try again."),
    500: ("Something went wrong", "The error has been logged. Please try again in a moment."),
}


def error_response(request: Request, templates: Jinja2Templates, status: int) -> Response:
    title, detail = _TEXT.get(status, ("Error", "The request could not be completed."))
    if request.url.path.startswith("/api/"):
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        return JSONResponse(body, status_code=status, media_type="application/problem+json")
    context = {
        "status_code": status,
        "title": title,
        "detail": detail,
        "request_id": request_id.get(),
    }
    try:
        return templates.TemplateResponse(request, "errors/error.html", context, status_code=status)
    except Exception:  # a broken template must not turn an error page into a crash
        return HTMLResponse(f"<h1>{status} {title}</h1>", status_code=status)


def http_exception_handler(templates: Jinja2Templates) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = error_response(request, templates, exc.status_code)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    return handle


class ErrorPageMiddleware:
    """Turns an unhandled exception into the plain 500 page.

    It sits inside the request-id and security-header middleware (Starlette's own
    ServerErrorMiddleware sits outside all of them), so a 500 carries the same headers and
    request id as any other response. The exception is logged, never shown.
    """

    def __init__(self, app: ASGIApp, *, templates: Jinja2Templates) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if started:
                raise
            response = error_response(Request(scope), self.templates, 500)
            await response(scope, receive, send)
