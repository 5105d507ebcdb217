"""Logging in and out, and choosing the language."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenants.accounts import sessions, users
from web import auth, deps, i18n
from web.throttle import LoginThrottle


async def login_page(request: Request) -> Response:
    if await auth.current_session(request) is not None:
        return RedirectResponse(auth.safe_next(request.query_params.get("next")), 303)
    return _form(request, error=None, email="", next_=request.query_params.get("next", ""))


async def login(request: Request) -> Response:
    form = await auth.read_form(request)
    email = str(form.get("email", ""))[:320]
    password = str(form.get("password", ""))
    next_ = str(form.get("next", ""))
    t = i18n.translator(request)
    if not auth.form_token_ok(request, form):
        error = t("The form was out of date. Please try again.")
        return _form(request, error=error, email=email, next_=next_, status=400)

    throttle = LoginThrottle(deps.redis(request))
    address = request.client.host if request.client else None
    blocked = await throttle.blocked(address=address, email=email, now=auth.now())
    if blocked is not None:
        if blocked.by == "email":
            error = t(
                "Too many failed logins for this e-mail address. Try again in {minutes} minutes.",
                minutes=blocked.minutes,
            )
        else:
            error = t(
                "Too many failed logins from your network. Try again in {minutes} minutes.",
                minutes=blocked.minutes,
            )
        response = _form(request, error=error, email=email, next_=next_, status=429)
        response.headers["Retry-After"] = str(blocked.seconds)
        return response

    user = await sessions.authenticate(deps.pool(request), email, password)
    if user is None:
        await throttle.failed(address=address, email=email, now=auth.now())
        error = t("Wrong e-mail or password.")
        return _form(request, error=error, email=email, next_=next_, status=400)
    await throttle.succeeded(email=email)
    response = RedirectResponse(auth.safe_next(next_ or None), 303)
    await auth.start_session(request, response, user)
    return response


async def logout(request: Request) -> Response:
    session = await auth.require_session(request)
    await auth.checked_form(request, session)
    await sessions.end(deps.pool(request), request.cookies[auth.COOKIE])
    response = RedirectResponse("/login", 303)
    auth.clear_session_cookie(response, deps.settings(request))
    return response


async def choose_language(request: Request) -> Response:
    """Stores the choice on the user, and in a cookie for pages before and after a login.

    Someone logged in needs the CSRF token. Without a session the choice only sets a cookie
    in the asking browser; a forged cross-site post cannot reach a user's setting, because
    the Lax session cookie is not sent with it.
    """
    session = await auth.current_session(request)
    if session is not None:
        form = await auth.checked_form(request, session)
    else:
        form = await auth.read_form(request)
    locale = form.get("locale")
    response = RedirectResponse(auth.safe_next(str(form.get("next", "")) or None), 303)
    if not i18n.is_locale(locale):
        return response
    if session is not None:
        await users.set_locale(deps.pool(request), session.user.id, locale)
    i18n.remember(response, deps.settings(request), locale)
    return response


def _form(
    request: Request, *, error: str | None, email: str, next_: str, status: int = 200
) -> Response:
    context = {"error": error, "email": email, "next": next_}
    return auth.render_form_page(request, "login.html", context, status_code=status)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/language", choose_language, methods=["POST"]),
]
