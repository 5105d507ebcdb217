"""Logging in and out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenants import sessions
from web import auth, deps


async def login_page(request: Request) -> Response:
    if await auth.current_session(request) is not None:
        return RedirectResponse(auth.safe_next(request.query_params.get("next")), 303)
    return _render(request, error=None, email="")


async def login(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", ""))
    password = str(form.get("password", ""))
    user = await sessions.authenticate(deps.pool(request), email, password)
    if user is None:
        return _render(request, error="Wrong e-mail or password.", email=email, status=400)
    cookie, _ = await sessions.create(deps.pool(request), user.id, now=auth.now())
    response = RedirectResponse(auth.safe_next(str(form.get("next", "")) or None), 303)
    auth.set_session_cookie(response, deps.settings(request), cookie.reveal())
    return response


async def logout(request: Request) -> Response:
    session = await auth.require_session(request)
    await auth.checked_form(request, session)
    await sessions.end(deps.pool(request), request.cookies[auth.COOKIE])
    response = RedirectResponse("/login", 303)
    auth.clear_session_cookie(response, deps.settings(request))
    return response


def _render(request: Request, *, error: str | None, email: str, status: int = 200) -> Response:
    context = {"error": error, "email": email, "next": request.query_params.get("next", "")}
    return deps.render(request, "login.html", context, status_code=status)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
