"""Connecting a Shopify store and receiving its webhooks, through the gateway's routes (Shopify
itself is respx here; the sandbox plays it end to end in tests/e2e)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx

from gateway.db import Pool
from gateway.settings import SANDBOX_SHOPIFY_CLIENT_SECRET, Settings
from gateway.shopify.admin import WEBHOOK_TOPICS
from gateway.vault import Vault
from tenants.sources.shopify import repository
from tests.factories import make_shop
from tests.shopify_orders import order as shopify_order
from tests.web.test_accounts import CSRF, login

STORE = "demo-store.myshopify.com"
CORPUS = Path(__file__).parents[1] / "gateway" / "shopify" / "corpus"
KEY = SANDBOX_SHOPIFY_CLIENT_SECRET.encode()


def signed_callback(params: dict[str, str], key: bytes = KEY) -> str:
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    digest = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    return str(httpx.QueryParams({**params, "hmac": digest}))


def webhook_headers(
    body: bytes, topic: str, store: str = STORE, key: bytes = KEY
) -> dict[str, str]:
    return {
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(
            hmac.new(key, body, hashlib.sha256).digest()
        ).decode(),
        "X-Shopify-Shop-Domain": store,
        "X-Shopify-Webhook-Id": "w-1",
        "X-Shopify-Event-Id": "e-1",
        "X-Shopify-API-Version": "2025-10",
        "Content-Type": "application/json",
    }


@pytest.fixture
def shopify() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=f"https://{STORE}", assert_all_called=False) as router:
        router.post("/admin/oauth/access_token").respond(
            json={"access_token": "shpat_secret_token", "scope": "read_orders"}
        )
        created = {"webhookSubscription": {"id": "gid://x"}, "userErrors": []}
        router.post("/admin/api/2025-10/graphql.json", name="graphql").respond(
            json={"data": {"webhookSubscriptionCreate": created}}
        )
        yield router


async def start(client: httpx.AsyncClient, pool: Pool, vault: Vault) -> tuple[Any, str]:
    """Logs the owner in and presses Connect Shopify; returns the shop and the state."""
    shop, _, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    answer = await client.get(f"/shops/{shop.id}/sources/shopify/connect?shop=demo-store")
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert (location.scheme, location.netloc, location.path) == (
        "https",
        STORE,
        "/admin/oauth/authorize",
    )
    query = dict(httpx.QueryParams(location.query))
    assert query["client_id"] == "sandbox-shopify-app"
    assert query["scope"] == "read_orders"
    assert query["redirect_uri"].endswith("/oauth/shopify/callback")
    return shop, query["state"]


def callback_params(state: str, store: str = STORE) -> dict[str, str]:
    return {"code": "c0de", "shop": store, "state": state, "timestamp": str(int(time.time()))}


async def test_an_owner_connects_a_store_and_the_webhooks_are_subscribed(
    client: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    settings: Settings,
    shopify: respx.MockRouter,
) -> None:
    shop, state = await start(client, pool, vault)
    answer = await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/shops/{shop.id}"
    source = await repository.by_store(pool, vault, STORE)
    assert source is not None and source.shop.id == shop.id
    assert source.status == "connected"
    assert source.token is not None and source.token.reveal() == "shpat_secret_token"
    stored = await pool.fetchval("SELECT credentials_enc FROM sources WHERE id = $1", source.id)
    assert "shpat_secret_token" not in stored
    subscribed = [
        json.loads(call.request.content)["variables"] for call in shopify["graphql"].calls
    ]
    assert [s["topic"] for s in subscribed] == list(WEBHOOK_TOPICS)
    assert {s["url"] for s in subscribed} == {settings.base_url + "/webhooks/shopify"}
    page = await client.get(f"/shops/{shop.id}")
    assert STORE in page.text and "Connected" in page.text
    # The state is spent: the same callback again changes nothing.
    again = await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    assert again.status_code == 400


async def test_a_callback_with_a_wrong_hmac_or_store_changes_nothing(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shopify: respx.MockRouter
) -> None:
    _, state = await start(client, pool, vault)
    forged = signed_callback(callback_params(state), key=b"not-the-secret")
    assert (await client.get(f"/oauth/shopify/callback?{forged}")).status_code == 400
    other = signed_callback(callback_params(state, store="other-store.myshopify.com"))
    answer = await client.get(f"/oauth/shopify/callback?{other}")
    assert answer.status_code == 400
    assert "another store" in answer.text
    assert await pool.fetchval("SELECT count(*) FROM sources") == 0
    assert not shopify.calls


async def test_a_callback_in_another_browser_is_refused(
    client: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    settings: Settings,
    shopify: respx.MockRouter,
) -> None:
    _, state = await start(client, pool, vault)
    intruder = await make_shop(pool, vault)
    client.cookies.clear()
    await login(client, intruder[2].email)
    answer = await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    assert answer.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM sources") == 0


async def test_connect_refuses_an_address_that_is_not_a_store(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    for typed in ("evil.com", "demo.myshopify.com.evil.com", ""):
        answer = await client.get(
            f"/shops/{shop.id}/sources/shopify/connect", params={"shop": typed}
        )
        assert answer.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM source_flows") == 0


async def test_another_owner_cannot_connect_my_shop(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, _ = await make_shop(pool, vault)
    _, _, stranger = await make_shop(pool, vault)
    await login(client, stranger.email)
    answer = await client.get(f"/shops/{shop.id}/sources/shopify/connect?shop=demo-store")
    assert answer.status_code == 404


async def test_a_webhook_without_the_right_hmac_is_401_and_read_no_further(
    client: httpx.AsyncClient,
) -> None:
    body = b'{"id": 1}'
    forged = webhook_headers(body, "orders/create", key=b"guess")
    assert (await client.post("/webhooks/shopify", content=body, headers=forged)).status_code == 401
    bare = {"X-Shopify-Topic": "orders/create", "X-Shopify-Shop-Domain": STORE}
    assert (await client.post("/webhooks/shopify", content=body, headers=bare)).status_code == 401


async def test_a_verified_webhook_for_an_unknown_store_is_acknowledged(
    client: httpx.AsyncClient,
) -> None:
    body = b"not even json"
    for store in (STORE, "nowhere"):
        answer = await client.post(
            "/webhooks/shopify", content=body, headers=webhook_headers(body, "orders/create", store)
        )
        assert answer.status_code == 200


async def test_an_oversized_webhook_is_413(client: httpx.AsyncClient) -> None:
    body = b" " * (5 * 1024 * 1024 + 1)
    answer = await client.post(
        "/webhooks/shopify", content=body, headers=webhook_headers(body, "orders/create")
    )
    assert answer.status_code == 413


async def test_uninstalling_the_app_marks_the_source_and_drops_the_token(
    client: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    shopify: respx.MockRouter,
) -> None:
    shop, state = await start(client, pool, vault)
    await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    body = json.dumps({"id": 1, "domain": STORE, "myshopify_domain": STORE}).encode()
    answer = await client.post(
        "/webhooks/shopify", content=body, headers=webhook_headers(body, "app/uninstalled")
    )
    assert answer.status_code == 200
    source = await repository.by_store(pool, vault, STORE)
    assert source is not None and source.status == "uninstalled" and source.token is None
    page = await client.get(f"/shops/{shop.id}")
    assert "uninstalled" in page.text.lower()


async def test_the_owner_starts_a_backfill_and_watches_it_on_the_shop_page(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shopify: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    before = (await client.get(f"/shops/{shop.id}")).text
    match = CSRF.search(before)
    assert match
    csrf = match.group(1)
    # The owner is told before choosing a day how far back Shopify lets the gateway read.
    assert 'data-note="recent-orders-only"' in before and "last 60 days" in before
    url = f"/shops/{shop.id}/sources/shopify/backfill"
    assert (await client.post(url, data={"since": "2026-01-01"})).status_code == 403
    bad = await client.post(url, data={"since": "1 January", "csrf_token": csrf})
    assert bad.status_code == 400 and "not a date" in bad.text
    started = await client.post(url, data={"since": "2026-01-01", "csrf_token": csrf})
    assert started.status_code == 303
    since = await pool.fetchval("SELECT since FROM source_backfills")
    assert since.isoformat() == "2025-12-31T23:00:00+00:00"  # midnight in Copenhagen
    page = await client.get(f"/shops/{shop.id}")
    assert 'data-backfill="running"' in page.text
    assert 'hx-trigger="every 3s"' in page.text.split('id="sources"')[1].split(">")[0]
    assert 'data-note="read-all-orders"' in page.text  # January is more than 60 days back
    note = page.text.split('data-note="read-all-orders">')[1].split("</p>")[0]
    started_at = await pool.fetchval("SELECT started_at FROM source_backfills")
    readable = (started_at - timedelta(days=60)).astimezone(ZoneInfo("Europe/Copenhagen"))
    assert f"orders before {readable.day} " in note and "read_all_orders" in note
    partial = await client.get(
        f"/shops/{shop.id}", headers={"HX-Request": "true", "HX-Target": "sources"}
    )
    assert 'id="sources"' in partial.text and "<html" not in partial.text
    # Connecting the store and starting the backfill are in the shop's audit log; the
    # refused attempts are not.
    logged = await pool.fetch("SELECT action, detail FROM audit_log ORDER BY id")
    assert [tuple(r) for r in logged] == [
        ("source.connected", f"Shopify {STORE}"),
        ("source.backfill", f"Shopify {STORE}, since 2026-01-01"),
    ]


async def test_a_backfill_needs_a_connected_store(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    csrf = await login(client, owner.email)
    answer = await client.post(
        f"/shops/{shop.id}/sources/shopify/backfill",
        data={"since": "2026-11-01", "csrf_token": csrf},
    )
    assert answer.status_code == 400 and "Connect the store first" in answer.text
    assert await pool.fetchval("SELECT count(*) FROM source_backfills") == 0


async def test_a_shopify_orders_document_shows_its_source_and_its_lines(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shopify: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    body = json.dumps(shopify_order(1001)).encode()
    delivered = await client.post(
        "/webhooks/shopify", content=body, headers=webhook_headers(body, "orders/paid")
    )
    assert delivered.status_code == 200
    document_id = await pool.fetchval("SELECT id FROM documents WHERE shop_id = $1", shop.id)
    page = await client.get(f"/shops/{shop.id}/documents/{document_id}")
    assert page.status_code == 200
    assert 'href="https://admin.shopify.com/store/demo-store/orders/1001"' in page.text
    assert 'data-treatment="domestic"' in page.text and "Danish customer: Danish VAT." in page.text
    assert "<dd>Mette Hansen</dd>" in page.text and "<dd>DK</dd>" in page.text
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr") == 2  # the mugs and the shipping
    assert "<td>1000</td><td>25 %</td>" in rows.replace("\n", "")
    assert 'data-total="incl">250.00<' in page.text


async def test_a_reverse_charge_document_says_why_with_the_buyers_vat_number(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shopify: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    body = (CORPUS / "eu_b2b_reverse_charge.json").read_bytes()
    headers = webhook_headers(body, "orders/paid")
    assert (
        await client.post("/webhooks/shopify", content=body, headers=headers)
    ).status_code == 200
    document_id = await pool.fetchval("SELECT id FROM documents WHERE shop_id = $1", shop.id)
    page = (await client.get(f"/shops/{shop.id}/documents/{document_id}")).text
    assert 'data-treatment="eu_business"' in page
    assert "valid VAT number (DE136695976): reverse charge" in page
    assert "<td>1100</td><td>0 %</td>" in page.replace("\n", "")  # goods to the EU, no VAT


async def test_the_owner_says_where_the_buyers_vat_number_is(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, shopify: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    await client.get(f"/oauth/shopify/callback?{signed_callback(callback_params(state))}")
    page = (await client.get(f"/shops/{shop.id}")).text
    assert 'value="vat_number, VAT number, vat_id, cvr"' in page  # the defaults, shown
    match = CSRF.search(page)
    assert match
    url = f"/shops/{shop.id}/sources/shopify/vat-number-keys"
    # A store whose VAT app writes "Company VAT": the default names miss it.
    order = shopify_order(1007)
    order["billing_address"]["country_code"] = "DE"
    order["billing_address"]["company"] = "Beispiel GmbH"
    order["note_attributes"] = [{"name": "Company VAT", "value": "DE136695976"}]
    for line in [*order["line_items"], *order["shipping_lines"]]:
        line["tax_lines"] = []
    order["total_price_set"]["presentment_money"]["amount"] = "200.00"
    order["total_price"] = "200.00"
    order["line_items"][0]["price"] = "75.00"
    order["line_items"][0]["price_set"] = {
        k: {"amount": "75.00", "currency_code": "DKK"} for k in ("shop_money", "presentment_money")
    }
    order["total_tax"] = "0.00"
    order["total_tax_set"] = {
        k: {"amount": "0.00", "currency_code": "DKK"} for k in ("shop_money", "presentment_money")
    }

    saved = await client.post(
        url, data={"vat_number_keys": "Company VAT, vat_number", "csrf_token": match.group(1)}
    )
    assert saved.status_code == 303
    assert 'value="Company VAT, vat_number"' in (await client.get(f"/shops/{shop.id}")).text
    body = json.dumps(order).encode()
    await client.post(
        "/webhooks/shopify", content=body, headers=webhook_headers(body, "orders/paid")
    )
    stored = await pool.fetchval("SELECT payload FROM orders WHERE shop_id = $1", shop.id)
    assert stored["customer"]["vat_number"] == "DE136695976"
    # Empty: back to the defaults.
    await client.post(url, data={"vat_number_keys": " ", "csrf_token": match.group(1)})
    assert (
        'value="vat_number, VAT number, vat_id, cvr"'
        in (await client.get(f"/shops/{shop.id}")).text
    )
    too_many = ",".join(f"k{i}" for i in range(11))
    refused = await client.post(
        url, data={"vat_number_keys": too_many, "csrf_token": match.group(1)}
    )
    assert refused.status_code == 400
    logged = await pool.fetch(
        "SELECT detail FROM audit_log WHERE action = 'source.changed' ORDER BY id"
    )
    assert [r["detail"] for r in logged] == [
        f"Shopify {STORE}: VAT number from Company VAT, vat_number",
        f"Shopify {STORE}: VAT number from the defaults",
    ]
