"""Error pages that say nothing about internals, for humans and for the API."""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import request_id
from gateway.outages import Service, unavailable_service

log = logging.getLogger(__name__)

# What a client is told to wait before it tries again while Postgres (or Redis) is away.
RETRY_AFTER: Final = 10
# While a service is away every request meets it: one warning a minute says so.
_LOG_EVERY: Final = 60.0

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
    503: (
        "Temporarily unavailable",
        "Dinero Gateway cannot reach its database just now. Nothing already saved is lost; "
        "please try again in a minute.",
    ),
}


class NotAllowed(HTTPException):
    """A member asked for something their role in the shop does not allow (403). Not for
    strangers: someone else's shop is a 404, which says nothing about whether it exists."""

    TEXT: Final = ("Not allowed", "Only the shop's owners may do that. Ask one of them.")

    def __init__(self) -> None:
        super().__init__(403, self.TEXT[1])


def error_response(
    request: Request,
    templates: Jinja2Templates,
    status: int,
    text: tuple[str, str] | None = None,
) -> Response:
    title, detail = text or _TEXT.get(status, ("Error", "The request could not be completed."))
    if request.url.path.startswith("/api/"):
        body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
        if status == 503:
            body["detail"] = "Nothing was stored; send it again after Retry-After seconds."
        return JSONResponse(body, status_code=status, media_type="application/problem+json")
    context = {
        "status_code": status,
        "title": title,
        "detail": detail,
        "request_id": request_id.get(),
    }
    template = "errors/unavailable.html" if status == 503 else "errors/error.html"
    try:
        return templates.TemplateResponse(request, template, context, status_code=status)
    except Exception:  # a broken template must not turn an error page into a crash
        return HTMLResponse(f"<h1>{status} {title}</h1>", status_code=status)


def unavailable_response(request: Request, templates: Jinja2Templates) -> Response:
    """503 with `Retry-After`: the page for people, problem+json for the API."""
    response = error_response(request, templates, 503)
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def http_exception_handler(templates: Jinja2Templates) -> Any:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        text = NotAllowed.TEXT if isinstance(exc, NotAllowed) else None
        response = error_response(request, templates, exc.status_code, text)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    return handle


class ErrorPageMiddleware:
    """Turns an unhandled exception into the plain 500 page, or into the 503 page (with
    `Retry-After`) when it says Postgres or Redis is away: an outage is not a bug, and a shop
    that sends an order then knows to send it again.

    It sits inside the request-id and security-header middleware (Starlette's own
    ServerErrorMiddleware sits outside all of them), so a 500 carries the same headers and
    request id as any other response. The exception is logged, never shown.
    """

    def __init__(self, app: ASGIApp, *, templates: Jinja2Templates) -> None:
        self.app = app
        self.templates = templates
        self._logged_at: dict[Service, float] = {}

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
        except Exception as exc:
            service = unavailable_service(exc)
            if service is None:
                log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            else:
                self._log_outage(service, exc)
            if started:
                raise
            if service is None:
                response = error_response(Request(scope), self.templates, 500)
            else:
                response = unavailable_response(Request(scope), self.templates)
            await response(scope, receive, send)

    def _log_outage(self, service: Service, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._logged_at.get(service, -_LOG_EVERY) >= _LOG_EVERY:
            self._logged_at[service] = now
            log.warning(
                "%s unavailable (%s: %s); answering 503 until it is back",
                service,
                type(exc).__name__,
                exc,
            )
