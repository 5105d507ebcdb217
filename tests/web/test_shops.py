"""The owner's shop list and shop page: badges, the connection card with its health, the
set-up guide (test order, activation) and disconnecting."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.queue import QUEUE_NAME
from gateway.ratelimit import BookingLock, BudgetKey, RateBudget
from gateway.settings import SANDBOX_CLIENT_ID, Settings
from gateway.vault import Vault
from tenants.dinero.connections import service as connections
from tenants.dinero.poster import Poster
from tenants.posting.service import post_document
from tenants.shops import repository as shops
from tests.conftest import app_client
from tests.factories import make_shop, make_user
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.web.test_accounts import login
from tests.web.test_admin import add_document, make_connection
from web.app import create_app

CARD = {"HX-Request": "true", "HX-Target": "connection"}


async def fake_connection(
    pool: Pool, redis: ArqRedis, shop_id: UUID, *, organization_id: int = 1001
) -> UUID:
    """A connection row (its tokens are never used), with the page's probe switched off:
    the probe would try to use them."""
    connection_id = await make_connection(
        pool, organization_id=organization_id, name=f"Org {organization_id}", shop_ids=(shop_id,)
    )
    await redis.set(f"gateway:probe:{connection_id}", "1", ex=600)
    return connection_id


async def owner_of_shop(
    client: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    *,
    name: str | None = None,
    activated: bool = True,
) -> tuple[shops.Shop, str]:
    """A shop whose owner is logged in on `client`; with the session's CSRF token."""
    shop, _, owner = await make_shop(pool, vault, name=name, activated=activated)
    return shop, await login(client, owner.email)


def vary(response: httpx.Response) -> set[str]:
    return {v.strip() for v in response.headers.get("vary", "").split(",")}


# --- the shop list ---------------------------------------------------------------------------


async def test_the_shop_list_shows_each_shop_with_its_badge(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    owner = await make_user(pool)
    quiet, _, _ = await make_shop(pool, vault, name="Quiet", owner=owner)
    busy, _, _ = await make_shop(pool, vault, name="Busy", owner=owner)
    await make_shop(pool, vault, name="Not mine")
    await fake_connection(pool, redis, busy.id)
    await add_document(pool, busy.id, state="failed")
    await login(client, owner.email)

    page = await client.get("/")

    assert page.status_code == 200
    rows = dict(re.findall(r'<tr data-shop="([^"]+)">(.*?)</tr>', page.text, re.S))
    assert set(rows) == {str(quiet.id), str(busy.id)} and "Not mine" not in page.text
    assert 'data-status="not_connected"' in rows[str(quiet.id)]
    assert 'data-status="failing"' in rows[str(busy.id)] and "Org 1001" in rows[str(busy.id)]


async def test_an_owner_of_one_shop_goes_straight_to_it(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    answer = await client.get("/")
    assert answer.status_code == 303 and answer.headers["location"] == f"/shops/{shop.id}"


# --- the shop page ---------------------------------------------------------------------------


async def test_the_shop_page_and_the_card_it_refreshes_share_one_template(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault, activated=False)
    await add_document(pool, shop.id, state="queued")

    page = await client.get(f"/shops/{shop.id}")
    card = await client.get(f"/shops/{shop.id}", headers=CARD)

    assert page.status_code == card.status_code == 200
    assert "<html" in page.text and 'id="setup"' in page.text and 'class="tabs"' in page.text
    assert "<html" not in card.text and 'id="setup"' not in card.text
    assert card.text.lstrip().startswith('<section class="card" id="connection"')
    assert 'hx-trigger="every 3s"' in card.text and 'data-count="queued">1<' in card.text
    assert card.text.strip() in page.text  # the very fragment the page includes
    assert {"HX-Request", "HX-Target"} <= vary(page) and {"HX-Request", "HX-Target"} <= vary(card)


async def test_the_card_shows_health_and_the_budget_without_taking_a_slot(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis, settings: Settings
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault)
    await fake_connection(pool, redis, shop.id, organization_id=4242)
    for state in ("failed", "failed", "needs_reconnect", "queued"):
        await add_document(pool, shop.id, state=state)
    posted = await add_document(pool, shop.id, state="posted")
    await pool.execute(
        "INSERT INTO events (shop_id, document_id, kind, message) "
        "VALUES ($1, $2, 'document.posted', 'Invoice booked as number 7')",
        shop.id,
        posted,
    )
    budget, key = RateBudget(redis), BudgetKey(settings.dinero_client_id, 4242)
    for _ in range(3):
        assert await budget.acquire(key) == 0

    card = (await client.get(f"/shops/{shop.id}", headers=CARD)).text
    again = (await client.get(f"/shops/{shop.id}", headers=CARD)).text

    assert 'data-status="active"' in card and "Org 4242" in card
    assert re.search(r'data-count="failed"[^>]*><a href="[^"]*state=failed">2<', card)
    assert 'data-count="parked"><a' in card and 'data-count="posted">1<' in card
    assert re.search(r'data-fact="last-posted"><time', card)
    assert 'value="3"' in card and "3 of 95" in card
    assert "3 of 95" in again  # looking took no slot
    assert await budget.free_slots(key, within=0) == budget.limit - 3


async def test_the_set_up_guide_sends_a_test_order_and_activates(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault, activated=False)

    # Without a connection there is nothing to test or activate yet.
    for action in ("test-order", "activate"):
        refused = await client.post(f"/shops/{shop.id}/{action}", data={"csrf_token": csrf})
        assert refused.status_code == 303
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await pool.fetchval("SELECT activated_at FROM shops WHERE id = $1", shop.id) is None
    page = (await client.get(f"/shops/{shop.id}")).text
    assert 'data-step="connect"' in page and "/test-order" not in page

    await fake_connection(pool, redis, shop.id)
    forged = await client.post(f"/shops/{shop.id}/test-order")
    assert forged.status_code == 403
    sent = await client.post(f"/shops/{shop.id}/test-order", data={"csrf_token": csrf})
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"/shops/{shop.id}")
    document = await pool.fetchrow(
        "SELECT d.id, d.mode, d.state, o.external_id FROM documents d "
        "JOIN orders o ON o.id = d.order_id WHERE d.shop_id = $1",
        shop.id,
    )
    assert document is not None and document["external_id"].startswith("test-")
    assert (document["mode"], document["state"]) == ("draft", "queued")
    assert await redis.zscore(QUEUE_NAME, f"documents.post:{document['id']}:0") is not None
    page = (await client.get(f"/shops/{shop.id}")).text
    assert f'data-test-order="{document["id"]}"' in page and 'data-state="queued"' in page

    activated = await client.post(f"/shops/{shop.id}/activate", data={"csrf_token": csrf})
    assert activated.status_code == 303
    assert await pool.fetchval("SELECT activated_at FROM shops WHERE id = $1", shop.id)
    page = (await client.get(f"/shops/{shop.id}")).text
    assert 'id="setup"' not in page and "Live since" in page


async def test_disconnect_asks_first_and_works_without_javascript(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    assert (await client.get(f"/shops/{shop.id}/dinero/disconnect")).status_code == 303
    await fake_connection(pool, redis, shop.id)
    card = (await client.get(f"/shops/{shop.id}", headers=CARD)).text
    assert f'href="/shops/{shop.id}/dinero/disconnect"' in card  # a link to the question

    question = await client.get(f"/shops/{shop.id}/dinero/disconnect")
    assert question.status_code == 200 and "Org 1001" in question.text
    assert f'action="/shops/{shop.id}/dinero/disconnect"' in question.text
    assert 'name="csrf_token"' in question.text

    forged = await client.post(f"/shops/{shop.id}/dinero/disconnect")
    assert forged.status_code == 403 and await connections.for_shop(pool, shop.id) is not None
    done = await client.post(f"/shops/{shop.id}/dinero/disconnect", data={"csrf_token": csrf})
    assert done.status_code == 303 and await connections.for_shop(pool, shop.id) is None


async def test_another_tenants_shop_is_not_found_on_every_shop_page(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    _, csrf = await owner_of_shop(client, pool, vault)
    theirs, _, _ = await make_shop(pool, vault, activated=False)
    await fake_connection(pool, redis, theirs.id)
    for method, path in [
        ("GET", ""),
        ("GET", "/dinero/disconnect"),
        ("POST", "/dinero/disconnect"),
        ("POST", "/test-order"),
        ("POST", "/activate"),
    ]:
        answer = await client.request(
            method,
            f"/shops/{theirs.id}{path}",
            data={"csrf_token": csrf} if method == "POST" else None,
        )
        assert answer.status_code == 404, (method, path)
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await connections.for_shop(pool, theirs.id) is not None
    assert await pool.fetchval("SELECT activated_at FROM shops WHERE id = $1", theirs.id) is None


# --- the test order, all the way into the sandbox ----------------------------------------------


@pytest.fixture
async def gateway(
    settings: Settings, pool: Pool, redis: ArqRedis, sandbox_server: LiveSandbox
) -> AsyncIterator[httpx.AsyncClient]:
    """The app wired to the sandbox (for Visma Connect and the Dinero API)."""
    wired = replace(settings, dinero_auth_url=sandbox_server.url, dinero_api_url=sandbox_server.url)
    async for client in app_client(create_app(wired)):
        yield client


async def test_a_test_order_arrives_in_dinero_as_a_draft(
    gateway: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    redis: ArqRedis,
    visma: VismaConnect,
    http: httpx.AsyncClient,
    sandbox_server: LiveSandbox,
) -> None:
    shop, csrf = await owner_of_shop(gateway, pool, vault, name="Sokkeriet")
    await connect(pool, vault, sandbox_server, visma, shop=shop)
    await gateway.post(f"/shops/{shop.id}/test-order", data={"csrf_token": csrf})
    document_id = await pool.fetchval("SELECT id FROM documents WHERE shop_id = $1", shop.id)

    poster = Poster(
        pool=pool,
        vault=vault,
        visma=visma,
        http=http,
        budget=RateBudget(redis),
        bookings=BookingLock(redis),
        api_url=sandbox_server.url,
        client_id=SANDBOX_CLIENT_ID,
        worker_id="test-worker",
    )
    await post_document(poster, document_id, now=datetime.now(UTC) + timedelta(seconds=1))

    state = await pool.fetchval("SELECT state FROM documents WHERE id = $1", document_id)
    assert state == "posted"
    stored = (await http.get(f"{sandbox_server.url}/_sandbox/organizations/1001/invoices")).json()
    [invoice] = stored
    assert invoice["Status"] == "Draft" and not invoice["Number"]
    assert invoice["TotalInclVat"] == 100 and invoice["ExternalReference"].startswith("dg-")
    page = (await gateway.get(f"/shops/{shop.id}/documents/{document_id}")).text
    assert 'data-state="posted"' in page and "Left as a draft" in page
