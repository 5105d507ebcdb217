"""The team page: invites by link, joining, roles, removal, and the audit log it feeds."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.audit import repository as audit
from tenants.team import members
from tests.conftest import app_client
from tests.factories import make_shop, make_user
from tests.web.test_accounts import CSRF, login
from tests.web.test_admin import as_admin
from tests.web.test_settings_pages import form
from tests.web.test_shops import fake_connection
from web.app import create_app

LINK = re.compile(r'name="invite_url" value="([^"]+)"')
NEW_PASSWORD = "a long and new password"


@pytest.fixture
async def invitee(
    settings: Settings, client: httpx.AsyncClient
) -> AsyncIterator[httpx.AsyncClient]:
    """A second browser, for the person invited."""
    async for other in app_client(create_app(settings)):
        yield other


async def invite(
    client: httpx.AsyncClient, csrf: str, shop_id: object, email: str, role: str
) -> httpx.Response:
    return await client.post(
        f"/shops/{shop_id}/team/invites",
        data={"csrf_token": csrf, "email": email, "role": role},
    )


def join_path(page: str) -> str:
    match = LINK.search(page)
    assert match, page
    return "/join/" + match.group(1).rsplit("/join/", 1)[1]


async def actions(pool: Pool, shop_id: object) -> list[tuple[str, str, str]]:
    entries = await audit.recent(pool, shop_id)  # type: ignore[arg-type]
    return [(e.actor_email, e.action, e.detail) for e in reversed(entries)]


async def test_an_owner_invites_a_bookkeeper_who_sets_a_password_and_joins(
    client: httpx.AsyncClient, invitee: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    made = await invite(client, csrf, shop.id, "Karen@Example.dk", "bookkeeper")
    assert made.status_code == 200
    assert made.headers["cache-control"] == "no-store"
    path = join_path(made.text)
    assert "karen@example.dk" in made.text and path in made.text  # the message carries it
    page = await client.get(f"/shops/{shop.id}/team")
    assert 'data-invite="karen@example.dk"' in page.text
    assert path not in page.text  # shown once: only its hash is kept
    # And mailed to the invitee, through the mail outbox, in the same transaction.
    [mail] = await pool.fetch("SELECT recipient, body_text, body_html FROM mails")
    assert mail["recipient"] == "karen@example.dk"
    assert path in mail["body_text"] and f'{path}">' in mail["body_html"]

    form = await invitee.get(path)
    assert form.status_code == 200 and "karen@example.dk" in form.text
    token = CSRF.search(form.text)
    assert token
    mismatch = await invitee.post(
        path,
        data={"csrf_token": token[1], "password": NEW_PASSWORD, "password_confirm": "other"},
    )
    assert mismatch.status_code == 400
    joined = await invitee.post(
        path,
        data={"csrf_token": token[1], "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    assert joined.status_code == 303 and joined.headers["location"] == f"/shops/{shop.id}"
    shop_page = await invitee.get(f"/shops/{shop.id}")
    assert shop_page.status_code == 200
    karen = await pool.fetchval("SELECT id FROM users WHERE email = 'karen@example.dk'")
    assert await members.role_of(pool, shop.id, karen) == "bookkeeper"

    assert (await invitee.get(path)).status_code == 404  # used up
    assert await actions(pool, shop.id) == [
        (owner.email, "member.invited", "karen@example.dk, bookkeeper"),
        ("karen@example.dk", "member.joined", "karen@example.dk, bookkeeper"),
    ]


async def test_an_existing_user_logs_in_and_accepts(
    client: httpx.AsyncClient, invitee: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    accountant = await make_user(pool)
    csrf = await login(client, owner.email)
    path = join_path((await invite(client, csrf, shop.id, accountant.email, "owner")).text)

    page = await invitee.get(path)
    assert "Log in to accept" in page.text and "/login?next=" in page.text
    assert "password_confirm" not in page.text

    await login(invitee, accountant.email)
    page = await invitee.get(path)
    assert "Accept and open the shop" in page.text
    token = CSRF.search(page.text)
    assert token
    accepted = await invitee.post(path, data={"csrf_token": token[1]})
    assert accepted.status_code == 303
    assert await members.role_of(pool, shop.id, accountant.id) == "owner"


async def test_someone_else_logged_in_cannot_accept(
    client: httpx.AsyncClient, invitee: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    stranger = await make_user(pool)
    csrf = await login(client, owner.email)
    path = join_path((await invite(client, csrf, shop.id, "k@example.dk", "owner")).text)
    stranger_csrf = await login(invitee, stranger.email)
    refused = await invitee.post(path, data={"csrf_token": stranger_csrf})
    assert refused.status_code == 403
    assert await members.role_of(pool, shop.id, stranger.id) is None
    assert (await invitee.get(path)).status_code == 200  # still open for the right person


async def test_bad_invites_are_refused_and_store_nothing(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    assert (await invite(client, csrf, shop.id, "not an address", "owner")).status_code == 400
    assert (await invite(client, csrf, shop.id, "a@example.dk", "viewer")).status_code == 400
    assert (await invite(client, csrf, shop.id, owner.email, "owner")).status_code == 409
    no_csrf = await client.post(
        f"/shops/{shop.id}/team/invites",
        data={"email": "a@example.dk", "role": "owner"},
        headers={"X-CSRF-Token": "wrong"},
    )
    assert no_csrf.status_code == 403
    assert await pool.fetchval("SELECT count(*) FROM team_invites") == 0
    assert await pool.fetchval("SELECT count(*) FROM mails") == 0
    assert await actions(pool, shop.id) == []


async def test_owners_change_roles_and_remove_members_but_never_the_last_owner(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    other = await make_user(pool)
    await pool.execute(
        "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, 'bookkeeper')",
        other.id,
        shop.id,
    )
    csrf = await login(client, owner.email)
    base = f"/shops/{shop.id}/team/members"

    last = await client.post(
        f"{base}/{owner.id}/role", data={"csrf_token": csrf, "role": "bookkeeper"}
    )
    assert last.status_code == 409 and "A shop needs an owner" in last.text
    leave = await client.post(f"{base}/{owner.id}/remove", data={"csrf_token": csrf})
    assert leave.status_code == 409
    assert await members.role_of(pool, shop.id, owner.id) == "owner"

    promoted = await client.post(
        f"{base}/{other.id}/role", data={"csrf_token": csrf, "role": "owner"}
    )
    assert promoted.status_code == 303
    assert await members.role_of(pool, shop.id, other.id) == "owner"
    # Now the first owner may step down, and is sent back to a page a bookkeeper may see.
    stepped = await client.post(
        f"{base}/{owner.id}/role", data={"csrf_token": csrf, "role": "bookkeeper"}
    )
    assert stepped.status_code == 303 and stepped.headers["location"] == f"/shops/{shop.id}"
    assert (await client.get(f"/shops/{shop.id}/team")).status_code == 403

    assert await actions(pool, shop.id) == [
        (owner.email, "member.role_changed", f"{other.email}: bookkeeper → owner"),
        (owner.email, "member.role_changed", f"{owner.email}: owner → bookkeeper"),
    ]


async def test_the_audit_log_records_changes_without_secrets_for_owners_and_the_admin(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    rolled = await client.post(f"/shops/{shop.id}/ingest-secret", data={"csrf_token": csrf})
    assert rolled.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9_-]+", rolled.text)
    assert secret
    assert await actions(pool, shop.id) == [(owner.email, "secret.rolled", "")]
    stored = await pool.fetch("SELECT * FROM audit_log")
    assert secret[0] not in repr([dict(r) for r in stored])

    page = await client.get(f"/shops/{shop.id}/audit")
    assert page.status_code == 200
    assert 'data-action="secret.rolled"' in page.text and "Rolled the ingest secret" in page.text

    await client.post("/logout", data={"csrf_token": csrf})
    await as_admin(client, pool)
    admin_page = await client.get(f"/admin/shops/{shop.id}")
    assert 'data-action="secret.rolled"' in admin_page.text and owner.email in admin_page.text


async def test_settings_activation_and_disconnect_each_leave_one_line(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, redis: ArqRedis
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    await fake_connection(pool, redis, shop.id)
    saved = await client.post(
        f"/shops/{shop.id}/settings", data=form(csrf, trigger="created", mode="draft")
    )
    assert saved.status_code == 303
    unchanged = await client.post(
        f"/shops/{shop.id}/settings", data=form(csrf, trigger="created", mode="draft")
    )
    assert unchanged.status_code == 303  # saving what is there already changes nothing
    await pool.execute("UPDATE shops SET activated_at = NULL WHERE id = $1", shop.id)
    for _ in range(2):  # the second click finds the shop live already
        await client.post(f"/shops/{shop.id}/activate", data={"csrf_token": csrf})
    await client.post(f"/shops/{shop.id}/dinero/disconnect", data={"csrf_token": csrf})
    assert await actions(pool, shop.id) == [
        (owner.email, "settings.changed", "trigger, mode"),
        (owner.email, "shop.activated", ""),
        (owner.email, "dinero.disconnected", "Org 1001"),
    ]


async def test_an_owner_withdraws_an_open_invite(
    client: httpx.AsyncClient, invitee: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    path = join_path((await invite(client, csrf, shop.id, "k@example.dk", "bookkeeper")).text)
    invite_id = await pool.fetchval("SELECT id FROM team_invites")
    url = f"/shops/{shop.id}/team/invites/{invite_id}/revoke"
    assert (await client.post(url, data={"csrf_token": csrf})).status_code == 303
    assert (await invitee.get(path)).status_code == 404
    assert (await client.post(url, data={"csrf_token": csrf})).status_code == 404  # once
    assert (await actions(pool, shop.id))[-1] == (owner.email, "invite.revoked", "k@example.dk")
