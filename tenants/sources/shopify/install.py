"""Connecting a shop to its Shopify store: the install in flight, and what completes it.

1. `start` stores a single-use `state` (hashed), bound to the session, the shop and the store
   the owner named, and returns it for Shopify's authorize URL.
2. `finish` runs on the callback: the callback's `hmac` must be Shopify's and its `shop` the
   store named at the start; the state is spent (same session, once, within `FLOW_TTL`); the
   code becomes an offline token; the source is stored (a reconnect keeps its settings) and
   subscribed to the webhooks the gateway needs.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.settings import Settings
from gateway.shopify import install as shopify
from gateway.shopify.admin import WEBHOOK_TOPICS, AdminApi, AdminApiError
from gateway.vault import Vault
from tenants.accounts import users
from tenants.sources.shopify import repository

log = logging.getLogger(__name__)

FLOW_TTL: Final = timedelta(minutes=15)
WEBHOOK_PATH: Final = "/webhooks/shopify"


class InstallFailed(Exception):
    """The store was not connected; the message is safe to show the owner."""

    def __init__(self, message: str, *, shop_id: UUID | None = None) -> None:
        super().__init__(message)
        self.shop_id = shop_id


@dataclass(frozen=True)
class Connected:
    shop_id: UUID
    source_id: UUID
    store: str
    webhooks_ok: bool


async def start(
    pool: Pool,
    settings: Settings,
    *,
    session_hash: bytes,
    user_id: UUID,
    shop_id: UUID,
    store: str,
    redirect_uri: str,
    now: datetime,
) -> str:
    """Shopify's authorize URL for `store` (a checked myshopify.com domain)."""
    state = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO source_flows (state_hash, session_hash, user_id, shop_id, platform, store, "
        "created_at, expires_at) VALUES ($1, $2, $3, $4, 'shopify', $5, $6, $7)",
        users.hash_token(state),
        session_hash,
        user_id,
        shop_id,
        store,
        now,
        now + FLOW_TTL,
    )
    return shopify.authorize_url(
        settings.shopify_store_url(store),
        client_id=settings.shopify_client_id,
        redirect_uri=redirect_uri,
        state=state,
        scopes=shopify.SCOPES,
    )


async def finish(
    pool: Pool,
    vault: Vault,
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    params: Iterable[tuple[str, str]],
    session_hash: bytes,
    now: datetime,
) -> Connected:
    """Completes the install from the callback's query parameters. Raises `InstallFailed`."""
    pairs = list(params)
    if not shopify.callback_is_authentic(pairs, settings.shopify_client_secret):
        raise InstallFailed("Shopify's answer could not be verified, so nothing was changed.")
    given = dict(pairs)
    store = shopify.shop_domain(given.get("shop", ""))
    row = await pool.fetchrow(
        "UPDATE source_flows SET used_at = $3 WHERE state_hash = $1 AND session_hash = $2 "
        "AND platform = 'shopify' AND used_at IS NULL AND expires_at > $3 "
        "RETURNING shop_id, store",
        users.hash_token(given.get("state", "")),
        session_hash,
        now,
    )
    if row is None:
        raise InstallFailed(
            "This connection attempt is not valid any more (it was used, it expired, or it was "
            "started in another browser). Please start again."
        )
    shop_id: UUID = row["shop_id"]
    if store is None or store != row["store"]:
        raise InstallFailed(
            f"Shopify answered for another store than {row['store']}; nothing was changed.",
            shop_id=shop_id,
        )
    store_url = settings.shopify_store_url(store)
    try:
        grant = await shopify.exchange_code(
            http,
            store_url,
            client_id=settings.shopify_client_id,
            secret=settings.shopify_client_secret,
            code=given.get("code", ""),
        )
    except shopify.InstallError as exc:
        log.warning("shopify install for shop %s failed: %s", shop_id, exc)
        raise InstallFailed(f"{exc} Please try again.", shop_id=shop_id) from None
    async with pool.acquire() as conn:
        try:
            source_id = await repository.connect(
                conn,
                vault,
                shop_id=shop_id,
                store=store,
                token=grant.token,
                scopes=grant.scopes,
                now=now,
            )
        except repository.StoreTaken:
            raise InstallFailed(
                f"{store} already sends its orders to another shop in the gateway. Disconnect it "
                "there first.",
                shop_id=shop_id,
            ) from None
    api = AdminApi.of_store(http, settings, store, grant.token)
    webhooks_ok = await subscribe(api, settings.base_url + WEBHOOK_PATH)
    if not webhooks_ok:
        await repository.set_status(
            pool,
            source_id,
            "failing",
            "Shopify did not accept the webhook subscriptions. Orders still arrive through the "
            "regular reconcile; connect again to retry.",
        )
    log.info("shop %s connected to shopify store %s", shop_id, store)
    return Connected(shop_id, source_id, store, webhooks_ok)


async def subscribe(api: AdminApi, callback_url: str) -> bool:
    """Subscribes the gateway to every topic it needs; False when one was refused."""
    ok = True
    for topic in WEBHOOK_TOPICS:
        try:
            await api.subscribe(topic, callback_url)
        except AdminApiError as exc:
            log.warning("shopify subscription %s failed: %s", topic, exc)
            ok = False
    return ok
