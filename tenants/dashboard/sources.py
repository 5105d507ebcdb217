"""The shop page's sources card: each shop platform the shop is connected to, how it is
doing, what reconcile found that webhooks missed, the orders that could not be booked, and
the backfill's progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from gateway.db import Connection, Pool
from tenants.sources.backfill import Progress
from tenants.sources.shopify import backfill as shopify_backfill
from tenants.sources.shopify.apply import mapping_settings_of as shopify_settings_of
from tenants.sources.woocommerce import backfill as woocommerce_backfill
from tenants.sources.woocommerce.apply import mapping_settings_of as woocommerce_settings_of

PROBLEMS_SHOWN: Final = 5


@dataclass(frozen=True)
class Problem:
    order_ref: str
    order_name: str | None
    detail: str
    seen_at: datetime


@dataclass(frozen=True)
class SourceCard:
    id: UUID
    platform: str
    store: str
    status: str
    status_detail: str | None
    last_delivery_at: datetime | None
    reconciled_at: datetime | None
    found_by_reconcile: int
    connected_at: datetime
    problem_count: int
    problems: tuple[Problem, ...]
    backfill: Progress | None
    vat_number_keys: tuple[str, ...]  # where the buyer's VAT number is read from
    notice: str | None = None  # what the gateway mended on its own, for the owner
    notice_at: datetime | None = None
    # How many days back the platform lets the gateway read orders (None: all of them).
    readable_days: int | None = None


async def sources_of(conn: Connection | Pool, shop_id: UUID) -> list[SourceCard]:
    rows = await conn.fetch(
        """
        SELECT s.id, s.shop_id, s.scopes, s.platform, s.store, s.settings, s.status,
               s.status_detail, s.last_delivery_at, s.reconciled_at, s.found_by_reconcile,
               s.connected_at, s.notice, s.notice_at,
               (SELECT count(*) FROM source_problems p WHERE p.source_id = s.id) AS problem_count,
               (SELECT coalesce(jsonb_agg(p ORDER BY p.seen_at DESC), '[]') FROM (
                    SELECT order_ref, order_name, problem->>'detail' AS detail, seen_at
                    FROM source_problems WHERE source_id = s.id
                    ORDER BY seen_at DESC LIMIT $2) p) AS problems
        FROM sources s WHERE s.shop_id = $1 ORDER BY s.platform
        """,
        shop_id,
        PROBLEMS_SHOWN,
    )
    return [_card(row, await _progress(conn, row)) for row in rows]


async def _progress(conn: Connection | Pool, row: Any) -> Progress | None:
    if row["platform"] == "woocommerce":
        return await woocommerce_backfill.progress(conn, row["id"], row["shop_id"])
    return await shopify_backfill.progress(conn, row["id"], row["shop_id"], row["scopes"])


def _card(row: Any, backfill: Progress | None) -> SourceCard:
    return SourceCard(
        id=row["id"],
        platform=row["platform"],
        store=row["store"],
        status=row["status"],
        status_detail=row["status_detail"],
        last_delivery_at=row["last_delivery_at"],
        reconciled_at=row["reconciled_at"],
        found_by_reconcile=row["found_by_reconcile"],
        connected_at=row["connected_at"],
        problem_count=row["problem_count"],
        problems=tuple(
            Problem(
                order_ref=p["order_ref"],
                order_name=p["order_name"],
                detail=p["detail"] or "",
                seen_at=datetime.fromisoformat(p["seen_at"]),
            )
            for p in row["problems"]
        ),
        backfill=backfill,
        vat_number_keys=(
            woocommerce_settings_of(row["settings"])
            if row["platform"] == "woocommerce"
            else shopify_settings_of(row["settings"])
        ).vat_number_keys,
        notice=row["notice"],
        notice_at=row["notice_at"],
        readable_days=(
            shopify_backfill.RECENT.days
            if row["platform"] == "shopify" and "read_all_orders" not in (row["scopes"] or "")
            else None
        ),
    )
