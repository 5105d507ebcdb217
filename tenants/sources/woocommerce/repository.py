"""A shop's WooCommerce source: the generic source row (`tenants.sources.repository`) where the
store is its URL and the credentials are the REST API key pair, and the webhooks the gateway
made in the store, each with its own secret (encrypted, bound to its row)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.secret import Secret
from gateway.vault import Vault, row_aad
from tenants.sources import repository as _sources
from tenants.sources.repository import (
    Source,
    StoreTaken,
    clear_problem,
    delivered,
    reconcile_soon,
    set_status,
    set_vat_number_keys,
)

__all__ = [
    "PLATFORM",
    "KeyPair",
    "Source",
    "SourceWebhook",
    "StoreTaken",
    "by_id",
    "clear_problem",
    "connect",
    "delivered",
    "key_pair",
    "lost_access",
    "of_shop",
    "reconcile_soon",
    "save_webhook",
    "set_status",
    "set_vat_number_keys",
    "tell_owner",
    "webhooks",
]

PLATFORM: Final = "woocommerce"


@dataclass(frozen=True)
class KeyPair:
    consumer_key: Secret = field(repr=False)
    consumer_secret: Secret = field(repr=False)

    def sealed(self) -> Secret:
        """Both halves as the one credential the source row keeps."""
        return Secret(
            json.dumps(
                {"ck": self.consumer_key.reveal(), "cs": self.consumer_secret.reveal()},
                separators=(",", ":"),
            )
        )


def key_pair(source: Source) -> KeyPair | None:
    if source.token is None:
        return None
    data = json.loads(source.token.reveal())
    return KeyPair(Secret(data["ck"]), Secret(data["cs"]))


@dataclass(frozen=True)
class SourceWebhook:
    topic: str
    webhook_id: int
    secret: Secret = field(repr=False)


def _aad(row_id: UUID) -> str:
    return row_aad("source_webhooks", "secret_enc", row_id)


async def by_id(conn: Connection | Pool, vault: Vault, source_id: UUID) -> Source | None:
    source = await _sources.by_id(conn, vault, source_id)
    return source if source is not None and source.platform == PLATFORM else None


async def of_shop(conn: Connection | Pool, vault: Vault, shop_id: UUID) -> Source | None:
    return await _sources.of_shop(conn, vault, PLATFORM, shop_id)


async def connect(
    conn: Connection, vault: Vault, *, shop_id: UUID, store: str, keys: KeyPair, now: datetime
) -> UUID:
    """Connects (or reconnects) the shop's WooCommerce source to `store` (its URL). Raises
    `StoreTaken`."""
    return await _sources.connect(
        conn, vault, platform=PLATFORM, shop_id=shop_id, store=store, token=keys.sealed(),
        scopes="read_write", now=now,
    )  # fmt: skip


async def lost_access(conn: Connection | Pool, source_id: UUID) -> None:
    await _sources.lost_access(
        conn,
        source_id,
        "WooCommerce no longer accepts the gateway's API key (it was revoked or its user lost "
        "the right). Connect the store again.",
    )


async def webhooks(conn: Connection | Pool, vault: Vault, source_id: UUID) -> list[SourceWebhook]:
    rows = await conn.fetch(
        "SELECT id, topic, webhook_id, secret_enc FROM source_webhooks WHERE source_id = $1 "
        "ORDER BY topic",
        source_id,
    )
    return [
        SourceWebhook(
            r["topic"], r["webhook_id"], vault.decrypt(r["secret_enc"], aad=_aad(r["id"]))
        )
        for r in rows
    ]


async def save_webhook(pool: Pool, vault: Vault, source_id: UUID, webhook: SourceWebhook) -> None:
    """Keeps the webhook (the one for its topic, replacing an earlier one) and its secret."""
    async with pool.acquire() as conn, conn.transaction():
        row_id: UUID = await conn.fetchval(
            """
            INSERT INTO source_webhooks (source_id, topic, webhook_id, secret_enc)
            VALUES ($1, $2, $3, '')
            ON CONFLICT (source_id, topic) DO UPDATE SET
                webhook_id = EXCLUDED.webhook_id, created_at = now()
            RETURNING id
            """,
            source_id,
            webhook.topic,
            webhook.webhook_id,
        )
        await conn.execute(
            "UPDATE source_webhooks SET secret_enc = $2 WHERE id = $1",
            row_id,
            vault.encrypt(webhook.secret, aad=_aad(row_id)),
        )


async def tell_owner(conn: Connection | Pool, source_id: UUID, notice: str, now: datetime) -> None:
    """What the gateway mended on its own, shown on the source card."""
    await conn.execute(
        "UPDATE sources SET notice = $2, notice_at = $3, updated_at = now() WHERE id = $1",
        source_id,
        notice[:1000],
        now,
    )
