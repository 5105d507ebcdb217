"""Rolling a shop's ingest secret: a confirmation, then the new secret, shown this once. The
settings page (web/settings_pages.py) links here and says when the secret last changed.

The previous secret keeps working for an overlap (`ingest_secrets.DEFAULT_OVERLAP`), so the
webshop can switch to the new one without refused orders.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tenants.audit import repository as audit
from tenants.shops import ingest_secrets
from tenants.shops import settings as shop_settings
from web import auth, deps
from web.shops import shop_for_request


@auth.permission("manage")
async def confirm_roll(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    overlap = int(ingest_secrets.DEFAULT_OVERLAP.total_seconds() // 3600)
    return deps.render(request, "shops/roll_secret.html", {"shop": shop, "hours": overlap})


@auth.permission("manage")
async def roll(request: Request) -> Response:
    """A new ingest secret, shown this once: not cached, not kept in htmx's history."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    await auth.checked_form(request, session)
    now = auth.now()
    async with deps.pool(request).acquire() as conn, conn.transaction():
        secret = await ingest_secrets.roll_ingest_secret(
            conn, deps.vault(request), shop.id, now=now
        )
        await shop_settings.record_secret_rolled(conn, shop.id, now=now)
        await audit.record(conn, shop.id, auth.actor(session), "secret.rolled", now=now)
    context = {
        "shop": shop,
        "secret": secret,
        "old_until": now + ingest_secrets.DEFAULT_OVERLAP,
        "ingest_url": f"{deps.settings(request).base_url}/api/v1/shops/{shop.id}/events",
    }
    response = deps.render(request, "shops/secret.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/shops/{shop_id}/ingest-secret", confirm_roll, methods=["GET"]),
    Route("/shops/{shop_id}/ingest-secret", roll, methods=["POST"]),
]
