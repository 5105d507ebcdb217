"""Keeping a store's webhooks alive: one per topic the gateway needs (`order.created`,
`order.updated`, `order.deleted`), each with a secret the gateway made, delivering to
`/webhooks/woocommerce/{source_id}`.

WooCommerce never retries a delivery and sets a webhook to `disabled` after more than five
failures in a row, silently. `ensure_webhooks` reads the store's webhooks and turns a disabled
(or paused) one of ours on again, and makes a new one where ours is gone, answering what it
mended so the owner can be told.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Final
from uuid import UUID

import httpx

from gateway.db import Pool
from gateway.secret import Secret
from gateway.settings import Settings
from gateway.vault import Vault
from gateway.woocommerce.keys import BadStoreUrl, check_store_url
from gateway.woocommerce.rest import WEBHOOK_TOPICS, RestApi
from tenants.sources.woocommerce import repository
from tenants.sources.woocommerce.repository import Source, SourceWebhook

log = logging.getLogger(__name__)

WEBHOOK_PATH: Final = "/webhooks/woocommerce/{source_id}"


async def api_of(
    pool: Pool, http: httpx.AsyncClient, settings: Settings, source: Source
) -> RestApi | None:
    """The store's REST API, once its address is still one the gateway may call (its name may
    resolve elsewhere since it was connected); None, with the source marked failing, when
    it is not or there are no keys."""
    pair = repository.key_pair(source)
    if pair is None:
        return None
    try:
        await check_store_url(source.store, production=settings.is_production)
    except BadStoreUrl as exc:
        await repository.set_status(pool, source.id, "failing", f"{exc} Connect the store again.")
        return None
    return RestApi(http, source.store, pair.consumer_key, pair.consumer_secret)


def delivery_url(base_url: str, source_id: UUID) -> str:
    return base_url.rstrip("/") + WEBHOOK_PATH.format(source_id=source_id)


@dataclass(frozen=True)
class Mended:
    reenabled: list[str] = field(default_factory=list)  # topics WooCommerce had disabled
    recreated: list[str] = field(default_factory=list)  # topics whose webhook was gone
    created: list[str] = field(default_factory=list)  # topics that had none yet

    @property
    def repaired(self) -> bool:
        return bool(self.reenabled or self.recreated)


async def ensure_webhooks(
    pool: Pool, vault: Vault, api: RestApi, source_id: UUID, url: str
) -> Mended:
    ours = {w.topic: w for w in await repository.webhooks(pool, vault, source_id)}
    theirs = {str(hook.get("id")): hook for hook in await api.webhooks()}
    mended = Mended()
    for topic in WEBHOOK_TOPICS:
        mine = ours.get(topic)
        hook = theirs.get(str(mine.webhook_id)) if mine is not None else None
        if hook is not None and hook.get("delivery_url") == url and hook.get("topic") == topic:
            if hook.get("status") != "active":
                assert mine is not None
                await api.activate_webhook(mine.webhook_id)
                mended.reenabled.append(topic)
                log.warning("woocommerce webhook %s of source %s was %s: turned on again",
                            topic, source_id, hook.get("status"))  # fmt: skip
            continue
        secret = Secret(secrets.token_urlsafe(32))
        made = await api.create_webhook(
            topic=topic, delivery_url=url, secret=secret, name=f"Dinero Gateway: {topic}"
        )
        await repository.save_webhook(
            pool, vault, source_id, SourceWebhook(topic, int(made["id"]), secret)
        )
        (mended.recreated if mine is not None else mended.created).append(topic)
    return mended
