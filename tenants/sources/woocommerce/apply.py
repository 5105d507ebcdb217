"""A WooCommerce order, as a webhook or `GET /orders` shows it, applied through the one ingest
(`tenants.sources.apply`). The order's `refunds` is only a summary: when it lists any, the
refunds with their lines are read from `GET /orders/{id}/refunds` first (`refunds_of`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.db import Connection
from gateway.orders import InvalidEvent
from gateway.woocommerce.mapping import MappingSettings, order_events
from gateway.woocommerce.rest import RestApi
from tenants.sources import repository
from tenants.sources.apply import Applied, problem, record
from tenants.sources.repository import Source

__all__ = ["Applied", "apply_order", "mapping_settings_of", "refunds_of"]


def mapping_settings_of(settings: Mapping[str, Any]) -> MappingSettings:
    """The source's own choices (`sources.settings`), else the defaults."""
    keys = settings.get("vat_number_keys")
    if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
        return MappingSettings(vat_number_keys=tuple(keys))
    return MappingSettings()


async def refunds_of(api: RestApi, order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The order's refunds with their lines; none asked for when its summary lists none."""
    summary = order.get("refunds")
    if not isinstance(summary, list) or not summary or order.get("id") is None:
        return []
    return await api.refunds(str(order["id"]))


async def apply_order(
    conn: Connection,
    source: Source,
    order: Mapping[str, Any],
    refunds: Sequence[Mapping[str, Any]] = (),
) -> Applied:
    ref = str(order.get("id", ""))
    name = order.get("number")
    try:
        events = order_events(order, mapping_settings_of(source.settings), refunds)
    except InvalidEvent as exc:
        await problem(conn, source, ref, name, exc.errors, str(exc))
        return Applied(0, (), problem=True)
    applied = await record(conn, source, ref, name, events)
    if not applied.problem:
        await repository.clear_problem(conn, source.id, ref)
    return applied
