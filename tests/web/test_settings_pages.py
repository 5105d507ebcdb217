"""A shop's settings in the browser: the form, all-or-nothing saving, the live preview,
accounts from the organisation's own chart (or kept when it cannot be read), and rolling
the ingest secret."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from arq.connections import ArqRedis

from gateway.db import Pool
from gateway.dinero.oauth import VismaConnect
from gateway.ratelimit import BudgetKey, RateBudget
from gateway.settings import Settings
from gateway.vault import Vault
from tenants.shops import ingest_secrets
from tests.conftest import app_client
from tests.factories import make_shop
from tests.live import LiveSandbox
from tests.tenants.dinero.connections.test_connections import connect
from tests.web.test_accounts import login
from tests.web.test_shops import owner_of_shop, vary
from web import i18n, settings_form, settlement_settings
from web.app import create_app

PREVIEW = {"HX-Request": "true", "HX-Target": "invoice-preview"}
STANDARD = {
    "trigger": "paid",
    "mode": "booked",
    "language": "da-DK",
    "invoice_text": "{shop} — order {number}",
    "document_kind": "invoice",
    "time_zone": "Europe/Copenhagen",
}


def form(csrf: str, **changes: str) -> dict[str, str]:
    accounts = {f"account_{role}": "" for role in settings_form.ROLES}
    deposits = {f"payment_account_{key}": "" for key in settlement_settings.ACCOUNT_KEYS}
    return {
        "csrf_token": csrf,
        **STANDARD,
        **accounts,
        **deposits,
        "receivable_account": "",
        **changes,
    }


async def stored(pool: Pool, shop_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(
        "SELECT trigger, mode, language, invoice_text, account_overrides FROM shops WHERE id = $1",
        shop_id,
    )
    assert row is not None
    return dict(row)


def select(page: str, role: str) -> str:
    match = re.search(rf'<select name="account_{role}">(.*?)</select>', page, re.S)
    assert match, role
    return match.group(1)


def options(page: str, role: str) -> list[str]:
    return re.findall(r'<option value="(\d*)"', select(page, role))


# --- the form --------------------------------------------------------------------------------


async def test_the_page_shows_the_settings_as_they_are(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, settings: Settings
) -> None:
    shop, _ = await owner_of_shop(client, pool, vault, name="Sokkeriet")
    await pool.execute(
        "UPDATE shops SET trigger = 'shipped', mode = 'draft', invoice_text = 'Ordre {number}' "
        "WHERE id = $1",
        shop.id,
    )

    page = await client.get(f"/shops/{shop.id}/settings")

    assert page.status_code == 200 and "<html" in page.text
    assert 'name="trigger" value="shipped" checked' in page.text
    assert 'name="mode" value="draft" checked' in page.text
    assert (
        ">Ordre {number}</textarea>" in page.text and "<q data-preview>Ordre 1001</q>" in page.text
    )
    assert 'hx-trigger="input changed delay:300ms"' in page.text
    assert 'data-chart="not_connected"' in page.text  # no chart without a connection
    assert options(page.text, "goods_dk") == [""]  # the standard account, nothing else
    assert f"{settings.base_url}/api/v1/shops/{shop.id}/events" in page.text
    assert f'href="/shops/{shop.id}/ingest-secret"' in page.text
    assert 'hx-boost="false"' in page.text  # a plain POST: a 422 must be shown


async def test_saving_valid_settings(client: httpx.AsyncClient, pool: Pool, vault: Vault) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    sent = form(csrf, trigger="created", mode="draft", language="en-GB")
    sent["invoice_text"] = "Order {number}\r\nfrom {shop}"

    saved = await client.post(f"/shops/{shop.id}/settings", data=sent)

    assert saved.status_code == 303
    assert saved.headers["location"] == f"/shops/{shop.id}/settings?saved=1"
    assert await stored(pool, shop.id) == {
        "trigger": "created",
        "mode": "draft",
        "language": "en-GB",
        "invoice_text": "Order {number}\nfrom {shop}",
        "account_overrides": {},
    }
    page = await client.get(saved.headers["location"])
    assert 'class="notice"' in page.text
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE shop_id = $1 AND kind = 'shop.settings_changed'",
            shop.id,
        )
        == 1
    )


async def test_nothing_is_stored_when_anything_is_invalid(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    before = await stored(pool, shop.id)
    sent = form(
        csrf,
        trigger="sometimes",
        mode="draft",
        invoice_text="Ordre {nummer}",
        account_shipping="abc",
    )

    refused = await client.post(f"/shops/{shop.id}/settings", data=sent)

    assert refused.status_code == 422 and "<html" in refused.text
    assert await stored(pool, shop.id) == before
    problems = dict(re.findall(r'<li data-field="([^"]+)">([^<]+)</li>', refused.text))
    assert set(problems) == {"trigger", "invoice_text", "account_shipping"}
    assert "{nummer} is not a placeholder" in problems["invoice_text"]
    assert problems["account_shipping"].startswith("Shipping (25 % VAT): not an account number")
    # The form comes back as it was sent.
    assert ">Ordre {nummer}</textarea>" in refused.text
    assert 'name="mode" value="draft" checked' in refused.text
    danish = await client.post(
        f"/shops/{shop.id}/settings", data=sent, headers={"Accept-Language": "da"}
    )
    assert "{nummer} er ikke en pladsholder" in danish.text and "Intet blev gemt" in danish.text


async def test_an_account_can_be_kept_or_reset_while_the_chart_cannot_be_read(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault)
    await pool.execute(
        "UPDATE shops SET account_overrides = '{\"goods_dk\": 1010}' WHERE id = $1", shop.id
    )
    page = await client.get(f"/shops/{shop.id}/settings")
    assert options(page.text, "goods_dk") == ["", "1010"]
    assert 'value="1010" selected' in select(page.text, "goods_dk")

    kept = await client.post(f"/shops/{shop.id}/settings", data=form(csrf, account_goods_dk="1010"))
    assert kept.status_code == 303
    assert (await stored(pool, shop.id))["account_overrides"] == {"goods_dk": 1010}
    changed = await client.post(
        f"/shops/{shop.id}/settings", data=form(csrf, account_goods_dk="1020")
    )
    assert changed.status_code == 422 and "cannot be read right now" in changed.text
    assert (await stored(pool, shop.id))["account_overrides"] == {"goods_dk": 1010}
    reset = await client.post(f"/shops/{shop.id}/settings", data=form(csrf))
    assert reset.status_code == 303
    assert (await stored(pool, shop.id))["account_overrides"] == {}


# --- the preview -----------------------------------------------------------------------------


async def test_the_preview_follows_the_text_as_it_is_typed(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, csrf = await owner_of_shop(client, pool, vault, name="Sokkeriet")
    url = f"/shops/{shop.id}/settings/preview"

    typed = await client.get(
        url, params={"invoice_text": "Ordre {number} fra {shop}"}, headers=PREVIEW
    )
    assert typed.status_code == 200 and "<html" not in typed.text
    assert typed.text.lstrip().startswith('<div id="invoice-preview"')
    assert "<q data-preview>Ordre 1001 fra Sokkeriet</q>" in typed.text
    assert {"HX-Request", "HX-Target"} <= vary(typed)
    customer = await client.get(url, params={"invoice_text": "Til {customer}"}, headers=PREVIEW)
    assert "<q data-preview>Til Karen Kunde</q>" in customer.text
    whole = await client.get(url, params={"invoice_text": "Nr. {order_id}"})
    assert "<html" in whole.text and ">Nr. {order_id}</textarea>" in whole.text
    assert "<q data-preview>Nr. 1001</q>" in whole.text
    wrong = await client.get(url, params={"invoice_text": "{number"}, headers=PREVIEW)
    assert "data-problems" in wrong.text and "Braces are not matched" in wrong.text
    danish = await client.get(
        url, params={"invoice_text": "{kunde}"}, headers={**PREVIEW, "Accept-Language": "da"}
    )
    assert "{kunde} er ikke en pladsholder" in danish.text

    # Without JavaScript: the Preview button posts the whole form and gets the page back.
    assert f'formaction="{url}"' in (await client.get(f"/shops/{shop.id}/settings")).text
    before = await stored(pool, shop.id)
    page = await client.post(url, data=form(csrf, mode="draft", invoice_text="Nr. {number}"))
    assert page.status_code == 200 and "<html" in page.text
    assert "<q data-preview>Nr. 1001</q>" in page.text
    assert 'name="mode" value="draft" checked' in page.text
    assert await stored(pool, shop.id) == before  # a preview stores nothing
    assert (await client.post(url, data={"invoice_text": "x"})).status_code == 403


def test_template_problems_speak_both_languages() -> None:
    da, en = i18n.Translator("da"), i18n.Translator("en")
    assert settings_form.template_problems(en, "{shop} {number}") == []
    assert settings_form.template_problems(en, "x" * 1001) == [
        "The text is longer than 1000 characters."
    ]
    assert settings_form.template_problems(da, "{number:>5}") == [
        "{number:>5} er ikke en pladsholder: brug {shop}, {number}, {order_id}, {customer}."
    ]
    assert settings_form.template_problems(da, "}")[0].startswith("Tuborgklammerne")


# --- accounts from the organisation's chart ----------------------------------------------------


@pytest.fixture
async def wired(
    settings: Settings, pool: Pool, redis: ArqRedis, sandbox_server: LiveSandbox
) -> AsyncIterator[httpx.AsyncClient]:
    """The app talking to the sandbox for Visma Connect and the Dinero API."""
    pointed = replace(
        settings, dinero_auth_url=sandbox_server.url, dinero_api_url=sandbox_server.url
    )
    async for client in app_client(create_app(pointed)):
        yield client


async def test_accounts_are_chosen_from_the_organisations_chart(
    wired: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    redis: ArqRedis,
    visma: VismaConnect,
    settings: Settings,
    sandbox_server: LiveSandbox,
) -> None:
    shop, csrf = await owner_of_shop(wired, pool, vault)
    await connect(pool, vault, sandbox_server, visma, shop=shop)
    budget, key = RateBudget(redis), BudgetKey(settings.dinero_client_id, 1001)
    calls = sandbox_server.sandbox.stats.api_calls

    page = (await wired.get(f"/shops/{shop.id}/settings")).text

    assert "data-chart" not in page and "Sokkeriet ApS" in page
    assert "1000" in options(page, "goods_dk") and "1350" in options(page, "goods_dk")
    assert "1050" not in options(page, "goods_dk") and "2000" not in options(page, "goods_dk")
    assert options(page, "no_vat")[1:] and "1000" not in options(page, "no_vat")
    assert "1050" in options(page, "no_vat")
    assert options(page, "goods_eu_business")[1:] == ["1100", "1200"]
    assert options(page, "goods_export")[1:] == ["1255", "1260"]
    # It took a slot for the chart and one for the deposit accounts.
    assert await budget.free_slots(key, within=0) == budget.limit - 2
    seen = calls[1001]
    await wired.get(f"/shops/{shop.id}/settings")
    assert calls[1001] == seen  # cached: no second call

    chosen = await wired.post(
        f"/shops/{shop.id}/settings", data=form(csrf, account_shipping="1000")
    )
    assert chosen.status_code == 303
    assert (await stored(pool, shop.id))["account_overrides"] == {"shipping": 1000}
    for role, account, problem in [
        ("goods_dk", "9999", "is not in the organisation&#39;s chart"),
        ("no_vat", "1000", "has a VAT code that does not suit it"),
        ("goods_dk", "1050", "does not carry 25 % sales VAT"),
    ]:
        refused = await wired.post(
            f"/shops/{shop.id}/settings", data=form(csrf, **{f"account_{role}": account})
        )
        assert refused.status_code == 422 and problem in refused.text, (role, account)
    assert (await stored(pool, shop.id))["account_overrides"] == {"shipping": 1000}


async def test_gift_cards_sold_have_no_standard_account_until_the_owner_chooses_one(
    wired: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
) -> None:
    shop, csrf = await owner_of_shop(wired, pool, vault)
    await connect(pool, vault, sandbox_server, visma, shop=shop)
    page = (await wired.get(f"/shops/{shop.id}/settings")).text
    assert "Gift cards sold (a liability, no VAT)" in page
    assert "None chosen: the standard chart has none" in select(page, "gift_cards")
    offered = options(page, "gift_cards")
    assert "6800" in offered and "1000" not in offered  # accounts without VAT only
    refused = await wired.post(
        f"/shops/{shop.id}/settings", data=form(csrf, account_gift_cards="1000")
    )
    assert refused.status_code == 422 and "has a VAT code that does not suit it" in refused.text
    chosen = await wired.post(
        f"/shops/{shop.id}/settings", data=form(csrf, account_gift_cards="6800")
    )
    assert chosen.status_code == 303
    assert (await stored(pool, shop.id))["account_overrides"] == {"gift_cards": 6800}
    # Tips and duties have standard accounts: sales without VAT.
    assert "Standard (1050)" in select(page, "tips") and "Standard (1050)" in select(page, "duties")


async def test_when_dinero_cannot_be_reached_the_page_says_so_and_still_saves(
    wired: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    visma: VismaConnect,
    sandbox_server: LiveSandbox,
) -> None:
    shop, csrf = await owner_of_shop(wired, pool, vault)
    await connect(pool, vault, sandbox_server, visma, shop=shop)
    await pool.execute(
        "UPDATE shops SET account_overrides = '{\"shipping\": 1350}' WHERE id = $1", shop.id
    )
    sandbox_server.sandbox.faults.outage = True

    page = await wired.get(f"/shops/{shop.id}/settings")
    assert page.status_code == 200 and 'data-chart="unreachable"' in page.text
    assert options(page.text, "shipping") == ["", "1350"]

    kept = await wired.post(
        f"/shops/{shop.id}/settings",
        data=form(csrf, invoice_text="Ordre {number}", account_shipping="1350"),
    )
    assert kept.status_code == 303
    assert (await stored(pool, shop.id))["invoice_text"] == "Ordre {number}"
    changed = await wired.post(
        f"/shops/{shop.id}/settings", data=form(csrf, account_shipping="1000")
    )
    assert changed.status_code == 422
    assert (await stored(pool, shop.id))["account_overrides"] == {"shipping": 1350}


# --- the ingest secret -----------------------------------------------------------------------


async def test_rolling_the_secret_shows_the_new_one_once_and_keeps_the_old_one_a_day(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, old, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    url = f"/shops/{shop.id}/ingest-secret"

    question = await client.get(url)
    assert question.status_code == 200 and f'action="{url}"' in question.text
    assert 'hx-boost="false"' in question.text and "24 hours" in question.text
    forged = await client.post(url)
    assert forged.status_code == 403

    rolled = await client.post(url, data={"csrf_token": csrf})

    assert rolled.status_code == 200 and rolled.headers["cache-control"] == "no-store"
    assert 'hx-history="false"' in rolled.text
    match = re.search(r'data-secret="ingest">([^<]+)<', rolled.text)
    assert match and match.group(1) != old.reveal()
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        valid = await ingest_secrets.secrets_for_verification(conn, vault, shop.id, now)
        later = await ingest_secrets.secrets_for_verification(
            conn, vault, shop.id, now + timedelta(hours=25)
        )
    assert [s.reveal() for s in valid] == [match.group(1), old.reveal()]
    assert [s.reveal() for s in later] == [match.group(1)]
    settings_page = await client.get(f"/shops/{shop.id}/settings")
    assert match.group(1) not in settings_page.text  # never shown again
    assert "The previous secret works until" in settings_page.text


async def test_another_tenants_settings_are_not_found(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    _, csrf = await owner_of_shop(client, pool, vault)
    theirs, secret, _ = await make_shop(pool, vault)
    before = await stored(pool, theirs.id)
    base = f"/shops/{theirs.id}"
    for method, path in [
        ("GET", "/settings"),
        ("POST", "/settings"),
        ("GET", "/settings/preview"),
        ("POST", "/settings/preview"),
        ("GET", "/ingest-secret"),
        ("POST", "/ingest-secret"),
    ]:
        data = form(csrf, trigger="created") if method == "POST" else None
        answer = await client.request(method, base + path, data=data)
        assert answer.status_code == 404, (method, path)
    assert await stored(pool, theirs.id) == before
    async with pool.acquire() as conn:
        valid = await ingest_secrets.secrets_for_verification(
            conn, vault, theirs.id, datetime.now(UTC)
        )
    assert [s.reveal() for s in valid] == [secret.reveal()]
