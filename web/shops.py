"""The owner's shop list and shop page (with its Dinero connection)."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from redis.exceptions import RedisError
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tenants import connections, sessions, shops
from web import auth, deps


async def shop_for_request(request: Request, session: sessions.Session) -> shops.Shop:
    """The shop in the path if this user is a member; 404 for missing and foreign alike."""
    try:
        shop_id = UUID(request.path_params["shop_id"])
    except ValueError:
        raise HTTPException(404) from None
    shop = await shops.get_for_user(deps.pool(request), session.user.id, shop_id)
    if shop is None:
        raise HTTPException(404)
    return shop


async def home(request: Request) -> Response:
    session = await auth.current_session(request)
    if session is None:
        return deps.render(request, "home.html")
    owned = await shops.for_user(deps.pool(request), session.user.id)
    if len(owned) == 1 and not session.user.is_platform_admin:
        return RedirectResponse(f"/shops/{owned[0].id}", 303)
    return deps.render(request, "shops/list.html", {"shops": owned})


# While a shop page is open (the card polls every 3 s), its connection is checked this
# often across all viewers: a revoked grant shows within about ten seconds.
PROBE_EVERY: Final = 4


async def show(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    connection = await connections.for_shop(deps.pool(request), shop.id)
    context = {"shop": shop, "connection": connection, "now": auth.now()}
    template = "shops/_connection.html" if _is_fragment(request) else "shops/show.html"
    response = deps.render(request, template, context)
    response.headers["Vary"] = "HX-Request"
    if (
        connection is not None
        and connection.status == "active"
        and await _probe_due(request, connection.id)
    ):
        # After the answer is sent: the page never waits for Dinero, and a revoked grant
        # shows on the next refresh of the card.
        response.background = BackgroundTask(_probe, request, connection.id)
    return response


async def _probe_due(request: Request, connection_id: UUID) -> bool:
    try:
        return bool(
            await request.state.redis.set(
                f"gateway:probe:{connection_id}", "1", nx=True, ex=PROBE_EVERY
            )
        )
    except (RedisError, OSError):
        return False  # no Redis, no probe: the page itself still works


async def _probe(request: Request, connection_id: UUID) -> None:
    await connections.probe(
        deps.pool(request),
        deps.vault(request),
        deps.visma(request),
        lambda token: deps.dinero(request, token),
        connection_id,
        now=auth.now(),
    )


async def disconnect(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    await auth.checked_form(request, session)
    async with deps.pool(request).acquire() as conn, conn.transaction():
        await connections.disconnect_shop(conn, shop_id=shop.id, now=auth.now())
    return RedirectResponse(f"/shops/{shop.id}", 303)


def _is_fragment(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true" and (
        request.headers.get("HX-Target") == "connection"
    )


routes = [
    Route("/", home),
    Route("/shops/{shop_id}", show),
    Route("/shops/{shop_id}/dinero/disconnect", disconnect, methods=["POST"]),
]
