"""Who is asking: the session cookie, login-required pages, and CSRF checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.settings import Settings
from tenants import sessions
from web import deps

COOKIE: Final = "gw_session"
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequired(Exception):
    pass


def now() -> datetime:
    return datetime.now(UTC)


async def current_session(request: Request) -> sessions.Session | None:
    """The request's session, loaded once per request."""
    if "session" in request.scope:
        cached: sessions.Session | None = request.scope["session"]
        return cached
    session = None
    cookie = request.cookies.get(COOKIE)
    if cookie:
        session = await sessions.load(deps.pool(request), cookie, now=now())
    request.scope["session"] = session
    return session


async def require_session(request: Request) -> sessions.Session:
    session = await current_session(request)
    if session is None:
        raise LoginRequired
    return session


async def require_admin(request: Request) -> sessions.Session:
    session = await require_session(request)
    if not session.user.is_platform_admin:
        raise HTTPException(404)
    return session


async def checked_form(request: Request, session: sessions.Session) -> FormData:
    """The request's form, after its CSRF token (header or hidden field) has been checked."""
    form = await request.form()
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sessions.constant_time_equal(sent, session.csrf_token):
        raise HTTPException(403, "The form was out of date. Go back, reload and try again.")
    return form


def set_session_cookie(response: Response, settings: Settings, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(sessions.SESSION_TTL.total_seconds()),
        httponly=True,
        secure=settings.is_production,
        # Lax, not Strict: the browser comes back from Visma's consent page by a cross-site
        # navigation, and the callback must see who started the flow.
        samesite="lax",
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, httponly=True, secure=settings.is_production, samesite="lax", path="/"
    )


async def login_redirect(request: Request, exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("HX-Request"):
        # htmx would swap the login page into a fragment; send the whole window there.
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def safe_next(value: str | None) -> str:
    """Only local paths: `next` must not turn the login page into an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
