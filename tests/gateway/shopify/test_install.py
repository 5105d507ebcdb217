"""Shopify's install rules: the store address, the callback's hex HMAC, the webhook's base64
HMAC, and the code exchange (respx)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import httpx
import pytest
import respx

from gateway.secret import Secret
from gateway.shopify import install

STORE = "https://demo.myshopify.com"


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("demo", "demo.myshopify.com"),
        ("Demo.MyShopify.com", "demo.myshopify.com"),
        ("https://demo-2.myshopify.com/", "demo-2.myshopify.com"),
        ("demo.myshopify.com.evil.com", None),
        ("evil.com", None),
        ("-demo.myshopify.com", None),
        ("demo.myshopify.com/admin", None),
        ("", None),
    ],
)
def test_only_a_myshopify_domain_is_a_store(typed: str, domain: str | None) -> None:
    assert install.shop_domain(typed) == domain


def test_the_callback_hmac_is_checked_as_shopify_documents() -> None:
    # Shopify's documented example: secret "hush", these parameters, this digest.
    params = [
        ("code", "0907a61c0c8d55e99db179b68161bc00"),
        ("shop", "some-shop.myshopify.com"),
        ("state", "0.6784241404160823"),
        ("timestamp", "1337178173"),
    ]
    good = "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf"
    assert install.callback_is_authentic([*params, ("hmac", good)], Secret("hush"))
    assert not install.callback_is_authentic([*params, ("hmac", good)], Secret("other"))
    tampered = [("shop", "evil.myshopify.com") if n == "shop" else (n, v) for n, v in params]
    assert not install.callback_is_authentic([*tampered, ("hmac", good)], Secret("hush"))
    assert not install.callback_is_authentic(params, Secret("hush"))
    assert not install.callback_is_authentic(
        [*params, ("hmac", good), ("hmac", good)], Secret("hush")
    )


def test_the_webhook_hmac_is_over_the_raw_body() -> None:
    body = b'{"id": 1}'
    header = base64.b64encode(hmac.new(b"s3", body, hashlib.sha256).digest()).decode()
    assert install.webhook_is_authentic(body, header, Secret("s3"))
    assert not install.webhook_is_authentic(body + b" ", header, Secret("s3"))
    assert not install.webhook_is_authentic(body, header, Secret("s4"))
    assert not install.webhook_is_authentic(body, None, Secret("s3"))
    assert not install.webhook_is_authentic(body, "", Secret("s3"))


def test_the_authorize_url_asks_for_the_scopes() -> None:
    url = httpx.URL(
        install.authorize_url(
            STORE, client_id="app", redirect_uri="https://gw/cb", state="st", scopes=["a", "b"]
        )
    )
    assert url.path == "/admin/oauth/authorize"
    assert dict(url.params) == {
        "client_id": "app",
        "scope": "a,b",
        "redirect_uri": "https://gw/cb",
        "state": "st",
    }


async def test_a_code_becomes_an_offline_token() -> None:
    async with respx.mock(base_url=STORE) as router, httpx.AsyncClient() as http:
        route = router.post("/admin/oauth/access_token").respond(
            json={"access_token": "shpat_abc", "scope": "read_orders"}
        )
        grant = await install.exchange_code(
            http, STORE, client_id="app", secret=Secret("s3"), code="c1"
        )
    assert (grant.token.reveal(), grant.scopes) == ("shpat_abc", "read_orders")
    assert "shpat_abc" not in repr(grant)
    sent = json.loads(route.calls.last.request.content)
    assert sent == {"client_id": "app", "client_secret": "s3", "code": "c1"}


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(400, json={"error": "invalid_request"}),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"scope": "read_orders"}),
        httpx.Response(200, json={"access_token": ""}),
        httpx.ConnectError("down"),
    ],
)
async def test_a_failed_exchange_is_an_install_error(answer: object) -> None:
    async with respx.mock(base_url=STORE) as router, httpx.AsyncClient() as http:
        router.post("/admin/oauth/access_token").mock(
            side_effect=answer if isinstance(answer, Exception) else None,
            return_value=answer if isinstance(answer, httpx.Response) else None,
        )
        with pytest.raises(install.InstallError) as failed:
            await install.exchange_code(
                http, STORE, client_id="app", secret=Secret("s3"), code="c1"
            )
    assert "s3" not in str(failed.value)
