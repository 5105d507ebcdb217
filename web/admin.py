"""The platform admin's pages: connections in trouble, any shop read-only, new shops, links.

Every handler starts with `require_admin`, which answers 404 to anyone else, so the admin
area does not even show that it exists. Lists filter and search with plain GET query
parameters: without JavaScript a filter is a link and the search a form that reload the
page; with htmx only the list is swapped and the URL pushed, from the same template.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final
from urllib.parse import urlencode
from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenants.accounts import users
from tenants.audit import repository as audit
from tenants.dashboard import admin
from tenants.dinero.connections import service as connections
from tenants.shops import repository as shops
from web import auth, deps, i18n, team

_MAX_SEARCH: Final = 200
_MAX_NAME: Final = 200
# The numbers the filters' help text quotes, from the definitions themselves.
_RULES: Final = {
    "overdue_minutes": int(admin.OVERDUE.total_seconds() // 60),
    "stale_hours": int(admin.RENEWAL_STALE.total_seconds() // 3600),
    "consent_days": (admin.GRANT_LIFETIME - admin.EXPIRING_WITHIN).days,
}


def _search(request: Request) -> str:
    return request.query_params.get("q", "").strip()[:_MAX_SEARCH]


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _flag(request: Request) -> admin.Filter | None:
    value = request.query_params.get("filter")
    return next((f for f in admin.FILTERS if f == value), None)


def _url(path: str, **params: object) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "", 1)})
    return f"{path}?{query}" if query else path


def _no_store(response: Response) -> Response:
    """For pages that show a secret or a link once: no cache, no back-button copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


async def overview(request: Request) -> Response:
    await auth.require_admin(request)
    pool, now = deps.pool(request), auth.now()
    flag, search, number = _flag(request), _search(request), _page_number(request)
    # The list, its flags' counts and the platform's counters are independent reads: asked
    # at once, each on its own pooled connection, the page waits for the slowest only.
    partial = deps.wants_partial(request, "connections")
    page, flag_counts, counters = await asyncio.gather(
        admin.connections_page(pool, now=now, flag=flag, search=search, page=number),
        admin.flag_counts(pool, now=now),
        _none() if partial else admin.counters(pool, now=now),
    )
    context: dict[str, Any] = {
        "page": page,
        "flag": flag,
        "search": search,
        "flag_counts": flag_counts,
        "filter_url": lambda f: _url("/admin", filter=f, q=search),
        "page_url": lambda n: _url("/admin", filter=flag, q=search, page=n),
        "rules": _RULES,
    }
    if not partial:
        context["counters"] = counters
    return deps.render_page_or_partial(
        request, "admin/index.html", "admin/_connections.html", context, target="connections"
    )


async def _none() -> None:
    return None


async def shop_list(request: Request) -> Response:
    await auth.require_admin(request)
    search, number = _search(request), _page_number(request)
    page = await admin.shops_page(deps.pool(request), search=search, page=number)
    context = {
        "page": page,
        "search": search,
        "page_url": lambda n: _url("/admin/shops", q=search, page=n),
    }
    return deps.render_page_or_partial(
        request, "admin/shops.html", "admin/_shops.html", context, target="shops"
    )


async def shop_page(request: Request) -> Response:
    await auth.require_admin(request)
    shop_id = _uuid(request, "shop_id")
    pool = deps.pool(request)
    shop = await admin.shop_detail(pool, shop_id)
    if shop is None:
        raise HTTPException(404)
    connection = await connections.for_shop(pool, shop_id)
    context = {
        "shop": shop,
        "connection": connection,
        "entries": await audit.recent(pool, shop_id),
        "action_labels": team.action_labels(i18n.translator(request)),
    }
    return deps.render(request, "admin/shop.html", context)


async def new_shop_form(request: Request) -> Response:
    await auth.require_admin(request)
    return _new_shop(request, name="", owner_email="", error=None)


async def create_shop(request: Request) -> Response:
    session = await auth.require_admin(request)
    form = await auth.checked_form(request, session)
    t = i18n.translator(request)
    name = str(form.get("name", "")).strip()
    owner_email = str(form.get("owner_email", "")).strip()
    if not name or len(name) > _MAX_NAME:
        error = t("Give the shop a name of 1 to {count} characters.", count=_MAX_NAME)
        return _new_shop(request, name=name, owner_email=owner_email, error=error)
    try:
        users.normalize_email(owner_email)
    except users.InvalidEmailError:
        error = t("That is not an e-mail address.")
        return _new_shop(request, name=name, owner_email=owner_email, error=error)
    created = await shops.create_shop_for_owner(
        deps.pool(request),
        deps.vault(request),
        name=name,
        owner_email=owner_email,
        created_by=session.user.id,
    )
    base = deps.settings(request).base_url
    context = {
        "created": created,
        "ingest_url": f"{base}/api/v1/shops/{created.shop.id}/events",
        "invite_url": (
            shops.invite_url(base, created.invite_token) if created.invite_token else None
        ),
        "invite_days": users.INVITE_TTL.days,
    }
    return _no_store(deps.render(request, "admin/created_shop.html", context, status_code=201))


async def issue_user_link(request: Request) -> Response:
    session = await auth.require_admin(request)
    user_id = _uuid(request, "user_id")
    form = await auth.checked_form(request, session)
    issued = await admin.issue_link(
        deps.pool(request), user_id, created_by=session.user.id, now=auth.now()
    )
    if issued is None:
        raise HTTPException(404)
    base = deps.settings(request).base_url
    path = "invite" if issued.purpose == "invite" else "reset"
    context = {
        "issued": issued,
        "url": f"{base}/{path}/{issued.token}",
        "back": auth.safe_next(str(form.get("back", "")) or None),
    }
    return _no_store(deps.render(request, "admin/link.html", context))


def _new_shop(request: Request, *, name: str, owner_email: str, error: str | None) -> Response:
    context = {"name": name, "owner_email": owner_email, "error": error}
    status = 400 if error else 200
    return deps.render(request, "admin/new_shop.html", context, status_code=status)


def _uuid(request: Request, name: str) -> UUID:
    try:
        return UUID(request.path_params[name])
    except ValueError:
        raise HTTPException(404) from None


routes = [
    Route("/admin", overview, methods=["GET"]),
    Route("/admin/shops", shop_list, methods=["GET"]),
    Route("/admin/shops", create_shop, methods=["POST"]),
    Route("/admin/shops/new", new_shop_form, methods=["GET"]),
    Route("/admin/shops/{shop_id}", shop_page, methods=["GET"]),
    Route("/admin/users/{user_id}/reset-link", issue_user_link, methods=["POST"]),
]
