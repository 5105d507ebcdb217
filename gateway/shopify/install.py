"""Installing the gateway as a Shopify app: Shopify's OAuth authorization code grant.

The owner names the store; the browser goes to `{store}/admin/oauth/authorize`; Shopify
returns to the callback with `code`, `hmac`, `shop`, `state` and `timestamp`. The callback is
believed only when its `hmac` (hex HMAC-SHA256 of the other parameters, sorted, keyed with the
app's client secret) matches and `shop` is a myshopify.com domain; then the code becomes an
offline access token at `{store}/admin/oauth/access_token`. Webhooks are verified the same way
over their raw body (base64). Every comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode

import httpx

from gateway.secret import Secret

SHOP_DOMAIN: Final = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-]*\.myshopify\.com$")
# Orders (with their refunds and transactions) are all the gateway reads.
SCOPES: Final = ("read_orders",)
TIMEOUT: Final = httpx.Timeout(10.0, connect=5.0)


class InstallError(Exception):
    """The install could not be completed; the message is safe to show and log."""


@dataclass(frozen=True)
class AccessGrant:
    token: Secret = field(repr=False)
    scopes: str


def shop_domain(value: str) -> str | None:
    """The myshopify.com domain an owner typed (`name`, `name.myshopify.com`, or a URL of it),
    lower-cased; None when it is not one."""
    text = value.strip().lower().removeprefix("https://").removeprefix("http://").rstrip("/")
    if text and "." not in text:
        text += ".myshopify.com"
    return text if SHOP_DOMAIN.fullmatch(text) else None


def authorize_url(
    store_url: str, *, client_id: str, redirect_uri: str, state: str, scopes: Iterable[str]
) -> str:
    query = urlencode(
        {
            "client_id": client_id,
            "scope": ",".join(scopes),
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{store_url}/admin/oauth/authorize?{query}"


def callback_is_authentic(params: Iterable[tuple[str, str]], secret: Secret) -> bool:
    """Shopify's rule: drop `hmac` (and the legacy `signature`), sort the rest by name, join
    them as `name=value&…`, HMAC-SHA256 with the client secret, compare the hex digest."""
    pairs = list(params)
    given = [value for name, value in pairs if name == "hmac"]
    if len(given) != 1:
        return False
    message = "&".join(
        f"{name}={value}" for name, value in sorted(pairs) if name not in ("hmac", "signature")
    )
    expected = hmac.new(secret.reveal().encode(), message.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given[0].lower())


def webhook_is_authentic(body: bytes, header: str | None, secret: Secret) -> bool:
    """`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body, keyed with the client
    secret."""
    if not header:
        return False
    expected = base64.b64encode(hmac.new(secret.reveal().encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, header.strip().encode())


async def exchange_code(
    http: httpx.AsyncClient, store_url: str, *, client_id: str, secret: Secret, code: str
) -> AccessGrant:
    """The offline access token for `code` (single use). Raises `InstallError`."""
    try:
        response = await http.post(
            f"{store_url}/admin/oauth/access_token",
            json={"client_id": client_id, "client_secret": secret.reveal(), "code": code},
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise InstallError(f"Shopify could not be reached ({type(exc).__name__}).") from None
    if response.status_code != 200:
        raise InstallError(f"Shopify refused the code (HTTP {response.status_code}).")
    try:
        body = response.json()
        token = body["access_token"]
        scopes = body.get("scope", "")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InstallError("Shopify's answer to the code exchange could not be read.") from None
    if not isinstance(token, str) or not token or not isinstance(scopes, str):
        raise InstallError("Shopify's answer to the code exchange could not be read.")
    return AccessGrant(token=Secret(token), scopes=scopes)
