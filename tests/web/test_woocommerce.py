"""Connecting a WooCommerce store and receiving its webhooks, through the gateway's routes
(the store itself is respx here; the sandbox plays it end to end in
tests/test_woocommerce_end_to_end.py)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID, uuid4

import httpx
import pytest
import respx

from gateway.db import Pool
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.woocommerce.signature import sign
from tenants.sources.woocommerce import repository
from tenants.sources.woocommerce.repository import KeyPair, SourceWebhook
from tests.factories import make_shop, make_user
from tests.web.test_accounts import login
from tests.woocommerce_orders import order, refund

# A public address written as an IP, so no name has to resolve in tests.
STORE = "https://93.184.216.34"
API = f"{STORE}/wp-json/wc/v3"


@pytest.fixture
def store() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.get("/webhooks", name="list").respond(json=[])
        made = iter(range(501, 600))

        def create(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            return httpx.Response(201, json={"id": next(made), "status": "active", **body})

        router.post("/webhooks", name="create").mock(side_effect=create)
        yield router


async def start(client: httpx.AsyncClient, pool: Pool, vault: Vault) -> tuple[Any, str]:
    """Logs the owner in and presses Connect WooCommerce; returns the shop and the state."""
    shop, _, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    answer = await client.get(
        f"/shops/{shop.id}/sources/woocommerce/connect", params={"store_url": STORE + "/"}
    )
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{STORE}/wc-auth/v1/authorize"
    )
    query = dict(httpx.QueryParams(location.query))
    assert query["scope"] == "read_write"
    assert query["app_name"] == "Dinero Gateway"
    assert query["callback_url"].endswith("/oauth/woocommerce/callback")
    assert query["return_url"].endswith(f"/shops/{shop.id}/sources/woocommerce/return")
    return shop, query["user_id"]


def keys_body(state: str, key: str = "ck_live_key") -> dict[str, Any]:
    return {"key_id": 7, "user_id": state, "consumer_key": key,
            "consumer_secret": "cs_live_secret", "key_permissions": "read_write"}  # fmt: skip


async def test_the_store_posts_keys_they_are_stored_encrypted_and_three_webhooks_are_made(
    client: httpx.AsyncClient,
    pool: Pool,
    vault: Vault,
    settings: Settings,
    store: respx.MockRouter,
) -> None:
    shop, state = await start(client, pool, vault)
    callback = await client.post("/oauth/woocommerce/callback", json=keys_body(state))
    assert callback.status_code == 200, callback.text
    source = await repository.of_shop(pool, vault, shop.id)
    assert source is not None and source.store == STORE and source.status == "connected"
    pair = repository.key_pair(source)
    assert pair is not None and pair.consumer_key.reveal() == "ck_live_key"
    stored = await pool.fetchval("SELECT credentials_enc FROM sources WHERE id = $1", source.id)
    assert "ck_live_key" not in stored and "cs_live_secret" not in stored
    assert store["list"].calls[0].request.headers["authorization"].startswith("Basic ")
    made = [json.loads(call.request.content) for call in store["create"].calls]
    assert [m["topic"] for m in made] == ["order.created", "order.updated", "order.deleted"]
    assert {m["delivery_url"] for m in made} == {
        f"{settings.base_url}/webhooks/woocommerce/{source.id}"
    }
    assert len({m["secret"] for m in made}) == 3  # a secret of its own for each
    hooks = await repository.webhooks(pool, vault, source.id)
    assert [(h.topic, h.webhook_id) for h in hooks] == [
        ("order.created", 501), ("order.deleted", 503), ("order.updated", 502)
    ]  # fmt: skip
    secrets_stored = await pool.fetch("SELECT secret_enc FROM source_webhooks")
    assert not {m["secret"] for m in made} & {r["secret_enc"] for r in secrets_stored}
    # The browser comes back, and the shop page shows the store.
    back = await client.get(
        f"/shops/{shop.id}/sources/woocommerce/return", params={"success": "1", "user_id": state}
    )
    assert back.status_code == 303 and back.headers["location"] == f"/shops/{shop.id}#sources"
    page = await client.get(f"/shops/{shop.id}")
    assert 'data-source="woocommerce"' in page.text and STORE in page.text
    # The state is spent.
    again = await client.post("/oauth/woocommerce/callback", json=keys_body(state))
    assert again.status_code == 400


async def test_connecting_is_in_the_audit_log_in_the_name_of_who_started_it(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, store: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    owner_email = await pool.fetchval(
        "SELECT u.email FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.shop_id = $1",
        shop.id,
    )
    callback = await client.post("/oauth/woocommerce/callback", json=keys_body(state))
    assert callback.status_code == 200, callback.text
    logged = await pool.fetch(
        "SELECT actor_email, action, detail FROM audit_log WHERE shop_id = $1", shop.id
    )
    assert [tuple(r) for r in logged] == [(owner_email, "source.connected", f"WooCommerce {STORE}")]
    # Saying where the VAT number is names the platform too.
    csrf = await login(client, owner_email)
    page = await client.get(f"/shops/{shop.id}")
    assert "/sources/woocommerce/vat-number-keys" in page.text
    saved = await client.post(
        f"/shops/{shop.id}/sources/woocommerce/vat-number-keys",
        data={"vat_number_keys": "_billing_vat", "csrf_token": csrf},
    )
    assert saved.status_code == 303, saved.text
    changed = await pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'source.changed' AND shop_id = $1", shop.id
    )
    assert changed == f"WooCommerce {STORE}: VAT number from _billing_vat"


async def test_an_owner_demoted_after_starting_cannot_finish_connecting(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, store: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    await pool.execute("UPDATE memberships SET role = 'bookkeeper' WHERE shop_id = $1", shop.id)
    refused = await client.post("/oauth/woocommerce/callback", json=keys_body(state))
    assert refused.status_code == 400
    assert "owner" in refused.json()["error"]
    assert await pool.fetchval("SELECT count(*) FROM sources") == 0
    assert await pool.fetchval("SELECT count(*) FROM audit_log") == 0
    assert not store["create"].called


async def test_a_bookkeeper_sees_the_store_but_not_its_forms(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    _, shop, _ = await connected(pool, vault)
    bookkeeper = await make_user(pool)
    await pool.execute(
        "INSERT INTO memberships (user_id, shop_id, role) VALUES ($1, $2, 'bookkeeper')",
        bookkeeper.id,
        shop.id,
    )
    await login(client, bookkeeper.email)
    page = await client.get(f"/shops/{shop.id}")
    assert page.status_code == 200 and 'data-source="woocommerce"' in page.text
    for form in ("woocommerce/connect", "woocommerce/vat-number-keys", "woocommerce/backfill"):
        assert f"/sources/{form}" not in page.text, form
    answer = await client.get(
        f"/shops/{shop.id}/sources/woocommerce/connect", params={"store_url": STORE}
    )
    assert answer.status_code == 403


async def test_an_unknown_state_or_keys_the_store_refuses_change_nothing(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, store: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    forged = await client.post("/oauth/woocommerce/callback", json=keys_body("guessed"))
    assert forged.status_code == 400
    garbage = await client.post("/oauth/woocommerce/callback", content=b"user_id=x")
    assert garbage.status_code == 400
    store["list"].respond(401, json={"code": "woocommerce_rest_authentication_error"})
    refused = await client.post("/oauth/woocommerce/callback", json=keys_body(state))
    assert refused.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM sources") == 0
    back = await client.get(
        f"/shops/{shop.id}/sources/woocommerce/return", params={"success": "1", "user_id": state}
    )
    assert back.status_code == 400
    assert "did not accept the keys" in back.text


async def test_the_return_in_another_browser_is_refused(
    client: httpx.AsyncClient, pool: Pool, vault: Vault, store: respx.MockRouter
) -> None:
    shop, state = await start(client, pool, vault)
    assert (
        await client.post("/oauth/woocommerce/callback", json=keys_body(state))
    ).status_code == 200
    client.cookies.clear()
    _, _, intruder = await make_shop(pool, vault)
    await login(client, intruder.email)
    back = await client.get(
        f"/shops/{shop.id}/sources/woocommerce/return", params={"success": "1", "user_id": state}
    )
    assert back.status_code == 404  # not their shop


async def test_connect_refuses_an_address_that_is_not_a_web_store(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    shop, _, owner = await make_shop(pool, vault)
    await login(client, owner.email)
    for typed in ("ftp://shop.dk", "https://user:pw@shop.dk", "https://10.1.2.3", ""):
        answer = await client.get(
            f"/shops/{shop.id}/sources/woocommerce/connect", params={"store_url": typed}
        )
        assert answer.status_code == 400, typed
    assert await pool.fetchval("SELECT count(*) FROM source_flows") == 0


async def connected(pool: Pool, vault: Vault, store: str = STORE) -> tuple[UUID, Any, Secret]:
    """A shop with a connected store and its order.created/updated webhooks."""
    shop, _, _ = await make_shop(pool, vault)
    async with pool.acquire() as conn:
        source_id = await repository.connect(
            conn, vault, shop_id=shop.id, store=store,
            keys=KeyPair(Secret("ck_k"), Secret("cs_s")), now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
    secret = Secret(f"whsec-{uuid4()}")
    for number, topic in enumerate(("order.created", "order.updated"), start=1):
        await repository.save_webhook(pool, vault, source_id, SourceWebhook(topic, number, secret))
    return source_id, shop, secret


def headers(body: bytes, secret: Secret, topic: str = "order.created") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": uuid4().hex,
        "X-WC-Webhook-Source": STORE + "/",
    }


async def test_a_signed_order_is_booked_once_however_often_it_is_delivered(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    source_id, shop, secret = await connected(pool, vault)
    body = json.dumps(order(901)).encode()
    url = f"/webhooks/woocommerce/{source_id}"
    for _ in range(2):
        answer = await client.post(url, content=body, headers=headers(body, secret))
        assert answer.status_code == 200, answer.text
    documents = await pool.fetchval("SELECT count(*) FROM documents WHERE shop_id = $1", shop.id)
    ordered = await pool.fetchval("SELECT total FROM orders WHERE shop_id = $1", shop.id)
    assert (documents, str(ordered)) == (1, "249.00")


async def test_a_partial_refund_is_read_from_the_refunds_endpoint(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    source_id, shop, secret = await connected(pool, vault)
    placed = order(902, quantity=2, price="100.00", status="completed")
    given = {"id": 77, "date_created_gmt": "2026-12-03T10:00:00", **refund(placed)}
    placed["refunds"] = [{"id": 77, "reason": "", "total": "-100.00"}]
    body = json.dumps(placed).encode()
    with respx.mock(base_url=API) as woo:
        woo.get("/orders/902/refunds").respond(json=[given])
        answer = await client.post(
            f"/webhooks/woocommerce/{source_id}",
            content=body,
            headers=headers(body, secret, "order.updated"),
        )
    assert answer.status_code == 200, answer.text
    kinds = await pool.fetch("SELECT kind FROM documents WHERE shop_id = $1 ORDER BY seq", shop.id)
    assert [r["kind"] for r in kinds] == ["invoice", "credit_note"]


async def test_the_creation_ping_is_200_and_changes_nothing(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    source_id, _, _ = await connected(pool, vault)
    answer = await client.post(
        f"/webhooks/woocommerce/{source_id}",
        content=b"webhook_id=42",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_a_delivery_not_signed_with_this_sources_secret_is_401_and_read_no_further(
    client: httpx.AsyncClient, pool: Pool, vault: Vault
) -> None:
    source_id, _, _ = await connected(pool, vault)
    _, _, other_secret = await connected(pool, vault, store="https://93.184.216.35")
    body = json.dumps(order(903)).encode()
    url = f"/webhooks/woocommerce/{source_id}"
    for sent in (
        headers(body, other_secret),  # another source's webhook secret
        headers(body, Secret("guess")),
        {"Content-Type": "application/json", "X-WC-Webhook-Topic": "order.created"},
    ):
        assert (await client.post(url, content=body, headers=sent)).status_code == 401
    assert await pool.fetchval("SELECT count(*) FROM orders") == 0
    unknown = await client.post(
        f"/webhooks/woocommerce/{uuid4()}", content=body, headers=headers(body, other_secret)
    )
    assert unknown.status_code == 404
    assert (await client.post("/webhooks/woocommerce/x", content=body)).status_code == 404
