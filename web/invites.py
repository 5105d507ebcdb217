"""Single-use links: an invite sets a new owner's first password, a reset link (issued by an
admin) sets a new one. Either logs the user in on this browser.

The link's token is the credential: only its sha256 is stored, it works once, and it
expires. A used, expired and unknown link look the same (404 with a page saying what to
do). A reset ends every other session and spends the user's other open links. Pages showing
a link's form are never cached.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway import passwords
from gateway.db import Pool
from tenants.accounts import users
from web import auth, deps, i18n

# What `secrets.token_urlsafe(32)` makes; anything else is not worth a database query.
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


async def invite_page(request: Request) -> Response:
    return await _page(request, "invite")


async def accept_invite(request: Request) -> Response:
    return await _set_password(request, "invite")


async def reset_page(request: Request) -> Response:
    return await _page(request, "password_reset")


async def reset_password(request: Request) -> Response:
    return await _set_password(request, "password_reset")


async def _page(request: Request, purpose: users.TokenPurpose) -> Response:
    token = request.path_params["token"]
    user = await _open_link(deps.pool(request), token, purpose, now=auth.now())
    if user is None:
        return _invalid(request)
    return _form(request, purpose, user, error=None)


async def _set_password(request: Request, purpose: users.TokenPurpose) -> Response:
    token = request.path_params["token"]
    pool = deps.pool(request)
    user = await _open_link(pool, token, purpose, now=auth.now())
    if user is None:
        return _invalid(request)
    form = await auth.read_form(request)
    t = i18n.translator(request)
    if not auth.form_token_ok(request, form):
        error = t("The form was out of date. Please try again.")
        return _form(request, purpose, user, error=error, status=400)
    password = str(form.get("password", ""))
    if password != str(form.get("password_confirm", "")):
        return _form(request, purpose, user, error=t("The two passwords differ."), status=400)
    problem = password_problem(request, password)
    if problem is not None:
        return _form(request, purpose, user, error=problem, status=400)

    password_hash = await asyncio.to_thread(passwords.hash_password, password)
    async with pool.acquire() as conn, conn.transaction():
        user_id = await users.redeem_link(conn, token, purpose, password_hash, now=auth.now())
    if user_id is None:  # spent by a parallel request meanwhile
        return _invalid(request)
    response = RedirectResponse("/", 303)
    await auth.start_session(request, response, user)
    return response


def password_problem(request: Request, password: str) -> str | None:
    t = i18n.translator(request)
    try:
        passwords.check_policy(password)
    except passwords.PasswordPolicyError:
        if len(password) < passwords.MIN_LENGTH:
            return t(
                "Choose a password of at least {count} characters.", count=passwords.MIN_LENGTH
            )
        return t("Choose a password of at most {count} characters.", count=passwords.MAX_LENGTH)
    return None


def _form(
    request: Request,
    purpose: users.TokenPurpose,
    user: users.User,
    *,
    error: str | None,
    status: int = 200,
) -> Response:
    context = {
        "purpose": purpose,
        "email": user.email,
        "error": error,
        "min_length": passwords.MIN_LENGTH,
    }
    return auth.render_form_page(request, "invites/password.html", context, status_code=status)


def _invalid(request: Request) -> Response:
    context = {
        "invite_days": users.INVITE_TTL.days,
        "reset_hours": int(users.RESET_TTL.total_seconds() // 3600),
    }
    response = deps.render(request, "invites/invalid.html", context, status_code=404)
    response.headers["Cache-Control"] = "no-store"
    return response


async def _open_link(
    pool: Pool, token: str, purpose: users.TokenPurpose, *, now: datetime
) -> users.User | None:
    # A string that cannot be one of our tokens is not worth a query.
    if not _TOKEN.match(token):
        return None
    return await users.open_link(pool, token, purpose, now=now)


routes = [
    Route("/invite/{token}", invite_page, methods=["GET"]),
    Route("/invite/{token}", accept_invite, methods=["POST"]),
    Route("/reset/{token}", reset_page, methods=["GET"]),
    Route("/reset/{token}", reset_password, methods=["POST"]),
]
