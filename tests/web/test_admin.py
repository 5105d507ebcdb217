"""The admin pages: connections in trouble, any shop read-only, new shops, links."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import httpx
import pytest

from gateway.db import Pool
from gateway.vault import Vault
from tenants.dashboard import admin
from tenants.shops import repository as shops
from tests.factories import make_shop, make_user
from tests.web.test_accounts import login

PARTIAL = {"HX-Request": "true", "HX-Target": "connections"}


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


async def make_connection(
    pool: Pool,
    *,
    organization_id: int,
    name: str,
    status: str = "active",
    expires_in: timedelta = timedelta(minutes=50),
    last_refresh: datetime | None = None,
    next_refresh: datetime | None = None,
    connected_at: datetime | None = None,
    failures: int = 0,
    error: str | None = None,
    shop_ids: tuple[UUID, ...] = (),
) -> UUID:
    """A connection row as the token lifecycle leaves it (ciphertexts are never read here)."""
    now = datetime.now(UTC)
    has_tokens = status != "revoked"
    connection_id: UUID = await pool.fetchval(
        "INSERT INTO dinero_connections (organization_id, organization_name, status, "
        "access_token_enc, refresh_token_enc, access_expires_at, connected_at, "
        "last_refresh_at, next_refresh_at, consecutive_failures, last_error) "
        "VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        organization_id,
        name,
        status,
        "v1:test:unused" if has_tokens else None,
        now + expires_in if has_tokens else None,
        connected_at or now - timedelta(days=3),
        last_refresh or now - timedelta(minutes=10),
        next_refresh or now + timedelta(minutes=40),
        failures,
        error,
    )
    for shop_id in shop_ids:
        await pool.execute(
            "UPDATE shops SET connection_id = $2 WHERE id = $1", shop_id, connection_id
        )
    return connection_id


async def add_document(pool: Pool, shop_id: UUID, *, state: str = "queued") -> int:
    """An order with one invoice document in `state`."""
    order_id = await pool.fetchval(
        "INSERT INTO orders (shop_id, external_id, number, currency, total, payload, "
        "ordered_at, last_event_at) VALUES ($1, $2, $2, 'DKK', $3, $4, now(), now()) "
        "RETURNING id",
        shop_id,
        secrets.token_hex(6),
        Decimal("100.00"),
        {},
    )
    document_id: int = await pool.fetchval(
        "INSERT INTO documents (shop_id, order_id, kind, state, currency, amount, client_guid, "
        "external_reference, posted_at) VALUES ($1, $2, 'invoice', $3, 'DKK', $4, $5, $6, "
        "CASE WHEN $3 = 'posted' THEN now() END) RETURNING id",
        shop_id,
        order_id,
        state,
        Decimal("100.00"),
        uuid.uuid4(),
        f"order-{order_id}",
    )
    return document_id


async def as_admin(client: httpx.AsyncClient, pool: Pool) -> str:
    me = await make_user(pool, admin=True)
    return await login(client, me.email)


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, pattern
    return match.group(1)


def rows(page: str) -> list[str]:
    """The organisation names in the connections table, in order."""
    return re.findall(r'<tr data-connection="[^"]+">\s*<td>([^<]+?) <span', page)


@pytest.fixture
async def fleet(pool: Pool, vault: Vault) -> dict[str, UUID]:
    """Five connections in the states the filters tell apart."""
    shop = {}
    for name in ("Alfa", "Bravo 1", "Bravo 2", "Charlie", "Delta", "Echo"):
        shop[name], _, _ = await make_shop(pool, vault, name=f"{name} shop")
    ids = {
        "healthy": await make_connection(
            pool, organization_id=1, name="Healthy ApS", shop_ids=(shop["Alfa"].id,)
        ),
        "revoked": await make_connection(
            pool,
            organization_id=2,
            name="Revoked ApS",
            status="needs_reconnect",
            error="Visma refused to renew the token (invalid_grant)",
            shop_ids=(shop["Bravo 1"].id, shop["Bravo 2"].id),
        ),
        "expired": await make_connection(
            pool,
            organization_id=3,
            name="Expired ApS",
            expires_in=-timedelta(hours=1),
            next_refresh=ago(minutes=2),
            failures=2,
            error="token renewal failed: 503",
            shop_ids=(shop["Charlie"].id,),
        ),
        "stale": await make_connection(
            pool,
            organization_id=4,
            name="Stale ApS",
            last_refresh=ago(hours=21),
            shop_ids=(shop["Delta"].id,),
        ),
        "old consent": await make_connection(
            pool,
            organization_id=5,
            name="Old Consent ApS",
            connected_at=ago(days=360),
            shop_ids=(shop["Echo"].id,),
        ),
    }
    for _ in range(3):
        await add_document(pool, shop["Bravo 2"].id, state="needs_reconnect")
    await add_document(pool, shop["Alfa"].id, state="posted")
    await add_document(pool, shop["Alfa"].id, state="failed")
    return ids


async def test_the_admin_area_is_a_404_for_owners_and_a_login_for_strangers(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    assert (await client.get("/admin")).status_code == 303
    _, _, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    for path in ("/admin", "/admin/shops", "/admin/shops/new"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "Connections" not in response.text  # not even the admin's navigation


async def test_connections_sorted_by_impact_with_their_troubles(
    client: httpx.AsyncClient, pool: Pool, fleet: dict[str, UUID]
) -> None:
    await as_admin(client, pool)
    page = await client.get("/admin")
    assert page.status_code == 200
    # Parked documents first, then shops affected; ties by name.
    assert rows(page.text) == [
        "Revoked ApS",
        "Expired ApS",
        "Healthy ApS",
        "Old Consent ApS",
        "Stale ApS",
    ]
    revoked = page.text.split(f'data-connection="{fleet["revoked"]}"')[1].split("</tr>")[0]
    assert 'data-status="needs_reconnect"' in revoked
    assert "invalid_grant" in revoked and '<td class="num">3</td>' in revoked
    assert "Bravo 1 shop" in revoked and "Bravo 2 shop" in revoked
    expired = page.text.split(f'data-connection="{fleet["expired"]}"')[1].split("</tr>")[0]
    assert 'data-status="expired"' in expired and 'data-status="failing"' in expired


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        ("needs_reconnect", ["Revoked ApS"]),
        ("expired", ["Expired ApS"]),
        ("expiring", ["Old Consent ApS", "Stale ApS"]),
        ("failing", ["Expired ApS"]),
        ("no-such-filter", None),
    ],
)
async def test_filters(
    client: httpx.AsyncClient,
    pool: Pool,
    fleet: dict[str, UUID],
    flag: str,
    expected: list[str] | None,
) -> None:
    await as_admin(client, pool)
    page = await client.get("/admin", params={"filter": flag})
    assert page.status_code == 200
    assert rows(page.text) == (
        expected if expected is not None else rows((await client.get("/admin")).text)
    )


async def test_flag_counts_agree_with_the_filters(pool: Pool, fleet: dict[str, UUID]) -> None:
    now = datetime.now(UTC)
    counts = await admin.flag_counts(pool, now=now)
    for flag in admin.FILTERS:
        page = await admin.connections_page(pool, now=now, flag=flag)
        assert counts[flag] == len(page.items), flag
    assert counts == {"expired": 1, "needs_reconnect": 1, "expiring": 2, "failing": 1}


async def test_an_expired_token_whose_renewal_is_merely_due_is_not_expired(pool: Pool) -> None:
    # Access ran out a minute ago and the cron is due now: normal, not an alarm.
    await make_connection(
        pool,
        organization_id=9,
        name="Just Due ApS",
        expires_in=-timedelta(minutes=1),
        next_refresh=ago(minutes=11),
    )
    now = datetime.now(UTC)
    assert (await admin.flag_counts(pool, now=now))["expired"] == 0
    late = now + admin.OVERDUE
    assert (await admin.flag_counts(pool, now=late))["expired"] == 1


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("revoked", ["Revoked ApS"]),  # organisation name, any case
        ("3", ["Expired ApS"]),  # organisation id, exactly
        ("Delta sh", ["Stale ApS"]),  # a shop's name
        ("%", []),  # LIKE wildcards are literal
        ("nothing like it", []),
    ],
)
async def test_search(
    client: httpx.AsyncClient,
    pool: Pool,
    fleet: dict[str, UUID],
    search: str,
    expected: list[str],
) -> None:
    await as_admin(client, pool)
    page = await client.get("/admin", params={"q": search})
    assert rows(page.text) == expected
    if not expected:
        assert "No connections match." in page.text


async def test_filtering_swaps_only_the_table_for_htmx_and_whole_pages_without(
    client: httpx.AsyncClient, pool: Pool, fleet: dict[str, UUID]
) -> None:
    await as_admin(client, pool)
    full = await client.get("/admin", params={"filter": "failing"})
    partial = await client.get("/admin", params={"filter": "failing"}, headers=PARTIAL)
    for response in (full, partial):
        assert "HX-Request" in response.headers["vary"]
        assert rows(response.text) == ["Expired ApS"]
    assert "<html" in full.text and "documents parked now" in full.text
    assert "<html" not in partial.text
    assert partial.text.strip().startswith('<section class="card" id="connections">')
    # The filter links and the search carry what htmx needs, and a plain href without it.
    assert 'href="/admin?filter=failing"' in partial.text
    assert 'hx-target="#connections"' in partial.text and 'hx-push-url="true"' in partial.text
    # A boosted navigation (target: the body) and a history restore get the whole page.
    boosted = await client.get("/admin", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.text


async def test_pages_of_connections(
    client: httpx.AsyncClient,
    pool: Pool,
    fleet: dict[str, UUID],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(admin, "PAGE_SIZE", 2)
    await as_admin(client, pool)
    first = await client.get("/admin")
    assert rows(first.text) == ["Revoked ApS", "Expired ApS"]
    assert 'href="/admin?page=2"' in first.text and 'rel="prev"' not in first.text
    last = await client.get("/admin", params={"page": "3"})
    assert rows(last.text) == ["Stale ApS"]
    assert 'rel="next"' not in last.text and 'href="/admin?page=2"' in last.text
    assert rows((await client.get("/admin", params={"page": "x"})).text) == rows(first.text)


async def test_platform_counters(
    client: httpx.AsyncClient, pool: Pool, fleet: dict[str, UUID]
) -> None:
    await pool.execute(
        "UPDATE documents SET created_at = now() - interval '2 days' WHERE state = 'failed'"
    )
    counters = await admin.counters(pool, now=datetime.now(UTC))
    assert counters.shops == 6
    assert counters.connections == {"active": 4, "needs_reconnect": 1, "revoked": 0}
    # Created in the last 24 hours: the old failed one is not counted, but is failing now.
    assert counters.documents == {
        "waiting": 0,
        "awaiting_activation": 0,
        "queued": 0,
        "needs_reconnect": 3,
        "failed": 0,
        "posted": 1,
        "cancelled": 0,
    }
    assert (counters.parked_now, counters.failed_now) == (3, 1)
    await as_admin(client, pool)
    page = await client.get("/admin")
    assert '<span class="number">6</span> shops' in page.text


async def test_read_only_view_of_any_shop(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, fleet: dict[str, UUID]
) -> None:
    shop_id = await pool.fetchval("SELECT id FROM shops WHERE name = 'Bravo 2 shop'")
    await pool.execute(
        "INSERT INTO events (shop_id, kind, level, message) "
        "VALUES ($1, 'connection.needs_reconnect', 'error', 'Needs to be reconnected')",
        shop_id,
    )
    await as_admin(client, pool)
    page = await client.get(f"/admin/shops/{shop_id}")
    assert page.status_code == 200
    assert "Bravo 2 shop" in page.text and "Revoked ApS" in page.text
    assert 'data-status="needs_reconnect"' in page.text
    assert "Needs to be reconnected" in page.text and "connection.needs_reconnect" in page.text
    assert "{shop} — order {number}" in page.text  # the invoice text setting
    # Read-only: nothing on the page changes the shop.
    actions = re.findall(r'<form method="post" action="([^"]+)"', page.text)
    assert all(a in ("/language", "/logout") or a.startswith("/admin/users/") for a in actions)
    assert (await client.get(f"/admin/shops/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/admin/shops/not-a-uuid")).status_code == 404


async def test_shop_list_and_search(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, fleet: dict[str, UUID]
) -> None:
    owner = await make_user(pool, email="karen@sokkeriet.dk")
    await make_shop(pool, vault, name="Sokkeriet", owner=owner)
    await as_admin(client, pool)
    listed = await client.get("/admin/shops")
    assert listed.text.count("data-shop=") == 7
    found = await client.get(
        "/admin/shops", params={"q": "KAREN@"}, headers={"HX-Request": "true", "HX-Target": "shops"}
    )
    assert found.text.count("data-shop=") == 1 and "Sokkeriet" in found.text
    assert "<html" not in found.text and "HX-Request" in found.headers["vary"]


async def test_create_a_shop_and_invite_its_owner(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    csrf = await as_admin(client, pool)
    form = await client.get("/admin/shops/new")
    assert 'name="owner_email"' in form.text
    data = {"name": "Sokkeriet", "owner_email": "Karen@Sokkeriet.dk", "csrf_token": csrf}
    assert (await client.post("/admin/shops", data={**data, "csrf_token": "x"})).status_code == 403
    created = await client.post("/admin/shops", data=data)
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    shop_id = UUID(found(r"<dt>Shop id</dt><dd><code>([^<]+)</code>", created.text))
    secret = found(r'data-secret="ingest">([^<]+)<', created.text)
    async with pool.acquire() as conn:
        stored = await shops.ingest_secret(conn, vault, shop_id)
    assert stored is not None and stored.reveal() == secret
    invite = found(r'data-secret="invite">http://[^/]+(/invite/[^<]+)<', created.text)
    assert "karen@sokkeriet.dk" in (await client.get(invite)).text
    # The owner of a second shop already has a password: no invite.
    await pool.execute("UPDATE users SET password_hash = 'x' WHERE email = 'karen@sokkeriet.dk'")
    again = await client.post("/admin/shops", data={**data, "name": "Strikkeriet"})
    assert again.status_code == 201 and 'data-secret="invite"' not in again.text
    assert await pool.fetchval("SELECT count(*) FROM memberships") == 2


@pytest.mark.parametrize(
    ("name", "email", "message"),
    [
        ("", "a@example.com", "Give the shop a name"),
        ("x" * 201, "a@example.com", "Give the shop a name"),
        ("Sokkeriet", "not-an-address", "That is not an e-mail address."),
    ],
)
async def test_create_shop_refuses_bad_input(
    client: httpx.AsyncClient, pool: Pool, name: str, email: str, message: str
) -> None:
    csrf = await as_admin(client, pool)
    response = await client.post(
        "/admin/shops", data={"name": name, "owner_email": email, "csrf_token": csrf}
    )
    assert response.status_code == 400 and message in response.text
    assert await pool.fetchval("SELECT count(*) FROM shops") == 0


async def test_reset_link_for_a_user_and_a_new_invite_for_one_without_password(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    csrf = await as_admin(client, pool)
    _, _, owner = await make_shop(pool, vault)
    invited = await make_user(pool, password=None)

    def link(page: httpx.Response) -> str:
        return found(r'data-secret="link">http://[^/]+(/[a-z]+/[^<]+)<', page.text)

    first = await client.post(f"/admin/users/{owner.id}/reset-link", data={"csrf_token": csrf})
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert link(first).startswith("/reset/")
    second = await client.post(f"/admin/users/{owner.id}/reset-link", data={"csrf_token": csrf})
    # The newer link replaces the older one.
    assert (await client.get(link(first))).status_code == 404
    assert (await client.get(link(second))).status_code == 200
    invite = await client.post(f"/admin/users/{invited.id}/reset-link", data={"csrf_token": csrf})
    assert link(invite).startswith("/invite/")
    missing = await client.post(
        f"/admin/users/{uuid.uuid4()}/reset-link", data={"csrf_token": csrf}
    )
    assert missing.status_code == 404
    forged = await client.post(f"/admin/users/{owner.id}/reset-link", data={"csrf_token": "x"})
    assert forged.status_code == 403


async def test_an_owner_cannot_issue_links(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    _, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    response = await client.post(f"/admin/users/{owner.id}/reset-link", data={"csrf_token": csrf})
    assert response.status_code == 404
    assert await pool.fetchval("SELECT count(*) FROM user_tokens") == 0
