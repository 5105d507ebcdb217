"""Which alerts a user gets by mail: the settings page (logged in) and the unsubscribe link
in every alert (no login: the link's signature is the permission, see
`tenants.mail.preferences`)."""

from __future__ import annotations

from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenants.mail import preferences
from tenants.mail.preferences import Kind
from web import auth, deps, i18n


def kind_labels(t: i18n.Translator) -> dict[Kind, tuple[str, str]]:
    return {
        "connection.needs_reconnect": (
            t("A Dinero connection needs reconnecting"),
            t("At once, when Dinero stops accepting the gateway's access."),
        ),
        "connection.renewal_failing": (
            t("Renewing Dinero access keeps failing"),
            t("After a few hours of failed renewals, before the access lapses."),
        ),
        "documents.failed": (
            t("Documents failed"),
            t("A digest of documents Dinero refused, at most one an hour per shop."),
        ),
        "source.stopped": (
            t("A shop platform stopped delivering orders"),
            t("When a store's access is lost or the app is uninstalled."),
        ),
    }


async def alerts_page(request: Request) -> Response:
    session = await auth.require_session(request)
    opted_out = await preferences.opted_out(deps.pool(request), session.user.id)
    return _page(request, opted_out, saved=request.query_params.get("saved") == "1")


async def save_alerts(request: Request) -> Response:
    session = await auth.require_session(request)
    form = await auth.checked_form(request, session)
    wanted = {kind for kind in form.getlist("kind") if preferences.is_kind(kind)}
    if len(wanted) != len(form.getlist("kind")):
        raise HTTPException(400, "The form named an alert that does not exist.")
    await preferences.set_wanted(deps.pool(request), session.user.id, wanted)
    return RedirectResponse(f"{preferences.PREFERENCES_PATH}?saved=1", 303)


def _page(request: Request, opted_out: set[Kind], *, saved: bool) -> Response:
    t = i18n.translator(request)
    kinds = [
        {"kind": kind, "label": label, "hint": hint, "wanted": kind not in opted_out}
        for kind, (label, hint) in kind_labels(t).items()
    ]
    return deps.render(request, "mail/alerts.html", {"kinds": kinds, "saved": saved})


def _link(request: Request) -> tuple[UUID, Kind]:
    """The unsubscribe link's user, kind and signature; 404 for anything but a link we made."""
    params = request.query_params
    kind, given = params.get("k"), params.get("t", "")
    try:
        user_id = UUID(params.get("u", ""))
    except ValueError:
        raise HTTPException(404) from None
    secret_key = deps.settings(request).secret_key
    if not preferences.is_kind(kind) or not preferences.token_ok(secret_key, user_id, kind, given):
        raise HTTPException(404)
    return user_id, kind


async def unsubscribe_page(request: Request) -> Response:
    """Asks for one click: a GET must change nothing (mail scanners open every link)."""
    _, kind = _link(request)
    t = i18n.translator(request)
    response = deps.render(
        request,
        "mail/unsubscribe.html",
        {"label": kind_labels(t)[kind][0], "action": f"{request.url.path}?{request.url.query}"},
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the permission
    return response


async def unsubscribe(request: Request) -> Response:
    """The confirming click, or a mail client's one-click unsubscribe (RFC 8058): the
    signed link is the permission, so neither a login nor a CSRF token is asked for."""
    user_id, kind = _link(request)
    if not await preferences.opt_out(deps.pool(request), user_id, kind):
        raise HTTPException(404)
    t = i18n.translator(request)
    response = deps.render(request, "mail/unsubscribed.html", {"label": kind_labels(t)[kind][0]})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


routes = [
    Route(preferences.PREFERENCES_PATH, alerts_page, methods=["GET"]),
    Route(preferences.PREFERENCES_PATH, save_alerts, methods=["POST"]),
    Route(preferences.UNSUBSCRIBE_PATH, unsubscribe_page, methods=["GET"]),
    Route(preferences.UNSUBSCRIBE_PATH, unsubscribe, methods=["POST"]),
]
