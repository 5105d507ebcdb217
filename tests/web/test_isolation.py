"""Tenant isolation, route by route, from the app's own route table.

Every route the app serves is in one of three places: it takes ids, and every id it takes is
in `SUBSTITUTES` (so it is called with another tenant's ids and must refuse); it is an admin
route (an owner gets 404 whatever the ids); or it is in `WITHOUT_TENANT_IDS` with the reason
it needs none. A new route fits none of them until someone decides which, so it cannot be
forgotten; a new kind of id fails until `SUBSTITUTES` knows how to make one.

For a route with several ids, every mix of ours and theirs is tried (our shop with their
document is the classic leak). With only our ids the same call must not be refused, or the
refusals would prove nothing.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from gateway.db import Pool
from gateway.dinero.oauth import TokenSet
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.accounts import sessions, users
from tenants.dinero.connections import oauth_flows
from tenants.shops import ingest_secrets
from tenants.team import invites
from tests.conftest import app_client
from tests.factories import make_shop
from tests.web.test_accounts import login
from tests.web.test_admin import add_document
from web.app import create_app


@dataclass(frozen=True)
class Tenant:
    user_id: UUID
    shop_id: UUID
    ingest_secret: Secret
    flow_id: UUID
    document_id: int
    invite_id: UUID


@dataclass(frozen=True)
class World:
    me: Tenant
    them: Tenant


# How to fill each path parameter: with our tenant's id or the other tenant's.
SUBSTITUTES: dict[str, Callable[[Tenant], object]] = {
    "shop_id": lambda tenant: tenant.shop_id,
    "flow_id": lambda tenant: tenant.flow_id,
    "document_id": lambda tenant: tenant.document_id,
    "user_id": lambda tenant: tenant.user_id,
    "invite_id": lambda tenant: tenant.invite_id,
}

# Routes that take no tenant's ids, and why. Only these may skip the check.
WITHOUT_TENANT_IDS: dict[str, str] = {
    "/": "the caller's own shop list (or the start page)",
    "/login": "logging in",
    "/logout": "ends the caller's own session",
    "/language": "the caller's own language",
    "/account/alerts": "the caller's own choice of alert mails",
    "/mail/unsubscribe": "the user and kind the link was signed for (tests/web/test_mail_pages.py)",
    "/healthz": "process probe",
    "/readyz": "process probe",
    "/metrics": "the operator's bearer token; counts by kind and status, never a tenant's "
    "(tests/web/test_metrics.py)",
    "/static": "vendored assets",
    "/api/openapi.json": "the public API description",
    "/oauth/dinero/callback": "no ids: the flow is found by its single-use state, bound to "
    "the session that started it (tests/web/test_connect.py)",
    "/invite/{token}": "the link's token is the credential, not a tenant's id; a wrong, "
    "used or expired one is a 404 (tests/web/test_accounts.py)",
    "/reset/{token}": "as /invite/{token}",
    "/join/{token}": "as /invite/{token}; the shop is the invite's (tests/web/test_team.py)",
    "/oauth/shopify/callback": "no ids: the flow is found by its single-use state, bound to "
    "the session that started it (tests/web/test_sources.py)",
    "/webhooks/shopify": "Shopify's HMAC is the credential; the source is found by the store "
    "the signed delivery names (tests/web/test_sources.py)",
    "/oauth/woocommerce/callback": "the store's own POST: the flow is found by its single-use "
    "state, and the keys must work against the store named when the session started it "
    "(tests/web/test_woocommerce.py)",
    "/webhooks/woocommerce/{source_id}": "the signature with a secret of that source's own "
    "webhooks is the credential: a delivery signed for another source is 401 "
    "(tests/web/test_woocommerce.py)",
}

# What "not yours" looks like: 404 for pages; the signed API answers an unknown shop, a
# foreign shop and a bad signature with the same 401.
REFUSAL: dict[str, int] = {"/api/": 401}


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: frozenset[str]

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)

    @property
    def refusal(self) -> int:
        return next((code for prefix, code in REFUSAL.items() if self.path.startswith(prefix)), 404)

    def url(self, values: dict[str, object]) -> str:
        return re.sub(r"{(\w+)(?::\w+)?}", lambda m: str(values[m[1]]), self.path)


def endpoints(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                yield from endpoints(route.routes, prefix + route.path)
            else:  # an opaque app (static files): one entry for the whole mount
                yield Endpoint(prefix + route.path, frozenset({"GET"}))
        elif isinstance(route, Route):
            yield Endpoint(prefix + route.path, frozenset(route.methods or {"GET"}))
        else:
            pytest.fail(f"a route of a kind this test does not know: {route!r}")


def app_endpoints(settings: Settings) -> list[Endpoint]:
    merged: dict[str, set[str]] = {}
    for endpoint in endpoints(create_app(settings).routes):
        merged.setdefault(endpoint.path, set()).update(endpoint.methods)
    return [Endpoint(path, frozenset(methods)) for path, methods in sorted(merged.items())]


def test_every_route_is_classified(settings: Settings) -> None:
    paths = {e.path: e for e in app_endpoints(settings)}
    unknown = {
        path: e.parameters
        for path, e in paths.items()
        if path not in WITHOUT_TENANT_IDS
        and not path.startswith("/admin")
        and (not e.parameters or any(p not in SUBSTITUTES for p in e.parameters))
    }
    assert not unknown, (
        "routes this test cannot check: add their ids to SUBSTITUTES, or the route to "
        f"WITHOUT_TENANT_IDS with a reason: {unknown}"
    )
    assert not WITHOUT_TENANT_IDS.keys() - paths.keys(), "allow-listed routes that are gone"
    # The table is not empty by accident: the shop pages and the admin area are in it.
    assert "/shops/{shop_id}" in paths and "/admin/shops/{shop_id}" in paths


async def pending_flow(
    pool: Pool, vault: Vault, session_hash: bytes, tenant_ids: tuple[UUID, UUID]
) -> UUID:
    """A connect flow waiting for its session to pick an organisation."""
    user_id, shop_id = tenant_ids
    now = datetime.now(UTC)
    started = await oauth_flows.start(
        pool, vault, session_hash=session_hash, user_id=user_id, shop_id=shop_id, now=now
    )
    claimed = await oauth_flows.claim(
        pool, vault, state=started.state, session_hash=session_hash, now=now
    )
    flow_id = claimed.id
    tokens = TokenSet(
        access_token=Secret("isolation-access"),
        refresh_token=Secret("isolation-refresh"),
        expires_at=now + timedelta(hours=1),
        scope="",
        token_type="Bearer",
    )
    offered = [oauth_flows.OfferedOrganization(id=1001, name="Org", is_pro=True)]
    await oauth_flows.hold_tokens(pool, vault, flow_id, tokens, offered)
    return flow_id


@pytest.fixture
async def world(client: httpx.AsyncClient, pool: Pool, vault: Vault) -> World:
    """Two tenants; `client` is logged in as the first one's owner."""
    tenants = []
    for who in ("me", "them"):
        shop, secret, owner = await make_shop(pool, vault, name=f"Shop of {who}")
        if who == "me":
            await login(client, owner.email)
            session_hash = users.hash_token(client.cookies["gw_session"])
        else:
            cookie, _ = await sessions.create(pool, owner.id, now=datetime.now(UTC))
            session_hash = users.hash_token(cookie.reveal())
        flow_id = await pending_flow(pool, vault, session_hash, (owner.id, shop.id))
        document_id = await add_document(pool, shop.id)
        async with pool.acquire() as conn, conn.transaction():
            invited = await invites.issue(
                conn,
                shop_id=shop.id,
                email=f"invited-by-{who}@example.com",
                role="bookkeeper",
                invited_by=owner.id,
                now=datetime.now(UTC),
            )
        tenants.append(Tenant(owner.id, shop.id, secret, flow_id, document_id, invited.id))
    return World(me=tenants[0], them=tenants[1])


async def call(
    client: httpx.AsyncClient, method: str, url: str, *, csrf: str, secret: Secret
) -> httpx.Response:
    if url.startswith("/api/"):
        body = b"{}"
        signature = ingest_secrets.sign(secret, int(time.time()), body)
        headers = {"Content-Type": "application/json", ingest_secrets.SIGNATURE_HEADER: signature}
        return await client.request(method, url, content=body, headers=headers)
    headers = {"X-CSRF-Token": csrf} if method not in ("GET", "HEAD") else {}
    return await client.request(method, url, headers=headers)


async def refusal_failures(
    client: httpx.AsyncClient, endpoints: Sequence[Endpoint], world: World
) -> tuple[int, list[str]]:
    """Calls every endpoint with every mix of ids; returns how many calls, and the wrong ones."""
    page = await client.get("/", follow_redirects=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "not logged in"
    csrf, secret = match.group(1), world.me.ingest_secret
    calls, failures = 0, []
    for endpoint in endpoints:
        admin_only = endpoint.path.startswith("/admin")
        if endpoint.path in WITHOUT_TENANT_IDS or not (endpoint.parameters or admin_only):
            continue
        params = endpoint.parameters
        # Every mix with at least one of theirs; for admin routes, only ours as well.
        mixes = [
            mix
            for mix in itertools.product(("me", "them"), repeat=len(params))
            if admin_only or "them" in mix
        ]
        for method in sorted(endpoint.methods):
            for mix in mixes:
                values = {
                    name: SUBSTITUTES[name](getattr(world, who))
                    for name, who in zip(params, mix, strict=True)
                }
                response = await call(
                    client, method, endpoint.url(values), csrf=csrf, secret=secret
                )
                calls += 1
                if response.status_code != endpoint.refusal:
                    failures.append(
                        f"{method} {endpoint.path} {dict(zip(params, mix, strict=True))}: "
                        f"{response.status_code}"
                    )
            if admin_only:
                continue
            # Control: with only our ids the route answers (else the refusals prove nothing).
            ours = {name: SUBSTITUTES[name](world.me) for name in params}
            response = await call(client, method, endpoint.url(ours), csrf=csrf, secret=secret)
            if response.status_code in (endpoint.refusal, 500):
                failures.append(
                    f"{method} {endpoint.path} with our own ids: {response.status_code}"
                )
    return calls, failures


async def test_another_tenants_ids_are_refused_on_every_route(
    client: httpx.AsyncClient, settings: Settings, world: World
) -> None:
    calls, failures = await refusal_failures(client, app_endpoints(settings), world)
    assert not failures, "\n".join(failures)
    assert calls >= 10  # the shop pages, the connect flow, the admin area, the API


async def test_the_check_catches_a_route_that_forgets_the_tenant(
    client: httpx.AsyncClient, settings: Settings, pool: Pool, world: World
) -> None:
    async def leaky(request: Request) -> Response:
        shop_id = UUID(request.path_params["shop_id"])
        name = await pool.fetchval("SELECT name FROM shops WHERE id = $1", shop_id)
        return PlainTextResponse(name or "", status_code=200 if name else 404)

    app = create_app(settings)
    app.router.routes.append(Route("/shops/{shop_id}/leak", leaky))
    leak = Endpoint("/shops/{shop_id}/leak", frozenset({"GET"}))
    async for other in app_client(app):
        other.cookies = client.cookies  # the same owner's session
        _, failures = await refusal_failures(other, [leak], world)
    assert failures == ["GET /shops/{shop_id}/leak {'shop_id': 'them'}: 200"]
