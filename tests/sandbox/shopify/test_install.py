"""Stores and the app install, driven with the gateway's own install client."""

from __future__ import annotations

import httpx
import pytest

from gateway.secret import Secret
from gateway.shopify import install
from sandbox.shopify.state import APP_CLIENT_ID
from sandbox.state import Sandbox
from tests.sandbox.shopify.conftest import REDIRECT_URI, SECRET, SHOP, grant_page_code


async def test_a_store_answers_its_urls(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sandbox/shopify/stores", json={"shop": SHOP})
    assert response.status_code == 201
    body = response.json()
    assert body["shop"] == SHOP
    assert body["shop_url"] == f"http://sandbox.test/_shopify/{SHOP}"
    assert body["shop_url_template"] == "http://sandbox.test/_shopify/{shop}"
    assert body["shop_url_template"].format(shop=SHOP) == body["shop_url"]


@pytest.mark.parametrize(
    "body",
    [
        {"shop": "sokkeriet"},
        {"shop": "-sokkeriet.myshopify.com"},
        {"shop": "evil.com/x.myshopify.com"},
        {"shop": "sokkeriet.myshopify.com.evil.com"},
        {"shop": 42},
        {},
    ],
)
async def test_a_store_needs_a_myshopify_domain(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/_sandbox/shopify/stores", json=body)
    assert response.status_code == 400
    assert "shop" in response.json()["errors"]


async def test_install_and_token_exchange(client: httpx.AsyncClient, store_url: str) -> None:
    params = await grant_page_code(client, store_url, state="nonce-1")
    assert set(params) == {"code", "hmac", "host", "shop", "state", "timestamp"}
    assert params["shop"] == SHOP and params["state"] == "nonce-1"
    assert install.callback_is_authentic(params.items(), SECRET)
    assert not install.callback_is_authentic(params.items(), Secret("another-secret"))

    grant = await install.exchange_code(
        client, store_url, client_id=APP_CLIENT_ID, secret=SECRET, code=params["code"]
    )
    assert grant.token.reveal().startswith("shpat_")
    assert grant.scopes == "read_orders"

    with pytest.raises(install.InstallError):  # single use
        await install.exchange_code(
            client, store_url, client_id=APP_CLIENT_ID, secret=SECRET, code=params["code"]
        )


async def test_a_code_is_short_lived(
    client: httpx.AsyncClient, store_url: str, sandbox: Sandbox
) -> None:
    params = await grant_page_code(client, store_url)
    sandbox.advance_clock(61)
    with pytest.raises(install.InstallError):
        await install.exchange_code(
            client, store_url, client_id=APP_CLIENT_ID, secret=SECRET, code=params["code"]
        )


async def test_the_token_endpoint_takes_a_form_and_checks_the_secret(
    client: httpx.AsyncClient, store_url: str
) -> None:
    params = await grant_page_code(client, store_url)
    wrong = await client.post(
        f"{store_url}/admin/oauth/access_token",
        data={"client_id": APP_CLIENT_ID, "client_secret": "nope", "code": params["code"]},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_client"
    params = await grant_page_code(client, store_url)
    right = await client.post(
        f"{store_url}/admin/oauth/access_token",
        data={"client_id": APP_CLIENT_ID, "client_secret": SECRET.reveal(), "code": params["code"]},
    )
    assert right.status_code == 200
    assert set(right.json()) == {"access_token", "scope"}


@pytest.mark.parametrize(
    ("client_id", "redirect_uri", "scope"),
    [
        ("someone-else", REDIRECT_URI, "read_orders"),
        (APP_CLIENT_ID, "https://evil.example/callback", "read_orders"),
        (APP_CLIENT_ID, REDIRECT_URI, "write_products"),
    ],
)
async def test_the_grant_page_refuses_what_the_app_may_not_ask(
    client: httpx.AsyncClient, store_url: str, client_id: str, redirect_uri: str, scope: str
) -> None:
    response = await client.get(
        f"{store_url}/admin/oauth/authorize",
        params={"client_id": client_id, "scope": scope, "redirect_uri": redirect_uri, "state": "s"},
    )
    assert response.status_code == 400


async def test_the_grant_page_runs_no_script(client: httpx.AsyncClient, store_url: str) -> None:
    url = install.authorize_url(
        store_url,
        client_id=APP_CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        state="s",
        scopes=["read_orders"],
    )
    page = await client.get(url)
    assert "<script" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
