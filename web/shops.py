"""The owner's shop list and shop page: the Dinero connection's health, the set-up guide
(connect → send a test order → activate), and disconnecting.

The connection card (`#connection`) refreshes itself every few seconds; the same request
lets the page probe the connection now and then, so a revoked grant shows without a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from redis.exceptions import RedisError
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from gateway.ratelimit import BudgetKey, RateBudget
from tenants.accounts import sessions
from tenants.audit import repository as audit
from tenants.dashboard import sample_order as sample_orders
from tenants.dashboard import shop as dashboard
from tenants.dashboard import sources as dashboard_sources
from tenants.dinero.connections import linking
from tenants.dinero.connections import service as connections
from tenants.orders import ingest as orders
from tenants.outbox import repository as outbox
from tenants.shops import repository as shops
from web import auth, deps, i18n

CARD: Final = "connection"
SOURCES_CARD: Final = "sources"


async def shop_for_request(request: Request, session: sessions.Session) -> shops.Shop:
    """The shop in the path if this user is a member allowed what the endpoint declares;
    404 for missing and foreign alike, 403 for a member whose role does not allow it. The
    request's times are shown in the shop's time zone from here on."""
    shop = await auth.require_shop(request, session)
    i18n.use_zone(request, shop.time_zone)
    return shop


async def home(request: Request) -> Response:
    session = await auth.current_session(request)
    if session is None:
        return deps.render(request, "home.html")
    owned = await dashboard.shops_for_user(deps.pool(request), session.user.id)
    if len(owned) == 1 and not session.user.is_platform_admin:
        return RedirectResponse(f"/shops/{owned[0].id}", 303)
    return deps.render(request, "shops/list.html", {"shops": owned, "cap": dashboard.COUNT_CAP})


# While a shop page is open (the card polls every 3 s), its connection is checked this
# often across all viewers: a revoked grant shows within about ten seconds.
PROBE_EVERY: Final = 4


@dataclass(frozen=True)
class BudgetUse:
    """How much of the organisation's Dinero call budget the last minute used."""

    used: int
    limit: int


@auth.permission("view")
async def show(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    pool, now = deps.pool(request), auth.now()
    if deps.wants_partial(request, SOURCES_CARD):  # the sources card refreshing itself
        sources = await dashboard_sources.sources_of(pool, shop.id)
        return deps.render_page_or_partial(
            request,
            "shops/show.html",
            "shops/_sources.html",
            {"shop": shop, "sources": sources},
            target=SOURCES_CARD,
        )
    connection = await connections.for_shop(pool, shop.id)
    context: dict[str, Any] = {
        "shop": shop,
        "connection": connection,
        "now": now,
        "health": await dashboard.health(pool, shop.id, now=now),
        "budget": await _budget_use(request, connection),
        "cap": dashboard.COUNT_CAP,
    }
    if not deps.wants_partial(request, CARD):
        context["setup"] = await dashboard.setup(pool, shop.id)
        context["sources"] = await dashboard_sources.sources_of(pool, shop.id)
        context["tab"] = "overview"
    response = deps.render_page_or_partial(
        request, "shops/show.html", "shops/_connection.html", context, target=CARD
    )
    if (
        connection is not None
        and connection.status == "active"
        and await _probe_due(request, connection.id)
    ):
        # After the answer is sent: the page never waits for Dinero, and a revoked grant
        # shows on the next refresh of the card.
        response.background = BackgroundTask(_probe, request, connection.id)
    return response


async def _budget_use(
    request: Request, connection: connections.DineroConnection | None
) -> BudgetUse | None:
    """Read-only: counts the organisation's window in Redis, takes no slot."""
    if connection is None or connection.status == "revoked":
        return None
    budget = RateBudget(deps.redis(request))
    key = BudgetKey(deps.settings(request).dinero_client_id, connection.organization_id)
    try:
        free = await budget.free_slots(key, within=0)
    except (RedisError, OSError):
        return None  # unknown: the card says nothing rather than something wrong
    return BudgetUse(used=budget.limit - free, limit=budget.limit)


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
    await linking.probe(
        deps.pool(request),
        deps.vault(request),
        deps.visma(request),
        lambda token: deps.dinero(request, token),
        connection_id,
        now=auth.now(),
    )


@auth.permission("manage")
async def confirm_disconnect(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    connection = await connections.for_shop(deps.pool(request), shop.id)
    if connection is None:
        return RedirectResponse(f"/shops/{shop.id}", 303)
    return deps.render(request, "shops/disconnect.html", {"shop": shop, "connection": connection})


@auth.permission("manage")
async def disconnect(request: Request) -> Response:
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    await auth.checked_form(request, session)
    async with deps.pool(request).acquire() as conn, conn.transaction():
        connection = await connections.for_shop(conn, shop.id)
        await linking.disconnect_shop(conn, shop_id=shop.id, now=auth.now())
        if connection is not None:
            await audit.record(
                conn,
                shop.id,
                auth.actor(session),
                "dinero.disconnected",
                connection.organization_name,
                now=auth.now(),
            )
    return RedirectResponse(f"/shops/{shop.id}", 303)


@auth.permission("manage")
async def send_test_order(request: Request) -> Response:
    """Step two of the set-up guide. Without a working connection there is nothing to
    test yet, and the guide (back on the shop page) says so."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    await auth.checked_form(request, session)
    pool = deps.pool(request)
    if await _connected(request, shop.id):
        sent = await sample_orders.send_test_order(pool, shop.id, now=auth.now())
        await orders.enqueue_new_documents(request.state.redis, sent.enqueue)
    return RedirectResponse(f"/shops/{shop.id}#setup", 303)


@auth.permission("manage")
async def activate(request: Request) -> Response:
    """Step three: the shop goes live, and the orders that waited for it are posted, oldest
    first. It takes a working connection."""
    session = await auth.require_session(request)
    shop = await shop_for_request(request, session)
    await auth.checked_form(request, session)
    if await _connected(request, shop.id):
        async with deps.pool(request).acquire() as conn, conn.transaction():
            activated = await shops.activate(conn, shop.id, now=auth.now())
            if activated is not None:
                await audit.record(
                    conn, shop.id, auth.actor(session), "shop.activated", now=auth.now()
                )
        if activated is not None:
            await outbox.enqueue(request.state.redis, list(activated.released))
    return RedirectResponse(f"/shops/{shop.id}", 303)


async def _connected(request: Request, shop_id: UUID) -> bool:
    connection = await connections.for_shop(deps.pool(request), shop_id)
    return connection is not None and connection.status == "active"


routes = [
    Route("/", home),
    Route("/shops/{shop_id}", show),
    Route("/shops/{shop_id}/dinero/disconnect", confirm_disconnect, methods=["GET"]),
    Route("/shops/{shop_id}/dinero/disconnect", disconnect, methods=["POST"]),
    Route("/shops/{shop_id}/test-order", send_test_order, methods=["POST"]),
    Route("/shops/{shop_id}/activate", activate, methods=["POST"]),
]
