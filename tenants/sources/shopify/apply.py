"""A Shopify order, as a webhook or the Admin API shows it, applied through the one ingest.

An order's state implies its facts (created, paid, shipped, each refund, cancelled), each
with its own event id (`mapping.order_events`); facts already recorded are no-ops, so the
same order may be applied any number of times, from any source, in any order, and every
document still comes once. An order the gateway cannot book is kept as a problem for the
owner to see, and cleared once a later state of it can be booked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gateway.db import Connection
from gateway.orders import InvalidEvent, parse_order
from gateway.shopify.mapping import MappingSettings, order_events, refund_event
from tenants.sources.apply import Applied, problem, record
from tenants.sources.shopify import repository
from tenants.sources.shopify.repository import Source

__all__ = ["Applied", "apply_order", "apply_refund", "mapping_settings", "mapping_settings_of"]

log = logging.getLogger(__name__)


def mapping_settings(source: Source) -> MappingSettings:
    return mapping_settings_of(source.settings)


def mapping_settings_of(settings: Mapping[str, Any]) -> MappingSettings:
    """The source's own choices (`sources.settings`), else the defaults."""
    keys = settings.get("vat_number_keys")
    if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
        return MappingSettings(vat_number_keys=tuple(keys))
    return MappingSettings()


async def apply_order(conn: Connection, source: Source, order: Mapping[str, Any]) -> Applied:
    ref = str(order.get("id", ""))
    try:
        events = order_events(order, mapping_settings(source))
    except InvalidEvent as exc:
        await problem(conn, source, ref, order.get("name"), exc.errors, str(exc))
        return Applied(0, (), problem=True)
    applied = await record(conn, source, ref, order.get("name"), events)
    if not applied.problem:
        await repository.clear_problem(conn, source.id, ref)
    return applied


async def apply_refund(
    conn: Connection, source: Source, refund: Mapping[str, Any]
) -> Applied | None:
    """A `refunds/create` body. None when the order is not known here yet: reconcile will
    bring the order with its refunds."""
    ref = str(refund.get("order_id", ""))
    stored = await conn.fetchval(
        "SELECT payload FROM orders WHERE shop_id = $1 AND external_id = $2", source.shop.id, ref
    )
    if stored is None:
        return None
    try:
        event = refund_event(parse_order(stored), refund)
    except InvalidEvent as exc:
        await problem(conn, source, ref, None, exc.errors, str(exc))
        return Applied(0, (), problem=True)
    return await record(conn, source, ref, None, [event])
