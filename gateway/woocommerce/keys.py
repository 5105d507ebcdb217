"""WooCommerce's one-click key flow, as the gateway starts and completes it.

`authorize_url` sends the owner to `{store}/wc-auth/v1/authorize` with `app_name`,
`scope=read_write`, `user_id` (our single-use state: WooCommerce hands it back in the callback
body, the only value it does), `return_url` and `callback_url`. The store then POSTs JSON
`{key_id, user_id, consumer_key, consumer_secret, key_permissions}` to `callback_url`
(`parse_callback`).

A store URL is what the owner typed, so it is checked like any URL a tenant gives us
(`check_store_url`): in production https only, and no host that resolves to a loopback,
private, link-local or otherwise non-public address (`gateway.pdf.address_problem`).
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlencode, urlsplit, urlunsplit

from gateway.pdf import FetchPolicy, Resolver, address_problem, system_resolve
from gateway.secret import Secret

APP_NAME: Final = "Dinero Gateway"
SCOPE: Final = "read_write"
MAX_STORE_URL: Final = 300
MAX_CALLBACK_BYTES: Final = 16 * 1024


class BadStoreUrl(ValueError):
    """The message is safe to show the owner."""


@dataclass(frozen=True)
class Keys:
    key_id: str
    state: str = field(repr=False)  # what we sent as `user_id`
    consumer_key: Secret
    consumer_secret: Secret
    permissions: str


def normal_store_url(text: str) -> str:
    """`https://Example.dk/shop/` → `https://example.dk/shop`. Raises `BadStoreUrl`."""
    text = text.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise BadStoreUrl("That is not a web address.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadStoreUrl("Type the store's web address, e.g. https://my-shop.dk.")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BadStoreUrl("Type only the store's web address, without a login or a query.")
    host = parts.hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    url = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    if len(url) > MAX_STORE_URL:
        raise BadStoreUrl("That web address is too long.")
    return url


async def check_store_url(
    text: str, *, production: bool, resolve: Resolver = system_resolve
) -> str:
    """The store's normalised URL, once it may be reached. Raises `BadStoreUrl`."""
    url = normal_store_url(text)
    parts = urlsplit(url)
    policy = FetchPolicy() if production else FetchPolicy(allow_http=True, allow_loopback=True)
    if parts.scheme != "https" and not policy.allow_http:
        raise BadStoreUrl("The store's address must start with https://.")
    host = parts.hostname or ""
    try:
        found = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            found = await resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
        except (socket.gaierror, UnicodeError):
            raise BadStoreUrl(f"{host} could not be found.") from None
    for text_address in found:
        problem = address_problem(ipaddress.ip_address(text_address.split("%", 1)[0]), policy)
        if problem is not None:
            raise BadStoreUrl(
                f"{host} points to {problem}; the gateway connects to public stores only."
            )
    return url


def authorize_url(store_url: str, *, state: str, return_url: str, callback_url: str) -> str:
    query = urlencode(
        {
            "app_name": APP_NAME,
            "scope": SCOPE,
            "user_id": state,
            "return_url": return_url,
            "callback_url": callback_url,
        }
    )
    return f"{store_url}/wc-auth/v1/authorize?{query}"


def parse_callback(body: bytes) -> Keys | None:
    """The keys the store POSTed, or None when the body is not what WooCommerce sends."""
    if len(body) > MAX_CALLBACK_BYTES:
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    values = {
        name: data.get(name)
        for name in ("key_id", "user_id", "consumer_key", "consumer_secret", "key_permissions")
    }
    if not all(
        isinstance(v, str | int) and not isinstance(v, bool) and str(v) for v in values.values()
    ):
        return None
    return Keys(
        key_id=str(values["key_id"]),
        state=str(values["user_id"]),
        consumer_key=Secret(str(values["consumer_key"])),
        consumer_secret=Secret(str(values["consumer_secret"])),
        permissions=str(values["key_permissions"]),
    )
