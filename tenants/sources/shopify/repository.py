"""A shop's Shopify source: the generic source row (`tenants.sources.repository`) for the
Shopify platform, where a store is its myshopify.com domain and the credentials are an
offline access token."""

from __future__ import annotations

from datetime import datetime
from typing import Final
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.secret import Secret
from gateway.vault import Vault
from tenants.mail import alerts
from tenants.sources import repository as _sources
from tenants.sources.repository import (
    Source,
    Status,
    StoreTaken,
    clear_problem,
    delivered,
    reconcile_soon,
    record_problem,
    set_status,
    set_vat_number_keys,
)
from tenants.sources.repository import by_id as by_id

__all__ = [
    "PLATFORM",
    "Source",
    "Status",
    "StoreTaken",
    "by_id",
    "by_store",
    "clear_problem",
    "connect",
    "delivered",
    "lost_access",
    "of_shop",
    "reconcile_soon",
    "record_problem",
    "set_status",
    "set_vat_number_keys",
    "uninstalled",
]

PLATFORM: Final = "shopify"


async def by_store(conn: Connection | Pool, vault: Vault, store: str) -> Source | None:
    return await _sources.by_store(conn, vault, PLATFORM, store)


async def of_shop(conn: Connection | Pool, vault: Vault, shop_id: UUID) -> Source | None:
    return await _sources.of_shop(conn, vault, PLATFORM, shop_id)


async def connect(
    conn: Connection,
    vault: Vault,
    *,
    shop_id: UUID,
    store: str,
    token: Secret,
    scopes: str,
    now: datetime,
) -> UUID:
    """Connects (or reconnects) the shop's Shopify source to `store`. Raises `StoreTaken`."""
    return await _sources.connect(
        conn, vault, platform=PLATFORM, shop_id=shop_id, store=store, token=token,
        scopes=scopes, now=now,
    )  # fmt: skip


async def lost_access(conn: Connection | Pool, source_id: UUID) -> None:
    """Shopify refused the token (revoked, or the app removed without the webhook arriving)."""
    await _sources.lost_access(
        conn, source_id, "Shopify no longer accepts the gateway's access. Connect the store again."
    )


async def uninstalled(conn: Connection | Pool, source_id: UUID, now: datetime) -> None:
    """The app was removed from the store: the token is dead, so it is dropped."""
    await conn.execute(
        "UPDATE sources SET status = 'uninstalled', credentials_enc = NULL, uninstalled_at = $2, "
        "status_detail = 'The Dinero Gateway app was uninstalled in Shopify.', updated_at = now() "
        "WHERE id = $1",
        source_id,
        now,
    )
    await alerts.source_stopped(conn, source_id, now=now)
