"""Who is asking: the session cookie, login-required pages, and CSRF checks.

Forms shown to someone logged in carry the session's CSRF token. Forms shown before there is
a session (log in, accept an invite, reset a password) carry a "form token" instead, checked
against a cookie of the same value (double submit): a page on another site can post to
`/login`, but it can neither read nor set that cookie, so it cannot log a visitor in to an
account of its choosing (login CSRF).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.settings import Settings
from gateway.storable import unstorable
from tenants.accounts import sessions, users
from web import deps, i18n

COOKIE: Final = "gw_session"
FORM_COOKIE: Final = "gw_form"
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
_UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORM_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


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


async def read_form(request: Request) -> FormData:
    """The request's form; 400 when a field holds text that cannot be stored (a NUL
    character), so no handler gets as far as the database with it."""
    form = await request.form()
    for name, value in form.multi_items():
        if isinstance(value, str) and (problem := unstorable(value)):
            raise HTTPException(400, f"The form's field {name[:40]!r} {problem}.")
    return form


async def checked_form(request: Request, session: sessions.Session) -> FormData:
    """The request's form, after its CSRF token (header or hidden field) has been checked."""
    form = await read_form(request)
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sessions.constant_time_equal(sent, session.csrf_token):
        raise HTTPException(403, "The form was out of date. Go back, reload and try again.")
    return form


def template_context(request: Request) -> dict[str, Any]:
    """What every page may show about who is looking (loaded by `current_session` if at all).

    `csrf_token` is the session's token, or the form token of a page shown before login.
    """
    session: sessions.Session | None = request.scope.get("session")
    return {
        "current_user": session.user if session else None,
        "csrf_token": session.csrf_token if session else request.scope.get("form_token", ""),
    }


def render_form_page(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    """A page with a form that is posted without a session, with its form token."""
    token = request.cookies.get(FORM_COOKIE, "")
    if not _FORM_TOKEN.match(token):
        token = secrets.token_urlsafe(32)
    request.scope["form_token"] = token
    response = deps.render(request, template, context, status_code=status_code)
    response.set_cookie(
        FORM_COOKIE,
        token,
        httponly=True,
        secure=deps.settings(request).is_production,
        samesite="lax",  # not sent with a cross-site POST: that is the point
        path="/",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def form_token_ok(request: Request, form: FormData) -> bool:
    """Whether a form posted without a session came from a page we rendered for this browser."""
    cookie = request.cookies.get(FORM_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    return (
        bool(_FORM_TOKEN.match(cookie))
        and isinstance(sent, str)
        and sessions.constant_time_equal(sent, cookie)
    )


async def start_session(request: Request, response: Response, user: users.User) -> None:
    """Logs `user` in on this browser with a new session id (never one the browser brought,
    so a planted cookie cannot become a logged-in session), ending the one it had."""
    pool = deps.pool(request)
    if request.cookies.get(COOKIE):
        await sessions.end(pool, request.cookies[COOKIE])
    cookie, _ = await sessions.create(pool, user.id, now=now())
    set_session_cookie(response, deps.settings(request), cookie.reveal())
    if i18n.is_locale(user.locale):
        i18n.remember(response, deps.settings(request), user.locale)


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
        response: Response = Response(status_code=204, headers={"HX-Redirect": location})
    else:
        response = RedirectResponse(location, status_code=303)
    response.headers["Vary"] = "HX-Request"
    return response


def safe_next(value: str | None) -> str:
    """Only local paths: `next` must not turn the login page into an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
