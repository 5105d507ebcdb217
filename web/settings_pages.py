"""A shop's settings page: when orders post and how, the invoice text (with a live preview),
the accounts (chosen from the organisation's own chart), settlement (payments, deposit
accounts, invoice or voucher) and where orders are received. The form and its checks are in
web/settings_form.py; the ingest secret is rolled on its own pages (web/ingest_secret_pages.py).

Saving checks everything and stores nothing unless all of it is valid (422 with every
problem, the form as it was sent). The form is a plain POST, not boosted: htmx would not
swap a 422, and the page must show its problems with or without JavaScript. Without
JavaScript the Preview button submits the form to the preview address, which answers the
whole page with the text as typed; with htmx the textarea asks for just `#invoice-preview`.

The chart of accounts and the deposit accounts come from Dinero (web/org_accounts.py). When
they cannot be had (no connection, Dinero unreachable, no slot free) the page says so, and
the current accounts can still be kept, or set back to the standard ones.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.accounting import AccountPlan
from tenants.audit import repository as audit
from tenants.dinero.connections import service as connections
from tenants.shops import repository as shops
from tenants.shops import settings as shop_settings
from tenants.shops.settings import ShopSettings
from web import auth, deps, i18n
from web.org_accounts import chart_for, deposits_for
from web.settings_form import (
    ROLES,
    Submitted,
    accounts_changed,
    role_labels,
    sample_preview,
    template_problems,
    validate,
)
from web.settlement_settings import ACCOUNT_KEYS, chart_needed, deposits_needed, method_labels
from web.shops import shop_for_request

PREVIEW: Final = "invoice-preview"
_COUNT: Final = re.compile(r"^[0-9]{1,9}$")

_STANDARD: Final = AccountPlan()


async def _current(request: Request, shop: shops.Shop) -> ShopSettings:
    current = await shop_settings.shop_settings(deps.pool(request), shop.id)
    if current is None:  # deleted between the membership check and now
        raise HTTPException(404)
    return current


async def _page(
    request: Request,
    shop: shops.Shop,
    current: ShopSettings,
    sent: Submitted,
    *,
    errors: Mapping[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    t = i18n.translator(request)
    connection = await connections.for_shop(deps.pool(request), shop.id)
    context: dict[str, Any] = {
        "shop": shop,
        "tab": "settings",
        "current": current,
        "sent": sent,
        "errors": errors or {},
        "text_problems": template_problems(t, sent.invoice_text),
        "preview": sample_preview(shop.name, sent.invoice_text),
        "connection": connection,
        "chart": await chart_for(request, connection),
        "deposits": await deposits_for(request, connection),
        "account_keys": ACCOUNT_KEYS,
        "time_zones": sorted(shop_settings.time_zones()),
        "method_labels": method_labels(t),
        "converted": _converted(request) if not errors else None,
        "roles": ROLES,
        "role_labels": role_labels(t),
        "standard": _STANDARD.roles(),
        "saved": request.query_params.get("saved") == "1" and not errors,
        "ingest_url": f"{deps.settings(request).base_url}/api/v1/shops/{shop.id}/events",
        "now": auth.now(),
    }
    return deps.render_page_or_partial(
        request,
        "shops/settings.html",
        "shops/_preview.html",
        context,
        target=PREVIEW,
        status_code=status_code,
    )


@auth.permission("view")
async def settings_page(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    current = await _current(request, shop)
    return await _page(request, shop, current, Submitted.of_shop(current))


@auth.permission("manage")
async def save(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    form = await auth.checked_form(request, session)
    current = await _current(request, shop)
    sent = Submitted.of_form(form)
    connection = await connections.for_shop(deps.pool(request), shop.id)
    chart = None
    if accounts_changed(sent, current) or chart_needed(sent.settlement, current):
        chart = await chart_for(request, connection)
    deposits = None
    if deposits_needed(sent.settlement, current):
        deposits = await deposits_for(request, connection)
    change, errors = validate(i18n.translator(request), sent, current, chart, deposits)
    if change is None:
        return await _page(request, shop, current, sent, errors=errors, status_code=422)
    async with deps.pool(request).acquire() as conn, conn.transaction():
        saved = await shop_settings.save_settings(conn, shop.id, change, now=auth.now())
        changed = [
            f
            for f in dataclasses.fields(change)
            if getattr(change, f.name) != getattr(current, f.name, None)
        ]
        if changed:
            detail = ", ".join(f.name.replace("_", " ") for f in changed)
            await audit.record(
                conn, shop.id, auth.actor(session), "settings.changed", detail, now=auth.now()
            )
    converted = f"&converted={saved.converted}" if saved.converted else ""
    return RedirectResponse(f"/shops/{shop.id}/settings?saved=1{converted}", 303)


def _converted(request: Request) -> int | None:
    """How many documents the last save gave the new document type (from the redirect)."""
    value = request.query_params.get("converted", "")
    if request.query_params.get("saved") != "1" or not _COUNT.match(value):
        return None
    return int(value)


@auth.permission("view")
async def preview(request: Request) -> Response:
    """The invoice text for a sample order: just `#invoice-preview` for htmx (the textarea
    sends `invoice_text`), else the settings page with that text in the form. Changes
    nothing, so it is a GET and needs no CSRF token."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    current = await _current(request, shop)
    template = request.query_params.get("invoice_text", current.invoice_text)
    sent = replace(Submitted.of_shop(current), invoice_text=template.replace("\r\n", "\n"))
    if deps.wants_partial(request, PREVIEW):
        t = i18n.translator(request)
        context = {
            "text_problems": template_problems(t, sent.invoice_text),
            "preview": sample_preview(shop.name, sent.invoice_text),
        }
        return deps.render_page_or_partial(
            request, "shops/settings.html", "shops/_preview.html", context, target=PREVIEW
        )
    return await _page(request, shop, current, sent)


@auth.permission("view")
async def preview_form(request: Request) -> Response:
    """The Preview button without JavaScript: the page again, with the whole form as sent
    and the text's preview. A POST, because the form carries its CSRF token, which does
    not belong in a URL. Stores nothing."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    form = await auth.checked_form(request, session)
    current = await _current(request, shop)
    return await _page(request, shop, current, Submitted.of_form(form))


routes = [
    Route("/shops/{shop_id}/settings", settings_page, methods=["GET"]),
    Route("/shops/{shop_id}/settings", save, methods=["POST"]),
    Route("/shops/{shop_id}/settings/preview", preview, methods=["GET"]),
    Route("/shops/{shop_id}/settings/preview", preview_form, methods=["POST"]),
]
