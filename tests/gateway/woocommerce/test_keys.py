"""The store URL an owner types, checked like any URL a tenant gives us; the key callback's
body; and WooCommerce's webhook signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from gateway.pdf import Resolver
from gateway.secret import Secret
from gateway.woocommerce import keys, signature


def resolving_to(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("min-butik.dk", "https://min-butik.dk"),
        ("HTTPS://Min-Butik.DK/shop/", "https://min-butik.dk/shop"),
        ("https://min-butik.dk:8443", "https://min-butik.dk:8443"),
    ],
)
def test_a_store_url_is_normalised(typed: str, expected: str) -> None:
    assert keys.normal_store_url(typed) == expected


@pytest.mark.parametrize(
    "typed", ["ftp://shop.dk", "https://user:pw@shop.dk", "https://shop.dk/?x=1", "https://", ""]
)
def test_what_is_not_a_store_address_is_refused(typed: str) -> None:
    with pytest.raises(keys.BadStoreUrl):
        keys.normal_store_url(typed)


async def test_production_takes_https_to_public_addresses_only() -> None:
    public = resolving_to("93.184.216.34")
    assert await keys.check_store_url("https://shop.dk", production=True, resolve=public) == (
        "https://shop.dk"
    )
    with pytest.raises(keys.BadStoreUrl, match="https"):
        await keys.check_store_url("http://shop.dk", production=True, resolve=public)
    for address, why in [
        ("127.0.0.1", "loopback"),
        ("10.0.0.7", "private"),
        ("169.254.169.254", "link-local"),
        ("::ffff:192.168.1.1", "private"),
    ]:
        with pytest.raises(keys.BadStoreUrl, match=why):
            await keys.check_store_url(
                "https://shop.dk", production=True, resolve=resolving_to("93.184.216.34", address)
            )
    with pytest.raises(keys.BadStoreUrl, match="loopback"):
        await keys.check_store_url("https://127.0.0.1:8443", production=True)


async def test_development_reaches_the_local_sandbox_but_never_a_private_network() -> None:
    local = "http://127.0.0.1:8081/_woocommerce/sokkeriet"
    assert await keys.check_store_url(local, production=False) == local
    with pytest.raises(keys.BadStoreUrl, match="private"):
        await keys.check_store_url("http://192.168.0.10", production=False)


def test_the_callback_body_is_read_as_woocommerce_sends_it() -> None:
    body = json.dumps(
        {
            "key_id": 1,
            "user_id": "state",
            "consumer_key": "ck_a",
            "consumer_secret": "cs_b",
            "key_permissions": "read_write",
        }
    ).encode()
    granted = keys.parse_callback(body)
    assert granted is not None
    assert (granted.state, granted.consumer_key.reveal(), granted.permissions) == (
        "state", "ck_a", "read_write"
    )  # fmt: skip
    assert "cs_b" not in repr(granted)
    assert keys.parse_callback(b'{"user_id": "state"}') is None
    assert keys.parse_callback(b"[1]") is None


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"id":727}'
    expected = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    assert signature.sign(body, Secret("s3cret")) == expected
    assert signature.is_authentic(body, expected, [Secret("other"), Secret("s3cret")])
    assert not signature.is_authentic(body + b" ", expected, [Secret("s3cret")])
    assert not signature.is_authentic(body, None, [Secret("s3cret")])
    assert not signature.is_authentic(body, expected, [])
