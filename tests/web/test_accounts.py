import re
import secrets
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.accounts import users
from tenants.shops import repository as shops
from tests.conftest import app_client
from tests.factories import PASSWORD, make_shop, make_user
from web import throttle
from web.app import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def form_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    """The token a form shown before login carries (and its cookie, now in the client)."""
    page = await client.get(path)
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


async def post_login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, **fields: str
) -> httpx.Response:
    token = client.cookies.get("gw_form") or await form_token(client)
    data = {"email": email, "password": password, "csrf_token": token, **fields}
    return await client.post("/login", data=data)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """Logs in and returns the session's CSRF token."""
    response = await post_login(client, email, password)
    assert response.status_code == 303, response.text
    page = await client.get("/", follow_redirects=True)
    match = CSRF.search(page.text)
    assert match, page.text
    return match.group(1)


async def test_login_sets_a_hardened_session_cookie(client: httpx.AsyncClient, pool: Pool) -> None:
    user = await make_user(pool)
    response = await post_login(client, user.email)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "gw_session=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    # Only the hash is stored.
    value = client.cookies["gw_session"]
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 1
    assert value.encode() not in await pool.fetchval("SELECT id_hash FROM sessions")


async def test_a_nul_character_in_a_form_is_a_400_not_a_500(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    """Postgres cannot store a NUL character: the form is refused before any handler
    takes it to the database."""
    user = await make_user(pool)
    response = await post_login(client, user.email + "\x00")
    assert response.status_code == 400, response.text
    assert "NUL" in response.text


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    user = await make_user(pool)
    wrong = await post_login(client, user.email, "nope-nope-nope")
    unknown = await post_login(client, "nobody@example.com", "nope-nope-nope")
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
    response = await post_login(client, owner.email, next=target)
    assert response.headers["location"] == f"/shops/{shop.id}"
    assert (await client.get(f"/shops/{shop.id}")).status_code == 200


async def test_next_cannot_leave_the_site(client: httpx.AsyncClient, pool: Pool) -> None:
    user = await make_user(pool)
    for evil in ("https://evil.example", "//evil.example", "/\\evil.example"):
        response = await post_login(client, user.email, next=evil)
        assert response.headers["location"] == "/"


async def test_htmx_requests_are_sent_to_the_login_page_whole(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, _ = await make_shop(pool, vault)
    response = await client.get(f"/shops/{shop.id}", headers={"HX-Request": "true"})
    assert response.headers["hx-redirect"].startswith("/login?next=")
    assert response.headers["vary"] == "HX-Request"
    assert (await client.get(f"/shops/{shop.id}")).headers["vary"] == "HX-Request"


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


async def test_login_needs_the_form_token_from_this_browser(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    user = await make_user(pool)
    data = {"email": user.email, "password": PASSWORD}
    # A post from another site carries neither the token nor (SameSite) the cookie.
    missing = await client.post("/login", data=data)
    assert missing.status_code == 400 and "out of date" in missing.text
    # A token from some other browser does not match this browser's cookie.
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as other:
        foreign = await form_token(other)
    assert client.cookies["gw_form"] != foreign
    forged = await client.post("/login", data={**data, "csrf_token": foreign})
    assert forged.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM sessions") == 0
    # The refused form comes back with a fresh token that works.
    assert (await post_login(client, user.email)).status_code == 303


async def test_login_starts_a_new_session_and_ends_the_one_the_browser_had(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    first, second = await make_user(pool), await make_user(pool)
    await login(client, first.email)
    before = client.cookies["gw_session"]
    await login(client, second.email)
    after = client.cookies["gw_session"]
    assert before != after
    rows = await pool.fetch("SELECT user_id FROM sessions")
    assert [r["user_id"] for r in rows] == [second.id]


async def test_a_planted_session_id_is_not_adopted(client: httpx.AsyncClient, pool: Pool) -> None:
    user = await make_user(pool)
    planted = "planted-by-an-attacker-0000000000000000000000"
    client.cookies.set("gw_session", planted, domain="testserver.local")
    await login(client, user.email)
    assert client.cookies["gw_session"] != planted
    stored = await pool.fetchval("SELECT id_hash FROM sessions")
    assert stored != users.hash_token(planted)


async def test_cookies_are_secure_in_production(settings: Settings, pool: Pool) -> None:
    user = await make_user(pool)
    production = replace(settings, env="production")
    async for client in app_client(create_app(production)):
        secure = httpx.AsyncClient(transport=client._transport, base_url="https://testserver")
        async with secure:
            page = await secure.get("/login")
            assert "Secure" in page.headers["set-cookie"]
            token = CSRF.search(page.text)
            assert token
            response = await secure.post(
                "/login",
                data={"email": user.email, "password": PASSWORD, "csrf_token": token.group(1)},
            )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "gw_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie


async def test_repeated_failures_for_one_email_are_throttled(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    user, bystander = await make_user(pool), await make_user(pool)
    for _ in range(throttle.PER_EMAIL.failures):
        assert (await post_login(client, user.email, "wrong-wrong-wrong")).status_code == 400
    # Now even the right password waits, with a clear message and Retry-After.
    blocked = await post_login(client, user.email)
    assert blocked.status_code == 429
    assert "Too many failed logins for this e-mail address" in blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
    assert "gw_session" not in client.cookies
    # The e-mail's case or spaces do not make it another account.
    assert (await post_login(client, f" {user.email.upper()}")).status_code == 429
    # Someone else on the same address is not locked out by it.
    assert (await post_login(client, bystander.email)).status_code == 303


async def test_a_successful_login_forgets_the_emails_failures(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    user = await make_user(pool)
    for _ in range(throttle.PER_EMAIL.failures - 1):
        await post_login(client, user.email, "wrong-wrong-wrong")
    assert (await post_login(client, user.email)).status_code == 303
    for _ in range(throttle.PER_EMAIL.failures - 1):
        assert (await post_login(client, user.email, "wrong-wrong-wrong")).status_code == 400


async def test_logins_work_when_redis_is_down(
    settings: Settings, pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    user = await make_user(pool)
    down = replace(settings, redis_url="redis://127.0.0.1:1/0")
    async for client in app_client(create_app(down)):
        assert (await post_login(client, user.email, "wrong-wrong-wrong")).status_code == 400
        assert (await post_login(client, user.email)).status_code == 303
    warnings = [r.getMessage() for r in caplog.records if r.name == "web.throttle"]
    assert any("login throttling unavailable" in w for w in warnings), warnings


# Invites --------------------------------------------------------------------------------------


async def invite(pool: Pool, vault: Vault) -> tuple[str, str]:
    """A new shop whose new owner has an invite; returns the invite's path and the e-mail."""
    created = await shops.create_shop_for_owner(
        pool, vault, name="Sokkeriet", owner_email=f"owner-{secrets.token_hex(3)}@example.com"
    )
    assert created.invite_token is not None
    return f"/invite/{created.invite_token}", created.owner.email


async def choose_password(
    client: httpx.AsyncClient, path: str, password: str, confirm: str | None = None
) -> httpx.Response:
    token = await form_token(client, path)
    data = {"password": password, "password_confirm": confirm or password, "csrf_token": token}
    return await client.post(path, data=data)


async def test_an_invite_sets_the_password_and_logs_in(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    path, email = await invite(pool, vault)
    page = await client.get(path)
    assert page.status_code == 200
    assert email in page.text and 'autocomplete="new-password"' in page.text
    assert page.headers["cache-control"] == "no-store"

    response = await choose_password(client, path, "a brand new password")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "Sokkeriet" in (await client.get("/", follow_redirects=True)).text
    # Single use: the link is spent, and the new password logs in.
    used = await client.get(path)
    assert used.status_code == 404 and "This link cannot be used" in used.text
    assert await pool.fetchval("SELECT count(*) FROM user_tokens WHERE used_at IS NULL") == 0
    async with httpx.AsyncClient(transport=client._transport, base_url=client.base_url) as other:
        assert (await post_login(other, email, "a brand new password")).status_code == 303


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [
        ("short", None, "at least 10 characters"),
        ("a brand new password", "a different password", "The two passwords differ."),
    ],
)
async def test_an_invite_refuses_a_weak_or_mistyped_password(
    client: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    password: str,
    confirm: str | None,
    message: str,
) -> None:
    path, _ = await invite(pool, vault)
    response = await choose_password(client, path, password, confirm)
    assert response.status_code == 400 and message in response.text
    assert "gw_session" not in client.cookies
    assert (await client.get(path)).status_code == 200  # still usable


async def test_an_invite_post_needs_the_form_token(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    path, _ = await invite(pool, vault)
    data = {"password": "a brand new password", "password_confirm": "a brand new password"}
    response = await client.post(path, data=data)
    assert response.status_code == 400 and "out of date" in response.text
    assert await pool.fetchval("SELECT count(*) FROM users WHERE password_hash IS NOT NULL") == 0


async def test_unknown_expired_and_misused_links_get_the_same_clear_page(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    path, _ = await invite(pool, vault)
    token = path.rsplit("/", 1)[1]
    for wrong in ("/invite/nonsense", f"/invite/{'x' * 43}", f"/reset/{token}"):
        response = await client.get(wrong)
        assert response.status_code == 404 and "This link cannot be used" in response.text, wrong
    await pool.execute(
        "UPDATE user_tokens SET created_at = created_at - interval '8 days', "
        "expires_at = created_at - interval '1 second'"
    )
    assert (await client.get(path)).status_code == 404
    response = await client.post(path, data={"password": "a brand new password"})
    assert response.status_code == 404


# Password resets --------------------------------------------------------------------------------


async def test_a_reset_link_sets_a_new_password_and_ends_every_other_session(
    client: httpx.AsyncClient, pool: Pool, settings: Settings
) -> None:
    user = await make_user(pool)
    async for elsewhere in app_client(create_app(settings)):
        await login(elsewhere, user.email)
        async with pool.acquire() as conn:
            token = await users.issue_token(conn, user_id=user.id, purpose="password_reset")
        path = f"/reset/{token}"
        page = await client.get(path)
        assert "Choose a new password" in page.text and user.email in page.text
        response = await choose_password(client, path, "the new password here")
        assert response.status_code == 303
        # The other browser is logged out; this one is logged in.
        assert (await elsewhere.get("/")).text.count("Log out") == 0
        assert await pool.fetchval("SELECT count(*) FROM sessions") == 1
    assert "Log out" in (await client.get("/", follow_redirects=True)).text
    assert (await post_login(client, user.email)).status_code == 400  # the old password
    assert (await post_login(client, user.email, "the new password here")).status_code == 303
    assert (await client.get(path)).status_code == 404


async def test_an_invite_link_is_not_a_reset_link(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    path, _ = await invite(pool, vault)
    reset_path = path.replace("/invite/", "/reset/")
    response = await choose_password(client, path, "a brand new password")
    assert response.status_code == 303
    assert (await client.post(reset_path, data={})).status_code == 404
