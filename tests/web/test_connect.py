"""Connect and reconnect through the browser's path: the gateway in-process, the sandbox's
consent page over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.dinero.connections import service as connections
from tests.conftest import app_client
from tests.factories import make_shop
from tests.live import LiveSandbox
from tests.sandbox.conftest import HtmlForm
from tests.web.test_accounts import CSRF, login
from web import connect
from web.app import create_app


@pytest.fixture
async def gateway(
    settings: Settings, pool: Pool, sandbox_server: LiveSandbox
) -> AsyncIterator[httpx.AsyncClient]:
    wired = replace(settings, dinero_auth_url=sandbox_server.url, dinero_api_url=sandbox_server.url)
    async for client in app_client(create_app(wired)):
        yield client


async def consent(
    gateway: httpx.AsyncClient, shop_id: object, *, button: str = "Approve", form_post: bool = False
) -> httpx.Response:
    """Presses Connect, answers Visma's consent page like a browser, and hands the redirect
    back to the gateway's callback. Returns the gateway's answer to the callback."""
    start = await gateway.get(f"/shops/{shop_id}/dinero/connect")
    assert start.status_code == 303, start.text
    authorize_url = start.headers["location"]
    if form_post:
        authorize_url += "&response_mode=form_post"
    async with httpx.AsyncClient() as browser:
        page = await browser.get(authorize_url)
        assert page.status_code == 200, page.text
        form = HtmlForm(page.text)
        labels = {label: (name, value) for name, value, label in form.buttons}
        name, value = labels[button]
        action = httpx.URL(authorize_url).join(form.action)
        answer = await browser.post(action, data={**form.fields, name: value})
    if form_post:
        assert answer.status_code == 200
        back = HtmlForm(answer.text)
        callback = urlsplit(back.action)
        return await gateway.post(callback.path, data=back.fields)
    assert answer.status_code in (302, 303), answer.text
    callback = urlsplit(answer.headers["location"])
    return await gateway.get(f"{callback.path}?{callback.query}")


async def pick(gateway: httpx.AsyncClient, picker: httpx.Response, organization_id: int) -> str:
    location = picker.headers["location"]
    page = await gateway.get(location)
    assert page.status_code == 200
    match = CSRF.search(page.text)
    assert match
    chosen = await gateway.post(
        location, data={"csrf_token": match.group(1), "organization_id": str(organization_id)}
    )
    assert chosen.status_code == 303, chosen.text
    return str(chosen.headers["location"])


async def test_an_owner_connects_a_shop_through_the_consent_page(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)

    picker = await consent(gateway, shop.id)
    assert picker.status_code == 303
    page = await gateway.get(picker.headers["location"])
    # Three organisations; the one without Pro is shown but cannot be chosen, with the reason.
    assert "Sokkeriet ApS" in page.text and "Strikkeriet I/S" in page.text
    assert 'value="1003" disabled' in page.text and "Needs Dinero Pro" in page.text

    assert await pick(gateway, picker, 1001) == f"/shops/{shop.id}"
    shown = await gateway.get(f"/shops/{shop.id}")
    assert 'data-status="active"' in shown.text and "Sokkeriet ApS" in shown.text
    connection = await connections.for_shop(pool, shop.id)
    assert connection is not None and connection.organization_id == 1001
    assert connection.status == "active"
    # The flow is spent: its tokens are not kept beside the connection's.
    assert (
        await pool.fetchval("SELECT count(*) FROM oauth_flows WHERE access_token_enc IS NOT NULL")
        == 0
    )
    # The shop's audit log says who connected which organisation.
    logged = await pool.fetch("SELECT actor_email, action, detail FROM audit_log")
    assert [tuple(r) for r in logged] == [(owner.email, "dinero.connected", "Sokkeriet ApS (1001)")]


async def test_a_non_pro_organisation_cannot_be_picked(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    picker = await consent(gateway, shop.id)
    location = picker.headers["location"]
    page = await gateway.get(location)
    match = CSRF.search(page.text)
    assert match
    refused = await gateway.post(
        location, data={"csrf_token": match.group(1), "organization_id": "1003"}
    )
    assert refused.status_code == 400
    assert "Dinero Pro" in refused.text
    assert await connections.for_shop(pool, shop.id) is None


async def test_a_second_shop_joins_the_same_organisation(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    first, _, owner = await make_shop(pool, vault)
    second, _, _ = await make_shop(pool, vault, owner=owner)
    await login(gateway, owner.email)
    await pick(gateway, await consent(gateway, first.id), 1001)
    await pick(gateway, await consent(gateway, second.id), 1001)
    a = await connections.for_shop(pool, first.id)
    b = await connections.for_shop(pool, second.id)
    assert a is not None and b is not None and a.id == b.id
    assert await pool.fetchval("SELECT count(*) FROM dinero_connections") == 1


async def test_declining_consent_changes_nothing(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    answer = await consent(gateway, shop.id, button="Deny")
    assert answer.status_code == 400
    assert "declined" in answer.text
    assert await connections.for_shop(pool, shop.id) is None


async def test_one_failed_organisation_list_is_asked_again_not_the_owner(
    gateway: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    sandbox_server: LiveSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    monkeypatch.setattr(connect, "ORGANIZATIONS_RETRY_AFTER", 0.2)
    sandbox = sandbox_server.sandbox
    sandbox.faults.error_rate = 1.0  # the organisation list answers 500 ...

    async def heal_after_the_first_failure() -> None:
        # The sandbox has no event to wait on: it only counts.
        while sandbox.stats.faults["error"] < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        sandbox.faults.error_rate = 0.0  # ... once

    healer = asyncio.create_task(heal_after_the_first_failure())
    picker = await consent(gateway, shop.id)
    await healer
    assert sandbox.stats.faults["error"] == 1
    assert picker.status_code == 303
    assert await pick(gateway, picker, 1001) == f"/shops/{shop.id}"


async def test_an_organisation_list_failing_twice_asks_the_owner_to_try_again(
    gateway: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    sandbox_server: LiveSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    monkeypatch.setattr(connect, "ORGANIZATIONS_RETRY_AFTER", 0.01)
    sandbox_server.sandbox.faults.error_rate = 1.0
    answer = await consent(gateway, shop.id)
    assert answer.status_code == 400
    assert "try again shortly" in answer.text
    assert sandbox_server.sandbox.stats.faults["error"] == 2
    assert await connections.for_shop(pool, shop.id) is None


async def test_form_post_callbacks_work_too(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    posted = await consent(gateway, shop.id, form_post=True)
    assert posted.status_code == 303
    picker = await gateway.get(posted.headers["location"])
    assert picker.status_code == 303
    assert await pick(gateway, picker, 1002) == f"/shops/{shop.id}"
    connection = await connections.for_shop(pool, shop.id)
    assert connection is not None and connection.organization_id == 1002


async def test_a_state_is_single_use_and_bound_to_its_session(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault, settings: Settings
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    start = await gateway.get(f"/shops/{shop.id}/dinero/connect")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]

    # Another session (even of the same user) cannot use it.
    async for other in app_client(create_app(settings)):
        await login(other, owner.email)
        stolen = await other.get("/oauth/dinero/callback", params={"code": "x", "state": state})
        assert stolen.status_code == 400
    # A bad code spends the state; trying again with it is refused as well.
    first = await gateway.get("/oauth/dinero/callback", params={"code": "bad", "state": state})
    assert first.status_code == 400 and "did not accept" in first.text
    again = await gateway.get("/oauth/dinero/callback", params={"code": "bad", "state": state})
    assert again.status_code == 400 and "not valid any more" in again.text
    assert await connections.for_shop(pool, shop.id) is None


async def test_reconnect_after_revocation_keeps_the_settings(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault, sandbox_server: LiveSandbox
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await pool.execute(
        "UPDATE shops SET mode = 'draft', invoice_text = 'Ordre {number}' WHERE id = $1", shop.id
    )
    await login(gateway, owner.email)
    first = await consent(gateway, shop.id)
    # Two Pro organisations and no connection yet: nothing is chosen for the owner.
    assert " checked" not in (await gateway.get(first.headers["location"])).text
    await pick(gateway, first, 1001)
    connection = await connections.for_shop(pool, shop.id)
    assert connection is not None
    await connections.mark_needs_reconnect(
        pool, connection.id, "revoked in the test", now=sandbox_server.sandbox.now()
    )
    shown = await gateway.get(
        f"/shops/{shop.id}", headers={"HX-Request": "true", "HX-Target": "connection"}
    )
    assert 'data-status="needs_reconnect"' in shown.text and "Reconnect" in shown.text
    assert "<html" not in shown.text  # the fragment htmx swaps in
    assert "HX-Request" in shown.headers["vary"]
    assert "Token valid until" not in shown.text  # a dead token's expiry means nothing

    again = await consent(gateway, shop.id)
    # Reconnecting: the organisation the shop was on is already chosen.
    picker = await gateway.get(again.headers["location"])
    assert 'value="1001" checked' in picker.text and picker.text.count(" checked") == 1
    await pick(gateway, again, 1001)
    connection = await connections.for_shop(pool, shop.id)
    assert connection is not None and connection.status == "active"
    row = await pool.fetchrow("SELECT mode, invoice_text FROM shops WHERE id = $1", shop.id)
    assert row is not None and (row["mode"], row["invoice_text"]) == ("draft", "Ordre {number}")


async def test_an_open_shop_page_finds_a_revoked_grant(
    gateway: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    sandbox_server: LiveSandbox,
    redis: ArqRedis,
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    await pick(gateway, await consent(gateway, shop.id), 1001)
    poll = {"HX-Request": "true", "HX-Target": "connection"}
    assert 'data-status="active"' in (await gateway.get(f"/shops/{shop.id}", headers=poll)).text

    sandbox_server.sandbox.revoke_organization(1001)
    # The first poll after the probe interval checks the connection after answering; the
    # next one shows the verdict.
    await redis.flushdb()
    await gateway.get(f"/shops/{shop.id}", headers=poll)
    shown = await gateway.get(f"/shops/{shop.id}", headers=poll)
    assert 'data-status="needs_reconnect"' in shown.text
    connection = await connections.for_shop(pool, shop.id)
    assert connection is not None and connection.status == "needs_reconnect"
    assert sandbox_server.sandbox.stats.unauthorized >= 1


async def test_an_expired_state_is_refused(
    gateway: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(gateway, owner.email)
    start = await gateway.get(f"/shops/{shop.id}/dinero/connect")
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    await pool.execute(
        "UPDATE oauth_flows SET created_at = now() - interval '1 hour', "
        "expires_at = now() - interval '1 second'"
    )
    answer = await gateway.get("/oauth/dinero/callback", params={"code": "x", "state": state})
    assert answer.status_code == 400 and "not valid any more" in answer.text
    assert await connections.for_shop(pool, shop.id) is None
