import re
from urllib.parse import parse_qs, urlsplit

import httpx

from gateway.db import Pool
from gateway.vault import Vault
from tests.factories import PASSWORD, make_shop, make_user

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Logs in and returns the session's CSRF token."""
    response = await client.post("/login", data={"email": email, "password": password})
    assert response.status_code == 303, response.text
    page = await client.get("/", follow_redirects=True)
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


async def test_login_sets_a_hardened_session_cookie(client: httpx.AsyncClient, pool: Pool) -> None:
    user = await make_user(pool)
    response = await client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "gw_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    # Only the hash is stored.
    value = client.cookies["gw_session"]
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 1
    assert value.encode() not in await pool.fetchval("SELECT id_hash FROM sessions")


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    user = await make_user(pool)
    wrong = await client.post("/login", data={"email": user.email, "password": "nope-nope-nope"})
    unknown = await client.post(
        "/login", data={"email": "nobody@example.com", "password": "nope-nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong e-mail or password." in wrong.text and "Wrong e-mail or password." in unknown.text
    assert "gw_session" not in client.cookies


async def test_pages_need_a_login_and_come_back_after_it(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    response = await client.get(f"/shops/{shop.id}")
    assert response.status_code == 303
    target = parse_qs(urlsplit(response.headers["location"]).query)["next"][0]
    assert target == f"/shops/{shop.id}"
    response = await client.post(
        "/login", data={"email": owner.email, "password": PASSWORD, "next": target}
    )
    assert response.headers["location"] == f"/shops/{shop.id}"
    assert (await client.get(f"/shops/{shop.id}")).status_code == 200


async def test_next_cannot_leave_the_site(client: httpx.AsyncClient, pool: Pool) -> None:
    user = await make_user(pool)
    for evil in ("https://evil.example", "//evil.example", "/\\evil.example"):
        response = await client.post(
            "/login", data={"email": user.email, "password": PASSWORD, "next": evil}
        )
        assert response.headers["location"] == "/"


async def test_htmx_requests_are_sent_to_the_login_page_whole(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, _ = await make_shop(pool, vault)
    response = await client.get(f"/shops/{shop.id}", headers={"HX-Request": "true"})
    assert response.headers["hx-redirect"].startswith("/login?next=")


async def test_logout_needs_the_csrf_token_and_ends_the_session(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    user = await make_user(pool)
    csrf = await login(client, user.email)
    assert (await client.post("/logout")).status_code == 403
    assert (await client.post("/logout", data={"csrf_token": "forged"})).status_code == 403
    response = await client.post("/logout", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 303
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 0


async def test_another_tenants_shop_is_a_404(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    mine, _, me = await make_shop(pool, vault)
    theirs, _, _ = await make_shop(pool, vault)
    csrf = await login(client, me.email)
    for path in (f"/shops/{theirs.id}", f"/shops/{theirs.id}/dinero/connect", "/shops/not-a-uuid"):
        assert (await client.get(path)).status_code == 404, path
    response = await client.post(f"/shops/{theirs.id}/dinero/disconnect", data={"csrf_token": csrf})
    assert response.status_code == 404
    assert (await client.get(f"/shops/{mine.id}")).status_code == 200


async def test_connect_sends_the_owner_to_visma_with_state_and_pkce(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    response = await client.get(f"/shops/{shop.id}/dinero/connect")
    assert response.status_code == 303
    url = urlsplit(response.headers["location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/connect/authorize"
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"].endswith("/oauth/dinero/callback")
    assert "offline_access" in query["scope"].split()
    assert len(query["state"]) >= 40
    # The state is stored hashed, bound to the session and the shop.
    row = await pool.fetchrow("SELECT shop_id, state_hash FROM oauth_flows")
    assert row is not None and row["shop_id"] == shop.id
    assert query["state"].encode() not in row["state_hash"]


async def test_a_callback_with_a_bad_state_changes_nothing(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    _, _, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    response = await client.get("/oauth/dinero/callback", params={"code": "x", "state": "forged"})
    assert response.status_code == 400
    assert "not valid any more" in response.text
    assert await pool.fetchval("SELECT count(*) FROM dinero_connections") == 0
