"""Alerts by mail: the settings page (logged in, CSRF-checked) and the unsubscribe link,
which works without a login and only as it was signed."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from gateway.db import Pool
from gateway.settings import Settings
from tenants.mail import preferences
from tests.factories import make_user
from tests.web.test_accounts import CSRF, login


async def test_the_unsubscribe_link_works_without_logging_in(
    client: httpx.AsyncClient, pool: Pool, settings: Settings
) -> None:
    user = await make_user(pool)
    url = preferences.unsubscribe_url(
        settings.base_url, settings.secret_key, user.id, "documents.failed"
    )
    link = urlsplit(url)
    path = f"{link.path}?{link.query}"

    page = await client.get(path)
    assert page.status_code == 200
    assert "Documents failed" in page.text and 'method="post"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert await preferences.opted_out(pool, user.id) == set()  # opening the link changes nothing

    done = await client.post(path)
    assert done.status_code == 200 and "Alerts stopped" in done.text
    assert await preferences.opted_out(pool, user.id) == {"documents.failed"}
    assert "gw_session" not in client.cookies
    # Again (a mail client's one-click, RFC 8058): still fine, still one opt-out.
    again = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert await preferences.opted_out(pool, user.id) == {"documents.failed"}


async def test_a_link_is_good_only_for_its_user_and_kind(
    client: httpx.AsyncClient, pool: Pool, settings: Settings
) -> None:
    user, other = await make_user(pool), await make_user(pool)
    token = preferences.token(settings.secret_key, user.id, "documents.failed")
    for query in (
        f"u={other.id}&k=documents.failed&t={token}",  # someone else
        f"u={user.id}&k=source.stopped&t={token}",  # another kind
        f"u={user.id}&k=documents.failed&t={token[:-1]}x",  # tampered
        f"u={user.id}&k=everything&t={token}",
        f"u=not-a-uuid&k=documents.failed&t={token}",
        "",
    ):
        assert (await client.get(f"/mail/unsubscribe?{query}")).status_code == 404, query
        assert (await client.post(f"/mail/unsubscribe?{query}")).status_code == 404, query
    assert await pool.fetchval("SELECT count(*) FROM mail_opt_outs") == 0


async def test_preferences_are_chosen_on_the_settings_page(
    client: httpx.AsyncClient, pool: Pool
) -> None:
    assert (await client.get("/account/alerts")).status_code == 303  # to the login
    user = await make_user(pool)
    csrf = await login(client, user.email)
    page = await client.get("/account/alerts")
    assert page.status_code == 200
    assert page.text.count('type="checkbox"') == 4 and page.text.count(" checked") == 4

    # Without the CSRF token nothing changes.
    forged = await client.post("/account/alerts", data={"kind": ["documents.failed"]})
    assert forged.status_code == 403
    assert await preferences.opted_out(pool, user.id) == set()

    kept = ["connection.needs_reconnect", "source.stopped"]
    saved = await client.post("/account/alerts", data={"kind": kept, "csrf_token": csrf})
    assert saved.status_code == 303
    assert await preferences.opted_out(pool, user.id) == {
        "connection.renewal_failing",
        "documents.failed",
    }
    page = await client.get(saved.headers["location"])
    assert page.text.count(" checked") == 2 and "Saved." in page.text
    assert CSRF.search(page.text)

    bad = await client.post("/account/alerts", data={"kind": ["everything"], "csrf_token": csrf})
    assert bad.status_code == 400
    assert len(await preferences.opted_out(pool, user.id)) == 2


async def test_the_pages_speak_danish(
    client: httpx.AsyncClient, pool: Pool, settings: Settings
) -> None:
    user = await make_user(pool)
    url = preferences.unsubscribe_url(
        settings.base_url, settings.secret_key, user.id, "connection.needs_reconnect"
    )
    link = urlsplit(url)
    page = await client.get(f"{link.path}?{link.query}", headers={"Accept-Language": "da"})
    assert "Stop disse advarsler" in page.text
    assert "En Dinero-forbindelse skal forbindes igen" in page.text
