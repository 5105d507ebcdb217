"""What each role may do, route by route, from the app's own route table.

Every route that acts on a shop declares the permission it needs (`@auth.permission`), and
`auth.require_shop` enforces it. Here the route table is walked: a shop route without a
declaration fails; a bookkeeper gets 403 from every route that needs more than a
bookkeeper has, and is let through the rest; an owner is let through everywhere. The
state-changing routes a bookkeeper may use are listed here by name, so declaring a new one
"view" to let bookkeepers in cannot happen by accident.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.accounts import sessions, users
from tenants.dinero.connections import oauth_flows
from tenants.team import invites, roles
from tests.conftest import app_client
from tests.factories import make_shop, make_user
from tests.web.test_admin import add_document
from tests.web.test_isolation import pending_flow
from web import auth
from web.app import create_app

# State-changing routes a bookkeeper may use, and why.
BOOKKEEPER_MAY_POST: dict[str, str] = {
    "/shops/{shop_id}/documents/{document_id}/retry": "retrying failed documents is the job",
    "/shops/{shop_id}/settings/preview": "renders a preview of the form; stores nothing",
}


@dataclass(frozen=True)
class ShopRoute:
    path: str
    method: str
    endpoint: object

    @property
    def permission(self) -> roles.Permission | None:
        return auth.declared_permission(self.endpoint)


def _routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[ShopRoute]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield ShopRoute(prefix + route.path, method, route.endpoint)


def is_shop_route(path: str) -> bool:
    """Routes that act on one shop for a logged-in member (the signed API and the admin
    area have their own credentials; the Dinero picker belongs to a shop's connect flow)."""
    return path.startswith(("/shops/{shop_id}", "/oauth/dinero/flows/"))


def shop_routes(routes: Sequence[BaseRoute]) -> list[ShopRoute]:
    return [r for r in _routes(routes) if is_shop_route(r.path)]


def test_every_shop_route_declares_a_permission(settings: Settings) -> None:
    found = shop_routes(create_app(settings).routes)
    undeclared = [f"{r.method} {r.path}" for r in found if r.permission is None]
    assert not undeclared, f"declare who may use these with @auth.permission: {undeclared}"
    assert len(found) >= 20  # the walk sees the shop pages
    assert BOOKKEEPER_MAY_POST.keys() <= {r.path for r in found}, "allow-listed routes are gone"


def test_the_declaration_check_catches_a_route_that_declares_nothing(settings: Settings) -> None:
    async def forgotten(request: Request) -> Response:
        return PlainTextResponse("")

    app = create_app(settings)
    app.router.routes.append(Route("/shops/{shop_id}/forgotten", forgotten, methods=["POST"]))
    undeclared = [r.path for r in shop_routes(app.routes) if r.permission is None]
    assert undeclared == ["/shops/{shop_id}/forgotten"]


def test_only_the_listed_routes_let_a_bookkeeper_change_anything(settings: Settings) -> None:
    open_to_bookkeepers = {
        r.path
        for r in shop_routes(create_app(settings).routes)
        if r.method != "GET" and r.permission and roles.allows("bookkeeper", r.permission)
    }
    assert open_to_bookkeepers == BOOKKEEPER_MAY_POST.keys()


@dataclass
class Team:
    shop_id: UUID
    owner: users.User
    bookkeeper: users.User
    cookies: dict[str, tuple[str, str]]  # role → (session cookie, CSRF token)
    document_id: int
    flows: dict[str, UUID]  # role → a connect flow of that member's session
    fresh_member: Callable[[], Awaitable[UUID]]
    fresh_invite: Callable[[], Awaitable[UUID]]


@pytest.fixture
async def team(pool: Pool, vault: Vault) -> Team:
    shop, _, owner = await make_shop(pool, vault)
    bookkeeper = await make_user(pool)
    await pool.execute(
        "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, 'bookkeeper')",
        bookkeeper.id,
        shop.id,
    )
    cookies, flows = {}, {}
    for role, user in (("owner", owner), ("bookkeeper", bookkeeper)):
        cookie, csrf = await sessions.create(pool, user.id, now=datetime.now(UTC))
        cookies[role] = (cookie.reveal(), csrf)
        flows[role] = await pending_flow(
            pool, vault, users.hash_token(cookie.reveal()), (user.id, shop.id)
        )

    async def fresh_member() -> UUID:
        """Another bookkeeper, for routes that change or remove a member."""
        member = await make_user(pool)
        await pool.execute(
            "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, 'bookkeeper')",
            member.id,
            shop.id,
        )
        return member.id

    async def fresh_invite() -> UUID:
        async with pool.acquire() as conn, conn.transaction():
            issued = await invites.issue(
                conn,
                shop_id=shop.id,
                email=f"{secrets.token_hex(4)}@example.com",
                role="bookkeeper",
                invited_by=owner.id,
                now=datetime.now(UTC),
            )
        return issued.id

    document_id = await add_document(pool, shop.id, state="failed")
    return Team(shop.id, owner, bookkeeper, cookies, document_id, flows, fresh_member, fresh_invite)


async def call_as(
    client: httpx.AsyncClient, team: Team, role: str, route: ShopRoute
) -> httpx.Response:
    values = {
        "shop_id": team.shop_id,
        "document_id": team.document_id,
        "flow_id": team.flows[role],
    }
    if "{user_id}" in route.path:
        values["user_id"] = await team.fresh_member()
    if "{invite_id}" in route.path:
        values["invite_id"] = await team.fresh_invite()
    url = re.sub(r"{(\w+)(?::\w+)?}", lambda m: str(values[m[1]]), route.path)
    cookie, csrf = team.cookies[role]
    client.cookies.set("gw_session", cookie)
    headers = {"X-CSRF-Token": csrf} if route.method != "GET" else {}
    return await client.request(route.method, url, headers=headers)


async def test_each_role_gets_what_each_route_declares(
    client: httpx.AsyncClient, settings: Settings, team: Team
) -> None:
    wrong = []
    checked = 0
    for route in shop_routes(create_app(settings).routes):
        assert route.permission is not None
        for role in roles.ROLES:
            response = await call_as(client, team, role, route)
            checked += 1
            allowed = roles.allows(role, route.permission)
            if (allowed and response.status_code in (403, 404)) or response.status_code >= 500:
                wrong.append(f"{role} {route.method} {route.path}: {response.status_code}")
            elif not allowed and response.status_code != 403:
                wrong.append(f"{role} {route.method} {route.path}: {response.status_code}, not 403")
    assert not wrong, "\n".join(wrong)
    assert checked >= 40


async def test_a_bookkeeper_retries_a_failed_document_but_cannot_change_settings(
    client: httpx.AsyncClient, pool: Pool, team: Team
) -> None:
    cookie, csrf = team.cookies["bookkeeper"]
    client.cookies.set("gw_session", cookie)
    retried = await client.post(
        f"/shops/{team.shop_id}/documents/{team.document_id}/retry",
        headers={"X-CSRF-Token": csrf},
    )
    assert retried.status_code == 303
    state = await pool.fetchval("SELECT state FROM documents WHERE id = $1", team.document_id)
    assert state == "queued"

    before = await pool.fetchval("SELECT trigger FROM shops WHERE id = $1", team.shop_id)
    refused = await client.post(
        f"/shops/{team.shop_id}/settings",
        data={"csrf_token": csrf, "trigger": "created", "mode": "draft"},
    )
    assert refused.status_code == 403
    assert "Not allowed" in refused.text
    assert await pool.fetchval("SELECT trigger FROM shops WHERE id = $1", team.shop_id) == before


async def test_owner_only_buttons_are_hidden_from_a_bookkeeper(
    client: httpx.AsyncClient, pool: Pool, team: Team
) -> None:
    await pool.execute("UPDATE shops SET activated_at = NULL WHERE id = $1", team.shop_id)
    pages = {}
    for role in roles.ROLES:
        cookie, _ = team.cookies[role]
        client.cookies.set("gw_session", cookie)
        shop_page = await client.get(f"/shops/{team.shop_id}")
        settings_page = await client.get(f"/shops/{team.shop_id}/settings")
        document = await client.get(f"/shops/{team.shop_id}/documents/{team.document_id}")
        pages[role] = shop_page.text + settings_page.text + document.text
    owner_only = ["/dinero/connect", "/ingest-secret", "/team", "/audit", "Save settings"]
    for marker in owner_only:
        assert marker in pages["owner"], marker
        assert marker not in pages["bookkeeper"], marker
    # Both may retry the failed document.
    retry = f"/documents/{team.document_id}/retry"
    assert retry in pages["owner"] and retry in pages["bookkeeper"]


async def test_a_handler_that_forgot_its_declaration_serves_nobody(
    settings: Settings, team: Team
) -> None:
    async def forgotten(request: Request) -> Response:
        session = await auth.require_session(request)
        await auth.require_shop(request, session)
        return PlainTextResponse("served")

    app = create_app(settings)
    app.router.routes.insert(0, Route("/shops/{shop_id}/forgotten", forgotten))
    async for other in app_client(app):
        other.cookies.set("gw_session", team.cookies["owner"][0])
        response = await other.get(f"/shops/{team.shop_id}/forgotten")
    assert response.status_code == 500 and "served" not in response.text


async def test_a_connect_flow_cannot_be_finished_by_someone_no_longer_an_owner(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, team: Team
) -> None:
    """The Dinero callback takes no shop id, so the walk above does not reach it: an owner
    who starts connecting and is made a bookkeeper before coming back is refused."""
    cookie, _ = team.cookies["owner"]
    started = await oauth_flows.start(
        pool,
        vault,
        session_hash=users.hash_token(cookie),
        user_id=team.owner.id,
        shop_id=team.shop_id,
        now=datetime.now(UTC),
    )
    await pool.execute(
        "UPDATE memberships SET role = 'owner' WHERE user_id = $1", team.bookkeeper.id
    )
    await pool.execute(
        "UPDATE memberships SET role = 'bookkeeper' WHERE user_id = $1", team.owner.id
    )
    client.cookies.set("gw_session", cookie)
    back = await client.get(
        "/oauth/dinero/callback", params={"state": started.state, "code": "from-visma"}
    )
    assert back.status_code == 403
    assert (
        await pool.fetchval("SELECT connection_id FROM shops WHERE id = $1", team.shop_id) is None
    )
