"""A Shopify order, as a webhook or the Admin API shows it, applied through the one ingest.

An order's state implies its facts (created, paid, shipped, each refund, cancelled), each
with its own event id (`mapping.order_events`); facts already recorded are no-ops, so the
same order may be applied any number of times, from any source, in any order, and every
document still comes once. An order the gateway cannot book is kept as a problem for the
owner to see, and cleared once a later state of it can be booked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.accounting import vat_errors
from gateway.db import Connection
from gateway.orders import Event, FieldError, InvalidEvent, parse_order
from gateway.shopify.mapping import MappingSettings, order_events, refund_event
from tenants.sources.delivery import Delivery, Refused, ingest
from tenants.sources.shopify import repository
from tenants.sources.shopify.repository import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    new_facts: int  # events recorded for the first time
    enqueue: tuple[int, ...]  # documents to enqueue once committed
    problem: bool = False


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
        await _problem(conn, source, ref, order.get("name"), exc.errors, str(exc))
        return Applied(0, (), problem=True)
    applied = await _record(conn, source, ref, order.get("name"), events)
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
        await _problem(conn, source, ref, None, exc.errors, str(exc))
        return Applied(0, (), problem=True)
    return await _record(conn, source, ref, None, [event])


async def _record(
    conn: Connection, source: Source, ref: str, name: Any, events: Sequence[Event]
) -> Applied:
    new_facts = 0
    enqueue: list[int] = []
    for event in events:
        mismatches = vat_errors(event.order, event.refund)
        if mismatches:
            detail = "; ".join(f"{e.pointer}: {e.message}" for e in mismatches)
            await _problem(conn, source, ref, name, mismatches, detail)
            return Applied(new_facts, tuple(enqueue), problem=True)
        try:
            recorded = await ingest(conn, Delivery(source.shop, event, event.id.encode()))
        except Refused as refused:
            await _problem(conn, source, ref, name, refused.errors, refused.detail)
            return Applied(new_facts, tuple(enqueue), problem=True)
        if not recorded.repeated:
            new_facts += 1
        enqueue.extend(recorded.enqueue)
    return Applied(new_facts, tuple(enqueue))


async def _problem(
    conn: Connection,
    source: Source,
    ref: str,
    name: Any,
    errors: Sequence[FieldError],
    detail: str,
) -> None:
    log.warning("shopify order %s of shop %s not booked: %s", ref, source.shop.id, detail[:500])
    problem = {
        "detail": detail[:2000],
        "errors": [{"pointer": e.pointer, "message": e.message} for e in errors[:50]],
    }
    await repository.record_problem(
        conn, source.id, ref, str(name) if name is not None else None, problem
    )
