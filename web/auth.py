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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote
from uuid import UUID

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway.settings import Settings
from gateway.storable import unstorable
from tenants.accounts import sessions, users
from tenants.audit import repository as audit
from tenants.shops import repository as shops
from tenants.team import roles
from web import deps, i18n
from web.errors import NotAllowed

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


# --- what a member may do in a shop ------------------------------------------------------------
#
# Every endpoint that acts on a shop declares the permission it needs with `@permission(...)`;
# `require_shop` (the one way a handler gets its shop) enforces it. An endpoint that declares
# nothing is refused outright, and tests/web/test_permissions.py walks the route table so a
# new route without a declaration fails before it ships.

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])
PERMISSION_ATTRIBUTE: Final = "shop_permission"


def permission(needed: roles.Permission) -> Callable[[Endpoint], Endpoint]:
    """Declares what a member must be allowed to do to use this endpoint."""
    if needed not in roles.PERMISSIONS:
        raise ValueError(f"unknown permission {needed!r}")

    def declare(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, PERMISSION_ATTRIBUTE, needed)
        return endpoint

    return declare


def declared_permission(endpoint: object) -> roles.Permission | None:
    value: roles.Permission | None = getattr(endpoint, PERMISSION_ATTRIBUTE, None)
    return value


async def require_shop(
    request: Request, session: sessions.Session, shop_id: UUID | None = None
) -> shops.Shop:
    """The shop in the path (or `shop_id`) if the user is a member allowed what the endpoint
    declared: 404 for a missing and a foreign shop alike, 403 for a member whose role does
    not allow it. The role is kept for the templates' `can(...)`."""
    endpoint = request.scope.get("endpoint")
    needed = declared_permission(endpoint)
    if needed is None:
        # Fail closed, and loudly (a logged 500): a handler that forgot its declaration
        # serves nobody.
        raise RuntimeError(f"{endpoint!r} does not declare its permission (@auth.permission)")
    if shop_id is None:
        try:
            shop_id = UUID(request.path_params["shop_id"])
        except (KeyError, ValueError):
            raise HTTPException(404) from None
    found = await shops.get_with_role(deps.pool(request), session.user.id, shop_id)
    if found is None:
        raise HTTPException(404)
    shop, role = found
    request.scope["shop_role"] = role
    if not roles.allows(role, needed):
        raise NotAllowed
    return shop


def actor(session: sessions.Session) -> audit.Actor:
    """Who the audit log says made a change: the session's user."""
    return audit.Actor(user_id=session.user.id, email=session.user.email)


def _can(request: Request) -> Callable[[str], bool]:
    """`can("manage")` in a template: whether the member looking at this shop page may do
    that, so a button that would only answer 403 is not shown."""
    role: str | None = request.scope.get("shop_role")

    def can(needed: str) -> bool:
        if needed not in roles.PERMISSIONS:  # a misspelt permission fails loudly
            raise ValueError(f"unknown permission {needed!r}")
        return role is not None and roles.allows(role, needed)

    return can


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
        "can": _can(request),
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
