"""A shop's platform source: its row in `sources`, its encrypted credentials, its status.
What every platform shares; a platform's own repository names its platform and adds what is
its own (`shopify.repository`, `woocommerce.repository`).

The credentials (a Shopify access token; a WooCommerce key pair) are encrypted with the row's
id and column as associated data, so a ciphertext copied to another row does not decrypt.
Reconnecting keeps the row, its settings and its watermark, and replaces the credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal
from uuid import UUID

from gateway.db import Connection, Pool
from gateway.secret import Secret
from gateway.vault import Vault, row_aad
from tenants.mail import alerts
from tenants.shops.ingest_secrets import IngestShop

Platform = Literal["shopify", "woocommerce"]
Status = Literal["connected", "needs_reconnect", "uninstalled", "failing"]


def _aad(source_id: UUID) -> str:
    return row_aad("sources", "credentials_enc", source_id)


@dataclass(frozen=True)
class Source:
    id: UUID
    shop: IngestShop
    platform: Platform
    store: str
    status: Status
    settings: dict[str, Any]
    # The platform's credentials, decrypted: a Shopify access token, a WooCommerce key pair.
    token: Secret | None = field(repr=False)
    reconcile_watermark: datetime


_COLUMNS: Final = (
    "s.id, s.shop_id, s.platform, s.store, s.status, s.settings, s.credentials_enc, "
    "s.reconcile_watermark, "
    "sh.trigger, sh.mode, sh.document_kind, sh.register_payments"
)


def _source(row: Any, vault: Vault) -> Source:
    token = (
        vault.decrypt(row["credentials_enc"], aad=_aad(row["id"]))
        if row["credentials_enc"] is not None
        else None
    )
    return Source(
        id=row["id"],
        shop=IngestShop(
            id=row["shop_id"],
            trigger=row["trigger"],
            mode=row["mode"],
            document_kind=row["document_kind"],
            secrets=(),
            register_payments=row["register_payments"],
        ),
        platform=row["platform"],
        store=row["store"],
        status=row["status"],
        settings=dict(row["settings"]),
        token=token,
        reconcile_watermark=row["reconcile_watermark"],
    )


async def by_store(
    conn: Connection | Pool, vault: Vault, platform: Platform, store: str
) -> Source | None:
    return await _one(conn, vault, "s.platform = $1 AND s.store = $2", platform, store)


async def by_id(conn: Connection | Pool, vault: Vault, source_id: UUID) -> Source | None:
    return await _one(conn, vault, "s.id = $1", source_id)


async def of_shop(
    conn: Connection | Pool, vault: Vault, platform: Platform, shop_id: UUID
) -> Source | None:
    return await _one(conn, vault, "s.shop_id = $1 AND s.platform = $2", shop_id, platform)


async def _one(conn: Connection | Pool, vault: Vault, where: str, *args: object) -> Source | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM sources s JOIN shops sh ON sh.id = s.shop_id "  # noqa: S608 - where is ours
        f"WHERE {where}",
        *args,
    )
    return _source(row, vault) if row is not None else None


class StoreTaken(Exception):
    """The store already feeds another shop."""


async def connect(
    conn: Connection,
    vault: Vault,
    *,
    platform: Platform,
    shop_id: UUID,
    store: str,
    token: Secret,
    scopes: str,
    now: datetime,
) -> UUID:
    """Connects (or reconnects) the shop's source on `platform` to `store`: new credentials,
    status connected; settings, watermark and counts stay. Raises `StoreTaken`."""
    async with conn.transaction():
        other = await conn.fetchval(
            "SELECT shop_id FROM sources WHERE platform = $1 AND store = $2", platform, store
        )
        if other is not None and other != shop_id:
            raise StoreTaken(store)
        source_id: UUID = await conn.fetchval(
            """
            INSERT INTO sources AS s (shop_id, platform, store, status, reconcile_watermark,
                                      reconcile_due_at, connected_at)
            VALUES ($1, $2, $3, 'connected', $4, $4, $4)
            ON CONFLICT (shop_id, platform) DO UPDATE SET
                store = EXCLUDED.store, status = 'connected', status_detail = NULL,
                connected_at = EXCLUDED.connected_at, uninstalled_at = NULL,
                reconcile_due_at = EXCLUDED.reconcile_due_at, updated_at = now(),
                -- Another store starts from now; the same store catches up from where it was.
                reconcile_watermark = CASE WHEN s.store = EXCLUDED.store
                    THEN s.reconcile_watermark ELSE EXCLUDED.reconcile_watermark END
            RETURNING id
            """,
            shop_id,
            platform,
            store,
            now,
        )
        await conn.execute(
            "UPDATE sources SET credentials_enc = $2, scopes = $3 WHERE id = $1",
            source_id,
            vault.encrypt(token, aad=_aad(source_id)),
            scopes,
        )
    return source_id


async def set_vat_number_keys(conn: Connection | Pool, source_id: UUID, keys: list[str]) -> None:
    """Where this store's orders carry the buyer's VAT number (`note_attributes` names);
    an empty list means the defaults."""
    await conn.execute(
        "UPDATE sources SET settings = CASE WHEN cardinality($2::text[]) = 0 "
        "THEN settings - 'vat_number_keys' "
        "ELSE jsonb_set(settings, '{vat_number_keys}', to_jsonb($2::text[])) END, "
        "updated_at = now() WHERE id = $1",
        source_id,
        keys,
    )


async def set_status(
    conn: Connection | Pool, source_id: UUID, status: Status, detail: str | None
) -> None:
    changed = await conn.fetchval(
        "UPDATE sources SET status = $2, status_detail = $3, updated_at = now() "
        "WHERE id = $1 AND status IS DISTINCT FROM 'uninstalled' RETURNING true",
        source_id,
        status,
        detail,
    )
    # Access lost, on any platform: orders stopped arriving, and the owners hear of it.
    # ("failing" is not that: orders still arrive through reconcile.)
    if changed and status == "needs_reconnect":
        await alerts.source_stopped(conn, source_id, now=datetime.now(UTC))


async def lost_access(conn: Connection | Pool, source_id: UUID, detail: str) -> None:
    """The platform refused the credentials: the owner must connect the store again (and
    the shop's owners are mailed that its orders stopped arriving)."""
    await set_status(conn, source_id, "needs_reconnect", detail)


async def delivered(conn: Connection | Pool, source_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE sources SET last_delivery_at = $2 WHERE id = $1 "
        "AND (last_delivery_at IS NULL OR last_delivery_at < $2)",
        source_id,
        now,
    )


async def reconcile_soon(conn: Connection | Pool, source_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE sources SET reconcile_due_at = LEAST(reconcile_due_at, $2) WHERE id = $1",
        source_id,
        now,
    )


async def record_problem(
    conn: Connection | Pool, source_id: UUID, order_ref: str, name: str | None, problem: Any
) -> None:
    await conn.execute(
        """
        INSERT INTO source_problems (source_id, order_ref, order_name, problem)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (source_id, order_ref) DO UPDATE SET
            order_name = EXCLUDED.order_name, problem = EXCLUDED.problem, seen_at = now()
        """,
        source_id,
        order_ref[:200],
        name[:200] if name else None,
        problem,
    )


async def clear_problem(conn: Connection | Pool, source_id: UUID, order_ref: str) -> None:
    await conn.execute(
        "DELETE FROM source_problems WHERE source_id = $1 AND order_ref = $2",
        source_id,
        order_ref[:200],
    )
