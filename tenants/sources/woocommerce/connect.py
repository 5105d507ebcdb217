"""Connecting a shop to its WooCommerce store with WooCommerce's one-click key flow.

1. `start` checks the store URL the owner typed (`gateway.woocommerce.keys.check_store_url`),
   stores a single-use state (hashed) bound to the session, the shop and that URL, and returns
   the store's authorize URL with the state as `user_id`.
2. `receive_keys` runs on the store's own POST to `/oauth/woocommerce/callback`: the body's
   `user_id` must be a live, unused state whose user may still manage the shop; the keys
   must work against the URL named at the start (so keys from any other store are refused);
   then the source is stored with the keys encrypted (and an audit line naming the user who
   started the flow), and the webhooks made (`upkeep.ensure_webhooks`). What became of it is
   kept on the flow.
3. `returned`: the browser comes back to `return_url` with `success` and `user_id`; the
   flow (same session) says what to show.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.woocommerce import keys as key_flow
from gateway.woocommerce.rest import RestApi, RestApiError, Unauthorized
from tenants.accounts import users
from tenants.audit import repository as audit
from tenants.sources.repository import StoreTaken
from tenants.sources.woocommerce import repository, upkeep
from tenants.sources.woocommerce.repository import KeyPair
from tenants.team import roles

log = logging.getLogger(__name__)

FLOW_TTL: Final = timedelta(minutes=15)
CALLBACK_PATH: Final = "/oauth/woocommerce/callback"
RETURN_PATH: Final = "/shops/{shop_id}/sources/woocommerce/return"
CONNECTED: Final = "connected"


class ConnectFailed(Exception):
    """The store was not connected; the message is safe to show the owner."""

    def __init__(self, message: str, *, shop_id: UUID | None = None) -> None:
        super().__init__(message)
        self.shop_id = shop_id


async def start(
    pool: Pool,
    settings: Settings,
    *,
    session_hash: bytes,
    user_id: UUID,
    shop_id: UUID,
    store_url: str,
    now: datetime,
) -> str:
    """The store's authorize URL. Raises `key_flow.BadStoreUrl`."""
    url = await key_flow.check_store_url(store_url, production=settings.is_production)
    state = secrets.token_urlsafe(32)
    await pool.execute(
        "INSERT INTO source_flows (state_hash, session_hash, user_id, shop_id, platform, store, "
        "created_at, expires_at) VALUES ($1, $2, $3, $4, 'woocommerce', $5, $6, $7)",
        users.hash_token(state),
        session_hash,
        user_id,
        shop_id,
        url,
        now,
        now + FLOW_TTL,
    )
    base = settings.base_url.rstrip("/")
    return key_flow.authorize_url(
        url,
        state=state,
        return_url=base + RETURN_PATH.format(shop_id=shop_id),
        callback_url=base + CALLBACK_PATH,
    )


@dataclass(frozen=True)
class Connected:
    shop_id: UUID
    source_id: UUID
    store: str


async def receive_keys(
    pool: Pool, vault: Vault, http: httpx.AsyncClient, settings: Settings, *, body: bytes,
    now: datetime,
) -> Connected:  # fmt: skip
    """Completes the connection from the store's POST. Raises `ConnectFailed` (the store is
    answered 400, so WooCommerce revokes the keys it made)."""
    granted = key_flow.parse_callback(body)
    if granted is None:
        raise ConnectFailed("The store's message was not WooCommerce's key callback.")
    row = await pool.fetchrow(
        """
        UPDATE source_flows f SET used_at = $2
        WHERE state_hash = $1 AND platform = 'woocommerce' AND used_at IS NULL
          AND expires_at > $2
        RETURNING f.id, f.shop_id, f.store, f.user_id,
                  (SELECT email FROM users u WHERE u.id = f.user_id) AS email,
                  (SELECT role FROM memberships m
                   WHERE m.user_id = f.user_id AND m.shop_id = f.shop_id) AS role
        """,
        users.hash_token(granted.state),
        now,
    )
    if row is None:
        raise ConnectFailed("This connection attempt is not valid any more.")
    shop_id: UUID = row["shop_id"]
    store: str = row["store"]
    actor = audit.Actor(user_id=row["user_id"], email=row["email"])
    pair = KeyPair(granted.consumer_key, granted.consumer_secret)
    api = RestApi(http, store, pair.consumer_key, pair.consumer_secret)
    try:
        # Only an owner starts a flow, but one demoted (or removed) meanwhile must not
        # finish it.
        if row["role"] is None or not roles.allows(row["role"], "manage"):
            raise ConnectFailed("Only the shop's owner can connect a store; nothing was changed.")
        await _finish(pool, vault, api, settings, shop_id, store, pair, now, row["id"], actor)
    except ConnectFailed as exc:
        await _outcome(pool, row["id"], str(exc), None)
        raise ConnectFailed(str(exc), shop_id=shop_id) from None
    source = await repository.of_shop(pool, vault, shop_id)
    assert source is not None
    return Connected(shop_id, source.id, store)


async def _finish(
    pool: Pool, vault: Vault, api: RestApi, settings: Settings, shop_id: UUID, store: str,
    pair: KeyPair, now: datetime, flow_id: UUID, actor: audit.Actor,
) -> None:  # fmt: skip
    try:
        await api.webhooks()  # the keys must be this store's, with the right to read
    except Unauthorized:
        raise ConnectFailed(
            f"{store} did not accept the keys it sent; nothing was changed."
        ) from None
    except RestApiError as exc:
        log.warning("woocommerce connect of shop %s: %s", shop_id, exc)
        raise ConnectFailed(f"{store} could not be reached ({exc}). Please try again.") from None
    async with pool.acquire() as conn, conn.transaction():
        try:
            source_id = await repository.connect(
                conn, vault, shop_id=shop_id, store=store, keys=pair, now=now
            )
        except StoreTaken:
            raise ConnectFailed(
                f"{store} already sends its orders to another shop in the gateway. Disconnect "
                "it there first."
            ) from None
        # The store's server completes the flow, so the audit line names who started it.
        await audit.record(
            conn, shop_id, actor, "source.connected", f"WooCommerce {store}", now=now
        )
    try:
        await upkeep.ensure_webhooks(
            pool, vault, api, source_id, upkeep.delivery_url(settings.base_url, source_id)
        )
    except RestApiError as exc:
        log.warning("woocommerce webhooks for source %s: %s", source_id, exc)
        await repository.set_status(
            pool,
            source_id,
            "failing",
            "WooCommerce did not accept the gateway's webhooks. Orders still arrive through the "
            "regular reconcile; connect again to retry.",
        )
    await _outcome(pool, flow_id, CONNECTED, source_id)
    log.info("shop %s connected to woocommerce store %s", shop_id, store)


async def _outcome(pool: Pool, flow_id: UUID, outcome: str, source_id: UUID | None) -> None:
    await pool.execute(
        "UPDATE source_flows SET outcome = $2, source_id = $3 WHERE id = $1",
        flow_id,
        outcome[:1000],
        source_id,
    )


async def returned(
    pool: Pool, *, session_hash: bytes, shop_id: UUID, state: str, success: bool
) -> None:
    """The browser is back from the store. Raises `ConnectFailed` unless the flow this session
    started for this shop connected the store."""
    row = await pool.fetchrow(
        "SELECT outcome FROM source_flows WHERE state_hash = $1 AND session_hash = $2 "
        "AND shop_id = $3 AND platform = 'woocommerce'",
        users.hash_token(state),
        session_hash,
        shop_id,
    )
    if row is None:
        raise ConnectFailed(
            "This connection attempt is not known in this browser. Please start again.",
            shop_id=shop_id,
        )
    if not success:
        raise ConnectFailed("The store did not give the gateway a key.", shop_id=shop_id)
    if row["outcome"] != CONNECTED:
        raise ConnectFailed(
            row["outcome"] or "The store did not send the gateway its key. Please try again.",
            shop_id=shop_id,
        )
